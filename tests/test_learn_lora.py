"""LoRA adapters: forward and backward against float64 NumPy, central finite differences and
torch autograd; merge keeps the output; exact JSON round trip; seeded init; the manager;
bit identity between native and wasm; typed errors."""
import array
import json

import numpy as np
import pytest
import torch

from agentdb.errors import ArgumentError, DimensionError, OptionError, UnknownIdError
from agentdb.learn.lora import LoRA, LoRAManager
from support import arr, bits, f32, rel

torch.set_num_threads(1)
EPS = np.finfo(np.float32).eps
SHAPES = [(1, 1, 1, 1), (5, 17, 13, 3), (9, 97, 31, 8), (3, 4, 4, 2)]   # (n, in, out, rank)


def trained(kernel, rng, i, o, r, alpha=16):
    """An adapter with non-zero B (a fresh one has B = 0 and would hide half the math)."""
    lora = LoRA(i, o, rank=r, alpha=alpha, seed=int(rng.integers(1 << 32)), kernel=kernel)
    lora.b[:] = array.array("f", f32(rng.standard_normal(r * o)).tobytes())
    return lora


def mse_problem(rng, n, i, o):
    return f32(rng.standard_normal((n, i))), f32(rng.standard_normal((n, o)))


def mse64(a, b, x, t, s):
    """0.5 / n * |s X A B - T|^2 in float64: the loss the backward tests differentiate."""
    d = s * (x @ a @ b) - t
    return 0.5 * np.sum(d * d) / len(x)


def central(fun, x, h=1e-6):
    """Central finite differences of a float64 function, element by element."""
    g, x = np.zeros_like(x), x.copy()
    for j in np.ndindex(x.shape):
        keep = x[j]
        x[j] = keep + h
        up = fun(x)
        x[j] = keep - h
        g[j] = (up - fun(x)) / (2 * h)
        x[j] = keep
    return g


@pytest.mark.parametrize("n,i,o,r", SHAPES)
def test_forward_matches_float64_and_torch(kernel, rng, n, i, o, r):
    lora = trained(kernel, rng, i, o, r)
    x = f32(rng.standard_normal((n, i)))
    a, b = arr(lora.a, (i, r)), arr(lora.b, (r, o))
    want = lora.scaling * (x.astype(np.float64) @ a @ b)
    got = arr(lora.forward_batch(x, n), (n, o))
    assert rel(got, want) < 1e-6
    ta, tb = torch.from_numpy(f32(a)), torch.from_numpy(f32(b))
    assert rel(got, (torch.from_numpy(x) @ ta @ tb * lora.scaling).numpy()) < 1e-6
    assert np.array_equal(bits(lora.forward(x[0])), bits(lora.forward_batch(x[:1], 1)))
    if i == o:
        res = arr(lora.forward_batch(x, n, residual=True), (n, o))
        assert np.abs(res - (x + got)).max() <= 2 * EPS * np.abs(x + got).max()


