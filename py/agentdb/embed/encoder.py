"""A BERT encoder's forward pass in the kernel: the sentence embedding of MiniLM and its kin.

Per batch, every sequence's tokens are packed one after another with no padding (sequence s
is rows offsets[s] .. offsets[s+1]-1 of each token matrix), so a short text costs its own
tokens only and nothing needs masking: attention never looks outside a sequence.

    x   = LayerNorm(word[id] + (position[p] + token_type[0]))
    per layer:
        qkv = x Wqkv + b            (Q, K and V fused: one GEMM of width 3 x hidden)
        x   = LayerNorm(x + attention(qkv) Wo + bo)
        x   = LayerNorm(x + GELU(x Wi + bi) Wo2 + bo2)
    out = unit-length mean of each sequence's rows

Every step is a kernel call whose arithmetic has one fixed order (see agentdb_kernel.h,
"dense layers"), so native and wasm give the same bits. Weights are Hugging Face BERT
names; a Linear may come as float32, or as int8 with per-output-channel scales
(`<name>.weight` I8 [out, in] and `<name>.weight_scale` F32 [out], see quantize.py).
"""
import array
from dataclasses import dataclass

from ..errors import ArgumentError, CorruptFileError, DimensionError
from ..kernel import load


@dataclass(frozen=True)
class BertConfig:
    """The shape of a BERT encoder (the fields of a Hugging Face config.json we use)."""
    hidden: int = 384
    heads: int = 12
    layers: int = 6
    intermediate: int = 1536
    max_positions: int = 512
    vocab: int = 30522
    type_vocab: int = 2
    eps: float = 1e-12

    @classmethod
    def from_json(cls, cfg):
        """From a parsed config.json; only BERT with GELU (erf form) and absolute positions."""
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise CorruptFileError(f"the encoder runs GELU (erf form), config says {cfg.get('hidden_act')!r}", 0)
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            raise CorruptFileError("the encoder runs absolute position embeddings only", 0)
        made = cls(hidden=cfg["hidden_size"], heads=cfg["num_attention_heads"], layers=cfg["num_hidden_layers"],
                   intermediate=cfg["intermediate_size"], max_positions=cfg["max_position_embeddings"],
                   vocab=cfg["vocab_size"], type_vocab=cfg.get("type_vocab_size", 2), eps=float(cfg.get("layer_norm_eps", 1e-12)))
        if made.hidden % made.heads:
            raise CorruptFileError(f"hidden size {made.hidden} is not a multiple of {made.heads} heads", 0)
        return made


def _tensor(weights, name, shape, dtypes=("F32",)):
    try:
        t = weights[name]
    except KeyError:
        raise CorruptFileError(f"the model has no tensor {name!r}", 0) from None
    if t.dtype not in dtypes or tuple(t.shape) != tuple(shape):
        raise CorruptFileError(f"tensor {name!r} is {t.dtype}{list(t.shape)}, expected "
                               f"{'/'.join(dtypes)}{list(shape)}", 0)
    return t


