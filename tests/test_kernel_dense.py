"""Dense-layer ops (GEMM, GELU, layer norm, attention, mean pool) against float64 references,
their edge cases and argument errors, and bit identity between native and wasm (every native
ISA level: tests/test_kernel_isa.py)."""
import math

import numpy as np
import pytest

from agentdb.errors import DimensionError
from agentdb.kernel.core import Ptr
from support import MINILM_SHAPES, assert_same_dense_bits, bits, f32

EPS = np.finfo(np.float32).eps


def arr(x, shape=None):
    a = np.frombuffer(memoryview(x).cast("B"), dtype=np.float32).astype(np.float64)
    return a if shape is None else a.reshape(shape)


def gelu64(x):
    """x/2 (1 + erf(x / sqrt 2)) in float64, as x/2 erfc(-x / sqrt 2): no cancellation for x << 0."""
    return np.array([v / 2 * math.erfc(-v / math.sqrt(2)) for v in np.asarray(x, np.float64).ravel()])


def gemm_bound(a, w, bias):
    """The rounding bound of k sequential multiply-adds, elementwise."""
    k = a.shape[1]
    return (k + 2) * EPS * (np.abs(a.astype(np.float64)) @ np.abs(w.astype(np.float64)) + np.abs(bias))


# (m, k, n): n off the 16-column panels, m = 1, k = 1, k past the KC block (192)
SHAPES = [(1, 1, 1), (3, 17, 5), (13, 64, 16), (7, 100, 33), (1, 384, 100), (29, 500, 47), (5, 1, 40)]


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("with_bias", (False, True))
def test_gemm_against_float64(kernel, rng, m, k, n, with_bias):
    a, w = f32(rng.standard_normal((m, k))), f32(rng.standard_normal((k, n)))
    bias = f32(rng.standard_normal(n)) if with_bias else None
    b64 = np.zeros(n) if bias is None else bias.astype(np.float64)
    want = a.astype(np.float64) @ w + b64
    packed = kernel.pack_gemm(w, k=k, n=n)
    got = arr(kernel.gemm(a, packed, k=k, n=n, bias=bias), (m, n))
    assert np.all(np.abs(got - want) <= gemm_bound(a, w, b64))
    norms = np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(w, axis=0)) + np.abs(b64)
    assert np.max(np.abs(got - want) / norms) < 1e-6
    gelu = arr(kernel.gemm(a, packed, k=k, n=n, bias=bias, act="gelu"), (m, n))
    assert np.all(np.abs(gelu - gelu64(want).reshape(m, n)) <= 1.13 * gemm_bound(a, w, b64) + 8 * EPS * np.abs(want))


def test_gemm_packing_layout_and_transposed_weights(kernel, rng):
    k, n = 5, 21
    w = f32(rng.standard_normal((k, n)))
    packed = np.asarray(kernel.pack_gemm(w, k=k, n=n))
    assert len(packed) == kernel.gemm_packed_len(k, n) == k * 32
    panels = np.zeros((k, 32), np.float32)
    panels[:, :n] = w
    assert np.array_equal(packed.reshape(2, k, 16), panels.reshape(k, 2, 16).transpose(1, 0, 2))
    assert np.array_equal(np.asarray(kernel.pack_gemm(np.ascontiguousarray(w.T), k=k, n=n, transposed=True)), packed)


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_gemm_i8_against_float64(kernel, rng, m, k, n):
    a = f32(rng.standard_normal((m, k)))
    wq = rng.integers(-127, 128, (k, n)).astype(np.int8)
    scale, bias = f32(rng.random(n) / 127 + 1e-3), f32(rng.standard_normal(n))
    packed = kernel.pack_gemm(wq, k=k, n=n)
    got = arr(kernel.gemm_i8(a, packed, scale, k=k, n=n, bias=bias), (m, n))
    sums = a.astype(np.float64) @ wq
    want = sums * scale + bias
    bound = gemm_bound(a, wq, 0) * scale + 2 * EPS * (np.abs(sums * scale) + np.abs(bias))
    assert np.all(np.abs(got - want) <= bound)
    # unit scales and no bias: the sums of gemm() over float(wq), bit for bit
    ones = kernel.gemm_i8(a, packed, f32(np.ones(n)), k=k, n=n)
    assert np.array_equal(bits(ones), bits(kernel.gemm(a, kernel.pack_gemm(f32(wq), k=k, n=n), k=k, n=n)))


def test_gelu_erf_within_a_few_ulp(kernel, rng):
    x = f32(np.concatenate([np.linspace(-16, 16, 6401), rng.standard_normal(2000) * 3, [0.0, -0.0, 1e-30, -1e-30]]))
    got, want = arr(kernel.gelu_erf(x)), gelu64(x)
    ulp = np.maximum(np.spacing(np.abs(want).astype(np.float32)).astype(np.float64), 2.0 ** -149)
    assert np.max(np.abs(got - want) / ulp) <= 6
    assert arr(kernel.gelu_erf(f32([-30, 30, 1e30, -1e30]))).tolist() == arr(f32([0, 30, 1e30, 0])).tolist()


