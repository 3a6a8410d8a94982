"""agentdb.nn.dual_attention: scores mixing scaled dot products and negative Poincaré distances
of the exp_0-mapped rows, against the same formula in torch float64 (geoopt's distance); weight
1 is scaled_dot_product_attention's bits; every backend the same bits; typed errors."""
import doctest

import numpy as np
import pytest
import torch

import agentdb.nn.dual_attention as da
from agentdb import ArgumentError, DimensionError
from agentdb.nn.attention import scaled_dot_product_attention
from agentdb.nn.dual_attention import dual_space_attention


def reference(q, k, v, n_q, n_k, dim, dv, c, weight):
    q, k, v = (torch.tensor(np.asarray(x, np.float64)) for x in (q, k, v))
    q, k, v = q.view(n_q, dim), k.view(n_k, dim), v.view(n_k, dv)
    sc = c ** 0.5

    def exp0(u):
        n = u.norm(dim=-1, keepdim=True).clamp_min(1e-15)
        return torch.tanh(sc * n) * u / (sc * n)

    def mobius(x, y):
        xy, x2, y2 = (x * y).sum(-1, keepdim=True), (x * x).sum(-1, keepdim=True), (y * y).sum(-1, keepdim=True)
        return ((1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y) / (1 + 2 * c * xy + c * c * x2 * y2)

    hq, hk = exp0(q)[:, None, :], exp0(k)[None, :, :]
    dist = 2 / sc * torch.atanh(sc * mobius(-hq.expand(n_q, n_k, dim), hk.expand(n_q, n_k, dim)).norm(dim=-1))
    scores = weight * (q @ k.T) / dim ** 0.5 - (1 - weight) * dist
    return (torch.softmax(scores, dim=-1) @ v).reshape(-1).numpy()


@pytest.mark.parametrize("n_q,n_k,dim,dv,c,weight", [(3, 5, 4, 4, 1.0, 0.5), (8, 20, 16, 3, 0.3, 0.2),
                                                    (1, 1, 2, 2, 2.0, 0.0), (4, 9, 8, 8, 1.0, 0.9)])
def test_it_matches_torch_and_every_backend(kernel, rng, n_q, n_k, dim, dv, c, weight):
    q = (rng.standard_normal(n_q * dim) * 0.5).astype(np.float32)
    k = (rng.standard_normal(n_k * dim) * 0.5).astype(np.float32)
    v = rng.standard_normal(n_k * dv).astype(np.float32)
    ours = dual_space_attention(q, k, v, dim=dim, value_dim=dv, c=c, weight=weight, kernel=kernel)
    want = reference(q, k, v, n_q, n_k, dim, dv, c, weight)
    got = np.frombuffer(ours, np.float32)
    assert np.max(np.abs(got - want)) <= 1e-5 * max(np.max(np.abs(want)), 1.0)
    assert ours.tobytes() == dual_space_attention(q, k, v, dim=dim, value_dim=dv, c=c, weight=weight).tobytes()


def test_weight_one_is_scaled_dot_product_attention(rng):
    q, k, v = (rng.standard_normal(6 * 4).astype(np.float32) for _ in range(3))
    plain = scaled_dot_product_attention(q, k, v, dim=4)
    mixed = dual_space_attention(q, k, v, dim=4, weight=1.0)
    assert np.allclose(np.frombuffer(plain, np.float32), np.frombuffer(mixed, np.float32), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs, error", [({"weight": 1.5}, ArgumentError), ({"weight": True}, ArgumentError),
                                           ({"value_dim": 0}, DimensionError)])
def test_bad_settings_are_typed_errors(kwargs, error):
    with pytest.raises(error):
        dual_space_attention([0.1, 0.0], [0.1, 0.0], [1, 2], dim=2, **kwargs)


def test_docstring_examples():
    assert doctest.testmod(da).failed == 0
