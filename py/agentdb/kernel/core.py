"""The Kernel: the one interface everything above the kernel layer uses.

A Kernel validates arguments in Python (so the C code only sees sane calls), turns buffers
into backend pointers, calls the C function of csrc/agentdb_kernel.h with the same name,
and turns error codes into typed exceptions. Backends (native, wasmhost, browser) only
allocate memory and invoke functions; no op is written twice.

Results are plain array.array objects unless the caller passes `out=` (a KBuffer or any
writable buffer of the right type); numpy can wrap either without copying.
"""

from ..errors import ArgumentError, BufferFormatError, DimensionError, KernelError
from ..metrics import KERNEL_SCANS, kernel_code
from .buffers import FORMATS, U32_MAX, KBuffer, Ptr, as_view, new_array, u32
from .codes import CODES, FEATURES
from .attention_ops import AttentionOps
from .gnn_ops import GnnOps
from .dense_ops import DenseOps
from .hnsw_ops import HnswOps, HnswSearcher  # noqa: F401  (imported from here by callers)
from .graph_ops import GraphOps
from .hyperbolic_ops import HyperbolicOps
from .learn_ops import LearnOps
from .math_ops import MathOps
from .quant_ops import QuantOps
from .rope_ops import RopeOps
from .sparse_attention_ops import SparseAttentionOps


