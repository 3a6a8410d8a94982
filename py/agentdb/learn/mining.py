"""Negative mining for contrastive training: which candidates each anchor learns to push away.

Every miner scores on the kernel (one scan_batch for all anchors, then a top-k per anchor)
and draws its random numbers from Python's seeded Mersenne Twister, so the same inputs and
seed give the same negatives on every kernel backend. Positives are never negatives: each
anchor names its positive candidate (an index, or several as a list), and those score NaN,
which top-k never selects.

Scores are similarities for 'dot' and 'cos' (larger is closer) and squared distances for
'l2' (smaller is closer); "hardest" means closest to the anchor.

>>> from agentdb.learn import mining
>>> neg = mining.hard_negatives([1, 0], [1, 0, 0.9, 0.1, 0, 1], [0], dim=2, count=1, metric="cos")
>>> neg.indices[0].tolist()
[1]
"""
import array
import bisect
import itertools
import math
import numbers
from dataclasses import dataclass

from ..errors import ArgumentError, UnknownIdError
from ..kernel import load
from ..metrics import KERNEL_L2, KERNEL_SCANS, kernel_code
from ..store.bitmaps import set_bit, set_bits
from .lora import as_rows
from .rng import SplitMix64


@dataclass(frozen=True)
class Negatives:
    """Anchor i's negatives: indices[i] (uint32 array, hardest first) and scores[i] (float32,
    their scores under the metric); scores is None for miners that do not score."""

    indices: list
    scores: list = None

    def __len__(self):
        return len(self.indices)


@dataclass(frozen=True)
class StoreNegatives:
    """Query i's negatives mined from a store: ids[i] (closest first) and scores[i] (the
    store's scores); exact is True when every query was answered by an exact scan."""

    ids: list
    scores: list
    exact: bool


def _count(count):
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ArgumentError(f"count must be a positive integer, got {count!r}")
    return count


def _positive_sets(positives, m, n):
    """Each anchor's positives as a tuple of candidate indices (checked to be in 0..n-1)."""
    if len(positives) != m:
        raise ArgumentError(f"{len(positives)} positives for {m} anchors: give one (or a list) per anchor")
    sets = []
    for i, p in enumerate(positives):
        p = tuple(p) if isinstance(p, (list, tuple, set, frozenset, range)) else (p,)
        if not all(isinstance(j, numbers.Integral) and not isinstance(j, bool) and 0 <= j < n for j in p):
            raise ArgumentError(f"positives[{i}] = {positives[i]!r}: candidate indices must be integers in 0..{n - 1}")
        sets.append(tuple(map(int, p)))
    return sets


def _scored(kernel, anchors, candidates, positives, dim, metric):
    """(kernel, scores m x n with every positive NaN, positive sets, each anchor's positive
    scores, n, larger_is_closer)."""
    kernel = kernel or load()
    code = kernel_code(metric)
    a, m = as_rows(kernel, anchors, dim, "anchors")
    c, n = as_rows(kernel, candidates, dim, "candidates")
    sets = _positive_sets(positives, m, n)
    scores = kernel.scan_batch(a, c, dim=dim, metric=KERNEL_SCANS[code])
    own = []
    for i, p in enumerate(sets):
        own.append([scores[i * n + j] for j in p])
        for j in p:
            scores[i * n + j] = math.nan
    return kernel, memoryview(scores), sets, own, n, code != KERNEL_L2


def hard_negatives(anchors, candidates, positives, *, dim, count, metric="cos", kernel=None):
    """The `count` non-positive candidates closest to each anchor, closest first (ties to the
    lower index). anchors: m x dim; candidates: n x dim; positives: one candidate index (or a
    list) per anchor.

    >>> hard_negatives([0, 1], [0, 1, 0.2, 1, 1, 0], [0], dim=2, count=2, metric="dot").indices[0].tolist()
    [1, 2]
    """
    _count(count)
    kernel, scores, sets, _, n, larger = _scored(kernel, anchors, candidates, positives, dim, metric)
    found = [kernel.topk(scores[i * n:(i + 1) * n], count, largest=larger) for i in range(len(sets))]
    return Negatives([f[0] for f in found], [f[1] for f in found])


