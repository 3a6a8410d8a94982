"""Bit-identical twins: the native extension and kernel.wasm under wasmtime return the same
bits for the same inputs, for every float op (Hypothesis draws the shapes and the data)."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import bits

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def data(seed, *shape, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def same(a, b):
    assert np.array_equal(bits(a), bits(b))


shapes = st.tuples(st.integers(1, 140), st.integers(0, 40), st.integers(0, 2 ** 32 - 1))


@SETTINGS
@given(shapes, st.sampled_from(["dot", "l2", "cos"]))
def test_scans(native, wasmhost, shape, metric):
    dim, n, seed = shape
    rows, q = data(seed, n, dim), data(seed + 1, dim)
    same(native.scan(q, rows, dim=dim, metric=metric), wasmhost.scan(q, rows, dim=dim, metric=metric))
    qs = data(seed + 2, 3, dim)
    same(native.scan_batch(qs, rows, dim=dim, metric=metric), wasmhost.scan_batch(qs, rows, dim=dim, metric=metric))


@SETTINGS
@given(shapes)
def test_quantized_scans(native, wasmhost, shape):
    dim, n, seed = shape
    x, q = data(seed, n + 1, dim, scale=3), data(seed + 1, dim)
    lo, step = native.sq8_train(x, dim=dim)
    same(lo, wasmhost.sq8_train(x, dim=dim)[0])
    same(step, wasmhost.sq8_train(x, dim=dim)[1])
    codes = native.sq8_encode(x, lo, step, dim=dim)
    assert codes == wasmhost.sq8_encode(x, lo, step, dim=dim)
    same(native.sq8_decode(codes, lo, step, dim=dim), wasmhost.sq8_decode(codes, lo, step, dim=dim))
    w = native.mul(q, step)
    same(native.scan_dot_i8f32(w, 0.25, codes, dim=dim), wasmhost.scan_dot_i8f32(w, 0.25, codes, dim=dim))
    qc = codes[:dim]
    same(native.scan_dot_i8(qc, codes, dim=dim, alpha=0.1, bias=3), wasmhost.scan_dot_i8(qc, codes, dim=dim, alpha=0.1, bias=3))
    same(native.scan_l2_i8(qc, codes, dim=dim, alpha=0.1), wasmhost.scan_l2_i8(qc, codes, dim=dim, alpha=0.1))


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 16), st.integers(1, 60), st.integers(0, 2 ** 32 - 1))
def test_kmeans_and_pq(native, wasmhost, m, dsub, n, seed):
    dim, ksub = m * dsub, 1 + seed % 40
    x, cb, q = data(seed, n, dim), data(seed + 1, m, ksub, dsub), data(seed + 2, dim)
    codes = native.pq_encode(x, cb, dim=dim, m=m, ksub=ksub)
    assert codes == wasmhost.pq_encode(x, cb, dim=dim, m=m, ksub=ksub)
    for metric in ("l2", "dot"):
        table = native.pq_table(q, cb, dim=dim, m=m, ksub=ksub, metric=metric)
        same(table, wasmhost.pq_table(q, cb, dim=dim, m=m, ksub=ksub, metric=metric))
        same(native.scan_pq(table, codes, m=m), wasmhost.scan_pq(table, codes, m=m))
    cent = data(seed + 3, ksub, dsub)
    a_n, d_n = native.kmeans_assign(x, cent, dim=dsub, stride=dim)
    a_w, d_w = wasmhost.kmeans_assign(x, cent, dim=dsub, stride=dim)
    assert a_n == a_w
    same(d_n, d_w)
    c_n, c_w = cent.copy(), cent.copy()
    native.kmeans_update(x, a_n, c_n, dim=dsub, stride=dim)
    wasmhost.kmeans_update(x, a_n, c_w, dim=dsub, stride=dim)
    same(c_n, c_w)


@SETTINGS
@given(st.integers(1, 300), st.integers(0, 2 ** 32 - 1), st.floats(0.01, 60))
def test_math_ops(native, wasmhost, n, seed, scale):
    a, b = data(seed, n, scale=scale), data(seed + 1, n, scale=scale)
    for op in ("dot", "cosine", "l2sq"):
        assert np.float32(getattr(native, op)(a, b)).view(np.uint32) == np.float32(getattr(wasmhost, op)(a, b)).view(np.uint32)
    for op in ("add", "mul"):
        same(getattr(native, op)(a, b), getattr(wasmhost, op)(a, b))
    for op in ("normalize", "relu", "gelu", "sigmoid", "exp", "softmax", "layer_norm"):
        same(getattr(native, op)(a), getattr(wasmhost, op)(a))
    same(native.scale(a, scale), wasmhost.scale(a, scale))
    same(native.layer_norm(a, gamma=b, beta=a, eps=0.01), wasmhost.layer_norm(a, gamma=b, beta=a, eps=0.01))
    mat = data(seed + 2, 7, n)
    same(native.matvec(mat, a, rows=7, cols=n), wasmhost.matvec(mat, a, rows=7, cols=n))


@SETTINGS
@given(st.integers(0, 5000), st.integers(1, 50), st.integers(0, 2 ** 32 - 1))
def test_topk_and_crc(native, wasmhost, n, k, seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 30, n).astype(np.float32)
    for largest in (True, False):
        assert native.topk(scores, k, largest=largest) == wasmhost.topk(scores, k, largest=largest)
    blob = rng.integers(0, 256, n, dtype="u1").tobytes()
    assert native.crc32c(blob) == wasmhost.crc32c(blob)
    x = data(seed, n // 50 + 1, 13)
    assert native.b1_encode(x, dim=13) == wasmhost.b1_encode(x, dim=13)
