"""Tensor compression in the five levels of @ruvector/gnn's TensorCompress, over kernel ops:

none    float32 as is                                              1x
half    IEEE binary16, round to nearest even (struct's exact conversion; |x| >= 65520 -> inf)  2x
pq8     product quantization, 256 centroids per subspace, one byte a code   8x at 2 floats a subspace
pq4     product quantization, 16 centroids per subspace, two codes a byte  16x at 2 floats a subspace
binary  sign bits (bit = x > 0) and one scale per row, mean |x|, so a row decodes to +-scale  32x

The PQ codebooks are trained in the kernel (k-means from seeded picks of the rows, then Lloyd
iterations: store.quant's recipe) once per call, over all the rows given, so a seed gives the
same bytes in every home; they pay off for batches (a single row's codebook is the row itself).
Every result carries its measured error (relative L2 and max abs of decompress(compress(x))
against x) and serialises to self-describing bytes with a CRC32C (to_bytes / from_bytes).

Bytes, little-endian: "AGTC", u16 version 1, u8 level (index in LEVELS), u8 0, u32 rows, u32 dim,
u32 subspaces, u32 centroids, f64 rel_l2, f64 max_abs, u32 payload length, the payload, and the
CRC32C of everything before it. Payloads: none f32 rows; half f16 rows; pq8 / pq4 the codebooks
(subspaces x centroids x dim / subspaces f32) then the codes (a byte each, or two per byte, low
nibble first, padded with one zero nibble); binary the per-row f32 scales then the sign bits
(rows of ceil(dim / 8) bytes, LSB first).
"""

import array
import math
import operator
import struct
import sys
from dataclasses import dataclass

from ..errors import CorruptFileError, DimensionError, OptionError
from ..kernel import load
from ..learn.lora import as_rows, zeros_f32
from ..learn.rng import SplitMix64
from ..store.quant import KMEANS_ITERATIONS, PQ_TRAIN_ROWS

LEVELS = ("none", "half", "pq8", "pq4", "binary")
PQ_CENTROIDS = {"pq8": 256, "pq4": 16}
MAGIC, VERSION = b"AGTC", 1
_HEADER = struct.Struct("<4sHBBIIIIddI")
_CRC = struct.Struct("<I")
HALF_LIMIT = 65520.0      # |x| >= this rounds past the largest half (65504) to infinity
_LITTLE = sys.byteorder == "little"
# the 8 float32 signs (+-1) of each byte of sign bits, LSB first
_SIGNS = [array.array("f", (1.0 if b >> i & 1 else -1.0 for i in range(8))).tobytes() for b in range(256)]
_LOW, _HIGH = bytes(b & 15 for b in range(256)), bytes(b >> 4 for b in range(256))
_SHIFT4 = bytes((b << 4) & 255 for b in range(256))


def _le(values):
    """The little-endian bytes of a float32 array.array."""
    if not _LITTLE:
        values = array.array("f", values)
        values.byteswap()
    return values.tobytes()


def _from_le(data):
    out = array.array("f")
    out.frombytes(data)
    if not _LITTLE:
        out.byteswap()
    return out


def to_half(values):
    """IEEE binary16 bytes (little-endian) of float32 values, rounded to nearest, ties to even
    (struct's 'e' conversion, exact from the double a float32 widens to): subnormals kept,
    |x| >= 65520 becomes infinity, NaN stays NaN.

    >>> to_half([1.0, -2.0, 65520.0]).hex()
    '003c00c0007c'
    """
    v = array.array("f", values) if isinstance(values, (list, tuple)) else memoryview(values).cast("B").cast("f")
    try:
        return struct.pack(f"<{len(v)}e", *v)
    except OverflowError:          # struct refuses what IEEE rounds to infinity
        return struct.pack(f"<{len(v)}e", *(math.copysign(math.inf, x) if abs(x) >= HALF_LIMIT else x for x in v))


def from_half(data):
    """The float32 values (array.array) of little-endian binary16 bytes, exactly.

    >>> from_half(bytes.fromhex('003c00c0007c')).tolist()
    [1.0, -2.0, inf]
    """
    if len(data) % 2:
        raise DimensionError(f"half data of {len(data)} bytes is not whole 2-byte values")
    return array.array("f", struct.unpack(f"<{len(data) // 2}e", data))


def _level(level):
    if level not in LEVELS:
        raise OptionError(f"unknown compression level {level!r}: expected one of {LEVELS}")
    return LEVELS.index(level)