@pytest.mark.parametrize("dim", (1, 17, 384))
def test_layer_norm_rows(kernel, rng, dim):
    rows = 5
    x, res = f32(rng.standard_normal((rows, dim)) * 3 + 1), f32(rng.standard_normal((rows, dim)))
    gamma, beta = f32(rng.standard_normal(dim)), f32(rng.standard_normal(dim))
    r = f32(x + res).astype(np.float64)   # the float32 sum, as the kernel adds it
    mean = r.mean(axis=1, keepdims=True)
    want = (r - mean) / np.sqrt(((r - mean) ** 2).mean(axis=1, keepdims=True) + 1e-12) * gamma + beta
    got = arr(kernel.layer_norm_rows(x, dim=dim, gamma=gamma, beta=beta, residual=res), (rows, dim))
    assert np.allclose(got, want, atol=1e-5 * (1 + np.abs(gamma)))
    # each row exactly as layer_norm() computes it, residual or not, in place or not
    alone = kernel.layer_norm_rows(x, dim=dim, gamma=gamma, beta=beta)
    for i in range(rows):
        row = kernel.layer_norm(x[i], gamma=gamma, beta=beta, eps=1e-12)
        assert np.array_equal(bits(row), bits(alone)[i * dim:(i + 1) * dim])
    summed = kernel.layer_norm_rows(f32(x + res), dim=dim, gamma=gamma, beta=beta)
    assert np.array_equal(bits(got.astype(np.float32)), bits(summed))
    for target in ("x", "residual"):
        xb, rb = kernel.alloc(rows * dim), kernel.alloc(rows * dim)
        xb.write(x.ravel()), rb.write(res.ravel())
        kernel.layer_norm_rows(xb, dim=dim, gamma=gamma, beta=beta, residual=rb, out=xb if target == "x" else rb)
        assert np.array_equal(bits((xb if target == "x" else rb).read()), bits(summed)), target


def attention64(qkv, offsets, heads, hd):
    width = heads * hd
    out = np.zeros((qkv.shape[0], width))
    q, k, v = (qkv[:, i * width:(i + 1) * width].astype(np.float64) for i in range(3))
    for s in range(len(offsets) - 1):
        t = slice(offsets[s], offsets[s + 1])
        for h in range(heads):
            c = slice(h * hd, (h + 1) * hd)
            z = q[t, c] @ k[t, c].T / np.sqrt(hd)
            e = np.exp(z - z.max(axis=1, keepdims=True)) if z.size else z
            out[t, c] = e / e.sum(axis=1, keepdims=True) @ v[t, c] if z.size else 0
    return out


@pytest.mark.parametrize("heads,hd,lengths", [
    (12, 32, [40, 0, 1, 3, 17]),     # MiniLM's heads, empty and single-token sequences
    (2, 5, [33, 16, 2]),
    (1, 8, list(range(1, 257))),     # every length up to 256 in one batch
])
def test_attention_against_float64(kernel, rng, heads, hd, lengths):
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.uint32)
    qkv = f32(rng.standard_normal((int(offsets[-1]), 3 * heads * hd)) * 2)
    got = arr(kernel.attention(qkv, offsets, heads=heads, head_dim=hd), (len(qkv), heads * hd))
    want = attention64(qkv, offsets, heads, hd)
    assert np.allclose(got, want, rtol=1e-5, atol=2e-6 * np.abs(qkv).max())
    one = offsets[1:][np.diff(offsets) == 1]   # a single token attends to itself only: its v, exactly
    width = heads * hd
    assert np.array_equal(got[one - 1], qkv[one - 1, 2 * width:].astype(np.float64))


def test_attention_with_wider_stride_and_reused_scratch(kernel, rng):
    heads, hd, width = 3, 4, 12
    offsets = np.array([0, 5, 9], np.uint32)
    qkv = f32(rng.standard_normal((9, 40)))            # 4 spare floats per row
    scratch = kernel.alloc(kernel.attention_scratch_len(5, hd))
    got = kernel.attention(qkv, offsets, heads=heads, head_dim=hd, stride=40, scratch=scratch)
    dense = np.ascontiguousarray(qkv[:, :3 * width])
    assert np.array_equal(bits(got), bits(kernel.attention(dense, offsets, heads=heads, head_dim=hd)))
    # scale 0: every key weighs 1, so each token gets the mean of its sequence's values
    scaled = arr(kernel.attention(dense, offsets, heads=heads, head_dim=hd, scale=0.0, scratch=scratch), (9, width))
    means = [dense[a:b, 2 * width:].astype(np.float64).mean(axis=0) for a, b in ((0, 5), (5, 9))]
    assert np.allclose(scaled, np.repeat(means, [5, 4], axis=0), atol=1e-6)


