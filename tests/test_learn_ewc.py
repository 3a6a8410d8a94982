"""EWC++: the Fisher is the mean of squared per-sample gradients, accumulated online with
decay; penalty and gradient against float64 NumPy and finite differences; a two-task LoRA
regression where EWC limits forgetting; exact JSON round trip; bit identity between native
and wasm; typed errors."""
import array
import json

import numpy as np
import pytest

from agentdb.errors import ArgumentError, DimensionError, NonFiniteError, OptionError
from agentdb.learn.ewc import EWC
from agentdb.learn.lora import LoRA
from agentdb.learn.optim import SGD
from support import SEED, bits, f32

EPS = np.finfo(np.float32).eps


def arr(x):
    return np.frombuffer(memoryview(x).cast("B"), dtype=np.float32).astype(np.float64)


def random_task(rng, sizes, samples):
    params = [f32(rng.standard_normal(s)) for s in sizes]
    grads = [[f32(rng.standard_normal(s)) for s in sizes] for _ in range(samples)]
    return params, grads


def test_fisher_is_the_mean_of_squared_gradients_with_online_decay(kernel, rng):
    sizes = (17, 3)
    ewc = EWC(lam=3.0, decay=0.7, kernel=kernel)
    p1, g1 = random_task(rng, sizes, 5)
    ewc.register_task(p1, iter(g1))                              # any iterable, a generator too
    f1 = [np.mean([arr(g[j]) ** 2 for g in g1], axis=0) for j in range(2)]
    for got, want in zip(ewc.fisher, f1):
        assert np.abs(arr(got) - want).max() <= 8 * EPS * want.max()
    p2, g2 = random_task(rng, sizes, 4)
    ewc.register_task(p2, g2)
    f2 = [0.7 * f1[j] + np.mean([arr(g[j]) ** 2 for g in g2], axis=0) for j in range(2)]
    for got, want, anchor, p in zip(ewc.fisher, f2, ewc.anchor, p2):
        assert np.abs(arr(got) - want).max() <= 8 * EPS * want.max()
        assert np.array_equal(bits(anchor), bits(p))             # the anchor moved to task 2's weights
    stats = ewc.stats()
    assert (stats["tasks"], stats["samples"], stats["parameters"], stats["lam"], stats["decay"]) == (2, 9, 20, 3.0, 0.7)
    assert stats["fisher_mean"] == pytest.approx(np.concatenate(f2).mean(), rel=1e-5)


def test_penalty_and_its_gradient(kernel, rng):
    sizes = (33, 5)
    ewc = EWC(lam=2.5, kernel=kernel)
    anchor, grads = random_task(rng, sizes, 6)
    ewc.register_task(anchor, grads)
    assert ewc.penalty(anchor) == 0.0
    w = [f32(a + rng.standard_normal(len(a))) for a in anchor]
    fisher, w64, a64 = [arr(f) for f in ewc.fisher], [arr(x) for x in w], [arr(x) for x in anchor]

    def penalty64(ws):
        return 2.5 / 2 * sum(np.sum(f * (x - a) ** 2) for f, x, a in zip(fisher, ws, a64))

    got = ewc.penalty(w)
    assert got > 0 and got == pytest.approx(penalty64(w64), rel=1e-6)
    grad = ewc.penalty_grad(w)
    h = 1e-6
    for j, (g, x) in enumerate(zip(grad, w64)):
        fd = np.zeros_like(x)
        for i in range(len(x)):
            up, down = [v.copy() for v in w64], [v.copy() for v in w64]
            up[j][i] += h
            down[j][i] -= h
            fd[i] = (penalty64(up) - penalty64(down)) / (2 * h)
        assert np.linalg.norm(arr(g) - fd) / np.linalg.norm(fd) < 1e-5


def test_nothing_is_held_before_a_task(kernel):
    ewc = EWC(kernel=kernel)
    assert ewc.penalty([[1.0, 2.0]]) == 0.0
    assert [g.tolist() for g in ewc.penalty_grad([[1.0, 2.0], [3.0]])] == [[0.0, 0.0], [0.0]]
    assert ewc.stats()["fisher_mean"] == 0.0


N, IN, OUT = 64, 6, 4


def regression_task(rng, cols):
    """Y = X M + noise with X using only the columns `cols` and M of rank 1 there: two such
    tasks on disjoint columns are solvable together by one rank-2 adapter."""
    x = np.zeros((N, IN), np.float32)
    x[:, cols] = rng.standard_normal((N, len(cols)))
    m = np.zeros((IN, OUT))
    m[cols] = np.outer(rng.standard_normal(len(cols)), rng.standard_normal(OUT))
    return x, f32(x @ m + 0.1 * rng.standard_normal((N, OUT)))


def task_loss(lora, task):
    x, y = task
    d = arr(lora.forward_batch(x, N)).reshape(N, OUT) - y
    return 0.5 * np.sum(d * d) / N


def train(kernel, lora, task, *, steps=600, lr=0.1, ewc=None):
    """Full-batch SGD (agentdb.learn.optim) on the mean squared error (plus EWC's penalty)."""
    x, y = task
    opt = SGD(lora.params, lr=lr, kernel=kernel)
    for _ in range(steps):
        residual = kernel.axpy(-1.0, y, lora.forward_batch(x, N))
        lora.backward(x, kernel.scale(residual, 1.0 / N))
        grads = lora.grads if ewc is None else [kernel.add(g, p) for g, p in
                                                zip(lora.grads, ewc.penalty_grad(lora.params))]
        opt.step(grads)