class _Linear:
    """y = act(x W^T + b) for a torch Linear (weight [out, in]), packed once for the kernel's
    GEMM; several Linears of one input may be fused (their outputs side by side)."""

    def __init__(self, kernel, weights, names, n_in):
        self.k, self.n_in = kernel, n_in
        first = weights.get(names[0] + ".weight")
        self.int8 = first is not None and first.dtype == "I8"
        parts, scales, biases = [], [], []
        for name in names:
            w = weights.get(name + ".weight")
            out_n = w.shape[0] if w is not None and len(w.shape) == 2 else -1
            parts.append(_tensor(weights, name + ".weight", (out_n, n_in), ("I8",) if self.int8 else ("F32",)))
            biases.append(bytes(_tensor(weights, name + ".bias", (out_n,)).data))
            if self.int8:
                scales.append(bytes(_tensor(weights, name + ".weight_scale", (out_n,)).data))
        self.n_out = sum(part.shape[0] for part in parts)
        fmt = "b" if self.int8 else "f"
        rows = kernel.alloc(self.n_out * n_in, fmt, filled_soon=True)
        at = 0
        for part in parts:        # straight from the weights' buffer: no copy of the matrix in Python
            rows.write(part.data.cast(fmt), start=at)
            at += part.shape[0] * n_in
        self.w = kernel.pack_gemm(rows, k=n_in, n=self.n_out, transposed=True,
                                  out=kernel.alloc(kernel.gemm_packed_len(n_in, self.n_out), fmt))
        self.bias = self._buffer(b"".join(biases))
        self.scale = self._buffer(b"".join(scales)) if self.int8 else None

    def _buffer(self, raw):
        buf = self.k.alloc(len(raw) // 4, filled_soon=True)
        buf.write(memoryview(raw).cast("f"))
        return buf

    def __call__(self, x, out, act=None):
        if self.int8:
            return self.k.gemm_i8(x, self.w, self.scale, k=self.n_in, n=self.n_out, bias=self.bias, act=act, out=out)
        return self.k.gemm(x, self.w, k=self.n_in, n=self.n_out, bias=self.bias, act=act, out=out)


class _Norm:
    def __init__(self, kernel, weights, prefix, dim, eps):
        self.k, self.dim, self.eps = kernel, dim, eps
        self.gamma, self.beta = (kernel.alloc(dim, filled_soon=True) for _ in range(2))
        self.gamma.write(_tensor(weights, prefix + ".weight", (dim,)).data.cast("f"))
        self.beta.write(_tensor(weights, prefix + ".bias", (dim,)).data.cast("f"))

    def __call__(self, x, residual, out):
        """out = LayerNorm(x + residual)."""
        return self.k.layer_norm_rows(x, dim=self.dim, gamma=self.gamma, beta=self.beta, eps=self.eps,
                                      residual=residual, out=out)


class _Layer:
    def __init__(self, kernel, weights, i, cfg):
        p = f"encoder.layer.{i}."
        h = cfg.hidden
        self.qkv = _Linear(kernel, weights, [p + "attention.self." + n for n in ("query", "key", "value")], h)
        self.attn_out = _Linear(kernel, weights, [p + "attention.output.dense"], h)
        self.attn_norm = _Norm(kernel, weights, p + "attention.output.LayerNorm", h, cfg.eps)
        self.up = _Linear(kernel, weights, [p + "intermediate.dense"], h)
        self.down = _Linear(kernel, weights, [p + "output.dense"], cfg.intermediate)
        self.out_norm = _Norm(kernel, weights, p + "output.LayerNorm", h, cfg.eps)


class _Workspace:
    """Token matrices for batches of up to `tokens` tokens, reused from batch to batch."""

    def __init__(self, kernel, cfg, tokens):
        self.tokens = tokens
        h = cfg.hidden
        self.x, self.tmp, self.ctx = (kernel.alloc(tokens * h) for _ in range(3))
        self.qkv = kernel.alloc(tokens * 3 * h)
        self.inter = kernel.alloc(tokens * cfg.intermediate)
        self.scratch = kernel.alloc(kernel.attention_scratch_len(cfg.max_positions, h // cfg.heads))


class BertEncoder:
    """Sentence embeddings from a BERT encoder's weights (an agentdb.safetensors mapping).

    encode(id lists) -> unit-length float32 rows, one per sequence, row-major in one array.
    Each id list is a whole tokenized sequence ([CLS] ... [SEP]), at most max_positions long.
    """

    def __init__(self, weights, config=None, *, kernel=None):
        self.k = kernel if kernel is not None else load()
        self.cfg = cfg = config or BertConfig()
        h = cfg.hidden
        # token rows stay in the weights' own buffer; positions and the one token type are
        # summed once, then added to each gathered row by the embedding LayerNorm
        self._words = _tensor(weights, "embeddings.word_embeddings.weight", (cfg.vocab, h)).data
        positions = _tensor(weights, "embeddings.position_embeddings.weight", (cfg.max_positions, h)).data
        token_type = _tensor(weights, "embeddings.token_type_embeddings.weight", (cfg.type_vocab, h)).data
        self._positions = self.k.add(positions.cast("f"), memoryview(bytes(token_type[:4 * h]) * cfg.max_positions)
                                     .cast("f")).tobytes()
        self.embed_norm = _Norm(self.k, weights, "embeddings.LayerNorm", h, cfg.eps)
        self.layers = [_Layer(self.k, weights, i, cfg) for i in range(cfg.layers)]
        self.int8 = self.layers[0].qkv.int8
        self._work = None

    def _workspace(self, tokens):
        if self._work is None or self._work.tokens < tokens:
            self._work = _Workspace(self.k, self.cfg, max(tokens, 512))
        return self._work

    def encode(self, sequences):
        """One unit-length row of `hidden` floats per id list (array of n x hidden)."""
        cfg, k, h = self.cfg, self.k, self.cfg.hidden
        offsets = array.array("I", [0])
        for i, ids in enumerate(sequences):
            if not 1 <= len(ids) <= cfg.max_positions:
                raise DimensionError(f"sequence {i} has {len(ids)} tokens: 1..{cfg.max_positions} expected")
            offsets.append(offsets[-1] + len(ids))
        n = offsets[-1]
        w = self._workspace(n)
        x, tmp, ctx, qkv, inter = (b.head(n * width) for b, width in
                                   ((w.x, h), (w.tmp, h), (w.ctx, h), (w.qkv, 3 * h), (w.inter, cfg.intermediate)))
        if not all(isinstance(t, int) and 0 <= t < cfg.vocab for ids in sequences for t in ids):
            raise ArgumentError(f"token ids must be integers in 0..{cfg.vocab - 1}")
        row = 4 * h
        words, positions = self._words, self._positions
        tmp.write(memoryview(b"".join(words[t * row:(t + 1) * row] for ids in sequences for t in ids)).cast("f"))
        ctx.write(memoryview(b"".join(positions[:len(ids) * row] for ids in sequences)).cast("f"))
        self.embed_norm(tmp, ctx, out=x)
        for layer in self.layers:
            layer.qkv(x, qkv)
            k.attention(qkv, offsets, heads=cfg.heads, head_dim=h // cfg.heads, out=ctx, scratch=w.scratch)
            layer.attn_out(ctx, tmp)
            layer.attn_norm(tmp, x, out=x)
            layer.up(x, inter, act="gelu")
            layer.down(inter, tmp)
            layer.out_norm(tmp, x, out=x)
        return k.mean_pool(x, offsets, dim=h, normalize=True)
