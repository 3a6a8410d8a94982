"""Top-k selection: order, ties to the lower index, NaN skipped, k > n."""
import numpy as np
import pytest

import reference as ref
from support import f32


@pytest.mark.parametrize("largest", (True, False))
@pytest.mark.parametrize("n,k", [(1, 1), (10, 3), (1000, 10), (5000, 1000), (7, 20), (300, 300)])
def test_topk_matches_reference(kernel, rng, n, k, largest):
    # few distinct values, so ties are everywhere
    scores = f32(rng.integers(0, 20, n))
    idx, top = kernel.topk(scores, k, largest=largest)
    want_idx, want_top = ref.topk(scores, k, largest)
    assert np.array_equal(np.asarray(idx), want_idx)
    assert np.array_equal(np.asarray(top), want_top)


def test_topk_skips_nan_and_returns_fewer(kernel):
    scores = f32([np.nan, 2, np.nan, 1])
    idx, top = kernel.topk(scores, 5)
    assert idx.tolist() == [1, 3] and top.tolist() == [2.0, 1.0]
    idx, top = kernel.topk(f32([np.nan] * 4), 2)
    assert len(idx) == 0 and len(top) == 0


def test_topk_of_nothing(kernel):
    idx, top = kernel.topk(f32([]), 3)
    assert len(idx) == 0


def test_topk_handles_infinities_and_negative_zero(kernel):
    scores = f32([0.0, -np.inf, np.inf, -0.0, 5])
    assert kernel.topk(scores, 5)[0].tolist() == [2, 4, 0, 3, 1]
    assert kernel.topk(scores, 5, largest=False)[0].tolist() == [1, 0, 3, 4, 2]


def test_scan_then_topk_is_exact_knn(kernel, rng):
    rows = f32(rng.standard_normal((4000, 48)))
    q = f32(rng.standard_normal(48))
    idx, _ = kernel.topk(kernel.scan(q, rows, dim=48, metric="l2"), 10, largest=False)
    dist = ((rows.astype(np.float64) - q) ** 2).sum(axis=1)
    # the same neighbours up to float32 rounding of near-equal distances
    assert np.allclose(dist[np.asarray(idx)], np.sort(dist)[:10], rtol=1e-5)