@pytest.mark.parametrize("n,i,o,r", SHAPES)
def test_backward_matches_finite_differences_and_torch(kernel, rng, n, i, o, r):
    lora = trained(kernel, rng, i, o, r)
    x, t = mse_problem(rng, n, i, o)
    s = lora.scaling
    a, b, x64 = arr(lora.a, (i, r)), arr(lora.b, (r, o)), x.astype(np.float64)
    grad_out = f32((s * (x64 @ a @ b) - t) / n)                 # dL/d(delta) of mse64
    g = lora.backward(x, grad_out)
    assert g.a is lora.grads[0] and g.b is lora.grads[1]
    fd_a = central(lambda v: mse64(v, b, x64, t, s), a)
    fd_b = central(lambda v: mse64(a, v, x64, t, s), b)
    fd_x = central(lambda v: mse64(a, b, v, t, s), x64)
    # f32 products of unit-scale values: ~1e-7 relative, so 1e-5 leaves a wide margin
    assert rel(arr(g.a), fd_a) < 1e-5 and rel(arr(g.b), fd_b) < 1e-5 and rel(arr(g.x), fd_x) < 1e-5
    ta = torch.tensor(f32(a), requires_grad=True)
    tb = torch.tensor(f32(b), requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    (0.5 * ((tx @ ta @ tb * s - torch.from_numpy(t)) ** 2).sum() / n).backward()
    for ours, theirs in ((g.a, ta), (g.b, tb), (g.x, tx)):
        assert rel(arr(ours), theirs.grad.numpy()) < 1e-5


def test_frozen_adapter_only_passes_the_input_gradient(kernel, rng):
    lora = trained(kernel, rng, 6, 5, 2)
    x, t = mse_problem(rng, 4, 6, 5)
    full = lora.backward(x, t)
    lora.freeze()
    assert lora.frozen and lora.params == [] and lora.grads == []
    frozen = lora.backward(x, t)
    assert len(frozen.a) == len(frozen.b) == 0
    assert np.array_equal(bits(frozen.x), bits(full.x))
    lora.unfreeze()
    assert lora.params == [lora.a, lora.b]


@pytest.mark.parametrize("transposed", (False, True))
def test_merged_weight_gives_the_unmerged_output(kernel, rng, transposed):
    n, i, o, r = 11, 97, 33, 8
    lora = trained(kernel, rng, i, o, r)
    x, w = f32(rng.standard_normal((n, i))), f32(rng.standard_normal((i, o)) / np.sqrt(i))
    base = np.ascontiguousarray(w.T) if transposed else w
    merged = arr(lora.merge(base, transposed=transposed), (o, i) if transposed else (i, o))
    merged = np.ascontiguousarray(f32(merged.T if transposed else merged))
    unmerged = arr(kernel.add(kernel.matmul(x, w, m=n, k=i, n=o), lora.forward_batch(x, n)), (n, o))
    got = arr(kernel.matmul(x, merged, m=n, k=i, n=o), (n, o))
    # both sides are float32 sums of k products: the bound of k + r multiply-adds, each term
    # taken in absolute value (PEFT merges have changed outputs by far more than this)
    a, b, ax = np.abs(arr(lora.a, (i, r))), np.abs(arr(lora.b, (r, o))), np.abs(x.astype(np.float64))
    bound = (i + r + 4) * EPS * (ax @ np.abs(w) + lora.scaling * (ax @ a @ b))
    assert np.all(np.abs(got - unmerged) <= bound)
    assert rel(got, unmerged) < 1e-6
    assert np.array_equal(arr(lora.delta_weight(transposed=True), (o, i)).T, arr(lora.delta_weight(), (i, o)))


def test_json_round_trip_keeps_every_bit(kernel, rng):
    lora = trained(kernel, rng, 17, 9, 3, alpha=5.5)
    lora.a[0], lora.b[1] = float("-0.0"), 1e-45                 # a signed zero, a subnormal
    lora.freeze()
    text = lora.to_json()
    twin = LoRA.from_json(text, kernel=kernel)
    assert np.array_equal(bits(twin.a), bits(lora.a)) and np.array_equal(bits(twin.b), bits(lora.b))
    assert (twin.in_dim, twin.out_dim, twin.rank, twin.alpha, twin.seed, twin.frozen) == \
        (17, 9, 3, 5.5, lora.seed, True)
    assert twin.to_json() == text
    doc = json.loads(text)
    for bad in ("{", "[]", json.dumps({**doc, "version": 2}), json.dumps({**doc, "a": "!!"}),
                json.dumps({k: v for k, v in doc.items() if k != "b"})):
        with pytest.raises(ArgumentError):
            LoRA.from_json(bad)
    with pytest.raises(DimensionError):
        LoRA.from_json(json.dumps({**doc, "a": doc["b"]}))


def test_seeded_init_is_plain_integer_maths():
    a1, a2 = LoRA(384, 384, seed=42), LoRA(384, 384, seed=42)
    assert np.array_equal(bits(a1.a), bits(a2.a)) and not np.array_equal(bits(a1.a), bits(LoRA(384, 384).a))
    values = arr(a1.a)
    assert np.abs(values).max() <= 1 / np.sqrt(384) and abs(values.mean()) < 0.01 * 1 / np.sqrt(384)
    assert not any(a1.b) and a1.num_parameters == 2 * 384 * 8
    # pinned bits: a change of generator would silently change every seeded adapter
    assert bits(LoRA(4, 4, rank=1, seed=1).a).tolist() == [1032343912, 1048292916, 1055991620, 3177441184]


def test_clone_is_independent(kernel, rng):
    lora = trained(kernel, rng, 5, 5, 2)
    twin = lora.clone()
    twin.a[0] += 1
    assert twin.a[0] != lora.a[0] and twin.b == lora.b and twin.scaling == lora.scaling
    assert twin.grad_a is not lora.grad_a


def test_micro_lora_learns_per_request(kernel, rng):
    dim = 33
    micro = LoRA.micro(dim, rank=1, kernel=kernel)
    x = f32(rng.standard_normal(dim))
    assert np.array_equal(bits(micro.forward(x, residual=True)), bits(x))
    target = f32(rng.standard_normal(dim))
    lr = 0.5 / float(x @ x)                   # plain SGD through kernel axpy, stable for |x|^2
    for _ in range(300):
        g = micro.backward(x, kernel.axpy(-1.0, target, micro.forward(x)))
        for p, gp in zip(micro.params, micro.grads):
            kernel.axpy(-lr, gp, p, out=p)
    assert rel(arr(micro.forward(x)), target) < 1e-3
    assert len(g.x) == dim
    with pytest.raises(OptionError):
        LoRA.micro(dim, rank=3)


def test_manager(kernel, rng):
    mgr = LoRAManager(kernel=kernel)
    q = mgr.create("q", 7, 7, rank=2, seed=1)
    mgr.create("k", 7, 7, rank=2, seed=2)
    assert mgr.list() == ["q", "k"] and mgr.active is None
    x = f32(rng.standard_normal(7))
    assert np.array_equal(bits(mgr.forward(x)), bits(x))
    q.b[:] = array.array("f", f32(rng.standard_normal(14)).tobytes())
    mgr.activate("q")
    assert np.array_equal(bits(mgr.forward(x)), bits(q.forward(x, residual=True)))
    merged = mgr.merge_adapters(["q", "k"], "qk", weights=[1, 3])
    assert mgr.get("qk") is merged and not merged.frozen
    want = 0.25 * arr(q.a) + 0.75 * arr(mgr.get("k").a)
    assert np.abs(arr(merged.a) - want).max() <= 2 * EPS * np.abs(want).max()
    mgr.freeze_all()
    assert all(mgr.get(name).frozen for name in mgr.list())
    assert mgr.remove("q") is q and mgr.active is None and mgr.list() == ["k", "qk"]
    with pytest.raises(UnknownIdError):
        mgr.get("q")
    with pytest.raises(UnknownIdError):
        mgr.activate("nope")
    with pytest.raises(ArgumentError):
        mgr.create("k", 7, 7)
    mgr.create("wide", 7, 5, rank=2)
    with pytest.raises(DimensionError):
        mgr.merge_adapters(["k", "wide"], "bad")
    for weights in ([1], [-1, 2], [0, 0], [float("nan"), 1]):
        with pytest.raises(ArgumentError):
            mgr.merge_adapters(["k", "qk"], "bad", weights=weights)


def test_identical_bits_across_backends(native, wasmhost, rng):
    x, t = mse_problem(rng, 6, 19, 11)
    w = f32(rng.standard_normal((19, 11)))
    b = f32(rng.standard_normal(3 * 11))
    out = []
    for kernel in (native, wasmhost):
        lora = LoRA(19, 11, rank=3, seed=5, kernel=kernel)
        lora.b[:] = array.array("f", b.tobytes())
        g = lora.backward(x, t)
        out.append([bits(v) for v in (lora.forward_batch(x, 6), g.a, g.b, g.x, lora.merge(w),
                                      lora.merge(np.ascontiguousarray(w.T), transposed=True))])
    assert all(np.array_equal(p, q) for p, q in zip(*out))


def test_bad_inputs_raise_typed_errors(kernel):
    for args in ((0, 4), (4, -1), (4.0, 4), (True, 4)):
        with pytest.raises(DimensionError):
            LoRA(*args, kernel=kernel)
    with pytest.raises(DimensionError):
        LoRA(4, 4, rank=0, kernel=kernel)
    for alpha in (0, -1, float("inf"), "16", True):
        with pytest.raises(OptionError):
            LoRA(4, 4, alpha=alpha, kernel=kernel)
    for seed in (-1, 1.5, None):
        with pytest.raises(OptionError):
            LoRA(4, 4, seed=seed, kernel=kernel)
    lora = LoRA(4, 3, rank=2, kernel=kernel)
    with pytest.raises(DimensionError):
        lora.forward([1, 2, 3])
    with pytest.raises(DimensionError):
        lora.forward_batch([0] * 8, 3)
    with pytest.raises(DimensionError):
        lora.forward([1, 2, 3, 4], residual=True)
    with pytest.raises(DimensionError):
        lora.backward([0] * 8, [0] * 5)
    with pytest.raises(DimensionError):
        lora.merge([0] * 11)
