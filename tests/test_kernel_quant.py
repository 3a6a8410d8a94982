"""int8 scalar, binary and product quantization, and the k-means steps, against references."""
import numpy as np
import pytest

import reference as ref
from support import f32


@pytest.mark.parametrize("dim", (1, 5, 16, 100, 384))
def test_sq8_round_trip_error_is_at_most_half_a_step(kernel, rng, dim):
    x = f32(rng.standard_normal((300, dim)) * rng.uniform(0.1, 10, dim))
    lo, step = kernel.sq8_train(x, dim=dim)
    want_lo, want_step = ref.sq8_train(x)
    assert np.array_equal(np.asarray(lo), want_lo) and np.allclose(step, want_step, rtol=1e-6)
    codes = np.asarray(kernel.sq8_encode(x, lo, step, dim=dim)).reshape(300, dim)
    assert codes.min() >= -127 and codes.max() <= 127
    assert (codes.min(axis=0) == -127).all() and (codes.max(axis=0) == 127).all()
    back = np.asarray(kernel.sq8_decode(codes, lo, step, dim=dim)).reshape(300, dim)
    assert (np.abs(back - x) <= np.asarray(step) * 0.5001 + 1e-6).all()


def test_sq8_constant_dimension_encodes_exactly(kernel):
    x = f32([[3, 1], [3, 2], [3, 5]])
    lo, step = kernel.sq8_train(x, dim=2)
    assert step[0] == 0.0
    back = np.asarray(kernel.sq8_decode(kernel.sq8_encode(x, lo, step, dim=2), lo, step, dim=2))
    assert back.reshape(3, 2)[:, 0].tolist() == [3.0, 3.0, 3.0]


@pytest.mark.parametrize("dim", (3, 64, 385))
def test_i8f32_scan_scores_the_decoded_rows(kernel, rng, dim):
    x = f32(rng.standard_normal((200, dim)))
    q = f32(rng.standard_normal(dim))
    lo, step = kernel.sq8_train(x, dim=dim)
    codes = kernel.sq8_encode(x, lo, step, dim=dim)
    w = kernel.mul(q, step)
    bias = kernel.dot(q, lo) + 127 * float(np.asarray(w, np.float64).sum())
    got = np.asarray(kernel.scan_dot_i8f32(w, bias, codes, dim=dim))
    decoded = np.asarray(kernel.sq8_decode(codes, lo, step, dim=dim)).reshape(200, dim)
    want = decoded.astype(np.float64) @ q
    assert np.allclose(got, want, rtol=1e-4, atol=1e-3 * np.abs(want).max())


@pytest.mark.parametrize("dim", (1, 15, 16, 17, 384, 1031))
def test_i8_scans_are_exact_integers(kernel, rng, dim):
    codes = rng.integers(-127, 128, (60, dim)).astype(np.int8)
    qc = rng.integers(-127, 128, dim).astype(np.int8)
    dot = np.asarray(kernel.scan_dot_i8(qc, codes, dim=dim))
    l2 = np.asarray(kernel.scan_l2_i8(qc, codes, dim=dim))
    assert np.array_equal(dot, (codes.astype(np.int64) @ qc.astype(np.int64)).astype(np.float32))
    assert np.array_equal(l2, ((codes.astype(np.int64) - qc) ** 2).sum(axis=1).astype(np.float32))
    scaled = np.asarray(kernel.scan_dot_i8(qc, codes, dim=dim, alpha=0.5, bias=2.0))
    assert np.array_equal(scaled, np.float32(0.5) * dot + np.float32(2.0))


def test_i8_scan_at_the_largest_dimension_does_not_overflow(kernel):
    dim = 32768
    codes = np.full((2, dim), -127, np.int8)
    qc = np.full(dim, 127, np.int8)
    assert kernel.scan_l2_i8(qc, codes, dim=dim)[0] == np.float32(254 * 254 * dim)


@pytest.mark.parametrize("dim", (1, 7, 8, 9, 64, 100, 1031))
def test_binary_codes_and_hamming(kernel, rng, dim):
    x = f32(rng.standard_normal((70, dim)))
    q = f32(rng.standard_normal((1, dim)))
    nb = (dim + 7) // 8
    codes = np.asarray(kernel.b1_encode(x, dim=dim)).reshape(70, nb)
    assert np.array_equal(codes, ref.b1_encode(x))
    qbits = np.asarray(kernel.b1_encode(q, dim=dim))
    got = np.asarray(kernel.scan_hamming(qbits, codes, n_bytes=nb))
    assert np.array_equal(got, ref.hamming(qbits, codes).astype(np.float32))


def test_kmeans_assign_and_update(kernel, rng):
    x = f32(rng.standard_normal((500, 12)))
    cent = f32(rng.standard_normal((9, 12)))
    assign, dist = kernel.kmeans_assign(x, cent, dim=12)
    want_assign, want_dist = ref.kmeans_assign(x, cent)
    assert np.array_equal(np.asarray(assign), want_assign)
    assert np.allclose(dist, want_dist, rtol=1e-5)
    moved = cent.copy()
    counts = np.asarray(kernel.kmeans_update(x, assign, moved, dim=12))
    assert np.array_equal(counts, np.bincount(want_assign, minlength=9))
    for c in range(9):
        if counts[c]:
            assert np.allclose(moved[c], x[want_assign == c].mean(axis=0), atol=1e-5)
        else:
            assert np.array_equal(moved[c], cent[c])


def test_kmeans_ties_go_to_the_lower_centroid(kernel):
    assign, _ = kernel.kmeans_assign(f32([[0, 0]]), f32([[1, 0], [0, 1], [-1, 0]]), dim=2)
    assert assign.tolist() == [0]


def test_kmeans_on_a_strided_subspace(kernel, rng):
    x = f32(rng.standard_normal((100, 12)))
    cent = f32(rng.standard_normal((5, 4)))
    assign, _ = kernel.kmeans_assign(x, cent, dim=4, stride=12, offset=8)
    assert np.array_equal(np.asarray(assign), ref.kmeans_assign(x[:, 8:12], cent)[0])


@pytest.mark.parametrize("metric", ("l2", "dot"))
def test_pq_encode_table_and_scan(kernel, rng, metric):
    n, dim, m, ksub = 400, 32, 8, 16
    x = f32(rng.standard_normal((n, dim)))
    codebooks = f32(rng.standard_normal((m, ksub, dim // m)))
    codes = np.asarray(kernel.pq_encode(x, codebooks, dim=dim, m=m, ksub=ksub)).reshape(n, m)
    assert np.array_equal(codes, ref.pq_encode(x, codebooks, m))
    q = f32(rng.standard_normal(dim))
    table = np.asarray(kernel.pq_table(q, codebooks, dim=dim, m=m, ksub=ksub, metric=metric)).reshape(m, 256)
    assert np.isnan(table[:, ksub:]).all()
    got = np.asarray(kernel.scan_pq(table.ravel(), codes, m=m))
    assert np.allclose(got, ref.pq_scores(q, codebooks, codes, metric), rtol=1e-4, atol=1e-4)


def test_pq_code_beyond_ksub_scores_nan_not_garbage(kernel, rng):
    m, ksub = 2, 4
    codebooks = f32(rng.standard_normal((m, ksub, 3)))
    table = kernel.pq_table(f32(rng.standard_normal(6)), codebooks, dim=6, m=m, ksub=ksub)
    got = kernel.scan_pq(table, np.array([[0, 1], [200, 1]], np.uint8), m=m)
    assert not np.isnan(got[0]) and np.isnan(got[1])
