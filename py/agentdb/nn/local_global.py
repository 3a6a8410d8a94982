"""Sparse attention in the kernel: each query attends a given set of keys, at O(nnz * dim)
instead of the dense O(n_q * n_k * dim), with the same bits as the dense path.

sparse_attention takes the keys of each query as a CSR (key_indptr: n_q + 1 offsets into
key_index, each row's key indices strictly increasing and < n_k, shared by every batch element
and head); local_global_attention is the local-global pattern (@ruvector/attention's
LocalGlobalAttention(dim, window, globalTokens)): query i attends keys |i - j| <= window and the
first global_tokens keys, a global query (i < global_tokens) attends every key, causal keeps
j <= i. The result is nn.attention.scaled_dot_product_attention's with the pattern as mask (for
local-global: mask=local_global_mask(n, window=, global_tokens=)), bit for bit, forward and
backward: the kernel (csrc/sparse_attention.c) follows the dense path's key tiles of 256, online
softmax and summation orders over the kept keys only, which a masked key's exact zero never
changes. Tensors are flat float32 buffers in torch's batch x heads x length x dim layout.

LocalGlobalAttention is the module form (@ruvector/attention's class: compute(query, keys,
values) for one query, a forward over rows with heads split across dim, an explicit backward,
to_json / from_json); local_global_compute is its compute in one call (the browser's `nn` op
reaches functions only).

A query with no key (an empty CSR row) gives zeros, log-sum-exp -inf and zero gradients, as the
dense path gives a fully masked row (torch gives NaN there). A bad CSR (offsets not from 0 to
len(key_index), decreasing, a key >= n_k, a row not strictly increasing) is an ArgumentError
naming the row; a wrong length a DimensionError.

>>> out = local_global_attention([0, 0, 0], [1, 0, 0], [2, 4, 6], dim=1, window=1)
>>> [round(x, 4) for x in out]
[3.0, 4.0, 5.0]
"""

import array
import json
import math

from ..errors import ArgumentError, DimensionError
from ..kernel import load
from ..learn.lora import as_rows, f32_view, read_document, zeros_f32
from .attention import _finite, _layout, _problem, _scale, _view

__all__ = ["sparse_attention", "sparse_attention_backward", "local_global_attention", "local_global_backward",
           "local_global_pattern", "LocalGlobalAttention", "local_global_compute"]