@pytest.mark.parametrize("normalize", (False, True))
def test_mean_pool(kernel, rng, normalize):
    dim, lengths = 17, [3, 0, 1, 40]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.uint32)
    x = f32(rng.standard_normal((int(offsets[-1]), dim)))
    got = arr(kernel.mean_pool(x, offsets, dim=dim, normalize=normalize), (4, dim))
    want = np.array([x[a:b].astype(np.float64).mean(axis=0) if b > a else np.zeros(dim)
                     for a, b in zip(offsets[:-1], offsets[1:])])
    if normalize:
        norms = np.linalg.norm(want, axis=1, keepdims=True)
        want = np.divide(want, norms, out=np.zeros_like(want), where=norms > 0)
    assert np.allclose(got, want, atol=1e-6)
    assert not got[1].any()


def test_argument_errors_are_typed(kernel):
    x = f32(np.ones((4, 3)))
    for bad in ([0, 3, 2], [0, 5], [], [1, 0]):
        with pytest.raises(DimensionError):
            kernel.mean_pool(x, np.array(bad, np.uint32), dim=3)
    qkv = f32(np.ones((4, 6)))
    with pytest.raises(DimensionError):
        kernel.attention(qkv, np.array([0, 2, 5], np.uint32), heads=1, head_dim=2)
    with pytest.raises(DimensionError, match="scratch"):
        kernel.attention(qkv, np.array([0, 4], np.uint32), heads=1, head_dim=2, scratch=kernel.alloc(3))
    with pytest.raises(DimensionError, match="stride"):
        kernel.attention(qkv, np.array([0, 4], np.uint32), heads=1, head_dim=2, stride=5)
    packed = kernel.pack_gemm(f32(np.ones((3, 2))), k=3, n=2)
    with pytest.raises(DimensionError):
        kernel.gemm(f32(np.ones(7)), packed, k=3, n=2)           # 7 is not rows of 3
    with pytest.raises(DimensionError):
        kernel.gemm(x, packed, k=3, n=17)                        # packed for n = 2: one panel
    with pytest.raises(DimensionError):
        kernel.gemm(x, packed, k=3, n=2, bias=f32([1]))
    with pytest.raises(ValueError):
        kernel.gemm(x, packed, k=3, n=2, act="relu")
    with pytest.raises(DimensionError):
        kernel.layer_norm_rows(x, dim=3, gamma=f32([1, 1]), beta=f32([0, 0, 0]))
    with pytest.raises(DimensionError):
        kernel.layer_norm_rows(x, dim=3, gamma=f32([1, 1, 1]), beta=f32([0, 0, 0]), residual=f32([1]))


def test_the_kernel_checks_offsets_and_scratch_itself(kernel):
    """The C calls validate too (for callers other than these wrappers), returning codes."""
    offsets = kernel.alloc(3, "I")
    qkv, out, x, pooled = (Ptr(kernel.alloc(24), "f", True) for _ in range(4))
    room = kernel.attention_scratch_len(3, 2)
    scratch = Ptr(kernel.alloc(room), "f", True)

    def call(fname, offs, *args):
        offsets.write(np.array(offs, np.uint32))
        return kernel._call(fname, *args)

    def attend(offs, scratch_len):
        return call("agk_attention_f32", offs, qkv, qkv, qkv, 6, Ptr(offsets, "I"), 2, 4, 1, 2, 1.0, scratch,
                    scratch_len, out, 2)

    assert attend([0, 2, 4], room) == 2
    assert attend([0, 3, 2], room) == -4           # AGK_E_RANGE: decreasing
    assert attend([0, 2, 5], room) == -4           # AGK_E_RANGE: past the last token
    assert attend([0, 1, 4], room - 1) == -1       # AGK_E_ARG: short of 3 tokens' scratch
    assert call("agk_mean_pool_rows_f32", [0, 3, 2], x, 4, 2, Ptr(offsets, "I"), 2, 1, pooled) == -4
    assert call("agk_mean_pool_rows_f32", [0, 3, 4], x, 4, 2, Ptr(offsets, "I"), 2, 1, pooled) == 2


def test_gemm_leaves_the_kernel_static_data_alone(kernel, rng):
    """GEMM's stack buffers must fit wasm's 64 KiB stack, under which the CRC tables live."""
    a, w = f32(rng.standard_normal((300, 600))), f32(rng.standard_normal((600, 40)))
    kernel.gemm(a, kernel.pack_gemm(w, k=600, n=40), k=600, n=40)
    kernel.gemm_i8(a, kernel.pack_gemm(np.ones((600, 40), np.int8), k=600, n=40), f32(np.ones(40)), k=600, n=40)
    assert kernel.crc32c(b"123456789") == 0xE3069283


def test_native_and_wasm_give_the_same_bits(native, wasmhost):
    names = assert_same_dense_bits(native, wasmhost, 11)
    assert {f"gemm 200x{k}x{n}" for k, n in MINILM_SHAPES} <= names