def _subspaces(level, dim, subvectors):
    """Default: 2 floats a subspace (1 when dim is odd); DimensionError unless m divides dim."""
    if level not in PQ_CENTROIDS:
        if subvectors is not None:
            raise OptionError(f"subvectors applies to pq8 and pq4, not {level!r}")
        return 0
    if subvectors is None:
        return dim // 2 if dim % 2 == 0 else dim
    if not isinstance(subvectors, int) or isinstance(subvectors, bool) or subvectors < 1 or dim % subvectors:
        raise DimensionError(f"dimension {dim} does not split into subvectors = {subvectors!r} equal subspaces")
    return subvectors


def _payload_size(level, n, dim, m, ksub):
    if level == "none":
        return 4 * n * dim
    if level == "half":
        return 2 * n * dim
    if level == "binary":
        return 4 * n + n * ((dim + 7) // 8)
    codes = n * m if level == "pq8" else (n * m + 1) // 2
    return 4 * ksub * dim + codes


@dataclass(frozen=True)
class CompressedTensor:
    """n rows of dim floats at one level: the payload bytes and the measured error of decoding
    them (rel_l2 = |decoded - x| / |x| over all values, max_abs = the largest |decoded - x|).

    >>> c = compress([1.0, -2.0, 3.0], "half")
    >>> c.level, c.n, c.dim, c.rel_l2, c.ratio
    ('half', 1, 3, 0.0, 2.0)
    """
    level: str
    n: int
    dim: int
    m: int              # PQ subspaces (0 for the other levels)
    ksub: int           # PQ centroids per subspace actually trained (0 for the other levels)
    payload: bytes
    rel_l2: float
    max_abs: float

    @property
    def ratio(self):
        """float32 bytes over payload bytes (the codebooks included).

        >>> compress([1.0, 2.0], "none").ratio
        1.0
        """
        return 4 * self.n * self.dim / len(self.payload)

    @property
    def errors(self):
        """{"rel_l2", "max_abs", "ratio"} of this result.

        >>> compress([1.0, 2.0], "none").errors
        {'rel_l2': 0.0, 'max_abs': 0.0, 'ratio': 1.0}
        """
        return {"rel_l2": self.rel_l2, "max_abs": self.max_abs, "ratio": self.ratio}

    def to_bytes(self, *, kernel=None):
        """The self-describing bytes (header, payload, CRC32C); from_bytes reads them back equal.

        >>> CompressedTensor.from_bytes(compress([1.0, 2.0], "pq8").to_bytes()).level
        'pq8'
        """
        k = kernel if kernel is not None else load()
        head = _HEADER.pack(MAGIC, VERSION, LEVELS.index(self.level), 0, self.n, self.dim, self.m, self.ksub,
                            self.rel_l2, self.max_abs, len(self.payload)) + self.payload
        return head + _CRC.pack(k.crc32c(head))

    @classmethod
    def from_bytes(cls, data, *, kernel=None):
        """A CompressedTensor from to_bytes' output; CorruptFileError (with the byte offset) for
        anything truncated, foreign, inconsistent or failing its checksum.

        >>> CompressedTensor.from_bytes(b"AGTC")
        Traceback (most recent call last):
        ...
        agentdb.errors.CorruptFileError: compressed tensor truncated: 4 bytes, the header alone needs 48 (at byte 4)
        """
        k = kernel if kernel is not None else load()
        data = bytes(data)
        if len(data) < _HEADER.size + _CRC.size:
            raise CorruptFileError(f"compressed tensor truncated: {len(data)} bytes, the header alone needs "
                                   f"{_HEADER.size + _CRC.size}", len(data))
        magic, version, code, zero, n, dim, m, ksub, rel_l2, max_abs, size = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise CorruptFileError(f"not a compressed tensor: magic {magic!r}, expected {MAGIC!r}", 0)
        if version != VERSION:
            raise CorruptFileError(f"compressed tensor version {version}, this reader knows {VERSION}", 4)
        if code >= len(LEVELS) or zero:
            raise CorruptFileError(f"unknown level code {code} (or reserved byte {zero})", 6)
        level = LEVELS[code]
        pq = level in PQ_CENTROIDS
        if n < 1 or dim < 1 or (pq and not (m >= 1 and dim % m == 0 and 1 <= ksub <= PQ_CENTROIDS[level])) or \
                (not pq and (m or ksub)):
            raise CorruptFileError(f"inconsistent shape: {n} rows of {dim}, {m} subspaces of {ksub} centroids "
                                   f"for level {level!r}", 8)
        want = _payload_size(level, n, dim, m, ksub)
        if size != want or len(data) != _HEADER.size + size + _CRC.size:
            raise CorruptFileError(f"payload of {size} bytes in {len(data)} total, {level} {n} x {dim} needs "
                                   f"{want} in {_HEADER.size + want + _CRC.size}", _HEADER.size - 4)
        end = _HEADER.size + size
        (crc,) = _CRC.unpack_from(data, end)
        if crc != k.crc32c(data[:end]):
            raise CorruptFileError("compressed tensor checksum mismatch", end)
        obj = cls(level, n, dim, m, ksub, data[_HEADER.size:end], rel_l2, max_abs)
        if pq and max(_codes(obj), default=0) >= ksub:
            raise CorruptFileError(f"a PQ code is not below the {ksub} centroids", _HEADER.size + 4 * ksub * dim)
        return obj

    def decompress(self, *, kernel=None):
        """The decoded rows: n * dim float32 values (array.array), row after row.

        >>> compress([1.0, 2.0], "half").decompress().tolist()
        [1.0, 2.0]
        """
        return decompress(self, kernel=kernel)


def _codes(obj):
    """The PQ codes of a pq8 / pq4 result, one byte each (n * m)."""
    raw = obj.payload[4 * obj.ksub * obj.dim:]
    if obj.level == "pq8":
        return raw
    codes = bytearray(2 * len(raw))
    codes[0::2], codes[1::2] = raw.translate(_LOW), raw.translate(_HIGH)
    return bytes(codes[:obj.n * obj.m])


def _pack4(codes):
    """Two 4-bit codes a byte, low nibble first (a zero nibble pads an odd count)."""
    if len(codes) % 2:
        codes = bytes(codes) + b"\0"
    low, high = bytes(codes[0::2]), bytes(codes[1::2]).translate(_SHIFT4)
    return (int.from_bytes(low, "little") | int.from_bytes(high, "little")).to_bytes(len(low), "little")


def _train_pq(k, x, n, dim, m, ksub, seed):
    """m codebooks of min(ksub, rows) centroids, k-means in the kernel from seeded row picks."""
    dsub = dim // m
    if n > PQ_TRAIN_ROWS:              # k-means sees an evenly spaced sample
        picks = array.array("I", (i * n // PQ_TRAIN_ROWS for i in range(PQ_TRAIN_ROWS)))
        x, n = k.gather_rows(x, picks, row_bytes=4 * dim, fmt="f"), PQ_TRAIN_ROWS
    ksub = min(ksub, n)
    seeded = k.gather_rows(x, array.array("I", SplitMix64(seed).sample(n, ksub)), row_bytes=4 * dim, fmt="f")
    books = array.array("f")
    for s in range(m):
        cent = zeros_f32(ksub * dsub)
        k.copy_strided(memoryview(seeded).cast("B"), memoryview(cent).cast("B"), n=ksub, width=4 * dsub, src_stride=4 * dim,
                       out_stride=4 * dsub, src_offset=4 * s * dsub)
        for _ in range(KMEANS_ITERATIONS):
            assign, _ = k.kmeans_assign(x, cent, dim=dsub, stride=dim, offset=s * dsub)
            k.kmeans_update(x, assign, cent, dim=dsub, stride=dim, offset=s * dsub)
        books.extend(cent)
    return books, ksub


def _rows_of(k, tensor, dim):
    """(flat float32 view, rows, dim) of a vector, rows (nested or 2-D) or flat rows of `dim`."""
    if dim is None:
        shape = getattr(tensor, "shape", None)
        if shape is not None and len(shape) == 2:
            dim = shape[1]
        elif isinstance(tensor, (list, tuple)) and tensor and isinstance(tensor[0], (list, tuple, array.array)):
            dim = len(tensor[0])
        else:
            dim = len(tensor)
    if isinstance(tensor, (list, tuple)) and tensor and isinstance(tensor[0], (list, tuple, array.array)):
        bad = next((i for i, row in enumerate(tensor) if len(row) != dim), None)
        if bad is not None:
            raise DimensionError(f"row {bad} has {len(tensor[bad])} values, dimension is {dim}")
    x, n = as_rows(k, tensor, dim, "tensor")
    if n == 0:
        raise DimensionError("tensor holds no values")
    return x, n, dim


def _measure(k, x, y):
    """(relative L2, max abs) of y against x."""
    d = k.axpy(-1.0, x, y)
    num, den = k.dot(d, d), k.dot(x, x)
    rel = math.sqrt(num / den) if den > 0 else (0.0 if num == 0 else math.inf)
    return rel, float(max(max(d), -min(d)))


def compress(tensor, level="half", *, dim=None, subvectors=None, seed=0, kernel=None):
    """Compresses a vector, or rows of one dimension (nested lists, a 2-D array, or a flat
    buffer with dim), at one of LEVELS; PQ trains its codebooks on these rows with `seed`.
    subvectors: the PQ subspace count (default dim / 2, or dim when dim is odd), which must
    divide dim. Returns a CompressedTensor carrying its measured error.

    >>> c = compress([[0.5, -1.0], [2.0, 0.25]], "binary")
    >>> c.decompress().tolist(), round(c.rel_l2, 4)
    ([0.75, -0.75, 1.125, 1.125], 0.5584)
    """
    k = kernel if kernel is not None else load()
    _level(level)
    x, n, dim = _rows_of(k, tensor, dim)
    m = _subspaces(level, dim, subvectors)
    ksub = 0
    if level == "none":
        payload = _le(array.array("f", x))
    elif level == "half":
        payload = to_half(x)
    elif level == "binary":
        absx = k.add(k.relu(x), k.relu(k.scale(x, -1.0)))
        scales = k.scale(k.matvec(absx, array.array("f", [1.0]) * dim, rows=n, cols=dim), 1.0 / dim)
        payload = _le(scales) + bytes(k.b1_encode(x, dim=dim))
    else:
        books, ksub = _train_pq(k, x, n, dim, m, PQ_CENTROIDS[level], seed)
        codes = bytes(k.pq_encode(x, books, dim=dim, m=m, ksub=ksub))
        payload = _le(books) + (codes if level == "pq8" else _pack4(codes))
    obj = CompressedTensor(level, n, dim, m, ksub, payload, 0.0, 0.0)
    rel, top = _measure(k, x, decompress(obj, kernel=k))
    return CompressedTensor(level, n, dim, m, ksub, payload, rel, top)


def batch_compress(rows, level="half", *, dim=None, subvectors=None, seed=0, kernel=None):
    """Compresses a batch of vectors of one dimension together (the PQ codebooks trained once
    for the batch): compress() over the rows, which must each have dim values.

    >>> c = batch_compress([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], "pq4", subvectors=1)
    >>> c.n, c.ksub, c.decompress().tolist()
    (3, 3, [1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    """
    if isinstance(rows, (list, tuple)) and rows and not isinstance(rows[0], (list, tuple, array.array)):
        if dim is None:
            raise DimensionError("a flat batch needs dim (or pass a list of vectors)")
    return compress(rows, level, dim=dim, subvectors=subvectors, seed=seed, kernel=kernel)


def decompress(obj, *, kernel=None):
    """The float32 rows (array.array of n * dim values) of a CompressedTensor or its bytes.

    >>> decompress(compress([1.0, 2.0, 3.0], "none").to_bytes()).tolist()
    [1.0, 2.0, 3.0]
    """
    k = kernel if kernel is not None else load()
    if not isinstance(obj, CompressedTensor):
        obj = CompressedTensor.from_bytes(obj, kernel=k)
    level, n, dim, payload = obj.level, obj.n, obj.dim, obj.payload
    if level == "none":
        return _from_le(payload)
    if level == "half":
        return from_half(payload)
    if level == "binary":
        scales, nb = _from_le(payload[:4 * n]), (dim + 7) // 8
        signs = _from_le(b"".join(_SIGNS[b] for b in payload[4 * n:]))
        if nb * 8 != dim:              # drop each row's padding bits
            packed = zeros_f32(n * dim)
            k.copy_strided(memoryview(signs).cast("B"), memoryview(packed).cast("B"), n=n, width=4 * dim, src_stride=32 * nb,
                           out_stride=4 * dim)
            signs = packed
        return k.scale_rows(signs, scales, dim=dim)
    m, ksub = obj.m, obj.ksub
    books = _from_le(payload[:4 * ksub * dim])
    # codeword row of subspace s, code c: s * ksub + c among the m * ksub rows of dim / m floats
    index = array.array("I", map(operator.add, _codes(obj), array.array("I", range(0, m * ksub, ksub)) * n))
    return k.gather_rows(books, index, row_bytes=4 * (dim // m), fmt="f")


def compression_errors(tensor, *, dim=None, levels=LEVELS, subvectors=None, seed=0, kernel=None):
    """The measured error of every level on a tensor: {level: {"rel_l2", "max_abs", "ratio"}}.

    >>> errs = compression_errors([[1.0, -1.0], [1.0, 1.0]])
    >>> errs["none"]["rel_l2"], errs["binary"]["rel_l2"], errs["half"]["ratio"]
    (0.0, 0.0, 2.0)
    """
    k = kernel if kernel is not None else load()
    return {level: compress(tensor, level, dim=dim, seed=seed, kernel=k,
                            subvectors=subvectors if level in PQ_CENTROIDS else None).errors for level in levels}
