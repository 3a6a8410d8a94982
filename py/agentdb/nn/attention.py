"""Attention in the kernel: scaled dot-product attention (masks, causal, batched), its
memory-bounded flash form, chunked (streaming) queries, the backward, and torch-compatible
multi-head attention (self and cross), the same bits on every backend and ISA level.

Tensors are flat float32 buffers (lists, array.array, numpy arrays, KBuffers) in torch's
layouts: scaled_dot_product_attention takes q as batch x heads x n_q x dim (k: n_k x dim, v:
n_k x dv per problem), MultiHeadAttention takes batch x length x embed_dim (batch_first=True).
Every call's softmax runs over keys in tiles of 256 with an online max and sum in one fixed order
(csrc/attention.c), so the plain call, flash_attention (scratch fixed by dim whatever the
length), any query chunking (AttentionStream) and any batch give the same bits; a problem alone
or among others too. attention_backward runs in blocks of up to 256 queries x 128 keys
(FlashAttention-2 style: P recomputed from the forward's log-sum-exps per block, dQ, dK, dV
accumulated block by block), scratch fixed by dim and dv whatever the lengths.

Masks: float (additive, -inf allowed) or boolean/uint8 (SDPA's meaning: true = attend), of
n_q x n_k (shared), batch x n_q x n_k (per batch element) or batch x heads x n_q x n_k values.
A query row with no key left gives zeros (torch gives NaN).
"""

import array
import math

from ..errors import ArgumentError, DimensionError, NonFiniteError
from ..kernel import KBuffer, load
from ..kernel.buffers import as_view, new_array

__all__ = ["scaled_dot_product_attention", "flash_attention", "attention_backward", "AttentionStream",
           "MultiHeadAttention", "local_global_mask"]

FLASH_BLOCK = 256   # query rows per flash_attention call by default


def _view(kernel, x, name):
    if isinstance(x, KBuffer):
        return x.view()
    v = as_view(x, "f", name=name)
    return v


def _finite(kernel, x, name):
    i = kernel.find_nonfinite(x)
    if i >= 0:
        raise NonFiniteError(f"{name}: element {i} is {x[i]}")


def _mask_view(kernel, mask, name="mask"):
    """(float view, None) for an additive mask, (None, uint8 view) for a boolean one."""
    if mask is None:
        return None, None
    if isinstance(mask, (bytes, bytearray)):
        return None, memoryview(mask)
    if isinstance(mask, (list, tuple)):
        if mask and all(isinstance(m, bool) for m in mask):
            return None, memoryview(bytes(mask))
        mask = array.array("f", mask)
    mv = memoryview(mask)
    if mv.format in ("?", "B", "b", "c"):
        return None, mv.cast("B")
    fv = as_view(mask, "f", name=name)
    if kernel.find_nonfinite(kernel.sigmoid(fv)) >= 0 or kernel.find_nonfinite(kernel.relu(fv)) >= 0:
        raise NonFiniteError(f"{name} holds NaN or +inf (only finite values and -inf mask)")
    return fv, None


def _mask_strides(length, batch, heads, n_q, n_k, name="mask"):
    plane = n_q * n_k
    if length == plane:
        return [n_k, 0, 0]
    if length == batch * plane:
        return [n_k, plane, 0]
    if length == batch * heads * plane:
        return [n_k, heads * plane, plane]
    raise DimensionError(f"{name} holds {length} values: expected n_q x n_k = {plane}, batch x n_q x n_k = "
                         f"{batch * plane} or batch x heads x n_q x n_k = {batch * heads * plane}")


