"""Training losses, each returning (loss, grads): the mean loss as a float and float32
gradients (row-major, shaped like the inputs) for every input. Rows are n x dim buffers.
Per-row scalars (norms, hinges) are a few Python floats per row; everything per element runs
in kernel ops, so the bits are the same natively and in the browser.

Cosine similarities go through u = x / |x| (a zero row stays zero and gets no gradient), and
their gradients through its Jacobian: dL/dx = (dL/du - u (u . dL/du)) / |x|.
"""

import array
import math

from ..errors import DimensionError, OptionError
from ..kernel import load
from .lora import as_rows, f32_view, zeros_f32

DISTANCES = ("l2", "cosine")


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise OptionError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _margin(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise OptionError(f"margin must be a non-negative finite number, got {value!r}")
    return float(value)


def _rows(k, x, dim, name, n=None):
    """x checked as a finite, non-empty n x dim float32 buffer (as_rows); returns (view, n)."""
    x, rows = as_rows(k, x, dim, name)
    if not rows:
        raise DimensionError(f"{name} holds no rows")
    if n is not None and rows != n:
        raise DimensionError(f"{name} has {rows} rows, {n} expected (one per anchor)")
    return x, rows


class _Unit:
    """The unit rows u = x / |x| of x, and the backward step through the normalisation."""

    def __init__(self, k, x, dim):
        self.k, self.dim = k, dim
        self.inv, self.u = k._unit_rows(x, dim=dim)      # 1 / |x| in double, rounded once, as Python would

    def backward(self, du):
        """dL/dx from dL/du (a new buffer: du may be a caller's)."""
        return self.k._unit_backward(self.u, du, self.inv, dim=self.dim)


class _Pair:
    """Row-wise distances d_i between x_i and y_i ('l2': |x - y|, 'cosine': 1 - cos), and the
    gradients of sum_i w_i d_i with respect to x and y."""

    def __init__(self, k, x, y, dim, distance):
        self.k, self.dim, self.distance = k, dim, distance
        if distance == "l2":
            self.diff = k.axpy(-1.0, y, x)
            self.d = [math.sqrt(v) for v in k.norms_sq(self.diff, dim=dim)]
        else:
            self.ux, self.uy = _Unit(k, x, dim), _Unit(k, y, dim)
            self.d = [1.0 - c for c in k.row_dots(self.ux.u, self.uy.u, dim=dim)]

    def grads(self, w):
        k, dim = self.k, self.dim
        if self.distance == "l2":      # d|x - y|/dx = (x - y) / |x - y|; 0 where x = y
            gx = k.scale_rows(self.diff, array.array("f", (wi / d if d > 0 else 0.0 for wi, d in zip(w, self.d))),
                              dim=dim)
            return gx, k.scale(gx, -1.0)
        neg = array.array("f", (-wi for wi in w))                  # d(1 - cos)/du_x = -u_y
        return (self.ux.backward(k.scale_rows(self.uy.u, neg, dim=dim)),
                self.uy.backward(k.scale_rows(self.ux.u, neg, dim=dim)))


def _distance(distance):
    if distance not in DISTANCES:
        raise OptionError(f"unknown distance {distance!r}: expected one of {DISTANCES}")
    return distance


def info_nce(anchors, positives, *, dim, temperature=0.05, negatives=None, kernel=None):
    """InfoNCE with in-batch negatives (sentence-transformers' MultipleNegativesRankingLoss):
    logits[i, j] = cos(anchor_i, candidate_j) / temperature over the candidates
    [positives; negatives] (every anchor scores every positive, and every extra negative row,
    shared by all anchors, appended as a column); loss = mean_i cross-entropy(logits_i,
    target i). Returns (loss, (d_anchors, d_positives, d_negatives or None)), the gradients
    taken through the normalisation.

    >>> loss, (ga, gp, gn) = info_nce([1, 0, 0, 1], [1, 0, 0, 1], dim=2, temperature=1.0)
    >>> round(loss, 4), gn is None
    (0.3133, True)
    """
    k = kernel if kernel is not None else load()
    t = _positive(temperature, "temperature")
    a, n = _rows(k, anchors, dim, "anchors")
    p, _ = _rows(k, positives, dim, "positives", n)
    neg = None if negatives is None else _rows(k, negatives, dim, "negatives")[0]
    # one kernel call: unit rows, logits / t, cross-entropy, and the gradients back through
    # both matmuls and the normalisation (the steps and bits of those ops one by one)
    loss, ga, gp, gn = k._info_nce(a, p, neg, dim=dim, inv_temperature=1.0 / t)
    return loss, (ga, gp, gn)


def triplet(anchor, positive, negative, *, dim, margin=1.0, distance="l2", kernel=None):
    """torch.nn.TripletMarginLoss (p=2, mean; with eps=0: torch adds 1e-6 to each difference)
    or, with distance='cosine', the same hinge on d = 1 - cos:
    loss = mean_i max(d(a_i, p_i) - d(a_i, n_i) + margin, 0). Returns
    (loss, (d_anchor, d_positive, d_negative)); a row at the hinge's kink gets zero gradient.

    >>> loss, _ = triplet([0, 0], [1, 0], [3, 0], dim=2, margin=1.0); loss
    0.0
    >>> round(triplet([0, 0], [1, 0], [1, 1], dim=2)[0], 4)
    0.5858
    """
    k = kernel if kernel is not None else load()
    margin, distance = _margin(margin), _distance(distance)
    a, n = _rows(k, anchor, dim, "anchor")
    p, _ = _rows(k, positive, dim, "positive", n)
    neg, _ = _rows(k, negative, dim, "negative", n)
    ap, an = _Pair(k, a, p, dim, distance), _Pair(k, a, neg, dim, distance)
    hinge = [dp - dn + margin for dp, dn in zip(ap.d, an.d)]
    w = [1.0 / n if h > 0 else 0.0 for h in hinge]
    ga_p, gp = ap.grads(w)
    ga_n, gn = an.grads([-wi for wi in w])
    return sum(h for h in hinge if h > 0) / n, (k.add(ga_p, ga_n, out=ga_p), gp, gn)


def local_contrastive(x, y, labels, *, dim, margin=1.0, distance="l2", kernel=None):
    """The margin contrastive loss on labelled pairs (Hadsell, Chopra & LeCun 2006), the job of
    the originals' LocalContrastiveLoss: with d_i = d(x_i, y_i) ('l2' or 'cosine' = 1 - cos)
    and label l_i = 1 for a similar pair, 0 for a dissimilar one,
    loss = mean_i [l_i d_i^2 + (1 - l_i) max(margin - d_i, 0)^2] / 2: similar pairs are pulled
    together, dissimilar ones pushed to at least `margin` apart. Returns (loss, (d_x, d_y)).

    >>> round(local_contrastive([0, 0, 0, 0], [3, 4, 0.5, 0], [1, 0], dim=2, margin=1.0)[0], 4)
    6.3125
    """
    k = kernel if kernel is not None else load()
    margin, distance = _margin(margin), _distance(distance)
    xv, n = _rows(k, x, dim, "x")
    yv, _ = _rows(k, y, dim, "y", n)
    labels = list(labels)
    if len(labels) != n or any(label not in (0, 1) for label in labels):
        raise DimensionError(f"labels must be {n} values, each 0 or 1, got {labels[:8]}")
    pair = _Pair(k, xv, yv, dim, distance)
    gaps = [max(margin - d, 0.0) for d in pair.d]
    loss = sum(d * d if label else gap * gap for d, gap, label in zip(pair.d, gaps, labels)) / (2 * n)
    gx, gy = pair.grads([(d if label else -gap) / n for d, gap, label in zip(pair.d, gaps, labels)])
    return loss, (gx, gy)


def spectral_regularization(w, *, rows, cols, lam, kernel=None):
    """The soft orthogonality penalty lam * ||W^T W - I||_F^2 of a rows x cols matrix W
    (row-major), which is lam * sum_i (sigma_i^2 - 1)^2 over W's singular values (when rows >=
    cols; a wider W has cols - rows more zero ones): it pulls
    every singular value towards 1, the largest included, exactly (no power-iteration
    estimate). Gradient: 4 lam W (W^T W - I). Returns (loss, d_w).

    >>> spectral_regularization([2, 0, 0, 1], rows=2, cols=2, lam=0.5)[0]
    4.5
    """
    k = kernel if kernel is not None else load()
    for name, value in (("rows", rows), ("cols", cols)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DimensionError(f"{name} must be a positive integer, got {value!r}")
    lam = float(lam)
    if not math.isfinite(lam) or lam < 0:
        raise OptionError(f"lam must be a non-negative finite number, got {lam!r}")
    w = f32_view(w, "w", rows * cols)
    k.check_finite(w, name="w", dim=cols)
    gram = k.matmul(w, w, m=cols, k=rows, n=cols, trans_a=True)
    eye = zeros_f32(cols * cols)
    eye[::cols + 1] = array.array("f", [1.0]) * cols
    err = k.axpy(-1.0, eye, gram, out=gram)
    grad = k.matmul(w, err, m=rows, k=cols, n=cols)
    return lam * k.dot(err, err), k.scale(grad, 4.0 * lam, out=grad)