def semi_hard_negatives(anchors, candidates, positives, *, dim, count, margin, metric="cos", kernel=None):
    """FaceNet's semi-hard negatives (Schroff et al. 2015): farther from the anchor than its
    positive, but by less than `margin` (the triplet loss's margin), closest first; at most
    `count`, possibly none. With several positives, "the positive" is the farthest of them.
    For similarities that is s_p - margin < s < s_p; for l2, d_p < d < d_p + margin.

    >>> semi_hard_negatives([1, 0], [1, 0, 0.9, 0.1, 0.5, 0.5, 1, 0], [1], dim=2, count=3, margin=0.3,
    ...                     metric="cos").indices[0].tolist()
    [2]
    """
    _count(count)
    if not isinstance(margin, (int, float)) or not margin > 0 or not math.isfinite(margin):
        raise ArgumentError(f"margin must be a positive finite number, got {margin!r}")
    kernel, scores, sets, own, n, larger = _scored(kernel, anchors, candidates, positives, dim, metric)
    sign = -1.0 if larger else 1.0               # bisect over sign * score, which ascends
    key = (lambda v: -v) if larger else None
    indices, kept = [], []
    for i in range(len(sets)):
        idx, top = kernel.topk(scores[i * n:(i + 1) * n], n, largest=larger)   # every candidate, sorted
        far = sign * max(sign * s for s in own[i])
        start = bisect.bisect_right(top, sign * far, key=key)
        end = min(bisect.bisect_left(top, sign * (far + sign * margin), key=key), start + count)
        indices.append(idx[start:end])
        kept.append(top[start:end])
    return Negatives(indices, kept)


def distance_weighted(anchors, candidates, positives, *, dim, count, seed=0, cutoff=0.5, max_distance=1.4,
                      kernel=None):
    """Distance-weighted sampling (Wu et al. 2017, "Sampling matters in deep embedding
    learning"): on the unit sphere of R^dim, pairwise distances follow
    q(d) ~ d^(dim-2) (1 - d^2/4)^((dim-3)/2), so drawing negatives with weight 1/q(d) spreads
    them over all distances instead of the many near sqrt(2). As in the paper's code, d is
    clipped below at `cutoff`, negatives beyond `max_distance` (where a margin loss is zero)
    get weight 0, `count` are drawn with replacement, and an anchor with no weight left draws
    uniformly from its non-positives. Vectors are compared as unit vectors; indices[i] are in
    draw order.

    >>> distance_weighted([[1, 0, 0]], [[1, 0, 0], [0, 1, 0], [0.8, 0.6, 0]], [0], dim=3, count=4,
    ...                   seed=1).indices[0].tolist()           # [0, 1, 0] is beyond max_distance
    [2, 2, 2, 2]
    """
    _count(count)
    kernel = kernel or load()
    a, _ = as_rows(kernel, anchors, dim, "anchors")
    c, _ = as_rows(kernel, candidates, dim, "candidates")
    a, c = kernel.normalize_rows(array.array("f", a), dim=dim), kernel.normalize_rows(array.array("f", c), dim=dim)
    kernel, d2, sets, _, n, _ = _scored(kernel, a, c, positives, dim, "l2")    # positives NaN
    rng = SplitMix64(seed)
    indices = []
    for i, p in enumerate(sets):
        row = d2[i * n:(i + 1) * n]
        # NaN never matches a range, so the positives drop out with the far candidates
        rows = kernel.bitmap_rows(kernel.mask_range(array.array("d", row), -math.inf, max_distance ** 2), n)
        if len(rows):
            weights = _inverse_density(kernel, kernel.gather_rows(row, rows, row_bytes=4, fmt="f"), dim, cutoff)
            picks = rng.choices(rows, count, cum_weights=list(itertools.accumulate(weights)))
        else:
            rows = _non_positives(kernel, p, n)
            picks = rng.choices(rows, count) if len(rows) else []
        indices.append(array.array("I", picks))
    return Negatives(indices)


