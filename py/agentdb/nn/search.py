"""Differentiable search: @ruvector/gnn's differentiableSearch (soft attention over stored
keys) with explicit backward formulas, every step a kernel op.

Forward, for one query q and n keys: scores s_j = cos(q, key_j) (or q . key_j with
metric="dot"); p = softmax(s / temperature) over all n; the top k by score (ties to the lower
index) are `indices`, their p_j the soft `weights` (the seed's shape: they sum to at most 1;
renormalize=True takes the softmax over the k alone, so they sum to 1); and
output = sum_i weights_i * values[indices_i] (values default to the keys). As the temperature
goes to 0 the weights become the hard top-1 (one-hot), as it grows they flatten (1/n, or 1/k
renormalized: the plain mean of the hard top k).

Backward, from dL/dweights (g_w) and dL/doutput (g_y): dL/dp_j = g_w_i + g_y . v_j for
j = indices_i (0 elsewhere), dL/ds = p * (dL/dp - p . dL/dp) / temperature (over the k alone
when renormalized), dL/dq = sum_j dL/ds_j key_j and dL/dkey_j = dL/ds_j q for dot, taken back
through the normalisations for cosine; dL/dvalues row indices_i = weights_i g_y.
"""

import array
import math

from ..errors import ArgumentError, DimensionError, OptionError
from ..kernel import load
from ..learn.lora import as_rows, zeros_f32

METRICS = ("cosine", "dot")


def _keys(k, keys, dim, name):
    if isinstance(keys, (list, tuple)) and keys and isinstance(keys[0], (list, tuple, array.array)):
        bad = next((i for i, row in enumerate(keys) if len(row) != dim), None)
        if bad is not None:
            raise DimensionError(f"{name} row {bad} has {len(keys[bad])} values, the query has {dim}")
    x, n = as_rows(k, keys, dim, name)
    if n == 0:
        raise DimensionError(f"{name} holds no rows")
    return x, n


def _temperature(t):
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0 or \
            not math.isfinite(float(array.array("f", [1.0 / t])[0])):
        raise OptionError(f"temperature must be a positive finite number (1 / temperature finite in float32), "
                          f"got {t!r}")
    return float(t)


class SoftTopK:
    """The result of differentiable_search: indices (uint32, best first), weights (their soft
    weights), scores (their raw similarities) and output (the weighted sum of their values),
    plus backward() for the gradients.

    >>> r = differentiable_search([1, 0], [[1, 0], [0, 1], [-1, 0]], k=2, temperature=1.0)
    >>> r.indices.tolist(), [round(w, 4) for w in r.weights], [round(v, 4) for v in r.output]
    ([0, 1], [0.6652, 0.2447], [0.6652, 0.2447])
    """

    def __init__(self, k, *, indices, weights, scores, output, state):
        self._k = k
        self.indices, self.weights, self.scores, self.output = indices, weights, scores, output
        self._state = state

    def __repr__(self):
        return f"SoftTopK(indices={self.indices.tolist()}, weights={[round(w, 6) for w in self.weights]})"

    def backward(self, grad_weights=None, grad_output=None):
        """(d_query, d_keys, d_values) of a loss whose gradients with respect to weights
        (k values) and output (the values' dimension) are given (None for 0). d_keys is
        n x dim and d_values n x value_dim (float32 array.array, rows outside indices zero);
        d_values is None when the values are the keys (their gradient is then in d_keys).

        >>> r = differentiable_search([1, 0], [[1, 0], [0, 1]], k=1, metric="dot")
        >>> dq, dk, dv = r.backward(grad_weights=[1.0])
        >>> [round(v, 4) for v in dq], [round(v, 4) for v in dk], dv
        ([0.1966, -0.1966], [0.1966, 0.0, -0.1966, 0.0], None)
        """
        k, st = self._k, self._state
        idx, n, dim, vdim, top = self.indices, st["n"], st["dim"], st["vdim"], len(self.indices)
        gw = zeros_f32(top) if grad_weights is None else array.array("f", grad_weights)
        if len(gw) != top:
            raise DimensionError(f"grad_weights has {len(gw)} values, the result has k = {top}")
        if grad_output is not None:
            gy = array.array("f", grad_output)
            if len(gy) != vdim:
                raise DimensionError(f"grad_output has {len(gy)} values, the output has {vdim}")
            # dL/dw_i gains g_y . v_i; dL/dv_i = w_i g_y (an outer product)
            gw = k.add(gw, k.matvec(st["picked"], gy, rows=top, cols=vdim))
            dv_top = k.matmul(self.weights, gy, m=top, k=1, n=vdim)
        p = st["p"]
        if st["renormalize"]:          # softmax over the k alone: dL/ds lives on them
            ds_top = k.mul(self.weights, k.axpy(-k.dot(self.weights, gw), array.array("f", [1.0]) * top, gw))
            ds = zeros_f32(n)
            for i, j in enumerate(idx):
                ds[j] = ds_top[i]
        else:
            g = zeros_f32(n)
            for i, j in enumerate(idx):
                g[j] = gw[i]
            ds = k.mul(p, k.axpy(-k.dot(self.weights, gw), array.array("f", [1.0]) * n, g))
        ds = k.scale(ds, 1.0 / st["temperature"], out=ds)
        q, keys = st["q"], st["keys"]
        dq = k.matmul(ds, keys, m=1, k=n, n=dim)                   # sum_j ds_j key_j
        dkeys = k.matmul(ds, q, m=n, k=1, n=dim)                   # ds_j q, row by row
        if st["metric"] == "cosine":   # q and keys were unit rows: back through q / |q|, key / |key|
            dq = k._unit_backward(q, dq, st["q_inv"], dim=dim, out=dq)
            dkeys = k._unit_backward(keys, dkeys, st["keys_inv"], dim=dim, out=dkeys)
        dvalues = zeros_f32(n * vdim)
        if grad_output is not None:
            for i, j in enumerate(idx):
                dvalues[j * vdim:(j + 1) * vdim] = dv_top[i * vdim:(i + 1) * vdim]
        if st["values_are_keys"]:
            return dq, k.add(dkeys, dvalues, out=dkeys), None
        return dq, dkeys, dvalues


