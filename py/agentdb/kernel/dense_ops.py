"""The Kernel's dense layers for a BERT encoder: packed GEMM (f32, int8), GELU, layer norm
rows, attention within packed sequences, mean pooling (a mixin of core.Kernel; see
csrc/gemm.c for the packed layout and the fixed summation order).
"""

import math

from ..errors import ArgumentError, DimensionError, OptionError
from .buffers import U32_MAX, KBuffer, Ptr, u32


class DenseOps:
    """Dense layers: what agentdb.embed.encoder runs a forward pass with."""

    # ---- dense layers (MiniLM) ---------------------------------------------------------------
    # Weights are packed once (pack_gemm) into panels of 16 columns; a token batch is packed
    # without padding, sequence s being rows offsets[s] .. offsets[s+1]-1 (see the header).

    GEMM_PANEL = 16
    _ACTS = {None: 0, "none": 0, "gelu": 1}

    @classmethod
    def gemm_packed_len(cls, k, n):
        """Elements of a k x n weight matrix packed for gemm(): k * ceil(n / 16) * 16."""
        return k * -(-n // cls.GEMM_PANEL) * cls.GEMM_PANEL

    @staticmethod
    def _dims(**dims):
        for name, value in dims.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DimensionError(f"{name} must be a positive integer, got {value!r}")
            u32(value, name)

    @staticmethod
    def _distinct(out, *inputs):
        # the kernel reads its inputs while it writes out: one KBuffer cannot be both
        for name, x in inputs:
            if isinstance(out, KBuffer) and isinstance(x, KBuffer) and out.handle is x.handle:
                raise ArgumentError(f"out must not be the same buffer as {name}")

    def _act(self, act):
        try:
            return self._ACTS[act]
        except (KeyError, TypeError):
            raise OptionError(f"unknown activation {act!r}: expected None or 'gelu'") from None

    def _sized(self, x, fmt, length, name):
        """An input of exactly `length` elements of fmt (None passes through)."""
        x = self._in(x, fmt, name)
        if x is not None and len(x) != length:
            raise DimensionError(f"{name} holds {len(x)} values, {length} expected")
        return x

    def pack_gemm(self, w, *, k, n, transposed=False, out=None):
        """Packs a weight matrix for gemm(): w is k x n row-major (in x out), or n x k with
        transposed=True (a torch Linear weight, [out, in]); float32 gives float32 panels,
        int8 (a buffer of format 'b') int8 panels for gemm_i8. Do it once at model load, into
        a KBuffer (out=kernel.alloc(kernel.gemm_packed_len(k, n), fmt)).

        >>> k.pack_gemm([1, 2, 3, 4], k=2, n=2)[:2].tolist()   # panel 0, row p = 0
        [1.0, 2.0]
        """
        self._dims(k=k, n=n)
        fmt = "b" if isinstance(w, KBuffer) and w.fmt == "b" or \
            not isinstance(w, (KBuffer, list, tuple)) and memoryview(w).format == "b" else "f"
        w = self._sized(w, fmt, k * n, "w")
        size = u32(self.gemm_packed_len(k, n), "packed length")
        out = self._out(out, fmt, size)
        self._distinct(out, ("w", w))
        fname = "agk_pack_gemm_i8" if fmt == "b" else "agk_pack_gemm_f32"
        self._call(fname, Ptr(w, fmt), k, n, int(bool(transposed)), self._out_ptr(out, fmt))
        return out

    def _gemm_shape(self, a, w, wfmt, k, n, bias, out):
        self._dims(k=k, n=n)
        a = self._in(a, "f", "a")
        m = self._rows(a, k, "a")
        if m == 0:
            raise DimensionError("a has no rows")
        w = self._sized(w, wfmt, self.gemm_packed_len(k, n), "w (packed, see gemm_packed_len)")
        bias = self._sized(bias, "f", n, "bias")
        out = self._out(out, "f", u32(m * n, "output length"))
        self._distinct(out, ("a", a), ("w", w), ("bias", bias))
        return a, w, bias, out, m

    def gemm(self, a, w, *, k, n, bias=None, act=None, out=None):
        """act(a @ W + bias) for a (m x k, row-major) and W packed by pack_gemm: an m x n
        float32 matrix. Each element is summed over p in order, a multiply then an add (no
        FMA), so every backend gives the same bits. act: None or 'gelu' (gelu_erf).

        >>> w = k.pack_gemm([1, 2, 3, 4], k=2, n=2)
        >>> k.gemm([1, 1], w, k=2, n=2, bias=[0.5, 0]).tolist()
        [4.5, 6.0]
        """
        a, w, bias, out, m = self._gemm_shape(a, w, "f", k, n, bias, out)
        self._call("agk_gemm_f32", Ptr(a, "f"), Ptr(w, "f"), Ptr(bias, "f"), self._out_ptr(out, "f"), m, k, n,
                   self._act(act))
        return out

    def gemm_i8(self, a, w, scale, *, k, n, bias=None, act=None, out=None):
        """act((a @ Wq) * scale + bias) for int8 weights Wq packed by pack_gemm and per-column
        float scales (n of them): the float32 sums of gemm() over float(Wq)."""
        a, w, bias, out, m = self._gemm_shape(a, w, "b", k, n, bias, out)
        scale = self._sized(scale, "f", n, "scale")
        self._call("agk_gemm_i8f32", Ptr(a, "f"), Ptr(w, "b"), Ptr(scale, "f"), Ptr(bias, "f"),
                   self._out_ptr(out, "f"), m, k, n, self._act(act))
        return out

    def gelu_erf(self, a, *, out=None):
        """GELU, exact form x/2 (1 + erf(x / sqrt 2)) (BERT's), within ~5 ulp; out may be a."""
        return self._unary("agk_gelu_erf_f32", a, out)

    def layer_norm_rows(self, x, *, dim, gamma, beta, eps=1e-12, residual=None, out=None):
        """LayerNorm of each row of x (n x dim), after adding residual when given:
        (r - mean) / sqrt(var + eps) * gamma + beta with r = x + residual, as layer_norm()
        computes it. out may be x or residual (in place)."""
        self._dims(dim=dim)
        x = self._in(x, "f", "x")
        rows = self._rows(x, dim, "x")
        residual = self._sized(residual, "f", len(x), "residual")
        gamma, beta = self._sized(gamma, "f", dim, "gamma"), self._sized(beta, "f", dim, "beta")
        out = self._out(out, "f", len(x))
        self._call("agk_layer_norm_rows_f32", Ptr(x, "f"), Ptr(residual, "f"), Ptr(gamma, "f"), Ptr(beta, "f"),
                   float(eps), rows, dim, self._out_ptr(out, "f"))
        return out

    def _offsets(self, offsets, n_rows):
        """Sequence offsets as a uint32 buffer, checked: nondecreasing, the last <= n_rows."""
        offsets = self._in(offsets, "I", "offsets")
        if len(offsets) < 1:
            raise DimensionError("offsets needs n_seqs + 1 values, got none")
        values = offsets.read() if isinstance(offsets, KBuffer) else offsets
        prev = 0
        for i, o in enumerate(values):
            if o < prev:
                raise DimensionError(f"offsets[{i}] = {o} is below offsets[{i - 1}] = {prev}")
            prev = o
        if prev > n_rows:
            raise DimensionError(f"offsets end at row {prev}, the matrix has {n_rows} rows")
        longest = max((values[i + 1] - values[i] for i in range(len(values) - 1)), default=0)
        return offsets, u32(len(offsets) - 1, "number of sequences"), longest

    def attention_scratch_len(self, max_len, head_dim):
        """Floats of scratch attention() needs for sequences of up to max_len tokens."""
        size = self._call("agk_attention_scratch_len", u32(max_len, "max_len"), u32(head_dim, "head_dim"))
        size &= U32_MAX
        if size == 0 and max_len:
            raise DimensionError(f"attention scratch for {max_len} tokens exceeds the kernel's 4 GiB buffers")
        return size

    def attention(self, qkv, offsets, *, heads, head_dim, stride=None, scale=None, out=None, scratch=None):
        """Multi-head self-attention within each sequence of a packed batch: qkv is T rows of
        `stride` floats (default 3 * heads * head_dim) holding a token's queries, keys and
        values side by side (the fused QKV projection); returns T x heads * head_dim context,
        softmax(scale * Q K^T) V per sequence and head (scale defaults to 1 / sqrt(head_dim)).
        No token attends outside its sequence, so nothing is padded or masked. scratch: a
        KBuffer of attention_scratch_len(longest sequence, head_dim) floats, reused across calls."""
        self._dims(heads=heads, head_dim=head_dim)
        width = heads * head_dim
        stride = 3 * width if stride is None else stride
        self._dims(stride=stride)
        if stride < 3 * width:
            raise DimensionError(f"stride {stride} is shorter than queries, keys and values ({3 * width})")
        qkv = self._in(qkv, "f", "qkv")
        n_tokens = self._rows(qkv, stride, "qkv")
        offsets, n_seqs, longest = self._offsets(offsets, n_tokens)
        scale = 1.0 / math.sqrt(head_dim) if scale is None else float(scale)
        need = self.attention_scratch_len(longest, head_dim)
        scratch = self.alloc(max(need, 1)) if scratch is None else self._in(scratch, "f", "scratch")
        if len(scratch) < need:
            raise DimensionError(f"scratch holds {len(scratch)} floats, {need} needed for {longest} tokens")
        out = self._out(out, "f", u32(n_tokens * width, "output length"))
        self._distinct(out, ("qkv", qkv), ("scratch", scratch))
        self._checked("agk_attention_f32", Ptr(qkv, "f"), Ptr(qkv, "f", offset=width), Ptr(qkv, "f", offset=2 * width),
                      stride, Ptr(offsets, "I"), n_seqs, n_tokens, heads, head_dim, scale, Ptr(scratch, "f", True),
                      u32(len(scratch), "scratch length"), self._out_ptr(out, "f"), width)
        return out

    def mean_pool(self, x, offsets, *, dim, normalize=True, out=None):
        """The mean of each sequence's rows of x (n x dim; sequence s is rows offsets[s] ..
        offsets[s+1]-1), unit length when `normalize`: n_seqs x dim (zeros for an empty one).

        >>> k.mean_pool([1, 0, 3, 0, 0, 2], [0, 2, 3], dim=2, normalize=False).tolist()
        [2.0, 0.0, 0.0, 2.0]
        """
        self._dims(dim=dim)
        x = self._in(x, "f", "x")
        n_rows = self._rows(x, dim, "x")
        offsets, n_seqs, _ = self._offsets(offsets, n_rows)
        out = self._out(out, "f", u32(n_seqs * dim, "output length"))
        self._distinct(out, ("x", x))
        self._checked("agk_mean_pool_rows_f32", Ptr(x, "f"), n_rows, dim, Ptr(offsets, "I"), n_seqs,
                      int(bool(normalize)), self._out_ptr(out, "f"))
        return out