def _inverse_density(kernel, d2, dim, cutoff):
    """1 / q(d) for squared distances d2, normalised to sum 1: the softmax of
    log(1 / q) = (2 - dim) / 2 * log(d^2) - (dim - 3) / 2 * log(1 - d^2 / 4), with d^2 clipped
    to at least cutoff^2 (in log space: the powers overflow float32 for large dim)."""
    n, floor = len(d2), cutoff * cutoff
    d2 = kernel.add(kernel.relu(kernel.add(d2, array.array("f", [-floor]) * n)), array.array("f", [floor]) * n)
    rest = kernel.add(kernel.scale(d2, -0.25), array.array("f", [1.0]) * n)
    logs = kernel.add(kernel.scale(kernel.log(d2), (2.0 - dim) / 2), kernel.scale(kernel.log(rest), (3.0 - dim) / 2))
    return kernel.softmax(logs)


def _non_positives(kernel, positives, n):
    """The candidate indices 0..n-1 other than the positives (uint32, ascending)."""
    allowed = bytearray((n + 7) // 8)
    set_bits(allowed, 0, n, True)
    for j in positives:
        set_bit(allowed, j, False)
    return kernel.bitmap_rows(allowed, n)


def random_negatives(n_candidates, positives, *, count, seed=0, kernel=None):
    """`count` distinct candidates per anchor drawn uniformly from the non-positives (all of
    them, shuffled, when fewer remain), one seeded stream over the anchors in order.

    >>> random_negatives(5, [0, [1, 2]], count=2, seed=3).indices[1].tolist()
    [0, 4]
    """
    _count(count)
    kernel = kernel or load()
    sets = _positive_sets(positives, len(positives), n_candidates)
    rng = SplitMix64(seed)
    indices = []
    for p in sets:
        rows = _non_positives(kernel, p, n_candidates)
        picks = array.array("I", rng.sample(len(rows), count))
        indices.append(kernel.gather_rows(rows, picks, row_bytes=4, fmt="I"))
    return Negatives(indices)


def in_batch(positives, *, kernel=None):
    """In-batch negatives (as sentence-transformers' MultipleNegativesRankingLoss): anchor i's
    negatives are the batch positions of every other pair, except pairs with the same
    positive (a duplicate is not a negative). positives: each pair's positive id.

    >>> in_batch(["a", "b", "a", "c"]).indices[0].tolist()
    [1, 3]
    """
    kernel = kernel or load()
    m = len(positives)
    full = bytearray((m + 7) // 8)
    set_bits(full, 0, m, True)
    groups = {}
    for i, p in enumerate(positives):
        try:
            set_bit(groups.setdefault(p, bytearray(len(full))), i, True)
        except TypeError:
            raise ArgumentError(f"positives[{i}] = {p!r}: an in-batch positive is one hashable id") from None
    return Negatives([kernel.bitmap_rows(kernel.bitmap_andnot(full, groups[p]), m) for p in positives])


def store_negatives(store, queries, positive_ids, *, count, exact=False, ef=None, where=None):
    """Hard negatives from a VectorStore's own index: for each query, the `count` stored
    vectors closest to it that are not its positives (an id, or a list of ids, per query),
    among rows matching `where`. exact=True scans every row; otherwise the store's planner
    picks the HNSW graph (beam width ef) or a scan, as VectorStore.query does.

    >>> import agentdb
    >>> db = agentdb.open(dim=2)
    >>> _ = db.ingest(["p", "n1", "n2"], [[1, 0], [0.9, 0.1], [0, 1]])
    >>> store_negatives(db, [[1, 0]], ["p"], count=1).ids
    [['n1']]
    """
    _count(count)
    sets = [set(p) if isinstance(p, (list, tuple, set, frozenset)) else {p} for p in positive_ids]
    for i, p in enumerate(sets):
        missing = [ident for ident in p if ident not in store]
        if missing:
            raise UnknownIdError(f"positive_ids[{i}]: id {missing[0]!r} is not in the store")
    view, m = as_rows(store.kernel, queries, store.dim, "queries")
    if m != len(sets):
        raise ArgumentError(f"{len(sets)} positive id sets for {m} queries: give one per query")
    if m == 0:
        return StoreNegatives([], [], True)
    k = count + max(len(p) for p in sets)
    found = store.query_batch(view, k, where=where, ef=ef, exact=exact)
    ids, scores = [], []
    for hits, p in zip(found, sets):
        keep = [j for j, ident in enumerate(hits.ids) if ident not in p][:count]
        ids.append([hits.ids[j] for j in keep])
        scores.append(array.array("f", [hits.scores[j] for j in keep]))
    return StoreNegatives(ids, scores, all(hits.exact for hits in found))
