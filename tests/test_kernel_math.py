"""The SimdOps surface against float64 references, with the tolerance each op can promise."""
import numpy as np
import pytest

import reference as ref
from support import f32

EPS = np.finfo(np.float32).eps


@pytest.mark.parametrize("n", (1, 3, 16, 17, 100, 1031))
def test_pairwise_metrics(kernel, rng, n):
    a, b = f32(rng.standard_normal(n)), f32(rng.standard_normal(n))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    bound = (n / 16 + 8) * EPS * np.abs(a64 * b64).sum()
    assert abs(kernel.dot(a, b) - a64 @ b64) <= bound
    assert abs(kernel.l2sq(a, b) - ((a64 - b64) ** 2).sum()) <= (n / 16 + 8) * EPS * ((a64 - b64) ** 2).sum()
    assert abs(kernel.l2_distance(a, b) - np.sqrt(((a64 - b64) ** 2).sum())) <= 1e-5 * (1 + np.sqrt(n))
    cos = a64 @ b64 / np.sqrt((a64 @ a64) * (b64 @ b64))
    assert abs(kernel.cosine(a, b) - cos) <= 1e-5


@pytest.mark.parametrize("n", (1, 5, 16, 33))
def test_elementwise_ops_are_exactly_float32(kernel, rng, n):
    a, b = f32(rng.standard_normal(n)), f32(rng.standard_normal(n))
    assert np.array_equal(kernel.add(a, b), a + b)
    assert np.array_equal(kernel.mul(a, b), a * b)
    assert np.array_equal(kernel.scale(a, 0.3), a * np.float32(0.3))
    assert np.array_equal(kernel.relu(a), np.maximum(a, 0))


@pytest.mark.parametrize("n", (1, 7, 64, 1031))
def test_normalize(kernel, rng, n):
    a = f32(rng.standard_normal(n) * 5)
    got = np.asarray(kernel.normalize(a), np.float64)
    assert abs(np.linalg.norm(got) - 1) < 1e-5
    assert np.allclose(got, a / np.linalg.norm(a.astype(np.float64)), atol=1e-6)
    assert kernel.normalize(f32(np.zeros(n))).tolist() == [0.0] * n


def test_normalize_rows_in_place(kernel, rng):
    x = f32(rng.standard_normal((20, 9)))
    x[3] = 0
    want = np.stack([kernel.normalize(r) for r in x])
    kernel.normalize_rows(x, dim=9)
    assert np.array_equal(x, want)


def test_exp_relative_error_is_a_few_ulp(kernel):
    a = f32(np.concatenate([np.linspace(-87, 88.5, 20001), [0.0, -0.0, 1e-8, -1e-8]]))
    got = np.asarray(kernel.exp(a), np.float64)
    want = np.exp(a.astype(np.float64))
    assert (np.abs(got - want) <= 4 * EPS * want).all()


def test_exp_saturates(kernel):
    got = kernel.exp(f32([89, 1000, -104, -1000, -100]))
    assert got[0] == np.inf and got[1] == np.inf and got[2] == 0 and got[3] == 0
    assert abs(got[4] - np.exp(-100.0)) <= 2 ** -149  # subnormal range, within one subnormal step


@pytest.mark.parametrize("n", (1, 2, 17, 500))
def test_softmax(kernel, rng, n):
    a = f32(rng.standard_normal(n) * 10)
    got = np.asarray(kernel.softmax(a), np.float64)
    assert np.allclose(got, ref.softmax(a), rtol=1e-5, atol=1e-7)
    assert abs(got.sum() - 1) < 1e-5


def test_softmax_of_large_values_does_not_overflow(kernel):
    got = kernel.softmax(f32([1000, 1000, 999]))
    assert np.allclose(got, ref.softmax([1000, 1000, 999]), rtol=1e-5)


def test_sigmoid_and_gelu(kernel):
    a = f32(np.linspace(-20, 20, 4001))
    assert np.allclose(kernel.sigmoid(a), ref.sigmoid(a), rtol=1e-6, atol=1e-7)
    assert np.allclose(kernel.gelu(a), ref.gelu(a), rtol=1e-5, atol=1e-6)
    assert kernel.sigmoid(f32([-200, 200])).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("n", (1, 4, 17, 768))
def test_layer_norm(kernel, rng, n):
    a = f32(rng.standard_normal(n) * 3 + 1)
    gamma, beta = f32(rng.standard_normal(n)), f32(rng.standard_normal(n))
    assert np.allclose(kernel.layer_norm(a), ref.layer_norm(a), atol=1e-5)
    assert np.allclose(kernel.layer_norm(a, gamma=gamma, beta=beta, eps=1e-3),
                       ref.layer_norm(a, gamma, beta, 1e-3), atol=1e-5)


def test_find_nonfinite(kernel):
    a = f32(np.arange(100))
    assert kernel.find_nonfinite(a) == -1
    a[57] = np.inf
    a[80] = np.nan
    assert kernel.find_nonfinite(a) == 57


def test_capabilities_name_the_dispatched_isa(kernel):
    assert kernel.isa in kernel.capabilities()
    if kernel.backend == "wasmhost":
        assert kernel.isa == "simd128"
    else:
        assert kernel.isa in ("avx512", "avx2", "sse2")
        flags = open("/proc/cpuinfo").read()
        if all(f" {flag} " in flags for flag in ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")):
            assert kernel.isa == "avx512"
