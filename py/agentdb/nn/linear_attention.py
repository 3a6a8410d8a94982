"""Linear attention (Katharopoulos et al., 2020): softmax(Q K^T) V replaced by
phi(Q) (phi(K)^T V) / (phi(Q) . sum_j phi(k_j)), phi(x) = elu(x) + 1, so a sequence of n keys
costs O(n d dv) instead of O(n^2): every product is a kernel matmul (each element summed in
order from 0), so the bits are the same in every home and for any batch. Non-causal (for a
causal mask use scaled_dot_product_attention(causal=True)).

>>> out = linear_attention([1, 0, 0, 1], [1, 0, 0, 1], [1, 2, 3, 4], dim=2)
>>> [round(x, 4) for x in out]
[1.8889, 2.8889, 2.1111, 3.1111]
"""
import array

from ..errors import ArgumentError, DimensionError
from ..kernel import load
from ..learn.lora import as_rows


def feature_map(x, *, kernel=None):
    """phi(x) = elu(x) + 1, element-wise (x + 1 for x > 0, exp(x) otherwise): relu(x) +
    exp(x - relu(x)), all kernel ops.

    >>> [round(v, 4) for v in feature_map([-1.0, 0.0, 2.0])]
    [0.3679, 1.0, 3.0]
    """
    k = kernel or load()
    pos = k.relu(x)
    return k.add(pos, k.exp(k.axpy(-1.0, pos, x)))


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DimensionError(f"{name} must be a positive integer, got {value!r}")
    return value


def linear_attention(q, k, v, *, dim, batch=1, value_dim=None, kernel=None):
    """phi(Q) (phi(K)^T V) / (phi(Q) . z), z = the column sums of phi(K), for `batch`
    independent problems: q holds batch x n_q x dim values, k batch x n_k x dim, v batch x n_k x
    value_dim (default dim); returns batch x n_q x value_dim floats (array.array).
    NonFiniteError for NaN or infinite inputs, DimensionError for lengths that do not divide."""
    kern = kernel or load()
    dim, batch = _count(dim, "dim"), _count(batch, "batch")
    dv = dim if value_dim is None else _count(value_dim, "value_dim")
    q, k, v = (as_rows(kern, x, dim if name != "v" else dv, name)[0] for x, name in ((q, "q"), (k, "k"), (v, "v")))
    n_q, n_k = len(q) // (dim * batch), len(k) // (dim * batch)
    if len(q) != n_q * dim * batch or len(k) != n_k * dim * batch or not n_q or not n_k:
        raise DimensionError(f"q and k must hold batch ({batch}) x n x dim ({dim}) values, got {len(q)} and {len(k)}")
    if len(v) != batch * n_k * dv:
        raise DimensionError(f"v must hold batch x n_k x value_dim = {batch * n_k * dv} values, got {len(v)}")
    out = array.array("f")
    ones = array.array("f", [1.0]) * n_k
    for b in range(batch):
        fq = feature_map(q[b * n_q * dim:(b + 1) * n_q * dim], kernel=kern)
        fk = feature_map(k[b * n_k * dim:(b + 1) * n_k * dim], kernel=kern)
        kv = kern.matmul(fk, v[b * n_k * dv:(b + 1) * n_k * dv], m=dim, k=n_k, n=dv, trans_a=True)
        z = kern.matmul(ones, fk, m=1, k=n_k, n=dim)
        num = kern.matmul(fq, kv, m=n_q, k=dim, n=dv)
        den = kern.matmul(fq, z, m=n_q, k=dim, n=1)
        if min(den) <= 0.0:          # phi > 0 makes it positive; only an underflow gets here
            raise ArgumentError("linear attention's normaliser underflowed to 0 (inputs far below -80)")
        out.extend(kern.scale_rows(num, array.array("f", (1.0 / d for d in den)), dim=dv))
    return out