def _problem(kernel, q, k, v, dim, batch, heads):
    for name, x in (("dim", dim), ("batch", batch), ("heads", heads)):
        if not isinstance(x, int) or isinstance(x, bool) or x < 1:
            raise DimensionError(f"{name} must be a positive integer, got {x!r}")
    q, k, v = _view(kernel, q, "q"), _view(kernel, k, "k"), _view(kernel, v, "v")
    per = batch * heads
    if len(q) == 0 or len(q) % (per * dim):
        raise DimensionError(f"q holds {len(q)} values, not batch x heads x n_q x dim = {per} x n_q x {dim}")
    if len(k) == 0 or len(k) % (per * dim):
        raise DimensionError(f"k holds {len(k)} values, not batch x heads x n_k x dim = {per} x n_k x {dim}")
    n_q, n_k = len(q) // (per * dim), len(k) // (per * dim)
    if len(v) == 0 or len(v) % (per * n_k):
        raise DimensionError(f"v holds {len(v)} values, not batch x heads x n_k x dv = {per} x {n_k} x dv")
    dv = len(v) // (per * n_k)
    for name, x in (("q", q), ("k", k), ("v", v)):
        _finite(kernel, x, name)
    return q, k, v, n_q, n_k, dv


def _layout(n_q, n_k, dim, dv, heads, mask_strides):
    return [dim, heads * n_q * dim, n_q * dim, dim, heads * n_k * dim, n_k * dim,
            dv, heads * n_k * dv, n_k * dv, dv, heads * n_q * dv, n_q * dv, *mask_strides]


def _scale(scale, dim):
    if scale is None:
        return 1.0 / math.sqrt(dim)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ArgumentError(f"scale must be a finite number, got {scale!r}")
    return float(scale)


def _checked(kernel, q, k, v, dim, batch, heads, mask):
    """The views, lengths and mask of a call, checked once."""
    q, k, v, n_q, n_k, dv = _problem(kernel, q, k, v, dim, batch, heads)
    fmask, keep = _mask_view(kernel, mask)
    mstr = _mask_strides(len(fmask if fmask is not None else keep), batch, heads, n_q, n_k) \
        if mask is not None else [0, 0, 0]
    return q, k, v, n_q, n_k, dv, fmask, keep, mstr


def _sdpa(q, k, v, dim, batch, heads, mask, causal, scale, kernel, flash, block, lse):
    kernel = kernel or load()
    return _forward(kernel, *_checked(kernel, q, k, v, dim, batch, heads, mask), dim, batch, heads, causal,
                    _scale(scale, dim), flash, block, lse)


def _forward(kernel, q, k, v, n_q, n_k, dv, fmask, keep, mstr, dim, batch, heads, causal, scale, flash, block, lse):
    out = new_array("f", batch * heads * n_q * dv)
    lse_buf = new_array("f", batch * heads * n_q) if lse else None
    block = n_q if not flash else block
    if not isinstance(block, int) or isinstance(block, bool) or block < 1:
        raise ArgumentError(f"block must be a positive integer, got {block!r}")
    scratch = kernel.alloc(kernel.sdpa_scratch_len(n_k, dim, dv, flash=flash))
    layout = _layout(n_q, n_k, dim, dv, heads, mstr)
    ov = memoryview(out)
    for r0 in range(0, n_q, block):
        rows = min(block, n_q - r0)
        # a chunk of rows of every problem: the same strides, the views start at row r0
        part_lse = lse_buf if lse_buf is None or rows == n_q else new_array("f", batch * heads * rows)
        kernel.sdpa(q[r0 * dim:], k, v, batch=batch, heads=heads, n_q=rows, n_k=n_k, d=dim, dv=dv, layout=layout,
                    scale=scale, mask=None if fmask is None else fmask[r0 * n_k:],
                    keep=None if keep is None else keep[r0 * n_k:], causal=causal, q_pos=r0, flash=flash,
                    out=ov[r0 * dv:], lse=part_lse, scratch=scratch)
        if part_lse is not lse_buf:
            for p in range(batch * heads):
                lse_buf[p * n_q + r0:p * n_q + r0 + rows] = part_lse[p * rows:(p + 1) * rows]
    return (out, lse_buf) if lse else out


