"""The Kernel's sparse attention ops: each query attends a CSR list of keys (agk_sparse_attn_f32,
the bits of agk_sdpa_f32 with that pattern as keep mask, at O(nnz * d)), its backward, the CSR
check and the local-global pattern's CSR (a mixin of core.Kernel; the order is in
csrc/sparse_attention.c). agentdb.nn.local_global is the user-facing layer over these.
"""

import array

from ..errors import ArgumentError, DimensionError
from .attention_ops import ATTN_CAUSAL
from .buffers import U32_MAX, Ptr, u32


class SparseAttentionOps:
    """Sparse (CSR) attention forward and backward over agk_sdpa_f32's layouts."""

    def csr_check(self, indptr, indices, *, n_rows, n_cols):
        """indptr, indices as uint32 views after checking them: n_rows + 1 offsets from 0 to
        len(indices), non-decreasing, each row's entries strictly increasing and < n_cols;
        DimensionError for a wrong length, ArgumentError naming the first bad row otherwise.

        >>> [list(x) for x in k.csr_check([0, 1, 3], [0, 0, 1], n_rows=2, n_cols=2)]
        [[0, 1, 3], [0, 0, 1]]
        """
        indptr, indices = self._in(indptr, "I", "indptr"), self._in(indices, "I", "indices")
        if len(indptr) != n_rows + 1:
            raise DimensionError(f"indptr holds {len(indptr)} offsets, n_q + 1 = {n_rows + 1} expected")
        bad = self._call("agk_csr_check", Ptr(indptr, "I"), Ptr(indices, "I"), u32(n_rows, "n_rows"),
                         u32(n_cols, "n_cols"), u32(len(indices), "nnz"))
        if bad != n_rows:
            a, b = indptr[bad], indptr[bad + 1]
            if bad == 0 and indptr[0] != 0:
                why = f"indptr[0] is {indptr[0]}, not 0"
            elif b < a or b > len(indices) or (bad == n_rows - 1 and b != len(indices)):
                why = f"offsets {a} .. {b} are not a range of the {len(indices)} entries ending at the last"
            else:
                row = list(indices[a:b])
                hi = [j for j in row if j >= n_cols]
                why = (f"key {hi[0]} is out of range (n_k = {n_cols})" if hi else
                       f"keys {row[:8]}{'...' if len(row) > 8 else ''} are not strictly increasing")
            raise ArgumentError(f"CSR row {bad}: {why}")
        return indptr, indices

    def local_global_csr(self, n_q, n_k, *, window, global_tokens=0, causal=False):
        """(indptr, indices) of the local-global pattern: query i attends keys |i - j| <= window
        and the first global_tokens keys, a global query every key; causal keeps j <= i.

        >>> [x.tolist() for x in k.local_global_csr(3, 3, window=0, global_tokens=1)]
        [[0, 3, 5, 7], [0, 1, 2, 0, 1, 0, 2]]
        """
        for name, x in (("window", window), ("global_tokens", global_tokens)):
            u32(x, name)
        flags = ATTN_CAUSAL if causal else 0
        nnz = self._call("agk_local_global_nnz", u32(n_q, "n_q"), u32(n_k, "n_k"), window, global_tokens,
                         flags) & U32_MAX
        if nnz == U32_MAX:
            raise DimensionError(f"the local-global pattern of {n_q} x {n_k} exceeds 2^32 entries")
        indptr, indices = self._out(None, "I", n_q + 1, "indptr"), self._out(None, "I", max(nnz, 1), "indices")
        self._checked("agk_local_global_csr", n_q, n_k, window, global_tokens, flags,
                      self._out_ptr(indptr, "I"), self._out_ptr(indices, "I"), u32(len(indices), "cap"))
        return indptr, indices[:nnz]

    def _sparse_args(self, q, k, v, indptr, indices, layout, batch, heads, n_q, n_k, d, dv):
        if len(layout) != 12:
            raise DimensionError(f"layout needs 12 strides (q, k, v, out), got {len(layout)}")
        q, k, v, _, _ = self._attn_args(q, k, v, None, None, [*layout, 0, 0, 0], batch, heads, n_q, n_k, d, dv)
        indptr, indices = self.csr_check(indptr, indices, n_rows=n_q, n_cols=n_k)
        lay = Ptr(memoryview(array.array("I", layout)), "I")
        return q, k, v, indptr, indices, lay

    def sparse_attn(self, q, k, v, indptr, indices, *, batch, heads, n_q, n_k, d, dv, layout, scale, out=None,
                    lse=None):
        """softmax(scale * q_i . k_j over the keys j of CSR row i) V for batch x heads problems
        (agk_sparse_attn_f32): sdpa()'s bits with the pattern as keep mask; layout is sdpa()'s
        first 12 strides (q, k, v, out). A query with no key gives zeros (lse -inf). Returns out.

        >>> lay = [1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
        >>> k.sparse_attn([0, 0], [1, 0], [2, 4], [0, 1, 3], [0, 0, 1], batch=1, heads=1, n_q=2, n_k=2, d=1, dv=1, layout=lay, scale=1.0).tolist()
        [2.0, 3.0]
        """
        q, k, v, indptr, indices, lay = self._sparse_args(q, k, v, indptr, indices, layout, batch, heads, n_q, n_k,
                                                          d, dv)
        need = self._call("agk_sparse_attn_scratch_len", n_k, d, dv) & U32_MAX
        if need == 0:
            raise DimensionError(f"sparse attention scratch for {n_k} keys exceeds the kernel's 4 GiB buffers")
        scratch = self.alloc(need)
        out = self._out(out, "f", u32(self._extent("out", layout[9:12], n_q, dv, batch, heads), "output length"))
        if lse is not None:
            lse = self._out(lse, "f", u32(batch * heads * n_q, "lse length"), "lse")
        self._distinct(out, ("q", q), ("k", k), ("v", v))
        self._checked("agk_sparse_attn_f32", Ptr(q, "f"), Ptr(k, "f"), Ptr(v, "f"), lay, batch, heads, n_q, n_k, d,
                      dv, float(scale), Ptr(indptr, "I"), Ptr(indices, "I"), Ptr(scratch, "f", True),
                      u32(need, "scratch length"), self._out_ptr(out, "f"),
                      Ptr(None, "f") if lse is None else self._out_ptr(lse, "f"))
        return out

    def sparse_attn_backward(self, q, k, v, indptr, indices, o, dout, lse, *, batch, heads, n_q, n_k, d, dv, layout,
                             scale):
        """(dq, dk, dv) of sparse_attn() given its out o and lse and the gradient dout (out's
        layout), each in its input's layout (agk_sparse_attn_backward_f32: sdpa_backward()'s bits
        with the pattern as keep mask).

        >>> lay = [1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
        >>> o, lse = k.alloc(2), k.alloc(2)
        >>> _ = k.sparse_attn([1, 0], [1, 0], [2, 4], [0, 2, 4], [0, 1, 0, 1], batch=1, heads=1, n_q=2, n_k=2, d=1, dv=1, layout=lay, scale=1.0, out=o, lse=lse)
        >>> [round(x, 4) for x in k.sparse_attn_backward([1, 0], [1, 0], [2, 4], [0, 2, 4], [0, 1, 0, 1], o, [1, 1], lse, batch=1, heads=1, n_q=2, n_k=2, d=1, dv=1, layout=lay, scale=1.0)[2]]
        [1.2311, 0.7689]
        """
        q, k, v, indptr, indices, lay = self._sparse_args(q, k, v, indptr, indices, layout, batch, heads, n_q, n_k,
                                                          d, dv)
        o, dout, lse = self._grad_inputs(o, dout, lse, layout, batch, heads, n_q, dv)
        need = self._call("agk_sparse_attn_backward_scratch_len", n_k, d, dv, u32(len(indices), "nnz")) & U32_MAX
        if need == 0:
            raise DimensionError(f"sparse attention backward scratch for {len(indices)} entries exceeds 4 GiB")
        scratch = self.alloc(need)
        grads = [self._out(None, "f", self._extent(n, layout[3 * i:3 * i + 3], rows, cols, batch, heads))
                 for i, (n, rows, cols) in enumerate((("q", n_q, d), ("k", n_k, d), ("v", n_k, dv)))]
        self._checked("agk_sparse_attn_backward_f32", Ptr(q, "f"), Ptr(k, "f"), Ptr(v, "f"), lay, batch, heads, n_q,
                      n_k, d, dv, float(scale), Ptr(indptr, "I"), Ptr(indices, "I"), Ptr(o, "f"), Ptr(dout, "f"),
                      Ptr(lse, "f"), Ptr(scratch, "f", True), u32(need, "scratch length"),
                      *(self._out_ptr(g, "f") for g in grads))
        return tuple(grads)
