"""The Kernel's GNN ops (a mixin of core.Kernel): the neighbourhoods of a CSR adjacency, GAT
message passing over them (forward and backward), the row-wise layer-norm backward and
SplitMix64 dropout multipliers (the formulas and the fixed order are in csrc/agentdb_kernel.h
and csrc/gnn.c).
agentdb.nn.gnn's GNNLayer is the user-facing layer over these.
"""

from ..errors import DimensionError
from .buffers import Ptr, u32


class GnnOps:
    """agk_gat_neighbourhoods / agk_gat_forward_f32 / agk_gat_backward_f32 /
    agk_layer_norm_rows_backward_f32 / agk_dropout_keep_f32."""

    def _gat_args(self, st, z, off, nbr, w, keep, n, heads, head_dim):
        self._dims(n=n, heads=heads, head_dim=head_dim)
        D = heads * head_dim
        off, nbr = self._in(off, "I", "off"), self._in(nbr, "I", "nbr")
        if len(off) != n + 1:
            raise DimensionError(f"off holds {len(off)} offsets, n + 1 = {n + 1} expected")
        e = off[n]
        if len(nbr) < e:
            raise DimensionError(f"nbr holds {len(nbr)} entries, off ends at {e}")
        sized = [(st, "st", n * 2 * heads), (z, "z", n * D), (w, "w", e), (keep, "keep", e * heads)]
        views = []
        for x, name, need in sized:
            x = self._in(x, "f", name)
            if x is not None and len(x) < need:
                raise DimensionError(f"{name} holds {len(x)} values, {need} needed")
            views.append(x)
        return views, off, nbr, e, D

    def gat_forward(self, st, z, off, nbr, *, n, heads, head_dim, slope, w=None, keep=None):
        """(pre, alpha, h): the logits, the softmaxed coefficients (alpha layout, heads * off[n]
        floats each) and h (n x heads * head_dim) of agk_gat_forward_f32.

        >>> pre, alpha, h = k.gat_forward([0, 0, 0, 1], [1, 2], [0, 1, 2], [0, 1], n=2, heads=1, head_dim=1, slope=0.2)
        >>> alpha.tolist(), h.tolist()
        ([1.0, 1.0], [1.0, 2.0])
        """
        (st, z, w, keep), off, nbr, e, D = self._gat_args(st, z, off, nbr, w, keep, n, heads, head_dim)
        pre, alpha, h = self._out(None, "f", e * heads), self._out(None, "f", e * heads), self._out(None, "f", n * D)
        self._checked("agk_gat_forward_f32", Ptr(st, "f"), Ptr(z, "f"), Ptr(off, "I"), Ptr(nbr, "I"), Ptr(w, "f"),
                      Ptr(keep, "f"), n, heads, head_dim, float(slope), self._out_ptr(pre, "f"),
                      self._out_ptr(alpha, "f"), self._out_ptr(h, "f"))
        return pre, alpha, h

    def gat_backward(self, dh, z, off, nbr, pre, alpha, *, n, heads, head_dim, slope, w=None, keep=None):
        """(dz, dst, dw) of agk_gat_backward_f32 for dh = dL/dh (n x heads * head_dim): dz
        n x D, dst n x 2 heads, dw one per nbr entry (None without w).

        >>> pre, alpha, h = k.gat_forward([0, 0, 0, 1], [1, 2], [0, 1, 2], [0, 1], n=2, heads=1, head_dim=1, slope=0.2)
        >>> [g.tolist() for g in k.gat_backward([1, 1], [1, 2], [0, 1, 2], [0, 1], pre, alpha, n=2, heads=1,
        ...                                     head_dim=1, slope=0.2)[:2]]
        [[1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]
        """
        (st, z, w, keep), off, nbr, e, D = self._gat_args(None, z, off, nbr, w, keep, n, heads, head_dim)
        for x, name, need in ((dh, "dh", n * D), (pre, "pre", e * heads), (alpha, "alpha", e * heads)):
            if len(self._in(x, "f", name)) < need:
                raise DimensionError(f"{name} holds {len(x)} values, {need} needed")
        dcoef, dz, dst = self._out(None, "f", e * heads), self._out(None, "f", n * D), self._out(None, "f", n * 2 * heads)
        dw = self._out(None, "f", e) if w is not None else None
        self._checked("agk_gat_backward_f32", Ptr(self._in(dh, "f", "dh"), "f"), Ptr(z, "f"), Ptr(off, "I"),
                      Ptr(nbr, "I"), Ptr(w, "f"), Ptr(keep, "f"), Ptr(self._in(pre, "f", "pre"), "f"),
                      Ptr(self._in(alpha, "f", "alpha"), "f"), n, heads, head_dim, float(slope),
                      self._out_ptr(dcoef, "f"), self._out_ptr(dz, "f"), self._out_ptr(dst, "f"),
                      Ptr(None, "f") if dw is None else self._out_ptr(dw, "f"))
        return dz, dst, dw

    def layer_norm_rows_backward(self, v, g, *, dim, gamma=None, eps=1e-5):
        """(dv, gx) for the rows of v (the layer norm's input, n x dim) and g = dL/dy: the input
        gradient and g * xhat (whose column sums are dgamma).

        >>> dv, gx = k.layer_norm_rows_backward([1, 3], [1, 0], dim=2, eps=0.0)
        >>> [round(a, 6) for a in dv], [round(a, 6) for a in gx]
        ([0.0, 0.0], [-1.0, 0.0])
        """
        v, n = self._rows_of(v, dim, "v")
        g = self._sized(g, "f", n * dim, "g")
        gamma = None if gamma is None else self._sized(gamma, "f", dim, "gamma")
        dv, gx = self._out(None, "f", n * dim), self._out(None, "f", n * dim)
        self._call("agk_layer_norm_rows_backward_f32", Ptr(v, "f"), Ptr(g, "f"), Ptr(gamma, "f"), n, dim, float(eps),
                   self._out_ptr(dv, "f"), self._out_ptr(gx, "f"))
        return dv, gx

    def dropout_keep(self, state, count, *, threshold, scale, out=None):
        """count multipliers (0 or scale) from the SplitMix64 whose state is the two uint32
        words of `state` (advanced in place): 0 where the draw's top 24 bits are < threshold.

        >>> import array
        >>> k.dropout_keep(array.array("I", [0, 0]), 4, threshold=0, scale=2.0).tolist()
        [2.0, 2.0, 2.0, 2.0]
        """
        out = self._out(out, "f", u32(count, "count"))
        self._call("agk_dropout_keep_f32", Ptr(self._sized(state, "I", 2, "state"), "I", True), count,
                   u32(threshold, "threshold"), float(scale), self._out_ptr(out, "f"))
        return out

    def gat_neighbourhoods(self, offsets, targets, *, n):
        """(off, nbr, src) of agk_gat_neighbourhoods for a CSR adjacency of n nodes (offsets
        n + 1 values from 0, non-decreasing): neighbourhood i = nbr[off[i]:off[i + 1]], i first,
        repeats and self loops dropped; src[p] = the targets position of entry p (len(targets)
        for the self terms).

        >>> [a.tolist() for a in k.gat_neighbourhoods([0, 2, 2, 3], [2, 2, 0], n=3)]
        [[0, 2, 3, 5], [0, 2, 1, 2, 0], [3, 0, 3, 3, 2]]
        """
        self._dims(n=n)
        offsets, targets = self._sized(offsets, "I", n + 1, "offsets"), self._in(targets, "I", "targets")
        e = offsets[n]
        if offsets[0] != 0 or len(targets) != e or any(offsets[i + 1] < offsets[i] for i in range(n)):
            raise DimensionError(f"offsets must run from 0 up to len(targets) = {len(targets)} without decreasing")
        off, nbr, src = self._out(None, "I", n + 1), self._out(None, "I", e + n), self._out(None, "I", e + n)
        q = self._checked("agk_gat_neighbourhoods", Ptr(offsets, "I"), Ptr(targets, "I"), n,
                          self._out_ptr(self._out(None, "I", n), "I"), self._out_ptr(off, "I"),
                          self._out_ptr(nbr, "I"), self._out_ptr(src, "I"))
        del nbr[q:], src[q:]
        return off, nbr, src