class Kernel(QuantOps, HnswOps, MathOps, DenseOps, LearnOps, GraphOps, HyperbolicOps, AttentionOps,
             SparseAttentionOps, RopeOps, GnnOps):
    """The kernel interface (its op groups: the mixins, one module each)."""

    def __init__(self, backend):
        self._b = backend
        self.backend = backend.name
        self.abi_version = self._call("agk_abi_version") & U32_MAX
        self.features = self._call("agk_features") & U32_MAX

    def __repr__(self):
        return f"<Kernel backend={self.backend} isa={self.isa}>"

    # ---- info and memory ---------------------------------------------------------------

    @property
    def isa(self):
        """The instruction set the float ops dispatch to: avx512, avx2, sse2 or simd128."""
        for bit, name in ((8, "avx512"), (4, "avx2"), (1, "simd128"), (2, "sse2")):
            if self.features & bit:
                return name
        return "scalar"

    def capabilities(self):
        """Feature names, e.g. ['sse2', 'avx512', 'crc32-hw']."""
        return [name for bit, name in FEATURES.items() if self.features & bit]

    def lazy_memory(self, nbytes):
        """True when a KBuffer of nbytes costs memory only where it is written (its spare
        capacity is address space): large native buffers."""
        return self._b.lazy(nbytes)

    @property
    def is_native(self):
        """True for the cffi backend (buffers are read in place, so they must be aligned)."""
        return self.backend == "native"

    def alloc(self, length, fmt="f", *, filled_soon=False):
        """A zero-filled KBuffer of `length` elements of `fmt` ('f', 'I', 'b' or 'B').
        filled_soon: the caller writes all of it next, so the memory is backed at once
        (natively one call, not a page fault per page as the kernel writes)."""
        if fmt not in FORMATS:
            raise BufferFormatError(f"unknown element format {fmt!r}: expected one of {sorted(FORMATS)}")
        nbytes = u32(length * FORMATS[fmt][1], "buffer size in bytes")
        return KBuffer(self._b, self._b.alloc(nbytes, filled_soon=filled_soon), fmt, length)

    def from_buffer(self, data, fmt="f"):
        """A KBuffer holding a copy of `data`."""
        src = as_view(data, fmt, name="data")
        buf = self.alloc(len(src), fmt)
        buf.write(src)
        return buf

    # ---- plumbing -------------------------------------------------------------------------

    def _call(self, fname, *args):
        return self._b.invoke(fname, args)

    def _checked(self, fname, *args):
        rc = self._call(fname, *args)
        if rc < 0:
            raise KernelError(f"{fname}: {CODES.get(rc, 'error')} (code {rc})")
        return rc

    @staticmethod
    def _in(obj, fmt, name):
        if obj is None or isinstance(obj, KBuffer) and obj.fmt == fmt:
            return obj
        if isinstance(obj, KBuffer):
            raise BufferFormatError(f"{name}: KBuffer holds {obj.fmt!r} elements, expected {fmt!r}")
        return as_view(obj, fmt, name=name)

    def _out(self, out, fmt, length, name="out"):
        """The output target: the caller's (checked for type and size) or a new array.array."""
        if out is None:
            return new_array(fmt, length)
        if isinstance(out, KBuffer):
            self._in(out, fmt, name)
            have = out.length
        else:
            have = len(as_view(out, fmt, name=name, writable=True))
        if have < length:
            raise DimensionError(f"{name} holds {have} elements, {length} needed")
        return out

    def _out_ptr(self, out, fmt):
        return Ptr(out if isinstance(out, KBuffer) else as_view(out, fmt, name="out", writable=True), fmt, True)

    @staticmethod
    def _rows(rows, dim, name="rows"):
        if dim < 1:
            raise DimensionError(f"dimension must be >= 1, got {dim}")
        if len(rows) % dim:
            raise DimensionError(f"{name} holds {len(rows)} values, not a multiple of dimension {dim}")
        return u32(len(rows) // dim, f"number of {name}")

    def _filters(self, n_rows, subset, bitmap):
        subset = self._in(subset, "I", "subset")
        bitmap = self._in(bitmap, "B", "bitmap")
        if bitmap is not None and len(bitmap) * 8 < n_rows:
            raise DimensionError(f"bitmap holds {len(bitmap) * 8} bits, {n_rows} rows need one each")
        n_out = n_rows if subset is None else u32(len(subset), "subset length")
        return subset, bitmap, n_out

    def _scan(self, fname, lead, rows, n_rows, row_fmt, subset, bitmap, out, mid=(), n_queries=1):
        """Shared tail of every scan: filters, output, the call and its error code."""
        subset, bitmap, n_out = self._filters(n_rows, subset, bitmap)
        out = self._out(out, "f", n_out * n_queries)
        self._checked(fname, *lead, Ptr(rows, row_fmt), *mid, Ptr(subset, "I"),
                      len(subset) if subset is not None else 0, Ptr(bitmap, "B"), self._out_ptr(out, "f"))
        return out

    # ---- f32 scans and top-k ---------------------------------------------------------------

    def scan(self, q, rows, *, dim, metric="dot", subset=None, bitmap=None, out=None):
        """Scores of one query against every row (or rows[subset]).

        metric: 'dot' (inner product), 'l2' (squared Euclidean) or 'cos' (cosine, 0 for a
        zero vector). subset: uint32 row indices; out[j] scores rows[subset[j]].
        bitmap: one bit per row (LSB first); rows whose bit is 0 score NaN.

        >>> k.scan([1, 0], [1, 0, 0, 1], dim=2).tolist()
        [1.0, 0.0]
        """
        name = KERNEL_SCANS[kernel_code(metric)]
        q, rows = self._in(q, "f", "q"), self._in(rows, "f", "rows")
        if len(q) != dim:
            raise DimensionError(f"query has {len(q)} values, dimension is {dim}")
        n_rows = self._rows(rows, dim)
        return self._scan(f"agk_scan_{name}_f32", (Ptr(q, "f"),), rows, n_rows, "f", subset, bitmap, out,
                          mid=(n_rows, dim))

    def scan_batch(self, queries, rows, *, dim, metric="dot", subset=None, bitmap=None, out=None):
        """Scores of m queries (m x dim, row-major) against the rows: out is m x n_out,
        one query after the other; bit-identical to m calls of scan()."""
        name = KERNEL_SCANS[kernel_code(metric)]
        queries, rows = self._in(queries, "f", "queries"), self._in(rows, "f", "rows")
        m = self._rows(queries, dim, "queries")
        n_rows = self._rows(rows, dim)
        subset_len = len(self._in(subset, "I", "subset")) if subset is not None else n_rows
        u32(m * subset_len, "output length")
        return self._scan(f"agk_scan_batch_{name}_f32", (Ptr(queries, "f"), m), rows, n_rows, "f", subset,
                          bitmap, out, mid=(n_rows, dim), n_queries=m)

    def topk(self, scores, k, *, largest=True):
        """The k best (index, score) pairs, best first; ties go to the lower index and NaN
        scores are never selected. Returns (indices uint32, scores float32), both of length
        min(k, number of non-NaN scores)."""
        if not isinstance(k, int) or k < 1:
            raise ArgumentError(f"k must be a positive integer, got {k!r}")
        scores = self._in(scores, "f", "scores")
        n = u32(len(scores), "number of scores")
        width = min(k, n)
        idx, top = new_array("I", width), new_array("f", width)
        if width == 0:
            return idx, top
        count = self._checked("agk_topk_f32", Ptr(scores, "f"), n, width, int(bool(largest)),
                              Ptr(memoryview(idx), "I", True), Ptr(memoryview(top), "f", True))
        if count < width:
            del idx[count:], top[count:]
        return idx, top

    # ---- filters and bitmaps (bit i = row i, LSB first) ------------------------------------------

    def mask_range(self, col, lo, hi, *, lo_inclusive=True, hi_inclusive=True, out=None):
        """Bitmap of rows with lo <(=) col[i] <(=) hi; NaN (missing) never matches."""
        col = self._in(col, "d", "column")
        n = u32(len(col), "column length")
        out = self._out(out, "B", (n + 7) // 8)
        bounds = memoryview(new_array("d", 2))
        bounds[0], bounds[1] = float(lo), float(hi)
        self._call("agk_mask_range_f64", Ptr(col, "d"), n, Ptr(bounds, "d"),
                   int(bool(lo_inclusive)) | int(bool(hi_inclusive)) << 1, self._out_ptr(out, "B"))
        return out

    def mask_codes(self, col, code_set, *, out=None):
        """Bitmap of rows whose code is in code_set (itself a bitmap over codes)."""
        col, code_set = self._in(col, "I", "column"), self._in(code_set, "B", "code set")
        n = u32(len(col), "column length")
        out = self._out(out, "B", (n + 7) // 8)
        self._call("agk_mask_codes_u32", Ptr(col, "I"), n, Ptr(code_set, "B"), u32(len(code_set) * 8, "codes"),
                   self._out_ptr(out, "B"))
        return out

    def _bitmap_pair(self, fname, a, b, out):
        a, b = self._in(a, "B", "a"), self._in(b, "B", "b")
        if len(a) != len(b):
            raise DimensionError(f"bitmaps differ in length: {len(a)} and {len(b)} bytes")
        out = self._out(out, "B", len(a))
        self._call(fname, Ptr(a, "B"), Ptr(b, "B"), len(a), self._out_ptr(out, "B"))
        return out

    def bitmap_and(self, a, b, *, out=None):
        """a & b, byte-wise (out may be a or b)."""
        return self._bitmap_pair("agk_bitmap_and", a, b, out)

    def bitmap_or(self, a, b, *, out=None):
        """a | b, byte-wise (out may be a or b)."""
        return self._bitmap_pair("agk_bitmap_or", a, b, out)

    def bitmap_andnot(self, a, b, *, out=None):
        """a & ~b, byte-wise (out may be a or b)."""
        return self._bitmap_pair("agk_bitmap_andnot", a, b, out)

    def bitmap_count(self, a):
        """Number of set bits."""
        a = self._in(a, "B", "bitmap")
        return self._call("agk_bitmap_count", Ptr(a, "B"), u32(len(a), "bitmap length")) & U32_MAX

    def bitmap_rows(self, a, n):
        """The indices of the set bits among the first n, ascending (uint32 array)."""
        a = self._in(a, "B", "bitmap")
        if len(a) * 8 < n:
            raise DimensionError(f"bitmap holds {len(a) * 8} bits, {n} requested")
        rows = new_array("I", self.bitmap_count(memoryview(a)[:(n + 7) // 8]))
        count = self._call("agk_bitmap_rows", Ptr(a, "B"), u32(n, "n"), Ptr(memoryview(rows), "I", True))
        del rows[count & U32_MAX:]
        return rows

    def gather_rows(self, src, rows, *, row_bytes, fmt="B", out=None):
        """out row i = src row rows[i], for rows of row_bytes bytes (src, out of element `fmt`)."""
        size = FORMATS[fmt][1]
        src, rows = self._in(src, fmt, "source"), self._in(rows, "I", "rows")
        if row_bytes % size or not row_bytes or len(src) * size % row_bytes:
            raise DimensionError(f"source of {len(src) * size} bytes is not whole rows of {row_bytes}")
        out = self._out(out, fmt, len(rows) * row_bytes // size)
        # the C side moves bytes, so both buffers are passed as uint8 pointers
        target = self._out_ptr(out, fmt)
        self._checked("agk_gather_rows", Ptr(src, "B"), row_bytes, len(src) * size // row_bytes, Ptr(rows, "I"),
                      len(rows), Ptr(target.obj, "B", True))
        return out

    def copy_strided(self, src, out, *, n, width, src_stride, out_stride, src_offset=0, out_offset=0):
        """Copies n blocks of `width` bytes: block i from byte src_offset + i * src_stride of
        src to byte out_offset + i * out_stride of out (byte buffers; out may be a KBuffer of any
        element type). Interleaves the ids and rows of a VEC payload, or splits them apart, in
        one call."""
        src = as_view(src, "B", name="source")
        target = out if isinstance(out, KBuffer) else as_view(out, "B", name="out", writable=True)
        out_size = target.nbytes if isinstance(target, KBuffer) else len(target)
        for name, size, offset, stride in (("source", len(src), src_offset, src_stride),
                                           ("out", out_size, out_offset, out_stride)):
            if width > stride or offset < 0 or n and offset + (n - 1) * stride + width > size:
                raise DimensionError(f"{n} blocks of {width} bytes every {stride} from byte {offset} do not fit "
                                     f"the {name} of {size} bytes")
        if n and width:
            self._call("agk_copy_strided", Ptr(src[src_offset:], "B"), u32(src_stride, "src_stride"),
                       Ptr(target, "B", True, out_offset) if isinstance(target, KBuffer) else
                       Ptr(target[out_offset:], "B", True), u32(out_stride, "out_stride"), u32(width, "width"),
                       u32(n, "n"))
        return out

    # ---- text ------------------------------------------------------------------------------------

    def embed_hash(self, text, *, dim, out=None):
        """The offline hashing embedding of a text (str or UTF-8 bytes): dim floats, unit length,
        the same bits on every backend; all zeros when the text has no tokens.

        >>> round(k.dot(k.embed_hash("red apple", dim=64), k.embed_hash("Red apples!", dim=64)), 2) > 0.5
        True
        """
        data = text.encode("utf-8") if isinstance(text, str) else self._in(text, "B", "text")
        if dim < 1:
            raise DimensionError(f"dimension must be >= 1, got {dim}")
        out = self._out(out, "f", dim)
        self._checked("agk_embed_hash", Ptr(as_view(data, "B", name="text"), "B"), u32(len(data), "text length"),
                      dim, self._out_ptr(out, "f"))
        return out

    # ---- checksums ------------------------------------------------------------------------------

    def crc32c(self, data, crc=0):
        """CRC32C (Castagnoli) of data, continuing from crc; crc32c(b'123456789') == 0xE3069283."""
        return self._crc("agk_crc32c", data, crc)

    def crc32_ieee(self, data, crc=0):
        """CRC-32/IEEE (zlib.crc32) of data, continuing from crc."""
        return self._crc("agk_crc32_ieee", data, crc)

    def _crc(self, fname, data, crc):
        # a KBuffer of any element type is checksummed as bytes, in place
        data = data if isinstance(data, KBuffer) else self._in(data, "B", "data")
        n = data.nbytes if isinstance(data, KBuffer) else len(data)
        return self._call(fname, u32(crc, "crc"), Ptr(data, "B"), u32(n, "data length")) & U32_MAX