def scaled_dot_product_attention(q, k, v, *, dim, batch=1, heads=1, mask=None, causal=False, scale=None,
                                 kernel=None, return_lse=False):
    """softmax(scale * Q K^T + mask) V for batch x heads independent problems, like
    torch.nn.functional.scaled_dot_product_attention over (batch, heads, L, dim) tensors:
    q holds batch x heads x n_q x dim values, k batch x heads x n_k x dim, v batch x heads x
    n_k x dv; returns batch x heads x n_q x dv floats (array.array). causal: query i sees keys
    j <= i (torch's is_causal). scale defaults to 1 / sqrt(dim). return_lse: also the
    batch x heads x n_q log-sum-exps (attention_backward's input).

    >>> scaled_dot_product_attention([0, 0], [1, 0], [2, 4], dim=1).tolist()
    [3.0, 3.0]
    >>> scaled_dot_product_attention([0, 0], [1, 0], [2, 4], dim=1, causal=True).tolist()
    [2.0, 3.0]
    """
    return _sdpa(q, k, v, dim, batch, heads, mask, causal, scale, kernel, False, None, return_lse)


def flash_attention(q, k, v, *, dim, batch=1, heads=1, mask=None, causal=False, scale=None, block=FLASH_BLOCK,
                    kernel=None, return_lse=False):
    """scaled_dot_product_attention in bounded memory: keys and values are packed a tile of 256 at
    a time (scratch fixed by dim and dv whatever the length) and queries are taken `block` rows
    per kernel call. The same bits as scaled_dot_product_attention, for any block.

    >>> flash_attention([0, 0], [1, 0], [2, 4], dim=1, block=1).tolist()
    [3.0, 3.0]
    """
    return _sdpa(q, k, v, dim, batch, heads, mask, causal, scale, kernel, True, block, return_lse)


class AttentionStream:
    """A long query sequence attended chunk by chunk against fixed keys and values (streaming):
    process() takes the next chunk of queries (batch x heads x rows x dim, the rows following
    those of the previous chunk) and returns its output rows; causal positions carry on across
    chunks, and the chunks' outputs are the bits of one call over all the queries.

    >>> s = AttentionStream([1, 0], [2, 4], dim=1, causal=True)
    >>> s.process([1]).tolist(), s.process([0]).tolist()
    ([2.0], [3.0])
    """

    def __init__(self, k, v, *, dim, batch=1, heads=1, causal=False, scale=None, kernel=None):
        self.kernel = kernel or load()
        self.dim, self.batch, self.heads, self.causal = dim, batch, heads, bool(causal)
        _, self.k, self.v, _, self.n_k, self.dv = _problem(self.kernel, [0.0] * (batch * heads * dim), k, v, dim,
                                                           batch, heads)
        self.scale = _scale(scale, dim)
        self.position = 0
        self._scratch = self.kernel.alloc(self.kernel.sdpa_scratch_len(self.n_k, dim, self.dv, flash=True))

    def process(self, q):
        """The output rows (batch x heads x rows x dv) of the next chunk of queries.

        >>> AttentionStream([1, 0], [2, 4], dim=1).process([0, 0]).tolist()
        [3.0, 3.0]
        """
        kern, dim = self.kernel, self.dim
        q = _view(kern, q, "q")
        per = self.batch * self.heads
        if len(q) == 0 or len(q) % (per * dim):
            raise DimensionError(f"q holds {len(q)} values, not batch x heads x rows x dim = {per} x rows x {dim}")
        _finite(kern, q, "q")
        rows = len(q) // (per * dim)
        layout = [dim, self.heads * rows * dim, rows * dim, dim, self.heads * self.n_k * dim, self.n_k * dim,
                  self.dv, self.heads * self.n_k * self.dv, self.n_k * self.dv,
                  self.dv, self.heads * rows * self.dv, rows * self.dv, 0, 0, 0]
        out = kern.sdpa(q, self.k, self.v, batch=self.batch, heads=self.heads, n_q=rows, n_k=self.n_k, d=dim,
                        dv=self.dv, layout=layout, scale=self.scale, causal=self.causal, q_pos=self.position,
                        flash=True, scratch=self._scratch)
        self.position += rows
        return out


