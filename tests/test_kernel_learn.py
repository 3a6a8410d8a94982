"""The learning ops (csrc/learn.c) against float32 mirrors in the kernel's order (bit for bit,
on every backend) and float64 references, the log's accuracy, and their argument errors."""
import doctest
import math

import numpy as np
import pytest

import reference as ref
from agentdb.errors import ArgumentError, BufferFormatError, DimensionError, OptionError
from agentdb.kernel import learn_ops
from support import bits, f32

DIMS = (1, 3, 17, 97, 384)
EPS = np.finfo(np.float32).eps


def arr(x, shape=None):
    a = np.frombuffer(memoryview(x).cast("B"), dtype=np.float32).copy()
    return a if shape is None else a.reshape(shape)


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 17), (17, 3), (97, 384), (384, 1)])
def test_transpose(kernel, rng, rows, cols):
    x = f32(rng.standard_normal((rows, cols)))
    assert np.array_equal(arr(kernel.transpose(x, rows=rows, cols=cols), (cols, rows)), x.T)


@pytest.mark.parametrize("n", DIMS)
def test_axpy_in_place(kernel, rng, n):
    x, y = f32(rng.standard_normal(n)), f32(rng.standard_normal(n))
    want = y + np.float32(-0.37) * x
    assert np.array_equal(arr(kernel.axpy(-0.37, x, y)), want)
    kernel.axpy(-0.37, x, y, out=y)
    assert np.array_equal(y, want)


@pytest.mark.parametrize("dim", DIMS)
def test_row_dots_are_dot_per_row(kernel, rng, dim):
    a, b = f32(rng.standard_normal((7, dim))), f32(rng.standard_normal((7, dim)))
    got = kernel.row_dots(a, b, dim=dim)
    assert np.array_equal(bits(got), bits(f32([kernel.dot(x, y) for x, y in zip(a, b)])))
    want = (a.astype(np.float64) * b).sum(axis=1)
    assert np.all(np.abs(arr(got) - want) <= (dim / 16 + 8) * EPS * np.abs(a.astype(np.float64) * b).sum(axis=1))


@pytest.mark.parametrize("dim", DIMS)
def test_scale_rows_and_sum_rows(kernel, rng, dim):
    x, s = f32(rng.standard_normal((11, dim))), f32(rng.standard_normal(11))
    assert np.array_equal(arr(kernel.scale_rows(x, s, dim=dim), x.shape), x * s[:, None])
    assert np.array_equal(arr(kernel.sum_rows(x, dim=dim)), ref.sum_rows_f32(x))
    want = x * s[:, None]
    kernel.scale_rows(x, s, dim=dim, out=x)
    assert np.array_equal(x, want)


def ulps(got, want):
    """|got - want| in float32 ulps of want (subnormals: of the smallest normal's spacing)."""
    want = np.asarray(want, np.float64)
    spacing = np.spacing(np.maximum(np.abs(want), np.finfo(np.float32).tiny).astype(np.float32)).astype(np.float64)
    return np.abs(np.asarray(got, np.float64) - want) / spacing


def test_log_within_two_ulp_over_the_whole_range(kernel, rng):
    x = np.concatenate([
        np.logspace(-45, 38.5, 40001),                   # subnormals to near FLT_MAX
        1 + np.linspace(-0.3, 0.42, 20001),              # around 1, where log is small
        rng.random(5000) * 4, [np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1.0, 2.0, 0.5]])
    x = f32(x)
    x = x[x > 0]
    got = arr(kernel.log(x))
    want = [math.log(float(v)) for v in x]
    assert ulps(got, want).max() <= 2


def test_log_special_values(kernel):
    got = arr(kernel.log(f32([0.0, -0.0, np.inf, -1.0, -np.inf, np.nan, 1e-45])))
    assert got[0] == -np.inf and got[1] == -np.inf and got[2] == np.inf
    assert np.isnan(got[3:6]).all()
    assert abs(got[6] - math.log(float(np.float32(1e-45)))) < 1e-5


@pytest.mark.parametrize("dim", DIMS)
def test_softmax_rows_are_softmax_per_row(kernel, rng, dim):
    x = f32(rng.standard_normal((9, dim)) * 5)
    got = kernel.softmax_rows(x, dim=dim)
    assert np.array_equal(bits(got), np.concatenate([bits(kernel.softmax(r)) for r in x]))


@pytest.mark.parametrize("dim", DIMS)
def test_softmax_cross_entropy(kernel, rng, dim):
    logits = f32(rng.standard_normal((13, dim)) * 4)
    targets = rng.integers(0, dim, 13).astype(np.uint32)
    loss, grad = kernel.softmax_xent_rows(logits, targets, dim=dim)
    want_loss, want_grad = ref.softmax_xent(logits, targets)
    assert isinstance(loss, float) and abs(loss - want_loss) <= 1e-6 * max(1.0, want_loss)
    assert np.allclose(arr(grad, logits.shape), want_grad, rtol=1e-5, atol=1e-7)
    # the probabilities are softmax()'s bits: the gradient follows from them exactly
    p = arr(kernel.softmax_rows(logits, dim=dim), logits.shape)
    p[np.arange(13), targets] -= np.float32(1)
    assert np.array_equal(arr(grad, logits.shape), p / np.float32(13))


