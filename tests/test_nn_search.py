"""agentdb.nn.search: differentiable search (soft top-k) against torch autograd, its temperature
limits, backend parity and its errors."""
import doctest

import numpy as np
import pytest
import torch

from agentdb import errors
from agentdb.nn import search
from agentdb.nn.search import differentiable_search
from support import bits, f32


def torch_reference(q, keys, values, k, t, metric, renormalize, gw, gy, dtype=torch.float64):
    """The same forward in torch (float64 by default), and autograd's gradients for the given
    upstreams."""
    qt = torch.tensor(q, dtype=dtype, requires_grad=True)
    kt = torch.tensor(keys, dtype=dtype, requires_grad=True)
    vt = kt if values is None else torch.tensor(values, dtype=dtype, requires_grad=True)
    if metric == "cosine":
        s = torch.nn.functional.normalize(kt, dim=1, eps=0) @ torch.nn.functional.normalize(qt, dim=0, eps=0)
    else:
        s = kt @ qt
    idx = torch.argsort(-s.detach(), stable=True)[:k]     # ties to the lower index, as ours
    if renormalize:
        w = torch.softmax(s[idx] / t, dim=0)
    else:
        w = torch.softmax(s / t, dim=0)[idx]
    y = w @ vt[idx]
    (w @ torch.tensor(gw, dtype=dtype) + y @ torch.tensor(gy, dtype=dtype)).backward()
    grads = [qt.grad.numpy(), kt.grad.numpy(), None if values is None else vt.grad.numpy()]
    return idx.numpy(), w.detach().numpy(), y.detach().numpy(), grads


def close(ours, ref, rtol=1e-5):
    """Within rtol of the reference, relative to the reference's largest magnitude."""
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * max(np.abs(ref).max(), 1e-7))   # a zero gradient: rounding noise


SHAPES = [(17, 40, 5, 0.5, None), (3, 7, 7, 1.0, 4), (97, 200, 10, 0.1, None), (1, 5, 2, 2.0, 3),
          (384, 64, 8, 0.07, None)]


# cosine in one dimension is +-1 up to rounding (ties only), so it is not among the cases
@pytest.mark.parametrize("renormalize", [False, True])
@pytest.mark.parametrize("metric,dim,n,k,t,vdim", [("dot", *s) for s in SHAPES] +
                         [("cosine", *s) for s in SHAPES if s[0] > 1])
def test_values_and_gradients_match_torch(kernel, rng, metric, renormalize, dim, n, k, t, vdim):
    q = f32(rng.standard_normal(dim))
    keys = f32(rng.standard_normal((n, dim)))
    if metric == "dot":
        keys *= t / np.sqrt(dim)   # scores / t ~ N(0, 1): softmax unsaturated, so f32 can hold 1e-5
    values = None if vdim is None else f32(rng.standard_normal((n, vdim)))
    r = differentiable_search(q, keys, k=k, temperature=t, values=values, metric=metric, renormalize=renormalize,
                              kernel=kernel)
    gw = f32(rng.standard_normal(k))
    gy = f32(rng.standard_normal(vdim or dim))
    idx, w, y, (dq, dk, dv) = torch_reference(q, keys, values, k, t, metric, renormalize, gw, gy)
    assert list(r.indices) == list(idx)
    close(r.weights, w)
    close(r.output, y)
    ours = r.backward(grad_weights=gw, grad_output=gy)
    close(ours[0], dq)
    close(np.reshape(ours[1], (n, dim)), dk)
    if values is None:
        assert ours[2] is None
    else:
        close(np.reshape(ours[2], (n, vdim)), dv)


@pytest.mark.parametrize("renormalize", [False, True])
def test_saturated_softmax_is_as_accurate_as_torch_float32(kernel, rng, renormalize):
    """A sharp softmax (weights near one-hot) is ill-conditioned in float32: the gradient is
    then held to torch's own float32 error against float64, not to 1e-5."""
    for _ in range(5):
        q, keys = f32(rng.standard_normal(384)), f32(rng.standard_normal((64, 384)) / np.sqrt(384))
        gw, gy = f32(rng.standard_normal(8)), f32(rng.standard_normal(384))
        r = differentiable_search(q, keys, k=8, temperature=0.07, metric="dot", renormalize=renormalize,
                                  kernel=kernel)
        ours = r.backward(grad_weights=gw, grad_output=gy)
        ref64 = torch_reference(q, keys, None, 8, 0.07, "dot", renormalize, gw, gy)[3]
        ref32 = torch_reference(q, keys, None, 8, 0.07, "dot", renormalize, gw, gy, dtype=torch.float32)[3]
        for mine, want, theirs in zip(ours[:2], ref64[:2], ref32[:2]):
            want = np.reshape(want, -1)
            scale = np.abs(want).max()
            torch_err = np.abs(np.reshape(theirs, -1) - want).max() / scale
            assert np.abs(np.asarray(mine, np.float64) - want).max() / scale <= max(2 * torch_err, 1e-5)


