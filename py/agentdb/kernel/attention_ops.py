"""The Kernel's attention ops: scaled dot-product attention over batch x heads problems with
strided layouts, masks, causal, the flash (tile-by-tile) form and the backward (a mixin of
core.Kernel; the formula and the fixed order are in csrc/agentdb_kernel.h and csrc/attention.c).
agentdb.nn.attention is the user-facing layer over these.
"""

import array

from ..errors import DimensionError
from .buffers import U32_MAX, Ptr, u32

ATTN_CAUSAL, ATTN_FLASH = 1, 2   # AGK_ATTN_* flags
_TENSORS = ("q", "k", "v", "out", "mask")


class AttentionOps:
    """SDPA forward and backward over caller layouts (strides in elements)."""

    @staticmethod
    def _extent(name, layout, rows, cols, batch, heads):
        """Elements a tensor spans under (row, batch, head) strides: the check that keeps the
        kernel inside the caller's buffer."""
        rs, bs, hs = layout
        if not rows or not cols:
            return 0
        return (batch - 1) * bs + (heads - 1) * hs + (rows - 1) * rs + cols

    def _attn_args(self, q, k, v, mask, keep, layout, batch, heads, n_q, n_k, d, dv):
        self._dims(batch=batch, heads=heads, n_q=n_q, n_k=n_k, d=d, dv=dv)
        if len(layout) != 15:
            raise DimensionError(f"layout needs 15 strides (q, k, v, out, mask), got {len(layout)}")
        for s in layout:
            u32(s, "stride")
        q, k, v = self._in(q, "f", "q"), self._in(k, "f", "k"), self._in(v, "f", "v")
        mask, keep = self._in(mask, "f", "mask"), self._in(keep, "B", "keep")
        shapes = {"q": (n_q, d), "k": (n_k, d), "v": (n_k, dv), "mask": (n_q, n_k)}
        for name, x in (("q", q), ("k", k), ("v", v), ("mask", mask if mask is not None else keep)):
            if x is None:
                continue
            i = _TENSORS.index(name)
            need = self._extent(name, layout[3 * i:3 * i + 3], *shapes[name], batch, heads)
            if len(x) < need:
                raise DimensionError(f"{name} holds {len(x)} values, its layout reaches {need}")
        return q, k, v, mask, keep

    def _grad_inputs(self, o, dout, lse, layout, batch, heads, n_q, dv):
        """A backward's forward output o, its gradient dout (out's layout) and lse, checked."""
        o_len = self._extent("out", layout[9:12], n_q, dv, batch, heads)
        o, dout = self._in(o, "f", "o"), self._in(dout, "f", "dout")
        for name, x in (("o", o), ("dout", dout)):
            if len(x) < o_len:
                raise DimensionError(f"{name} holds {len(x)} values, its layout reaches {o_len}")
        return o, dout, self._sized(lse, "f", batch * heads * n_q, "lse")

    def sdpa_scratch_len(self, n_k, d, dv, *, flash=False):
        """Floats of scratch sdpa() needs: fixed by d and dv alone with flash=True."""
        size = self._call("agk_sdpa_scratch_len", u32(n_k, "n_k"), u32(d, "d"), u32(dv, "dv"),
                          ATTN_FLASH if flash else 0) & U32_MAX
        if size == 0:
            raise DimensionError(f"attention scratch for {n_k} keys exceeds the kernel's 4 GiB buffers")
        return size

    def sdpa(self, q, k, v, *, batch, heads, n_q, n_k, d, dv, layout, scale, mask=None, keep=None,
             causal=False, q_pos=0, flash=False, out=None, lse=None, scratch=None):
        """softmax(scale * Q K^T + mask) V for batch x heads problems (agk_sdpa_f32): layout holds
        the (row, batch, head) strides of q, k, v, out and mask in that order; keep is a uint8
        mask (0 = masked) in mask's layout. lse: a buffer of batch * heads * n_q floats to receive
        the log-sum-exps, or None. Returns out.

        >>> lay = [1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0, 0, 0]
        >>> k.sdpa([0, 0], [1, 0], [2, 4], batch=1, heads=1, n_q=2, n_k=2, d=1, dv=1, layout=lay, scale=1.0).tolist()
        [3.0, 3.0]
        """
        q, k, v, mask, keep = self._attn_args(q, k, v, mask, keep, layout, batch, heads, n_q, n_k, d, dv)
        flags = (ATTN_CAUSAL if causal else 0) | (ATTN_FLASH if flash else 0)
        need = self.sdpa_scratch_len(n_k, d, dv, flash=flash)
        scratch = self.alloc(need) if scratch is None else self._in(scratch, "f", "scratch")
        if len(scratch) < need:
            raise DimensionError(f"scratch holds {len(scratch)} floats, {need} needed")
        out = self._out(out, "f", u32(self._extent("out", layout[9:12], n_q, dv, batch, heads), "output length"))
        if lse is not None:
            lse = self._out(lse, "f", u32(batch * heads * n_q, "lse length"), "lse")
        self._distinct(out, ("q", q), ("k", k), ("v", v), ("scratch", scratch))
        self._checked("agk_sdpa_f32", Ptr(q, "f"), Ptr(k, "f"), Ptr(v, "f"), Ptr(mask, "f"), Ptr(keep, "B"),
                      Ptr(memoryview(array.array("I", layout)), "I"), batch, heads, n_q, n_k, d, dv, float(scale),
                      u32(q_pos, "q_pos"), flags, Ptr(scratch, "f", True), u32(len(scratch), "scratch length"),
                      self._out_ptr(out, "f"), Ptr(None, "f") if lse is None else self._out_ptr(lse, "f"))
        return out

    def sdpa_backward_scratch_len(self, n_q, n_k, d, dv, *, flash=False):
        """Floats of scratch sdpa_backward() needs: fixed by d and dv (flash changes nothing:
        the backward is always blocked)."""
        size = self._call("agk_sdpa_backward_scratch_len", u32(n_q, "n_q"), u32(n_k, "n_k"), u32(d, "d"),
                          u32(dv, "dv"), ATTN_FLASH if flash else 0) & U32_MAX
        if size == 0:
            raise DimensionError(f"attention backward scratch for {n_q} x {n_k} exceeds the kernel's 4 GiB buffers")
        return size

    def sdpa_backward(self, q, k, v, o, dout, lse, *, batch, heads, n_q, n_k, d, dv, layout, scale, mask=None,
                      keep=None, causal=False, q_pos=0, flash=False, scratch=None):
        """(dq, dk, dv) of sdpa() given its out o and lse and the gradient dout (out's layout);
        each gradient in its input's layout (agk_sdpa_backward_f32), in blocks of queries x keys
        with P recomputed per block, scratch fixed by d and dv; flash is accepted and changes
        nothing.

        >>> lay = [1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0, 0, 0]
        >>> o, lse = k.alloc(2), k.alloc(2)
        >>> _ = k.sdpa([1, 0], [1, 0], [2, 4], batch=1, heads=1, n_q=2, n_k=2, d=1, dv=1, layout=lay, scale=1.0, out=o, lse=lse)
        >>> [round(x, 4) for x in k.sdpa_backward([1, 0], [1, 0], [2, 4], o, [1, 1], lse, batch=1, heads=1, n_q=2, n_k=2, d=1, dv=1, layout=lay, scale=1.0)[2]]
        [1.2311, 0.7689]
        """
        q, k, v, mask, keep = self._attn_args(q, k, v, mask, keep, layout, batch, heads, n_q, n_k, d, dv)
        o, dout, lse = self._grad_inputs(o, dout, lse, layout, batch, heads, n_q, dv)
        need = self.sdpa_backward_scratch_len(n_q, n_k, d, dv, flash=flash)
        scratch = self.alloc(need) if scratch is None else self._in(scratch, "f", "scratch")
        if len(scratch) < need:
            raise DimensionError(f"scratch holds {len(scratch)} floats, {need} needed")
        grads = [self._out(None, "f", self._extent(n, layout[3 * i:3 * i + 3], rows, cols, batch, heads))
                 for i, (n, rows, cols) in enumerate((("q", n_q, d), ("k", n_k, d), ("v", n_k, dv)))]
        self._checked("agk_sdpa_backward_f32", Ptr(q, "f"), Ptr(k, "f"), Ptr(v, "f"), Ptr(mask, "f"), Ptr(keep, "B"),
                      Ptr(memoryview(array.array("I", layout)), "I"), batch, heads, n_q, n_k, d, dv, float(scale),
                      u32(q_pos, "q_pos"), (ATTN_CAUSAL if causal else 0) | (ATTN_FLASH if flash else 0),
                      Ptr(o, "f"), Ptr(dout, "f"), Ptr(lse, "f"), Ptr(scratch, "f", True),
                      u32(len(scratch), "scratch length"),
                      *(self._out_ptr(g, "f") for g in grads))
        return tuple(grads)
