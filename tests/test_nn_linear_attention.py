"""agentdb.nn.linear_attention: phi(Q) (phi(K)^T V) / (phi(Q) . z) with phi = elu + 1, against
the same formula in torch float64, the same bits on every backend and for any batch, typed
errors."""
import doctest

import numpy as np
import pytest
import torch

import agentdb.nn.linear_attention as la
from agentdb import DimensionError, NonFiniteError
from agentdb.nn.linear_attention import feature_map, linear_attention


def reference(q, k, v, batch, n_q, n_k, dim, dv):
    q, k, v = (torch.tensor(np.asarray(x, np.float64)) for x in (q, k, v))
    q, k, v = q.view(batch, n_q, dim), k.view(batch, n_k, dim), v.view(batch, n_k, dv)
    fq, fk = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
    num = fq @ (fk.transpose(1, 2) @ v)
    den = fq @ fk.sum(dim=1, keepdim=True).transpose(1, 2)
    return (num / den).reshape(-1).numpy()


@pytest.mark.parametrize("batch,n_q,n_k,dim,dv", [(1, 5, 7, 4, 4), (3, 16, 40, 8, 3), (2, 1, 1, 1, 1),
                                                 (1, 64, 128, 64, 64)])
def test_it_matches_torch_and_every_backend(kernel, rng, batch, n_q, n_k, dim, dv):
    q = rng.standard_normal(batch * n_q * dim).astype(np.float32)
    k = rng.standard_normal(batch * n_k * dim).astype(np.float32)
    v = rng.standard_normal(batch * n_k * dv).astype(np.float32)
    ours = np.frombuffer(linear_attention(q, k, v, dim=dim, batch=batch, value_dim=dv, kernel=kernel), np.float32)
    want = reference(q, k, v, batch, n_q, n_k, dim, dv)
    assert np.max(np.abs(ours - want)) <= 1e-5 * max(np.max(np.abs(want)), 1.0)
    native = linear_attention(q, k, v, dim=dim, batch=batch, value_dim=dv)
    assert ours.tobytes() == native.tobytes()


def test_a_problem_alone_or_in_a_batch_has_the_same_bits(rng):
    q, k, v = (rng.standard_normal(3 * 6 * 4).astype(np.float32) for _ in range(3))
    together = linear_attention(q, k, v, dim=4, batch=3)
    alone = [linear_attention(q[i * 24:(i + 1) * 24], k[i * 24:(i + 1) * 24], v[i * 24:(i + 1) * 24], dim=4)
             for i in range(3)]
    assert together.tobytes() == b"".join(a.tobytes() for a in alone)


def test_the_feature_map_is_elu_plus_one():
    x = np.array([-3.0, -0.5, 0.0, 0.25, 4.0], np.float32)
    want = torch.nn.functional.elu(torch.tensor(x, dtype=torch.float64)) + 1
    assert np.allclose(np.frombuffer(feature_map(x), np.float32), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("args, error", [
    (([1, 2, 3], [1, 2], [1, 2]), DimensionError),           # q not rows of dim 2
    (([1, 2], [1, 2, 3, 4], [1, 2]), DimensionError),        # v too short for 2 keys
    (([1, float("nan")], [1, 2], [1, 2]), NonFiniteError),
])
def test_bad_inputs_are_typed_errors(args, error):
    with pytest.raises(error):
        linear_attention(*args, dim=2)


def test_docstring_examples():
    assert doctest.testmod(la).failed == 0
