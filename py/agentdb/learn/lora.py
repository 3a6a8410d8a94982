"""LoRA adapters: a low-rank update delta = scaling * (x @ A @ B) of a frozen base map, with
scaling = alpha / rank (Hu et al. 2021, as PEFT does it). A (in_dim x rank) starts uniform in
+-1/sqrt(in_dim) (PEFT's kaiming_uniform(a=sqrt 5) bound) from an integer PRNG, so a seed gives
the same bits natively and in the browser; B (rank x out_dim) starts at zero, so a new adapter
changes nothing. Every product runs in kernel.matmul; weights are float32 array.array buffers
that optimizers (agentdb.learn.optim) update in place.
"""

import array
import base64
import json
import itertools
import math
import sys
from typing import NamedTuple

from ..errors import ArgumentError, DimensionError, OptionError, UnknownIdError
from ..kernel import load
from ..kernel.buffers import KBuffer, as_view, new_array
from .rng import SplitMix64

FORMAT, VERSION = "agentdb.lora", 1


def uniform_f32(seed, count, bound):
    """count float32 values uniform in [-bound, bound) from splitmix64(seed): integer maths
    and one correctly rounded double product each, so every platform gives the same bits.

    >>> uniform_f32(0, 2, 1.0).tolist() == uniform_f32(0, 2, 1.0).tolist()
    True
    """
    rng, out = SplitMix64(seed), zeros_f32(count)
    for i in range(count):
        out[i] = (rng.next() >> 40) * 2.0 ** -23 * bound - bound   # 24 bits -> [0, 2) * bound
    return out


def f32_view(x, name, length=None):
    """x as a flat float32 buffer (a KBuffer passes through), of `length` values when given."""
    view = x if isinstance(x, KBuffer) else as_view(x, "f", name=name)
    if length is not None and len(view) != length:
        raise DimensionError(f"{name} holds {len(view)} values, {length} expected")
    return view


def as_rows(kernel, x, dim, name):
    """(flat float32 view, row count) of x: a buffer, a numpy array or nested lists of rows of
    `dim` values; NonFiniteError names a NaN or infinity.

    >>> from agentdb.kernel import load
    >>> view, n = as_rows(load(), [[1, 2], [3, 4]], 2, "x")
    >>> n, view.tolist()
    (2, [1.0, 2.0, 3.0, 4.0])
    """
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise DimensionError(f"dim must be a positive integer, got {dim!r}")
    dtype = getattr(x, "dtype", None)
    if dtype is not None and (dtype.kind != "f" or dtype.itemsize != 4):
        x = x.astype("float32")                  # numpy float64 or ints, without importing numpy
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], (list, tuple, array.array)):
        x = array.array("f", itertools.chain.from_iterable(x))
    view = f32_view(x, name)
    if len(view) % dim:
        raise DimensionError(f"{name} holds {len(view)} values, not rows of dimension {dim}")
    n = len(view) // dim
    kernel.check_finite(view, name=name, dim=dim)
    return view, n


def copy_f32(x):
    """A float32 array.array copy of a buffer (one memcpy, not a per-element loop)."""
    if isinstance(x, KBuffer):
        return x.read()
    out = array.array("f")
    out.frombytes(as_view(x, "f", name="buffer").cast("B"))
    return out


def encode_f32(x):
    """The little-endian bytes of a float32 buffer as base64 text (exact: a round trip keeps
    every bit, NaN payloads included).

    >>> encode_f32(array.array("f", [1.0]))
    'AACAPw=='
    """
    data = copy_f32(x)
    if sys.byteorder != "little":
        data.byteswap()
    return base64.b64encode(data.tobytes()).decode("ascii")


