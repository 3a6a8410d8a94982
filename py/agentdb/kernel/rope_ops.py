"""The Kernel's rotary-position ops (agentdb.nn.rope runs on them): our own float32 sin/cos, the
RoPE cos/sin tables and the rotation of rows and its transpose (a mixin of core.Kernel; the
formulas are in csrc/agentdb_kernel.h and csrc/rope.c). These check shapes and options;
agentdb.nn.rope also checks that values are finite.
"""

import array
import math
import numbers

from ..errors import ArgumentError, DimensionError, KernelError, OptionError
from .buffers import Ptr, u32

ROPE_INTERLEAVED, ROPE_TRANSPOSE = 1, 2   # AGK_ROPE_* flags


def rope_base(base):
    """base as a float for the kernel: a finite number >= 1, else OptionError."""
    if isinstance(base, bool) or not isinstance(base, numbers.Real) or not math.isfinite(base) or not base >= 1:
        raise OptionError(f"base must be a finite number >= 1, got {base!r}")
    return float(base)


class RopeOps:
    """sin/cos and RoPE: what agentdb.nn.rope's functions call."""

    def sincos(self, x):
        """(sin x, cos x) element-wise, float32, from the kernel's own reduction and polynomials
        (not libm: the same bits on every backend).

        >>> [round(v, 6) for v in k.sincos([0.0, 1.0, 1e6])[0]]
        [0.0, 0.841471, -0.349993]
        """
        x = self._in(x, "f", "x")
        n = u32(len(x), "length")
        s, c = self._out_f32(None, n), self._out_f32(None, n)
        self._call("agk_sincos_f32", Ptr(x, "f"), n, self._out_ptr(s, "f"), self._out_ptr(c, "f"))
        return s, c

    def rope_table(self, positions, *, dim, base=10000.0):
        """(cos, sin), each n x dim/2 floats: cos(p_r theta_i) and sin(p_r theta_i) for the n
        positions p_r, theta_i = 1 / base^(2i / dim) in float32 as HF computes it (dim even).

        >>> [round(v, 6) for v in k.rope_table([0, 1], dim=2)[1]]
        [0.0, 0.841471]
        """
        self._dims(dim=dim)
        if dim % 2:
            raise DimensionError(f"dim must be even (pairs are rotated), got {dim}")
        pos = self._in(positions, "f", "positions")
        n, h = u32(len(pos), "number of positions"), dim // 2
        cos, sin = self._out_f32(None, u32(n * h, "table length")), self._out_f32(None, n * h)
        self._call("agk_rope_table_f32", Ptr(pos, "f"), n, dim, rope_base(base), self._out_ptr(cos, "f"),
                   self._out_ptr(sin, "f"))
        return cos, sin

    def rope_apply(self, x, cos, sin, *, dim, row_len=None, tab_row=None, interleaved=False, transpose=False,
                   out=None):
        """x's rows (row_len values, default dim) with their first dim values rotated pair by pair
        by the table row tab_row[r] (or r) of cos and sin (each n_tab x dim/2): pairs (i, i + dim/2)
        (HF's rotate_half) or, interleaved, (2i, 2i + 1); transpose rotates by -theta (the
        backward). out may be x (in place).

        >>> c, s = k.rope_table([1], dim=2)
        >>> [round(v, 6) for v in k.rope_apply([1, 0], c, s, dim=2)]
        [0.540302, 0.841471]
        """
        self._dims(dim=dim)
        if dim % 2:
            raise DimensionError(f"dim must be even (pairs are rotated), got {dim}")
        row_len = dim if row_len is None else row_len
        self._dims(row_len=row_len)
        if row_len < dim:
            raise DimensionError(f"row_len {row_len} is shorter than the rotated dim {dim}")
        x = self._in(x, "f", "x")
        n = self._rows(x, row_len, "x")
        h = dim // 2
        cos, sin = self._in(cos, "f", "cos"), self._in(sin, "f", "sin")
        if len(cos) != len(sin) or len(cos) % h:
            raise DimensionError(f"cos and sin must both hold n_tab x dim/2 = n_tab x {h} values, got {len(cos)} "
                                 f"and {len(sin)}")
        n_tab = len(cos) // h
        if tab_row is not None:
            tab_row = self._sized(tab_row if not isinstance(tab_row, (list, tuple)) else array.array("I", tab_row),
                                  "I", n, "tab_row")
        elif n > n_tab:
            raise DimensionError(f"x has {n} rows but the tables only {n_tab}: give tab_row")
        out = x if out is x else self._out_f32(out, len(x))
        self._apart(out, ("cos", cos), ("sin", sin))
        flags = (ROPE_INTERLEAVED if interleaved else 0) | (ROPE_TRANSPOSE if transpose else 0)
        rc = self._call("agk_rope_apply_f32", Ptr(x, "f"), n, row_len, dim, Ptr(cos, "f"), Ptr(sin, "f"),
                        Ptr(tab_row, "I"), n_tab, flags, self._out_ptr(out, "f"))
        if rc == -4:
            raise ArgumentError(f"tab_row holds a table row >= n_tab = {n_tab}")
        if rc < 0:
            raise KernelError(f"agk_rope_apply_f32: code {rc}")
        return out