def differentiable_search(query, keys, *, k, temperature=1.0, values=None, metric="cosine", renormalize=False,
                          kernel=None):
    """Soft top-k of one query over n keys (rows of the query's dimension): the k best by
    cosine (or dot) score, their softmax(score / temperature) weights over all n (over the k
    when renormalize), and the weighted sum of their values (rows of any one dimension,
    default the keys). k above n is clamped to n, as the seed does. Returns a SoftTopK whose
    backward() gives the gradients with respect to the query, keys and values.

    >>> r = differentiable_search([1, 0, 0], [[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0]], k=2)
    >>> r.indices.tolist(), round(sum(r.weights), 4)
    ([0, 1], 0.8442)
    """
    kern = kernel if kernel is not None else load()
    if metric not in METRICS:
        raise OptionError(f"unknown metric {metric!r}: expected one of {METRICS}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ArgumentError(f"k must be a positive integer, got {k!r}")
    t = _temperature(temperature)
    dim = len(query)
    if dim < 1:
        raise DimensionError("query holds no values")
    q, _ = as_rows(kern, query, dim, "query")
    x, n = _keys(kern, keys, dim, "keys")
    state = {"n": n, "dim": dim, "metric": metric, "temperature": t, "renormalize": bool(renormalize),
             "values_are_keys": values is None}
    if metric == "cosine":
        state["q_inv"], q = kern._unit_rows(q, dim=dim)
        state["keys_inv"], x = kern._unit_rows(x, dim=dim)
    state["q"], state["keys"] = q, x
    scores = kern.scan(q, x, dim=dim, metric="dot")
    idx, top_scores = kern.topk(scores, min(k, n))
    if values is None:
        vals, vdim = (x if metric == "dot" else as_rows(kern, keys, dim, "keys")[0]), dim
    else:
        nested = isinstance(values, (list, tuple)) and values and isinstance(values[0], (list, tuple, array.array))
        vdim = len(values[0]) if nested else len(as_rows(kern, values, 1, "values")[0]) // n
        if vdim < 1:
            raise DimensionError(f"values must be {n} rows (one per key) of at least one value")
        vals, nv = _keys(kern, values, vdim, "values")
        if nv != n:
            raise DimensionError(f"values hold {nv} rows of {vdim}, the keys {n}")
    state["vdim"] = vdim
    # softmax is shift-invariant: (s - max) / t stays finite however small t is
    shifted = kern.axpy(-top_scores[0], array.array("f", [1.0]) * n, scores)
    if renormalize:
        p = kern.softmax(kern.scale(array.array("f", (shifted[j] for j in idx)), 1.0 / t))
        weights = p
    else:
        p = kern.softmax(kern.scale(shifted, 1.0 / t))
        weights = array.array("f", (p[j] for j in idx))
    state["p"] = p
    picked = kern.gather_rows(vals, idx, row_bytes=4 * vdim, fmt="f")
    state["picked"] = picked
    output = kern.matmul(weights, picked, m=1, k=len(idx), n=vdim)
    return SoftTopK(kern, indices=idx, weights=weights, scores=top_scores, output=output, state=state)