def test_softmax_cross_entropy_is_stable_for_huge_logits(kernel):
    logits = f32([[1000, 0, -1000], [-5000, 3000, 2999]])
    loss, grad = kernel.softmax_xent_rows(logits, [1, 2], dim=3)
    want_loss, want_grad = ref.softmax_xent(logits, [1, 2])
    assert math.isfinite(loss) and abs(loss - want_loss) < 1e-4
    assert np.allclose(arr(grad, (2, 3)), want_grad, atol=1e-7)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 17, 5), (17, 97, 3), (8, 384, 33), (97, 3, 384)])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_is_the_ordered_float32_sum(kernel, rng, m, k, n, trans_a, trans_b):
    a, b = f32(rng.standard_normal((m, k))), f32(rng.standard_normal((k, n)))
    got = kernel.matmul(np.ascontiguousarray(a.T) if trans_a else a, np.ascontiguousarray(b.T) if trans_b else b,
                        m=m, k=k, n=n, trans_a=trans_a, trans_b=trans_b)
    assert np.array_equal(arr(got, (m, n)), ref.matmul_f32(a, b))
    bound = (k + 2) * EPS * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))
    assert np.all(np.abs(arr(got, (m, n)) - a.astype(np.float64) @ b) <= bound)


def test_matmul_into_kernel_buffers(kernel, rng):
    a, b = f32(rng.standard_normal((5, 17))), f32(rng.standard_normal((17, 3)))
    ka, kb, out = kernel.from_buffer(a), kernel.from_buffer(b), kernel.alloc(15)
    assert kernel.matmul(ka, kb, m=5, k=17, n=3, out=out) is out
    assert np.array_equal(arr(out.read(), (5, 3)), ref.matmul_f32(a, b))


SGD_OPTIONS = [dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.1, weight_decay=0.01),
               dict(momentum=0.8, nesterov=True, weight_decay=0.05)]


@pytest.mark.parametrize("options", SGD_OPTIONS)
@pytest.mark.parametrize("n", (1, 17, 384))
def test_sgd_step_is_torchs_rule_bit_for_bit(kernel, rng, options, n):
    p, buf = f32(rng.standard_normal(n)), None
    kp, kv = kernel.from_buffer(p), kernel.alloc(n)
    for step in range(4):
        g = f32(rng.standard_normal(n))
        kernel.sgd_step(kp, g, kv, lr=0.05, first=step == 0, **options)
        p, buf = ref.sgd_step(p, g, buf, lr=0.05, **options)
        assert np.array_equal(bits(kp.read()), bits(p))
        if buf is not None:
            assert np.array_equal(bits(kv.read()), bits(buf))


ADAM_OPTIONS = [dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled=True),
                dict(beta1=0.3, beta2=0.5, eps=1e-3)]   # beta1 < 0.5: the other branch of lerp


@pytest.mark.parametrize("options", ADAM_OPTIONS)
@pytest.mark.parametrize("n", (1, 17, 384))
def test_adam_step_is_torchs_rule_bit_for_bit(kernel, rng, options, n):
    p = f32(rng.standard_normal(n))
    m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
    kp, km, kv = kernel.from_buffer(p), kernel.alloc(n), kernel.alloc(n)
    hyper = dict(beta1=0.9, beta2=0.999, eps=1e-8) | {key: options[key] for key in ("beta1", "beta2", "eps")
                                                      if key in options}
    extra = {key: options[key] for key in ("weight_decay", "decoupled") if key in options}
    for step in range(1, 5):
        g = f32(rng.standard_normal(n))
        kernel.adam_step(kp, g, km, kv, lr=0.01, step=step, **hyper, **extra)
        p, m, v = ref.adam_step(p, g, m, v, lr=0.01, step=step, **hyper, **extra)
        for got, want in ((kp, p), (km, m), (kv, v)):
            assert np.array_equal(bits(got.read()), bits(want))


def test_optimizer_steps_update_plain_writable_buffers(kernel):
    p = np.ones(3, np.float32)
    kernel.sgd_step(p, f32([1, 2, 3]), None, lr=0.5)
    assert p.tolist() == [0.5, 0.0, -0.5]