def decode_f32(text, length, name):
    """The float32 array.array of encode_f32's text, which must hold exactly `length` values."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{name}: not base64 float32 data ({exc})") from None
    if len(raw) != 4 * length:
        raise DimensionError(f"{name}: {len(raw)} bytes, {4 * length} expected ({length} float32)")
    out = array.array("f")
    out.frombytes(raw)
    if sys.byteorder != "little":
        out.byteswap()
    return out


def zeros_f32(length):
    """A zero-filled float32 array.array.

    >>> zeros_f32(2).tolist()
    [0.0, 0.0]
    """
    return new_array("f", length)


def read_document(text, fmt, version, keys):
    """The values of `keys` in a JSON text whose "format" and "version" are fmt and version
    (ArgumentError for anything else).

    >>> read_document('{"format": "x", "version": 1, "n": 2}', "x", 1, ("n",))
    [2]
    """
    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"not a {fmt} JSON document: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt or doc.get("version") != version:
        raise ArgumentError(f"not a {fmt} version {version} document")
    missing = [key for key in keys if key not in doc]
    if missing:
        raise ArgumentError(f"{fmt} document lacks {missing}")
    return [doc[key] for key in keys]


def _positive_int(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DimensionError(f"{name} must be a positive integer, got {value!r}")
    return value


class LoRAGrads(NamedTuple):
    """What LoRA.backward returns: the gradients of A (in_dim x rank), of B (rank x out_dim)
    and of the input rows (n x in_dim), float32, row-major."""
    a: array.array
    b: array.array
    x: array.array


class LoRA:
    """A rank-`rank` adapter from in_dim to out_dim: forward(x) = alpha/rank * x @ A @ B.

    >>> lora = LoRA(3, 2, rank=1, alpha=2)
    >>> lora.forward([1, 2, 3]).tolist()          # B starts at zero
    [0.0, 0.0]
    >>> lora.b[:] = array.array("f", [1, 1]); round(lora.forward([1, 0, 0])[0] / lora.a[0], 6)
    2.0
    """

    def __init__(self, in_dim, out_dim, *, rank=8, alpha=16, seed=0, kernel=None):
        self.in_dim, self.out_dim = _positive_int(in_dim, "in_dim"), _positive_int(out_dim, "out_dim")
        self.rank = _positive_int(rank, "rank")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0:
            raise OptionError(f"alpha must be a positive finite number, got {alpha!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise OptionError(f"seed must be a non-negative integer, got {seed!r}")
        self.alpha, self.seed = float(alpha), seed
        self.kernel = kernel if kernel is not None else load()
        self.a = uniform_f32(seed, in_dim * rank, 1.0 / math.sqrt(in_dim))
        self.b = zeros_f32(rank * out_dim)
        self.grad_a = zeros_f32(len(self.a))
        self.grad_b = zeros_f32(len(self.b))
        self.frozen = False

    @classmethod
    def micro(cls, dim, *, rank=1, alpha=1.0, seed=0, kernel=None):
        """A micro-LoRA: a square rank-1 or rank-2 adapter cheap enough to apply per request
        (forward(x, residual=True) is three kernel calls on one vector).

        >>> m = LoRA.micro(4); m.forward([1, 2, 3, 4], residual=True).tolist()
        [1.0, 2.0, 3.0, 4.0]
        """
        if rank not in (1, 2):
            raise OptionError(f"a micro-LoRA has rank 1 or 2, got {rank!r}")
        return cls(dim, dim, rank=rank, alpha=alpha, seed=seed, kernel=kernel)

    @property
    def scaling(self):
        """alpha / rank: the factor on x @ A @ B.

        >>> LoRA(4, 4, rank=8, alpha=16).scaling
        2.0
        """
        return self.alpha / self.rank

    @property
    def params(self):
        """[A, B]: the trainable buffers (empty while frozen), in the order of `grads`.

        >>> len(LoRA(2, 2, rank=1).params)
        2
        """
        return [] if self.frozen else [self.a, self.b]

    @property
    def grads(self):
        """[dA, dB] from the last backward (empty while frozen), aligned with `params`.

        >>> [len(g) for g in LoRA(3, 2, rank=1).grads]
        [3, 2]
        """
        return [] if self.frozen else [self.grad_a, self.grad_b]

    @property
    def num_parameters(self):
        """rank * (in_dim + out_dim).

        >>> LoRA(384, 384, rank=8).num_parameters
        6144
        """
        return len(self.a) + len(self.b)

    def freeze(self):
        """Stops training: params and grads become empty and backward only returns the input
        gradient; forward is unchanged.

        >>> lora = LoRA(2, 2, rank=1); lora.freeze(); lora.frozen, lora.params
        (True, [])
        """
        self.frozen = True

    def unfreeze(self):
        """Makes A and B trainable again.

        >>> lora = LoRA(2, 2, rank=1); lora.freeze(); lora.unfreeze(); lora.frozen
        False
        """
        self.frozen = False

    def _rows(self, x, n, width, name):
        _positive_int(n, "n")
        return f32_view(x, name, n * width)

    def forward_batch(self, x, n, *, residual=False):
        """The deltas of n input rows (x: n x in_dim, row-major) as n x out_dim float32;
        residual=True adds the input (x + delta, for a square adapter).

        >>> LoRA(2, 3, rank=1).forward_batch([1, 2, 3, 4], 2).tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        """
        k = self.kernel
        x = self._rows(x, n, self.in_dim, "x")
        if residual and self.in_dim != self.out_dim:
            raise DimensionError(f"residual=True needs in_dim == out_dim, got {self.in_dim} and {self.out_dim}")
        h = k.matmul(x, self.a, m=n, k=self.in_dim, n=self.rank)
        y = k.matmul(h, self.b, m=n, k=self.rank, n=self.out_dim)
        return k.axpy(self.scaling, y, x) if residual else k.scale(y, self.scaling, out=y)

    def forward(self, x, *, residual=False):
        """The delta of one input vector (in_dim values): out_dim float32 values.

        >>> LoRA(3, 3, rank=2).forward([1, 0, 0], residual=True).tolist()
        [1.0, 0.0, 0.0]
        """
        return self.forward_batch(x, 1, residual=residual)

    def backward(self, x, grad_out, *, n=None):
        """Gradients for the n input rows x (n x in_dim) given grad_out = dL/d(delta)
        (n x out_dim): dB = s H^T G, dA = s X^T (G B^T), dX = s G B^T A^T with H = X A and
        s = scaling. dA and dB overwrite `grads` (not accumulated; empty while frozen);
        returns LoRAGrads(a, b, x). n defaults to len(x) / in_dim.

        >>> lora = LoRA(2, 1, rank=1)
        >>> g = lora.backward([1, 2], [1]); abs(g.b[0] - lora.scaling * (lora.a[0] + 2 * lora.a[1])) < 1e-6
        True
        """
        k, r, s = self.kernel, self.rank, self.scaling
        x = f32_view(x, "x")
        n = len(x) // self.in_dim if n is None else n
        x = self._rows(x, n, self.in_dim, "x")
        g = self._rows(grad_out, n, self.out_dim, "grad_out")
        gh = k.matmul(g, self.b, m=n, k=self.out_dim, n=r, trans_b=True)
        k.scale(gh, s, out=gh)                                   # dL/dH, n x rank
        gx = k.matmul(gh, self.a, m=n, k=r, n=self.in_dim, trans_b=True)
        if self.frozen:
            return LoRAGrads(array.array("f"), array.array("f"), gx)
        h = k.matmul(x, self.a, m=n, k=self.in_dim, n=r)
        k.matmul(h, g, m=r, k=n, n=self.out_dim, trans_a=True, out=self.grad_b)
        k.scale(self.grad_b, s, out=self.grad_b)
        k.matmul(x, gh, m=self.in_dim, k=n, n=r, trans_a=True, out=self.grad_a)
        return LoRAGrads(self.grad_a, self.grad_b, gx)

    def delta_weight(self, *, transposed=False):
        """scaling * A @ B (in_dim x out_dim), or its transpose (out_dim x in_dim, a torch
        Linear weight's layout) with transposed=True.

        >>> LoRA(2, 3, rank=1).delta_weight().tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        """
        k, r = self.kernel, self.rank
        if transposed:
            d = k.matmul(self.b, self.a, m=self.out_dim, k=r, n=self.in_dim, trans_a=True, trans_b=True)
        else:
            d = k.matmul(self.a, self.b, m=self.in_dim, k=r, n=self.out_dim)
        return k.scale(d, self.scaling, out=d)

    def merge(self, base, *, transposed=False):
        """base + scaling * A @ B: the weight that computes base's map plus this adapter in
        one product. base is in_dim x out_dim (x @ W), or out_dim x in_dim with
        transposed=True (torch's W @ x layout); the adapter itself is unchanged.

        >>> LoRA(2, 2, rank=1).merge([1, 0, 0, 1]).tolist()
        [1.0, 0.0, 0.0, 1.0]
        """
        base = f32_view(base, "base", self.in_dim * self.out_dim)
        d = self.delta_weight(transposed=transposed)
        return self.kernel.add(base, d, out=d)

    def clone(self):
        """An independent copy (weights, config and frozen state; grads start at zero).

        >>> lora = LoRA(2, 2, rank=1); twin = lora.clone(); twin.b[0] = 1.0; lora.b[0]
        0.0
        """
        twin = LoRA.__new__(LoRA)
        twin.__dict__.update(self.__dict__)
        twin.a, twin.b = array.array("f", self.a), array.array("f", self.b)
        twin.grad_a = zeros_f32(len(self.a))
        twin.grad_b = zeros_f32(len(self.b))
        return twin

    def to_json(self):
        """A JSON text of the config and the exact float32 bits of A and B (base64 of their
        little-endian bytes).

        >>> LoRA.from_json(LoRA(3, 2, rank=1, seed=7).to_json()).a == LoRA(3, 2, rank=1, seed=7).a
        True
        """
        return json.dumps({"format": FORMAT, "version": VERSION, "in_dim": self.in_dim, "out_dim": self.out_dim,
                           "rank": self.rank, "alpha": self.alpha, "seed": self.seed, "frozen": self.frozen,
                           "a": encode_f32(self.a), "b": encode_f32(self.b)})

    @classmethod
    def from_json(cls, text, *, kernel=None):
        """The adapter to_json wrote (bit for bit).

        >>> LoRA.from_json(LoRA(2, 2, rank=1).to_json()).rank
        1
        """
        in_dim, out_dim, rank, alpha, seed, a, b, frozen = read_document(
            text, FORMAT, VERSION, ("in_dim", "out_dim", "rank", "alpha", "seed", "a", "b", "frozen"))
        lora = cls(in_dim, out_dim, rank=rank, alpha=alpha, seed=seed, kernel=kernel)
        lora.a = decode_f32(a, len(lora.a), "a")
        lora.b = decode_f32(b, len(lora.b), "b")
        lora.frozen = bool(frozen)
        return lora


class LoRAManager:
    """Named adapters, at most one active: what per-agent or per-request adapters live in.

    >>> mgr = LoRAManager(); _ = mgr.create("q", 4, 4, rank=1); mgr.activate("q")
    >>> mgr.active, mgr.list()
    ('q', ['q'])
    """

    def __init__(self, *, kernel=None):
        self.kernel = kernel if kernel is not None else load()
        self._adapters, self._active = {}, None

    def create(self, name, in_dim, out_dim, **options):
        """A new LoRA(in_dim, out_dim, **options) registered under `name` (and returned).

        >>> LoRAManager().create("a", 8, 8, rank=2).rank
        2
        """
        return self.add(name, LoRA(in_dim, out_dim, kernel=self.kernel, **options))

    def add(self, name, adapter):
        """Registers an existing adapter (e.g. from LoRA.from_json) under a new name.

        >>> LoRAManager().add("a", LoRA(2, 2, rank=1)).in_dim
        2
        """
        if not isinstance(name, str) or not name:
            raise ArgumentError(f"an adapter name is a non-empty string, got {name!r}")
        if name in self._adapters:
            raise ArgumentError(f"an adapter named {name!r} exists already; remove it first")
        if not isinstance(adapter, LoRA):
            raise ArgumentError(f"expected a LoRA, got {type(adapter).__name__}")
        self._adapters[name] = adapter
        return adapter

    def get(self, name):
        """The adapter named `name` (UnknownIdError if there is none).

        >>> mgr = LoRAManager(); _ = mgr.create("a", 2, 2, rank=1); mgr.get("a").out_dim
        2
        """
        try:
            return self._adapters[name]
        except (KeyError, TypeError):
            raise UnknownIdError(f"no adapter named {name!r}; have {self.list()}") from None

    def remove(self, name):
        """Removes an adapter (deactivating it if active) and returns it.

        >>> mgr = LoRAManager(); _ = mgr.create("a", 2, 2, rank=1); _ = mgr.remove("a"); mgr.list()
        []
        """
        adapter = self.get(name)
        del self._adapters[name]
        if self._active == name:
            self._active = None
        return adapter

    def activate(self, name):
        """Makes `name` the adapter forward() applies.

        >>> mgr = LoRAManager(); _ = mgr.create("a", 2, 2, rank=1); mgr.activate("a"); mgr.active
        'a'
        """
        self.get(name)
        self._active = name

    def deactivate(self):
        """No adapter is active afterwards: forward() returns its input.

        >>> mgr = LoRAManager(); mgr.deactivate(); mgr.active is None
        True
        """
        self._active = None

    @property
    def active(self):
        """The active adapter's name, or None.

        >>> LoRAManager().active is None
        True
        """
        return self._active

    def forward(self, x):
        """x + delta of the active (square) adapter, or a float32 copy of x when none is
        active: how an adapter is applied per request.

        >>> LoRAManager().forward([1, 2]).tolist()
        [1.0, 2.0]
        """
        if self._active is None:
            return copy_f32(f32_view(x, "x"))
        return self._adapters[self._active].forward(x, residual=True)

    def list(self):
        """The adapter names, in the order they were added.

        >>> mgr = LoRAManager(); _ = mgr.create("b", 2, 2, rank=1); _ = mgr.create("a", 2, 2, rank=1); mgr.list()
        ['b', 'a']
        """
        return list(self._adapters)

    def merge_adapters(self, names, out_name, *, weights=None):
        """A new adapter `out_name` whose A and B are the weighted means of the named adapters'
        A and B (weights default to equal and are normalised to sum 1): federated averaging of
        LoRA factors. All must share in_dim, out_dim, rank and alpha. Note that the product of
        the mean factors is not the mean of the products unless the adapters agree.

        >>> mgr = LoRAManager()
        >>> a, b = mgr.create("a", 2, 2, rank=1, seed=1), mgr.create("b", 2, 2, rank=1, seed=2)
        >>> m = mgr.merge_adapters(["a", "b"], "ab", weights=[3, 1])
        >>> abs(m.a[0] - (3 * a.a[0] + b.a[0]) / 4) < 1e-7
        True
        """
        return self.add(out_name, federated_average([self.get(name) for name in names], weights, names=names))

    def freeze_all(self):
        """Freezes every adapter.

        >>> mgr = LoRAManager(); _ = mgr.create("a", 2, 2, rank=1); mgr.freeze_all(); mgr.get("a").frozen
        True
        """
        for adapter in self._adapters.values():
            adapter.freeze()


def federated_average(adapters, samples=None, *, names=None):
    """FedAvg of LoRA adapters (the federated_average preset's aggregation): a new adapter
    whose A and B are the means of theirs weighted by samples (how many samples each agent
    trained on; equal weights without). All must share in_dim, out_dim, rank and alpha. The
    product of mean factors is not the mean of the products unless the adapters agree (as in
    FedIT and the originals); agents that start from one shared adapter stay close to it.

    >>> a, b = LoRA(2, 2, rank=1, seed=1), LoRA(2, 2, rank=1, seed=2)
    >>> abs(federated_average([a, b], [300, 100]).a[0] - (3 * a.a[0] + b.a[0]) / 4) < 1e-7
    True
    """
    adapters = list(adapters)
    names = list(names) if names is not None else [f"adapters[{i}]" for i in range(len(adapters))]
    if not adapters:
        raise ArgumentError("federated averaging needs at least one adapter")
    weights = [1.0] * len(adapters) if samples is None else [float(w) for w in samples]
    if len(weights) != len(adapters) or any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ArgumentError(f"weights must be {len(adapters)} non-negative finite numbers with a positive "
                            f"sum, got {weights}")
    first = adapters[0]
    for name, adapter in zip(names, adapters):
        shape = (adapter.in_dim, adapter.out_dim, adapter.rank, adapter.alpha)
        if shape != (first.in_dim, first.out_dim, first.rank, first.alpha):
            raise DimensionError(f"adapter {name!r} is (in_dim, out_dim, rank, alpha) {shape}, the first is "
                                 f"{(first.in_dim, first.out_dim, first.rank, first.alpha)}")
    total, k = sum(weights), first.kernel
    merged = first.clone()
    merged.frozen = False
    merged.a, merged.b = k.scale(first.a, weights[0] / total), k.scale(first.b, weights[0] / total)
    for adapter, w in zip(adapters[1:], weights[1:]):
        k.axpy(w / total, adapter.a, merged.a, out=merged.a)
        k.axpy(w / total, adapter.b, merged.b, out=merged.b)
    return merged