def attention_backward(q, k, v, grad_out, *, dim, batch=1, heads=1, mask=None, causal=False, scale=None,
                       kernel=None, flash=False):
    """(dq, dk, dv): the gradients of scaled_dot_product_attention's output (the same arguments)
    against grad_out (its shape), each in its input's shape, as torch autograd gives them.
    The backward runs in blocks of up to 256 queries x 128 keys, P recomputed per block from
    the log-sum-exps, scratch fixed by dim and dv. flash=True: the forward is flash_attention's
    (scratch fixed by dim too; the default's packs K and V once, ~5-10% faster); the same bits
    either way.

    >>> [round(x, 4) for x in attention_backward([1, 0], [1, 0], [2, 4], [1, 1], dim=1)[2]]
    [1.2311, 0.7689]
    >>> [round(x, 4) for x in attention_backward([1, 0], [1, 0], [2, 4], [1, 1], dim=1, flash=True)[2]]
    [1.2311, 0.7689]
    """
    kernel = kernel or load()
    flash, scale = bool(flash), _scale(scale, dim)
    q, k, v, n_q, n_k, dv, fmask, keep, mstr = checked = _checked(kernel, q, k, v, dim, batch, heads, mask)
    g = _view(kernel, grad_out, "grad_out")
    if len(g) != batch * heads * n_q * dv:
        raise DimensionError(f"grad_out holds {len(g)} values, the output has {batch * heads * n_q * dv}")
    _finite(kernel, g, "grad_out")
    # the forward in one call: flash's scratch is fixed whatever the rows, and out and lse are whole anyway
    out, lse = _forward(kernel, *checked, dim, batch, heads, causal, scale, flash, n_q, True)
    return kernel.sdpa_backward(q, k, v, out, g, lse, batch=batch, heads=heads, n_q=n_q, n_k=n_k, d=dim, dv=dv,
                                layout=_layout(n_q, n_k, dim, dv, heads, mstr), scale=scale,
                                mask=fmask, keep=keep, causal=causal, flash=flash)


def local_global_mask(n, *, window, global_tokens=0):
    """A boolean (uint8) n x n keep mask for local-global attention: token i attends keys within
    `window` positions (|i - j| <= window) and the first `global_tokens` tokens, which attend,
    and are attended by, every token. Pass it as `mask=` (built row by row: O(n) Python steps).

    >>> list(local_global_mask(4, window=1, global_tokens=1))
    [1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1]
    """
    for name, x in (("n", n), ("window", window), ("global_tokens", global_tokens)):
        if not isinstance(x, int) or isinstance(x, bool) or x < 0:
            raise ArgumentError(f"{name} must be a non-negative integer, got {x!r}")
    g = min(global_tokens, n)
    rows = []
    for i in range(n):
        if i < g:
            rows.append(b"\1" * n)
            continue
        lo, hi = max(0, i - window), min(n, i + window + 1)
        row = bytearray(n)
        row[lo:hi] = b"\1" * (hi - lo)
        row[:g] = b"\1" * g
        rows.append(bytes(row))
    return bytearray(b"".join(rows))


_TORCH_NAMES = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                "out_proj.weight", "out_proj.bias")