def learn_outputs(kernel, seed):
    """Every learning op at odd sizes, as name -> bits: backends and ISA levels must agree."""
    rng = np.random.default_rng(seed)
    x, y = f32(rng.standard_normal((97, 384))), f32(rng.standard_normal((97, 384)))
    s, t = f32(rng.standard_normal(97)), rng.integers(0, 384, 97).astype(np.uint32)
    out = {"transpose": kernel.transpose(x, rows=97, cols=384), "axpy": kernel.axpy(0.3, x, y),
           "row_dots": kernel.row_dots(x, y, dim=384), "scale_rows": kernel.scale_rows(x, s, dim=384),
           "sum_rows": kernel.sum_rows(x, dim=384), "log": kernel.log(np.abs(x) * 50),
           "softmax_rows": kernel.softmax_rows(x, dim=384),
           "matmul": kernel.matmul(x, y, m=97, k=384, n=97, trans_b=True),
           "matmul_ta": kernel.matmul(x, y, m=384, k=97, n=384, trans_a=True)}
    loss, out["xent_grad"] = kernel.softmax_xent_rows(x, t, dim=384)
    out["xent_loss"] = f32([loss])
    p, vel = kernel.from_buffer(x[0]), kernel.alloc(384)
    m, v = kernel.alloc(384), kernel.alloc(384)
    for step in range(1, 4):
        kernel.sgd_step(p, y[step], vel, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, first=step == 1)
        kernel.adam_step(p, y[step + 3], m, v, lr=0.01, step=step, weight_decay=0.01, decoupled=True)
    out["optimizers"] = p.read()
    return {name: bits(value) for name, value in out.items()}


def test_same_bits_natively_and_in_wasm(native, wasmhost):
    got, want = learn_outputs(native, 7), learn_outputs(wasmhost, 7)
    for name in want:
        assert np.array_equal(got[name], want[name]), name


def test_same_bits_on_every_isa_level(level_kernel, wasmhost):
    got, want = learn_outputs(level_kernel, 8), learn_outputs(wasmhost, 8)
    for name in want:
        assert np.array_equal(got[name], want[name]), name


def test_bad_inputs_raise_typed_errors_naming_them(kernel):
    with pytest.raises(DimensionError, match="x holds 5 values"):
        kernel.transpose([1, 2, 3, 4, 5], rows=2, cols=3)
    with pytest.raises(DimensionError, match="differ in length"):
        kernel.axpy(1.0, [1, 2], [1, 2, 3])
    with pytest.raises(DimensionError, match="not a multiple of dimension 2"):
        kernel.row_dots([1, 2, 3], [1, 2, 3], dim=2)
    with pytest.raises(DimensionError, match="dim must be a positive integer"):
        kernel.sum_rows([1, 2], dim=0)
    with pytest.raises(DimensionError, match="s \\(one scale per row\\) holds 1 values"):
        kernel.scale_rows([1, 2, 3, 4], [1], dim=2)
    with pytest.raises(ArgumentError, match="targets\\[1\\] = 3 is not a class below dim = 3"):
        kernel.softmax_xent_rows([0] * 6, [0, 3], dim=3)
    with pytest.raises(DimensionError, match="targets \\(one class per row\\) holds 1 values"):
        kernel.softmax_xent_rows([0] * 6, [0], dim=3)
    with pytest.raises(DimensionError, match="b holds 3 values, 4 expected"):
        kernel.matmul([1, 2, 3, 4], [1, 2, 3], m=2, k=2, n=2)
    buf = kernel.alloc(4)
    with pytest.raises(ArgumentError, match="out must not be the same buffer as x"):
        kernel.transpose(buf, rows=2, cols=2, out=buf)
    p = kernel.alloc(2)
    with pytest.raises(OptionError, match="lr must be a finite number in \\[0.0, inf\\], got -0.1"):
        kernel.sgd_step(p, [1, 1], None, lr=-0.1)
    with pytest.raises(OptionError, match="nesterov needs momentum > 0"):
        kernel.sgd_step(p, [1, 1], None, lr=0.1, nesterov=True)
    with pytest.raises(ArgumentError, match="velocity \\(momentum's buffer\\) is missing"):
        kernel.sgd_step(p, [1, 1], None, lr=0.1, momentum=0.9)
    with pytest.raises(DimensionError, match="param holds 2 values, 3 expected"):
        kernel.sgd_step(p, [1, 1, 1], None, lr=0.1)
    with pytest.raises(BufferFormatError, match="param: a list cannot receive output"):
        kernel.sgd_step([1.0, 2.0], [1, 1], None, lr=0.1)
    with pytest.raises(OptionError, match="beta2 must be a finite number in \\[0.0, 1.0\\), got 1.0"):
        kernel.adam_step(p, [1, 1], kernel.alloc(2), kernel.alloc(2), lr=0.1, beta2=1.0, step=1)
    with pytest.raises(OptionError, match="step must be a positive integer"):
        kernel.adam_step(p, [1, 1], kernel.alloc(2), kernel.alloc(2), lr=0.1, step=0)


def test_docstring_examples_run_and_every_op_is_documented(kernel):
    assert doctest.testmod(learn_ops, extraglobs={"k": kernel}).failed == 0
    public = [name for name, obj in vars(learn_ops.LearnOps).items() if not name.startswith("_") and callable(obj)]
    assert len(public) == 11 and all(getattr(learn_ops.LearnOps, name).__doc__ for name in public)
