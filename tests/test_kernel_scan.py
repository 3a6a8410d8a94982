"""f32 scans against the float64 reference: every metric, odd dimensions, n = 0, 1 and large,
subsets, bitmaps, zero vectors, and batch == single."""
import numpy as np
import pytest

import reference as ref
from support import bits, f32

METRICS = ("dot", "l2", "cos")
DIMS = (1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 63, 97, 128, 255, 384, 1031)


def check_scores(got, q, rows, metric):
    want = ref.scan(q, rows, metric)
    err = np.abs(np.asarray(got, np.float64) - want)
    assert (err <= ref.scan_error_bound(q, rows, metric)).all(), f"max error {err.max()}"


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dim", DIMS)
def test_scan_matches_reference(kernel, rng, metric, dim):
    rows = f32(rng.standard_normal((37, dim)))
    q = f32(rng.standard_normal(dim))
    got = kernel.scan(q, rows, dim=dim, metric=metric)
    assert len(got) == 37
    check_scores(got, q, rows, metric)


@pytest.mark.parametrize("metric", METRICS)
def test_scan_every_dimension_up_to_40(kernel, rng, metric):
    for dim in range(1, 41):
        rows = f32(rng.uniform(-2, 2, (9, dim)))
        q = f32(rng.uniform(-2, 2, dim))
        check_scores(kernel.scan(q, rows, dim=dim, metric=metric), q, rows, metric)


@pytest.mark.parametrize("metric", METRICS)
def test_scan_empty_single_and_large(kernel, rng, metric):
    dim = 97
    q = f32(rng.standard_normal(dim))
    assert len(kernel.scan(q, f32(np.zeros((0, dim))), dim=dim, metric=metric)) == 0
    one = f32(rng.standard_normal((1, dim)))
    check_scores(kernel.scan(q, one, dim=dim, metric=metric), q, one, metric)
    big = f32(rng.standard_normal((20011, dim)))
    check_scores(kernel.scan(q, big, dim=dim, metric=metric), q, big, metric)


def test_cosine_of_zero_vectors_is_zero(kernel):
    rows = f32([[0, 0, 0], [1, 2, 3]])
    assert kernel.scan([0, 0, 0], rows, dim=3, metric="cos").tolist() == [0.0, 0.0]
    assert kernel.scan([1, 0, 0], rows, dim=3, metric="cos")[0] == 0.0
    assert kernel.cosine([0, 0], [0, 0]) == 0.0


@pytest.mark.parametrize("metric", METRICS)
def test_subset_scores_selected_rows_in_subset_order(kernel, rng, metric):
    rows = f32(rng.standard_normal((50, 17)))
    q = f32(rng.standard_normal(17))
    subset = np.array([49, 3, 3, 0, 17], np.uint32)
    got = np.asarray(kernel.scan(q, rows, dim=17, metric=metric, subset=subset))
    full = np.asarray(kernel.scan(q, rows, dim=17, metric=metric))
    assert np.array_equal(got.view(np.uint32), full[subset].view(np.uint32))


@pytest.mark.parametrize("metric", METRICS)
def test_bitmap_gives_nan_to_excluded_rows_only(kernel, rng, metric):
    n = 45
    rows = f32(rng.standard_normal((n, 33)))
    q = f32(rng.standard_normal(33))
    keep = rng.random(n) < 0.4
    bitmap = np.packbits(keep, bitorder="little")
    got = np.asarray(kernel.scan(q, rows, dim=33, metric=metric, bitmap=bitmap))
    full = np.asarray(kernel.scan(q, rows, dim=33, metric=metric))
    assert np.isnan(got[~keep]).all()
    assert np.array_equal(got[keep].view(np.uint32), full[keep].view(np.uint32))


def test_bitmap_applies_to_row_index_with_subset(kernel):
    rows = f32(np.arange(8 * 2).reshape(8, 2))
    bitmap = np.packbits(np.array([1, 0, 1, 0, 1, 0, 1, 0], bool), bitorder="little")
    got = kernel.scan([1, 0], rows, dim=2, subset=np.array([1, 2, 5, 6], np.uint32), bitmap=bitmap)
    assert np.isnan(got[0]) and np.isnan(got[2])
    assert got[1] == 4.0 and got[3] == 12.0


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dim", (1, 17, 384))
def test_batch_equals_single_scans_bit_for_bit(kernel, rng, metric, dim):
    n, m = 3001, 7
    rows = f32(rng.standard_normal((n, dim)))
    qs = f32(rng.standard_normal((m, dim)))
    subset = rng.permutation(n)[:2000].astype(np.uint32)
    bitmap = np.packbits(rng.random(n) < 0.7, bitorder="little")
    batch = np.asarray(kernel.scan_batch(qs, rows, dim=dim, metric=metric, subset=subset, bitmap=bitmap))
    assert batch.shape == (m * 2000,)
    for i in range(m):
        single = kernel.scan(qs[i], rows, dim=dim, metric=metric, subset=subset, bitmap=bitmap)
        assert np.array_equal(bits(single), batch[i * 2000:(i + 1) * 2000].view(np.uint32))


def test_scan_into_kbuffers_copies_nothing_and_agrees(kernel, rng):
    rows = f32(rng.standard_normal((500, 64)))
    q = f32(rng.standard_normal(64))
    krows, kq, kout = kernel.from_buffer(rows), kernel.from_buffer(q), kernel.alloc(500)
    assert kernel.scan(kq, krows, dim=64, out=kout) is kout
    assert np.array_equal(np.frombuffer(kout.view(), np.float32), np.asarray(kernel.scan(q, rows, dim=64)))


def test_matvec_is_the_dot_scan(kernel, rng):
    mat = f32(rng.standard_normal((13, 29)))
    v = f32(rng.standard_normal(29))
    assert np.array_equal(bits(kernel.matvec(mat, v, rows=13, cols=29)), bits(kernel.scan(v, mat, dim=29)))
    assert np.allclose(kernel.matvec(mat, v, rows=13, cols=29), mat.astype(np.float64) @ v, rtol=1e-5, atol=1e-5)