class MultiHeadAttention:
    """torch.nn.MultiheadAttention(embed_dim, heads, batch_first=True) in the kernel: query
    (batch x n_q x embed_dim) attends key (batch x n_k x kdim) and value (batch x n_k x vdim),
    which default to the query (self-attention); give them for cross attention. Projections
    are kernel GEMMs over weights packed once; load torch's weights with load_state_dict (its
    state_dict names). backward() returns the gradients of the last forward(). flash=True runs
    the forward in key tiles with scratch fixed by the head dim (flash_attention's) and the
    backward (always blocked, attention_backward's) needs no n_q x n_k floats either way; the
    same bits as flash=False.

    >>> mha = MultiHeadAttention(2, 1)
    >>> mha.load_state_dict({"in_proj_weight": [1, 0, 0, 1] * 3, "out_proj.weight": [1, 0, 0, 1]})
    >>> [round(x, 3) for x in mha.forward([1, 0, 0, 1])]
    [0.67, 0.33, 0.33, 0.67]
    """

    def __init__(self, embed_dim, heads, *, kdim=None, vdim=None, bias=True, flash=False, kernel=None):
        for name, x in (("embed_dim", embed_dim), ("heads", heads)):
            if not isinstance(x, int) or isinstance(x, bool) or x < 1:
                raise DimensionError(f"{name} must be a positive integer, got {x!r}")
        if embed_dim % heads:
            raise ArgumentError(f"embed_dim {embed_dim} is not divisible by heads {heads}")
        self.kernel = kernel or load()
        self.embed_dim, self.heads, self.head_dim = embed_dim, heads, embed_dim // heads
        self.kdim, self.vdim, self.bias = kdim or embed_dim, vdim or embed_dim, bool(bias)
        self.flash = bool(flash)
        e = embed_dim
        self.weights = {"q": new_array("f", e * e), "k": new_array("f", e * self.kdim),
                        "v": new_array("f", e * self.vdim), "o": new_array("f", e * e)}
        self.biases = {n: new_array("f", e) for n in "qkvo"} if self.bias else {}
        self._pack()
        self._cache = None

    def _in_dim(self, name):
        return {"q": self.embed_dim, "k": self.kdim, "v": self.vdim, "o": self.embed_dim}[name]

    def _pack(self):
        kern = self.kernel
        self._packed = {n: kern.pack_gemm(w, k=self._in_dim(n), n=self.embed_dim, transposed=True)
                        for n, w in self.weights.items()}
        self._packed_back = {n: kern.pack_gemm(w, k=self.embed_dim, n=self._in_dim(n))
                             for n, w in self.weights.items()}

    def load_state_dict(self, state):
        """Copies weights given under torch.nn.MultiheadAttention's state_dict names (flat
        buffers or numpy arrays): in_proj_weight (3E x E) or q/k/v_proj_weight, in_proj_bias,
        out_proj.weight, out_proj.bias. Names not given keep their values.

        >>> MultiHeadAttention(2, 2).load_state_dict({"out_proj.bias": [0.5, 0.5]})
        """
        unknown = set(state) - set(_TORCH_NAMES)
        if unknown:
            raise ArgumentError(f"unknown weight names {sorted(unknown)}: expected some of {list(_TORCH_NAMES)}")
        e = self.embed_dim

        def put(table, name, src, length, label):
            data = as_view(src, "f", name=label)
            if len(data) != length:
                raise DimensionError(f"{label} holds {len(data)} values, {length} expected")
            _finite(self.kernel, data, label)
            table[name] = array.array("f", data.tobytes())

        if "in_proj_weight" in state:
            if self.kdim != e or self.vdim != e:
                raise ArgumentError("in_proj_weight needs kdim == vdim == embed_dim; give q/k/v_proj_weight")
            w = as_view(state["in_proj_weight"], "f", name="in_proj_weight")
            if len(w) != 3 * e * e:
                raise DimensionError(f"in_proj_weight holds {len(w)} values, {3 * e * e} expected")
            for i, n in enumerate("qkv"):
                put(self.weights, n, w[i * e * e:(i + 1) * e * e], e * e, "in_proj_weight")
        for n in "qkv":
            if f"{n}_proj_weight" in state:
                put(self.weights, n, state[f"{n}_proj_weight"], e * self._in_dim(n), f"{n}_proj_weight")
        if "out_proj.weight" in state:
            put(self.weights, "o", state["out_proj.weight"], e * e, "out_proj.weight")
        if not self.bias and ("in_proj_bias" in state or "out_proj.bias" in state):
            raise ArgumentError("this layer was built with bias=False")
        if "in_proj_bias" in state:
            b = as_view(state["in_proj_bias"], "f", name="in_proj_bias")
            if len(b) != 3 * e:
                raise DimensionError(f"in_proj_bias holds {len(b)} values, {3 * e} expected")
            for i, n in enumerate("qkv"):
                put(self.biases, n, b[i * e:(i + 1) * e], e, "in_proj_bias")
        if "out_proj.bias" in state:
            put(self.biases, "o", state["out_proj.bias"], e, "out_proj.bias")
        self._pack()

    def _project(self, name, x, rows):
        return self.kernel.gemm(x, self._packed[name], k=self._in_dim(name), n=self.embed_dim,
                                bias=self.biases.get(name))

    def _masks(self, mask, key_padding_mask, batch, n_q, n_k):
        """One float or keep mask over (batch, n_q, n_k) from torch MHA's attn_mask (bool: true =
        NOT allowed) and key_padding_mask (batch x n_k, true = ignore)."""
        fmask, keep = _mask_view(self.kernel, mask, "mask")
        if keep is not None:
            if len(keep) != n_q * n_k:
                raise DimensionError(f"mask holds {len(keep)} values, n_q x n_k = {n_q * n_k} expected")
            keep = memoryview(bytes(keep).translate(_FLIP))
        elif fmask is not None and len(fmask) != n_q * n_k:
            raise DimensionError(f"mask holds {len(fmask)} values, n_q x n_k = {n_q * n_k} expected")
        if key_padding_mask is None:
            return fmask, keep, [n_k, 0, 0]
        pad = key_padding_mask
        pad = bytes(pad) if isinstance(pad, (list, tuple)) else memoryview(pad).cast("B").tobytes()
        if len(pad) != batch * n_k:
            raise DimensionError(f"key_padding_mask holds {len(pad)} values, batch x n_k = {batch * n_k} expected")
        pad = pad.translate(_FLIP)
        rows = b"".join(pad[b * n_k:(b + 1) * n_k] * n_q for b in range(batch))
        if keep is not None:
            both = bytes(x & y for x, y in zip(rows, bytes(keep) * batch))
            return None, memoryview(both), [n_k, n_q * n_k, 0]
        if fmask is not None:
            fm = array.array("f", fmask.tobytes()) * batch
            return memoryview(fm), memoryview(rows), [n_k, n_q * n_k, 0]
        return None, memoryview(rows), [n_k, n_q * n_k, 0]

    def forward(self, query, key=None, value=None, *, batch=1, mask=None, key_padding_mask=None, causal=False):
        """The attention output (batch x n_q x embed_dim, array.array): torch's
        MultiheadAttention(query, key, value, attn_mask=mask, key_padding_mask=...,
        is_causal=causal)[0] with batch_first=True and average_attn_weights unused.

        >>> MultiHeadAttention(2, 1).forward([1, 2]).tolist()
        [0.0, 0.0]
        """
        kern, e, h, hd = self.kernel, self.embed_dim, self.heads, self.head_dim
        key = query if key is None else key
        value = key if value is None else value
        xs, checked = {}, []
        for name, given, width in (("q", query, e), ("k", key, self.kdim), ("v", value, self.vdim)):
            x = _view(kern, given, name)
            if len(x) == 0 or len(x) % (batch * width):
                raise DimensionError(f"{name} input holds {len(x)} values, not batch x length x {width}")
            if not any(given is c for c in checked):   # self-attention: one input, one scan
                _finite(kern, x, name)
                checked.append(given)
            xs[name] = x
        n_q, n_k = len(xs["q"]) // (batch * e), len(xs["k"]) // (batch * self.kdim)
        if len(xs["v"]) != batch * n_k * self.vdim:
            raise DimensionError(f"value holds {len(xs['v'])} values, batch x {n_k} x {self.vdim} expected")
        proj = {n: self._project(n, xs[n], 0) for n in "qkv"}
        fmask, keep, mstr = self._masks(mask, key_padding_mask, batch, n_q, n_k)
        layout = [e, n_q * e, hd, e, n_k * e, hd, e, n_k * e, hd, e, n_q * e, hd, *mstr]
        ctx, lse = new_array("f", batch * n_q * e), new_array("f", batch * h * n_q)
        kern.sdpa(proj["q"], proj["k"], proj["v"], batch=batch, heads=h, n_q=n_q, n_k=n_k, d=hd, dv=hd,
                  layout=layout, scale=1.0 / math.sqrt(hd), mask=fmask, keep=keep, causal=causal, flash=self.flash,
                  out=ctx, lse=lse)
        out = kern.gemm(ctx, self._packed["o"], k=e, n=e, bias=self.biases.get("o"))
        self._cache = (xs, proj, ctx, lse, layout, fmask, keep, causal, batch, n_q, n_k)
        return out

    def backward(self, grad_out):
        """Gradients of the last forward() against grad_out (its output's shape): a dict of
        'query', 'key', 'value' (each input's shape; for self-attention add the three) and
        torch's weight names ('q_proj_weight', 'k_proj_weight', 'v_proj_weight', 'in_proj_bias'
        when biased, 'out_proj.weight', 'out_proj.bias').

        >>> mha = MultiHeadAttention(2, 1)
        >>> _ = mha.forward([1, 2])
        >>> mha.backward([1, 1])["out_proj.bias"].tolist()
        [1.0, 1.0]
        """
        if self._cache is None:
            raise ArgumentError("backward() needs a forward() first")
        xs, proj, ctx, lse, layout, fmask, keep, causal, batch, n_q, n_k = self._cache
        kern, e, h, hd = self.kernel, self.embed_dim, self.heads, self.head_dim
        g = _view(kern, grad_out, "grad_out")
        if len(g) != batch * n_q * e:
            raise DimensionError(f"grad_out holds {len(g)} values, {batch * n_q * e} expected")
        _finite(kern, g, "grad_out")
        rows = {"q": batch * n_q, "k": batch * n_k, "v": batch * n_k}
        grads = {"out_proj.weight": kern.matmul(g, ctx, m=e, k=rows["q"], n=e, trans_a=True)}
        if self.bias:
            grads["out_proj.bias"] = kern.sum_rows(g, dim=e)
        dctx = kern.gemm(g, self._packed_back["o"], k=e, n=e)
        dq, dk, dv = kern.sdpa_backward(proj["q"], proj["k"], proj["v"], ctx, dctx, lse, batch=batch, heads=h,
                                        n_q=n_q, n_k=n_k, d=hd, dv=hd, layout=layout, scale=1.0 / math.sqrt(hd),
                                        mask=fmask, keep=keep, causal=causal, flash=self.flash)
        dproj = {"q": dq, "k": dk, "v": dv}
        bias_grads = []
        for n, label in (("q", "query"), ("k", "key"), ("v", "value")):
            width = self._in_dim(n)
            grads[label] = kern.gemm(dproj[n], self._packed_back[n], k=e, n=width)
            grads[f"{n}_proj_weight"] = kern.matmul(dproj[n], xs[n], m=e, k=rows[n], n=width, trans_a=True)
            if self.bias:
                bias_grads.append(kern.sum_rows(dproj[n], dim=e))
        if self.bias:
            grads["in_proj_bias"] = bias_grads[0] + bias_grads[1] + bias_grads[2]
        return grads


_FLIP = bytes([1] + [0] * 255)   # torch MHA's masks mean true = masked; the kernel's keep means true = attend