def _count(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ArgumentError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def local_global_pattern(n_q, n_k=None, *, window, global_tokens=0, causal=False, kernel=None):
    """The local-global pattern as a CSR (key_indptr, key_index), uint32 arrays: query i's keys
    are |i - j| <= window and j < global_tokens, every key for i < global_tokens; causal keeps
    j <= i. n_k defaults to n_q (self-attention). The rows of nn.attention.local_global_mask.

    >>> [x.tolist() for x in local_global_pattern(3, window=0, global_tokens=1)]
    [[0, 3, 5, 7], [0, 1, 2, 0, 1, 0, 2]]
    """
    kernel = kernel or load()
    n_k = n_q if n_k is None else n_k
    for name, x in (("n_q", n_q), ("n_k", n_k)):
        if not isinstance(x, int) or isinstance(x, bool) or x < 1:
            raise DimensionError(f"{name} must be a positive integer, got {x!r}")
    return kernel.local_global_csr(n_q, n_k, window=_count(window, "window"),
                                   global_tokens=_count(global_tokens, "global_tokens"), causal=bool(causal))


def _run(q, k, v, indptr, indices, dim, batch, heads, scale, kernel, grad_out, pattern=None):
    """The forward (out, lse), or with grad_out the backward (dq, dk, dv)."""
    kernel = kernel or load()
    q, k, v, n_q, n_k, dv = _problem(kernel, q, k, v, dim, batch, heads)
    if pattern is not None:
        indptr, indices = local_global_pattern(n_q, n_k, kernel=kernel, **pattern)
    layout = _layout(n_q, n_k, dim, dv, heads, [])
    scale = _scale(scale, dim)
    dims = dict(batch=batch, heads=heads, n_q=n_q, n_k=n_k, d=dim, dv=dv, layout=layout, scale=scale)
    lse = zeros_f32(batch * heads * n_q)
    out = kernel.sparse_attn(q, k, v, indptr, indices, lse=lse, **dims)
    if grad_out is None:
        return out, lse
    g = _view(kernel, grad_out, "grad_out")
    if len(g) != len(out):
        raise DimensionError(f"grad_out holds {len(g)} values, the output has {len(out)}")
    _finite(kernel, g, "grad_out")
    return kernel.sparse_attn_backward(q, k, v, indptr, indices, out, g, lse, **dims)


def sparse_attention(q, k, v, *, dim, key_indptr, key_index, batch=1, heads=1, scale=None, kernel=None,
                     return_lse=False):
    """softmax over the keys key_index[key_indptr[i] .. key_indptr[i + 1]) of scale * q_i . k_j,
    times V, for batch x heads problems (q: batch x heads x n_q x dim, k: ... x n_k x dim, v:
    ... x n_k x dv): scaled_dot_product_attention's bits with the CSR as its keep mask, in
    O(nnz * dim). scale defaults to 1 / sqrt(dim). Returns batch x heads x n_q x dv floats
    (array.array); return_lse: also the batch x heads x n_q log-sum-exps.

    >>> sparse_attention([0, 0], [1, 0], [2, 4], dim=1, key_indptr=[0, 1, 3], key_index=[0, 0, 1]).tolist()
    [2.0, 3.0]
    """
    out, lse = _run(q, k, v, key_indptr, key_index, dim, batch, heads, scale, kernel, None)
    return (out, lse) if return_lse else out


def sparse_attention_backward(q, k, v, grad_out, *, dim, key_indptr, key_index, batch=1, heads=1, scale=None,
                              kernel=None):
    """(dq, dk, dv): the gradients of sparse_attention's output (the same arguments) against
    grad_out (its shape), each in its input's shape: attention_backward's bits with the CSR as
    keep mask.

    >>> [round(x, 4) for x in sparse_attention_backward([1, 0], [1, 0], [2, 4], [1, 1], dim=1, key_indptr=[0, 2, 4], key_index=[0, 1, 0, 1])[2]]
    [1.2311, 0.7689]
    """
    return _run(q, k, v, key_indptr, key_index, dim, batch, heads, scale, kernel, grad_out)


def local_global_attention(q, k, v, *, dim, window, global_tokens=0, batch=1, heads=1, causal=False, scale=None,
                           kernel=None, return_lse=False):
    """Local-global attention (sparse_attention over local_global_pattern): query i attends the
    keys within `window` positions each side and the first `global_tokens` tokens, which attend
    and are attended by every token; causal keeps j <= i. Cost O(n * (2 window + global_tokens)
    * dim); the bits of scaled_dot_product_attention(mask=local_global_mask(n, window=,
    global_tokens=), causal=causal).

    >>> [round(x, 4) for x in local_global_attention([0, 0, 0], [1, 0, 0], [2, 4, 6], dim=1, window=0, global_tokens=1)]
    [4.0, 3.0, 4.0]
    """
    pattern = dict(window=window, global_tokens=global_tokens, causal=causal)
    out, lse = _run(q, k, v, None, None, dim, batch, heads, scale, kernel, None, pattern)
    return (out, lse) if return_lse else out


def local_global_backward(q, k, v, grad_out, *, dim, window, global_tokens=0, batch=1, heads=1, causal=False,
                          scale=None, kernel=None):
    """(dq, dk, dv): the gradients of local_global_attention's output (the same arguments) against
    grad_out, each in its input's shape (attention_backward's bits with local_global_mask).

    >>> [round(x, 4) for x in local_global_backward([1, 0], [1, 0], [2, 4], [1, 1], dim=1, window=1)[2]]
    [1.2311, 0.7689]
    """
    pattern = dict(window=window, global_tokens=global_tokens, causal=causal)
    return _run(q, k, v, None, None, dim, batch, heads, scale, kernel, grad_out, pattern)



def _positive(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DimensionError(f"{name} must be a positive integer, got {value!r}")
    return value


class LocalGlobalAttention:
    """Local-global attention as a module (@ruvector/attention's LocalGlobalAttention(dim,
    window, globalTokens)): rows of dim values, `heads` heads of dim / heads columns each, scale
    1 / sqrt(dim / heads), query i attending keys |i - j| <= window and the first global_tokens
    keys (a global query every key; causal keeps j <= i). No weights. forward() takes n_q query
    rows and n_k key and value rows (values of any width divisible by heads), compute() one query
    at a position; backward() returns the gradients of the last of them. The bits of
    local_global_attention over the same rows (and so of the dense masked SDPA).

    window counts keys on each side (@ruvector's local_window counts both: window = its half).

    >>> att = LocalGlobalAttention(2, window=1)
    >>> [round(x, 4) for x in att.forward([[0, 0], [0, 0], [0, 0]], [[1, 0]] * 3, [[2, 0], [4, 0], [6, 0]])]
    [3.0, 0.0, 4.0, 0.0, 5.0, 0.0]
    """

    FORMAT, VERSION = "agentdb.local_global_attention", 1

    def __init__(self, dim, window, global_tokens=0, heads=1, *, causal=False, kernel=None):
        self.dim, self.heads = _positive(dim, "dim"), _positive(heads, "heads")
        if dim % heads:
            raise DimensionError(f"dim {dim} is not divisible by heads {heads}")
        self.window, self.global_tokens = _count(window, "window"), _count(global_tokens, "global_tokens")
        self.causal, self.head_dim = bool(causal), dim // heads
        self.kernel = kernel or load()
        self._cache = None

    def _values(self, values, n_k):
        nested = isinstance(values, (list, tuple)) and values and isinstance(values[0], (list, tuple))
        v, _ = as_rows(self.kernel, values, len(values[0]) if nested else 1, "values")
        if len(v) == 0 or len(v) % n_k or (len(v) // n_k) % self.heads:
            raise DimensionError(f"values hold {len(v)} values: not n_k = {n_k} rows of a width divisible by "
                                 f"heads = {self.heads}")
        return v, len(v) // n_k

    def _attend(self, q, n_q, k, n_k, values, indptr, indices):
        kern, H, D, hd = self.kernel, self.heads, self.dim, self.head_dim
        v, dv = self._values(values, n_k)
        dims = dict(batch=1, heads=H, n_q=n_q, n_k=n_k, d=hd, dv=dv // H, scale=1.0 / math.sqrt(hd),
                    layout=[D, 0, hd, D, 0, hd, dv, 0, dv // H, dv, 0, dv // H])
        lse = zeros_f32(H * n_q)
        out = kern.sparse_attn(q, k, v, indptr, indices, lse=lse, **dims)
        self._cache = (q, k, v, indptr, indices, out, lse, dims)
        return out

    def _rows(self, x, name):
        view, n = as_rows(self.kernel, x, self.dim, name)
        if not n:
            raise DimensionError(f"{name} holds no rows")
        return view, n

    def forward(self, queries, keys=None, values=None):
        """The n_q x dv outputs (array.array): queries n_q x dim, keys n_k x dim and values n_k x
        dv (rows, nested lists or flat buffers; keys default to the queries, values to the keys:
        self-attention). Query i and key j sit at positions i and j.

        >>> LocalGlobalAttention(1, window=0, global_tokens=1).forward([0, 0, 0], [1, 0, 0], [2, 4, 6]).tolist()
        [4.0, 3.0, 4.0]
        """
        q, n_q = self._rows(queries, "queries")
        k, n_k = (q, n_q) if keys is None else self._rows(keys, "keys")
        indptr, indices = local_global_pattern(n_q, n_k, window=self.window, global_tokens=self.global_tokens,
                                               causal=self.causal, kernel=self.kernel)
        return self._attend(q, n_q, k, n_k, k if values is None else values, indptr, indices)

    def compute(self, query, keys, values, *, position=None):
        """One query (dim values) at `position` against keys[] and values[] (@ruvector's compute,
        which puts the query at len(keys) // 2, the default): the keys within `window` of it and
        the global ones (every key if position < global_tokens; causal keeps j <= position).

        >>> LocalGlobalAttention(1, window=1).compute([0], [[1], [0], [0], [0]], [[2], [4], [6], [8]]).tolist()
        [6.0]
        """
        q, n_q = self._rows(query, "query")
        if n_q != 1:
            raise DimensionError(f"query holds {n_q} rows of {self.dim}, one expected (forward() takes many)")
        k, n_k = self._rows(keys, "keys")
        p = n_k // 2 if position is None else _count(position, "position")
        # row p of the pattern as a one-row CSR (the kernel builds the pattern; p + 1 rows of it)
        indptr, indices = local_global_pattern(p + 1, n_k, window=self.window, global_tokens=self.global_tokens,
                                               causal=self.causal, kernel=self.kernel)
        row = indices[indptr[p]:indptr[p + 1]]
        return self._attend(q, 1, k, n_k, values, array.array("I", [0, len(row)]), row)

    def backward(self, grad_out):
        """{"queries", "keys", "values"}: the gradients of the last forward() or compute()
        against grad_out (its output's shape); for self-attention the three add up.

        >>> att = LocalGlobalAttention(1, window=1)
        >>> _ = att.forward([1, 0], [1, 0], [2, 4])
        >>> [round(x, 4) for x in att.backward([1, 1])["values"]]
        [1.2311, 0.7689]
        """
        if self._cache is None:
            raise ArgumentError("backward() needs a forward() or compute() first")
        q, k, v, indptr, indices, out, lse, dims = self._cache
        g = f32_view(grad_out, "grad_out", len(out))
        _finite(self.kernel, g, "grad_out")
        dq, dk, dv = self.kernel.sparse_attn_backward(q, k, v, indptr, indices, out, g, lse, **dims)
        return {"queries": dq, "keys": dk, "values": dv}

    def to_json(self):
        """The configuration as JSON text (there are no weights).

        >>> LocalGlobalAttention.from_json(LocalGlobalAttention(8, 3, 2, 4, causal=True).to_json()).window
        3
        """
        return json.dumps({"format": self.FORMAT, "version": self.VERSION, "dim": self.dim, "window": self.window,
                           "global_tokens": self.global_tokens, "heads": self.heads, "causal": self.causal})

    @classmethod
    def from_json(cls, text, *, kernel=None):
        """The attention to_json wrote.

        >>> LocalGlobalAttention.from_json(LocalGlobalAttention(4, 2, 1).to_json()).global_tokens
        1
        """
        dim, window, global_tokens, heads, causal = read_document(
            text, cls.FORMAT, cls.VERSION, ("dim", "window", "global_tokens", "heads", "causal"))
        return cls(dim, window, global_tokens, heads, causal=bool(causal), kernel=kernel)


def local_global_compute(query, keys, values, *, dim, window, global_tokens=0, heads=1, causal=False,
                         position=None, kernel=None):
    """LocalGlobalAttention(dim, window, global_tokens, heads, causal=causal).compute(query, keys,
    values, position=position) in one call (the browser's `nn` op reaches functions only).

    >>> local_global_compute([0], [1, 0, 0, 0], [2, 4, 6, 8], dim=1, window=1).tolist()
    [6.0]
    """
    att = LocalGlobalAttention(dim, window, global_tokens, heads, causal=causal, kernel=kernel)
    return att.compute(query, keys, values, position=position)