def per_sample_grads(lora, task):
    """Each sample's gradient of its own squared error (copied: backward reuses its buffers)."""
    x, y = task
    for i in range(N):
        g = lora.backward(x[i], lora.kernel.axpy(-1.0, y[i], lora.forward(x[i])))
        yield [array.array("f", g.a), array.array("f", g.b)]


def test_ewc_limits_forgetting_on_two_tasks(kernel):
    rng = np.random.default_rng(SEED)        # the same tasks on every backend
    first, second = regression_task(rng, [0, 1, 2]), regression_task(rng, [3, 4, 5])
    lora = LoRA(IN, OUT, rank=2, alpha=2, seed=3, kernel=kernel)
    train(kernel, lora, first)
    learned = task_loss(lora, first)
    plain, held = lora.clone(), lora.clone()
    train(kernel, plain, second)
    ewc = EWC(lam=100.0, kernel=kernel)
    ewc.register_task(held.params, per_sample_grads(held, first))
    assert ewc.stats()["fisher_mean"] > 0
    train(kernel, held, second, ewc=ewc)
    assert ewc.penalty(held.params) > 0
    forgot_plain, forgot_held = task_loss(plain, first) - learned, task_loss(held, first) - learned
    # measured (default seed): task 1 learned to 0.019; task 2 then adds 6.8 to its loss
    # without EWC and 0.22 with it, while task 2 reaches 0.019 without and 0.034 with
    assert learned < 0.05 and forgot_plain > 1 and forgot_held < 0.1 * forgot_plain
    assert task_loss(held, second) < 2 * task_loss(plain, second) + 0.02


def test_json_round_trip_keeps_every_bit(kernel, rng):
    ewc = EWC(lam=7.0, decay=0.5, kernel=kernel)
    for _ in range(2):
        ewc.register_task(*random_task(rng, (9, 2), 3))
    text = ewc.to_json()
    twin = EWC.from_json(text, kernel=kernel)
    assert (twin.lam, twin.decay, twin.tasks, twin.samples) == (7.0, 0.5, 2, 6)
    for mine, theirs in zip(ewc.fisher + ewc.anchor, twin.fisher + twin.anchor):
        assert np.array_equal(bits(mine), bits(theirs))
    assert twin.to_json() == text
    w = [f32(rng.standard_normal(9)), f32(rng.standard_normal(2))]
    assert twin.penalty(w) == ewc.penalty(w)
    doc = json.loads(text)
    for bad in ("nope", json.dumps({**doc, "format": "agentdb.lora"}), json.dumps({**doc, "tasks": "2"}),
                json.dumps({**doc, "fisher": doc["fisher"][:1]}), json.dumps({k: v for k, v in doc.items()
                                                                            if k != "anchor"})):
        with pytest.raises(ArgumentError):
            EWC.from_json(bad)
    with pytest.raises(DimensionError):
        EWC.from_json(json.dumps({**doc, "lengths": [9, 3]}))


def test_identical_bits_across_backends(native, wasmhost, rng):
    tasks = [random_task(rng, (31, 4), 5) for _ in range(2)]
    w = [f32(rng.standard_normal(31)), f32(rng.standard_normal(4))]
    out = []
    for kernel in (native, wasmhost):
        ewc = EWC(lam=3.0, decay=0.8, kernel=kernel)
        for params, grads in tasks:
            ewc.register_task(params, grads)
        out.append(([bits(f) for f in ewc.fisher], ewc.penalty(w), [bits(g) for g in ewc.penalty_grad(w)]))
    (f1, p1, g1), (f2, p2, g2) = out
    assert p1 == p2 and all(np.array_equal(a, b) for a, b in zip(f1 + g1, f2 + g2))


def test_bad_inputs_raise_typed_errors(kernel, rng):
    for kwargs in ({"lam": -1}, {"lam": float("inf")}, {"lam": "1"}, {"decay": 1.5}, {"decay": -0.1},
                   {"decay": True}):
        with pytest.raises(OptionError):
            EWC(kernel=kernel, **kwargs)
    ewc = EWC(kernel=kernel)
    with pytest.raises(ArgumentError):
        ewc.register_task([], [])
    with pytest.raises(ArgumentError):
        ewc.register_task([[1.0]], [])
    with pytest.raises(DimensionError):
        ewc.register_task([[1.0, 2.0]], [[[1.0]]])
    with pytest.raises(DimensionError):
        ewc.register_task([[1.0, 2.0]], [[[1.0, 2.0], [3.0]]])
    with pytest.raises(NonFiniteError):
        ewc.register_task([[1.0]], [[[float("nan")]]])
    ewc.register_task([[1.0, 2.0]], [[[1.0, 2.0]]])
    for params in ([[1.0]], [[1.0, 2.0], [3.0]]):
        with pytest.raises(DimensionError):
            ewc.penalty(params)
        with pytest.raises(DimensionError):
            ewc.penalty_grad(params)
        with pytest.raises(DimensionError):
            ewc.register_task(params, [[[0.0]] * len(params)])