def test_weights_alone_or_output_alone(kernel, rng):
    q, keys = f32(rng.standard_normal(9)), f32(rng.standard_normal((30, 9)))
    r = differentiable_search(q, keys, k=4, temperature=0.3, kernel=kernel)
    gw, gy = f32(rng.standard_normal(4)), f32(rng.standard_normal(9))
    a, b = r.backward(grad_weights=gw), r.backward(grad_output=gy)
    both = r.backward(grad_weights=gw, grad_output=gy)
    for x, y, z in zip(a[:2], b[:2], both[:2]):
        close(np.add(x, y), z, rtol=1e-5)
    zero = r.backward()
    assert not np.any(zero[0]) and not np.any(zero[1])


def test_seed_example_and_shape():
    """The seed's own example: the perfect match first, weights summing to at most 1."""
    r = differentiable_search([1, 0, 0], [[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0]], k=2, temperature=1.0)
    assert list(r.indices) == [0, 1] and len(r.weights) == 2 and sum(r.weights) <= 1 + 1e-6
    assert len(r.scores) == 2 and len(r.output) == 3
    assert differentiable_search([1, 0], [[1, 0], [0, 1]], k=5).indices.tolist() == [0, 1]   # k clamped to n


def test_temperature_limits_give_hard_top_k(kernel, rng):
    q, keys = f32(rng.standard_normal(17)), f32(rng.standard_normal((50, 17)))
    values = f32(rng.standard_normal((50, 5)))
    cos = (keys @ q) / np.linalg.norm(keys, axis=1) / np.linalg.norm(q)
    hard = np.argsort(-cos, kind="stable")[:6]
    for t in (1e-30, 1e-3, 1.0, 1e3, 1e30):     # the indices are the hard top k at every temperature
        r = differentiable_search(q, keys, k=6, temperature=t, values=values, kernel=kernel)
        assert list(r.indices) == list(hard)
        assert np.all(np.isfinite(r.weights)) and np.all(np.diff(r.weights) <= 0)
    cold = differentiable_search(q, keys, k=6, temperature=1e-30, values=values, kernel=kernel)
    assert list(cold.weights) == [1.0, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(cold.output, values[hard[0]])
    assert not np.any(cold.backward(grad_weights=np.ones(6))[0])    # saturated: no gradient
    hot = differentiable_search(q, keys, k=6, temperature=1e30, values=values, kernel=kernel)
    np.testing.assert_allclose(hot.weights, 1 / 50, rtol=1e-6)
    hot_k = differentiable_search(q, keys, k=6, temperature=1e30, values=values, renormalize=True, kernel=kernel)
    np.testing.assert_allclose(hot_k.weights, 1 / 6, rtol=1e-6)           # the mean of the hard top k
    np.testing.assert_allclose(hot_k.output, values[hard].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_backends_agree_bit_for_bit(native, wasmhost, rng):
    q, keys = f32(rng.standard_normal(97)), f32(rng.standard_normal((123, 97)))
    gw, gy = f32(rng.standard_normal(7)), f32(rng.standard_normal(97))
    out = []
    for kern in (native, wasmhost):
        r = differentiable_search(q, keys, k=7, temperature=0.2, kernel=kern)
        out.append([bits(r.weights), bits(r.output), *map(bits, r.backward(grad_weights=gw, grad_output=gy)[:2])])
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_errors():
    keys = [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(errors.ArgumentError):
        differentiable_search([1, 0], keys, k=0)
    for t in (0, -1.0, float("nan"), float("inf"), 1e-45):
        with pytest.raises(errors.OptionError):
            differentiable_search([1, 0], keys, k=1, temperature=t)
    with pytest.raises(errors.OptionError):
        differentiable_search([1, 0], keys, k=1, metric="l2")
    with pytest.raises(errors.DimensionError):
        differentiable_search([1, 0, 0], keys, k=1)
    with pytest.raises(errors.DimensionError):
        differentiable_search([1, 0], [], k=1)
    with pytest.raises(errors.DimensionError):
        differentiable_search([], keys, k=1)
    with pytest.raises(errors.DimensionError):
        differentiable_search([1, 0], keys, k=1, values=[[1.0], [2.0], [3.0]])
    with pytest.raises(errors.NonFiniteError):
        differentiable_search([float("nan"), 0], keys, k=1)
    with pytest.raises(errors.NonFiniteError):
        differentiable_search([1, 0], [[1.0, float("inf")], [0.0, 1.0]], k=1)
    r = differentiable_search([1, 0], keys, k=1)
    with pytest.raises(errors.DimensionError):
        r.backward(grad_weights=[1.0, 2.0])
    with pytest.raises(errors.DimensionError):
        r.backward(grad_output=[1.0])


def test_docstring_examples():
    assert doctest.testmod(search).failed == 0
