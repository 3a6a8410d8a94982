"""Dual-space attention: scores that mix the Euclidean view of queries and keys (scaled dot
products) with the hyperbolic one (their negative Poincaré distances after exp_0 maps them
into the ball of curvature -c), softmax over keys, a weighted sum of the values. Hierarchies
(trees, taxonomies) are near-isometric in the ball, so the hyperbolic term favours keys close
in the hierarchy; weight = 1 is plain scaled dot-product attention. Every step is a kernel op
(matmul, poincare_distance, softmax_rows), so the bits are the same in every home.

>>> out = dual_space_attention([0.1, 0.0], [0.1, 0.0, -0.3, 0.2], [1, 2, 3, 4], dim=2)
>>> [round(x, 4) for x in out]
[1.7731, 2.7731]
"""
import array
import math

from ..errors import ArgumentError, DimensionError
from ..kernel import load
from ..learn.lora import as_rows


def dual_space_attention(q, k, v, *, dim, value_dim=None, c=1.0, weight=0.5, scale=None, kernel=None):
    """softmax(weight * scale * Q K^T - (1 - weight) * D) V for one problem: q holds n_q x dim
    values, k n_k x dim, v n_k x value_dim (default dim); D[i, j] = the Poincaré distance of
    exp_0(q_i) and exp_0(k_j) (curvature -c); scale defaults to 1 / sqrt(dim); weight in [0, 1].
    Returns n_q x value_dim floats (array.array)."""
    from .hyperbolic import exp_map0, poincare_distance

    kern = kernel or load()
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise ArgumentError(f"weight must be a number in [0, 1], got {weight!r}")
    dv = dim if value_dim is None else value_dim
    if isinstance(dv, bool) or not isinstance(dv, int) or dv < 1:
        raise DimensionError(f"value_dim must be a positive integer, got {value_dim!r}")
    (q, n_q), (k, n_k), (v, n_v) = (as_rows(kern, x, d, name) for x, d, name in ((q, dim, "q"), (k, dim, "k"),
                                                                               (v, dv, "v")))
    if not n_q or not n_k or n_v != n_k:
        raise DimensionError(f"q and k need rows and v one row per key: got {n_q}, {n_k} and {n_v} rows")
    scale = 1.0 / math.sqrt(dim) if scale is None else float(scale)
    scores = kern.matmul(q, k, m=n_q, k=dim, n=n_k, trans_b=True)
    scores = kern.scale(scores, weight * scale)
    if weight < 1.0:
        hq, hk = exp_map0(q, dim=dim, c=c, kernel=kern), exp_map0(k, dim=dim, c=c, kernel=kern)
        pairs_q = array.array("f")
        for i in range(n_q):                       # row i of Q against every key: n_q x n_k pairs
            pairs_q.extend(hq[i * dim:(i + 1) * dim] * n_k)
        dist = poincare_distance(pairs_q, hk * n_q, dim=dim, c=c, kernel=kern)
        scores = kern.axpy(-(1.0 - weight), dist, scores)
    return kern.matmul(kern.softmax_rows(scores, dim=n_k), v, m=n_q, k=n_k, n=dv)
