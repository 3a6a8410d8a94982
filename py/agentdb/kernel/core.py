"""The Kernel: the one interface everything above the kernel layer uses.

A Kernel validates arguments in Python (so the C code only sees sane calls), turns buffers
into backend pointers, calls the C function of csrc/agentdb_kernel.h with the same name,
and turns error codes into typed exceptions. Backends (native, wasmhost, browser) only
allocate memory and invoke functions; no op is written twice.

Results are plain array.array objects unless the caller passes `out=` (a KBuffer or any
writable buffer of the right type); numpy can wrap either without copying.
"""
import array
import math

from ..errors import ArgumentError, BufferFormatError, DimensionError, KernelError, NonFiniteError, OptionError
from ..metrics import KERNEL_NAMES
from .buffers import FORMATS, as_view, new_array

U32_MAX = 0xFFFFFFFF
PQ_TABLE_WIDTH = 256
I8_MAX_DIM = 32768

# AGK_E_* codes from csrc/agentdb_kernel.h
_CODES = {-1: "bad argument", -2: "bad dimension", -3: "bad k", -4: "index out of range", -5: "not finite"}
E_NONFINITE = -5
_FEATURES = {1: "simd128", 2: "sse2", 4: "avx2", 8: "avx512", 16: "crc32-hw"}


class Ptr:
    """A pointer argument: a KBuffer, a validated memoryview, or None (NULL), plus an element
    offset into it. `out` marks buffers the kernel writes (copied back by wasm backends)."""

    __slots__ = ("obj", "fmt", "out", "offset")

    def __init__(self, obj, fmt, out=False, offset=0):
        self.obj, self.fmt, self.out, self.offset = obj, fmt, out, offset


class KBuffer:
    """Memory owned by a kernel backend (wasm linear memory, or native memory).

    Kernel calls on KBuffers copy nothing in any backend, which is what a store keeps its
    vectors in. `view()` returns a zero-copy typed memoryview; it is fetched anew on each
    call because a wasm memory can move when it grows, so do not keep one across calls
    that allocate.
    """

    __slots__ = ("_backend", "handle", "fmt", "length", "__weakref__")

    def __init__(self, backend, handle, fmt, length):
        self._backend, self.handle, self.fmt, self.length = backend, handle, fmt, length

    @property
    def nbytes(self):
        """Size in bytes."""
        return self.length * FORMATS[self.fmt][1]

    def __len__(self):
        return self.length

    def view(self):
        """A zero-copy typed memoryview of the buffer (fetch it again after any allocation)."""
        return self._backend.view(self.handle, self.nbytes).cast(self.fmt)

    def write(self, data, start=0):
        """Copies `data` (any buffer or list of this element type) in at element `start`."""
        src = as_view(data, self.fmt, name="data")
        if start < 0 or start + len(src) > self.length:
            raise DimensionError(f"writing {len(src)} elements at {start} overflows a buffer of {self.length}")
        size = FORMATS[self.fmt][1]
        self._backend.write(self.handle, start * size, src.cast("B"))

    def head(self, length):
        """The first `length` elements as a KBuffer sharing this memory (no copy): how a store
        passes only its used rows to the kernel."""
        if not 0 <= length <= self.length:
            raise DimensionError(f"head of {length} elements from a buffer of {self.length}")
        return KBuffer(self._backend, self.handle, self.fmt, length)

    def copy_from(self, src, count=None):
        """Copies the first `count` elements (default all) of KBuffer `src` into this one,
        inside the backend's memory (no round trip through Python objects)."""
        count = src.length if count is None else count
        if src.fmt != self.fmt or count > min(src.length, self.length):
            raise DimensionError(f"cannot copy {count} {src.fmt!r} elements into {self.length} {self.fmt!r}")
        self._backend.copy(self.handle, src.handle, count * FORMATS[self.fmt][1])

    def read(self, start=0, stop=None):
        """A copy of elements [start, stop) as an array.array."""
        stop = self.length if stop is None else stop
        if not 0 <= start <= stop <= self.length:
            raise DimensionError(f"range [{start}, {stop}) is outside a buffer of {self.length}")
        out = new_array(self.fmt, stop - start)
        size = FORMATS[self.fmt][1]
        self._backend.read(self.handle, start * size, memoryview(out).cast("B"))
        return out


def _u32(value, name):
    if not 0 <= value <= U32_MAX:
        raise DimensionError(f"{name} = {value} does not fit the kernel's 32-bit sizes")
    return value


def _metric(metric):
    try:
        return KERNEL_NAMES[metric]
    except (KeyError, TypeError):
        raise OptionError(f"unknown metric {metric!r}: expected one of 'dot', 'l2', 'cos'") from None


_SCAN_NAMES = {code: name for name, code in KERNEL_NAMES.items() if name != "cosine"}


class Kernel:
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
        return [name for bit, name in _FEATURES.items() if self.features & bit]

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
        nbytes = _u32(length * FORMATS[fmt][1], "buffer size in bytes")
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
            raise KernelError(f"{fname}: {_CODES.get(rc, 'error')} (code {rc})")
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
        return _u32(len(rows) // dim, f"number of {name}")

    def _filters(self, n_rows, subset, bitmap):
        subset = self._in(subset, "I", "subset")
        bitmap = self._in(bitmap, "B", "bitmap")
        if bitmap is not None and len(bitmap) * 8 < n_rows:
            raise DimensionError(f"bitmap holds {len(bitmap) * 8} bits, {n_rows} rows need one each")
        n_out = n_rows if subset is None else _u32(len(subset), "subset length")
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
        name = _SCAN_NAMES[_metric(metric)]
        q, rows = self._in(q, "f", "q"), self._in(rows, "f", "rows")
        if len(q) != dim:
            raise DimensionError(f"query has {len(q)} values, dimension is {dim}")
        n_rows = self._rows(rows, dim)
        return self._scan(f"agk_scan_{name}_f32", (Ptr(q, "f"),), rows, n_rows, "f", subset, bitmap, out,
                          mid=(n_rows, dim))

    def scan_batch(self, queries, rows, *, dim, metric="dot", subset=None, bitmap=None, out=None):
        """Scores of m queries (m x dim, row-major) against the rows: out is m x n_out,
        one query after the other; bit-identical to m calls of scan()."""
        name = _SCAN_NAMES[_metric(metric)]
        queries, rows = self._in(queries, "f", "queries"), self._in(rows, "f", "rows")
        m = self._rows(queries, dim, "queries")
        n_rows = self._rows(rows, dim)
        subset_len = len(self._in(subset, "I", "subset")) if subset is not None else n_rows
        _u32(m * subset_len, "output length")
        return self._scan(f"agk_scan_batch_{name}_f32", (Ptr(queries, "f"), m), rows, n_rows, "f", subset,
                          bitmap, out, mid=(n_rows, dim), n_queries=m)

    def topk(self, scores, k, *, largest=True):
        """The k best (index, score) pairs, best first; ties go to the lower index and NaN
        scores are never selected. Returns (indices uint32, scores float32), both of length
        min(k, number of non-NaN scores)."""
        if not isinstance(k, int) or k < 1:
            raise ArgumentError(f"k must be a positive integer, got {k!r}")
        scores = self._in(scores, "f", "scores")
        n = _u32(len(scores), "number of scores")
        width = min(k, n)
        idx, top = new_array("I", width), new_array("f", width)
        if width == 0:
            return idx, top
        count = self._checked("agk_topk_f32", Ptr(scores, "f"), n, width, int(bool(largest)),
                              Ptr(memoryview(idx), "I", True), Ptr(memoryview(top), "f", True))
        if count < width:
            del idx[count:], top[count:]
        return idx, top

    # ---- int8 scalar quantization ------------------------------------------------------------

    def sq8_train(self, x, *, dim):
        """Per-dimension (lo, step) so that x ~= lo + step * (code + 127), code in [-127, 127]."""
        x = self._in(x, "f", "x")
        n = self._rows(x, dim, "x")
        lo, step = new_array("f", dim), new_array("f", dim)
        self._call("agk_sq8_train_f32", Ptr(x, "f"), n, dim, Ptr(memoryview(lo), "f", True),
                   Ptr(memoryview(step), "f", True))
        return lo, step

    def _sq8_params(self, lo, step, dim):
        lo, step = self._in(lo, "f", "lo"), self._in(step, "f", "step")
        if len(lo) != dim or len(step) != dim:
            raise DimensionError(f"lo and step need {dim} values each, got {len(lo)} and {len(step)}")
        return Ptr(lo, "f"), Ptr(step, "f")

    def _sq8_convert(self, fname, src, src_fmt, out_fmt, lo, step, dim, out):
        src = self._in(src, src_fmt, "input")
        n = self._rows(src, dim, "input")
        params = self._sq8_params(lo, step, dim)
        out = self._out(out, out_fmt, n * dim)
        self._call(fname, Ptr(src, src_fmt), n, dim, *params, self._out_ptr(out, out_fmt))
        return out

    def sq8_encode(self, x, lo, step, *, dim, out=None):
        """int8 codes of x (n x dim)."""
        return self._sq8_convert("agk_sq8_encode_f32", x, "f", "b", lo, step, dim, out)

    def sq8_decode(self, codes, lo, step, *, dim, out=None):
        """Approximate f32 rows back from int8 codes."""
        return self._sq8_convert("agk_sq8_decode_f32", codes, "b", "f", lo, step, dim, out)

    def scan_dot_i8f32(self, w, bias, codes, *, dim, subset=None, bitmap=None, out=None):
        """out = bias + sum_d w[d] * code[d]: an f32 query against int8 codes, with w and bias
        prepared by the caller (w = q * step, bias = q.lo + 127 * sum(w) gives q.decode(code))."""
        w, codes = self._in(w, "f", "w"), self._in(codes, "b", "codes")
        if len(w) != dim:
            raise DimensionError(f"w has {len(w)} values, dimension is {dim}")
        n_rows = self._rows(codes, dim, "codes")
        return self._scan("agk_scan_dot_i8f32", (Ptr(w, "f"), float(bias)), codes, n_rows, "b", subset, bitmap,
                          out, mid=(n_rows, dim))

    def _scan_i8(self, fname, qc, codes, dim, alpha, bias, subset, bitmap, out):
        qc, codes = self._in(qc, "b", "query codes"), self._in(codes, "b", "codes")
        if len(qc) != dim:
            raise DimensionError(f"query codes have {len(qc)} values, dimension is {dim}")
        if dim > I8_MAX_DIM:
            raise DimensionError(f"int8 scans support dimension <= {I8_MAX_DIM}, got {dim}")
        n_rows = self._rows(codes, dim, "codes")
        return self._scan(fname, (Ptr(qc, "b"), float(alpha), float(bias)), codes, n_rows, "b", subset, bitmap,
                          out, mid=(n_rows, dim))

    def scan_dot_i8(self, qc, codes, *, dim, alpha=1.0, bias=0.0, subset=None, bitmap=None, out=None):
        """out = alpha * sum_d qc[d] * code[d] + bias, with the integer sum exact."""
        return self._scan_i8("agk_scan_dot_i8", qc, codes, dim, alpha, bias, subset, bitmap, out)

    def scan_l2_i8(self, qc, codes, *, dim, alpha=1.0, bias=0.0, subset=None, bitmap=None, out=None):
        """out = alpha * sum_d (qc[d] - code[d])^2 + bias, with the integer sum exact."""
        return self._scan_i8("agk_scan_l2_i8", qc, codes, dim, alpha, bias, subset, bitmap, out)

    # ---- binary quantization -----------------------------------------------------------------

    def b1_encode(self, x, *, dim, out=None):
        """Sign bits of x (n x dim): bit d is 1 when x[d] > 0; rows of ceil(dim / 8) bytes, LSB first."""
        x = self._in(x, "f", "x")
        n = self._rows(x, dim, "x")
        out = self._out(out, "B", n * ((dim + 7) // 8))
        self._call("agk_b1_encode_f32", Ptr(x, "f"), n, dim, self._out_ptr(out, "B"))
        return out

    def scan_hamming(self, qbits, codes, *, n_bytes, subset=None, bitmap=None, out=None):
        """Hamming distances (as floats) between the query bits and each row of codes."""
        qbits, codes = self._in(qbits, "B", "query bits"), self._in(codes, "B", "codes")
        if len(qbits) != n_bytes:
            raise DimensionError(f"query has {len(qbits)} bytes, rows have {n_bytes}")
        n_rows = self._rows(codes, n_bytes, "codes")
        return self._scan("agk_scan_hamming_b1", (Ptr(qbits, "B"),), codes, n_rows, "B", subset, bitmap, out,
                          mid=(n_rows, n_bytes))

    # ---- k-means and product quantization -------------------------------------------------------

    def _strided(self, x, dim, stride, offset):
        """Points of x are `stride` floats apart; each uses `dim` floats from `offset` on (a PQ
        subspace is offset = s * dsub, stride = the full dimension)."""
        x = self._in(x, "f", "x")
        stride = dim if stride is None else stride
        if dim < 1 or offset < 0 or offset + dim > stride:
            raise DimensionError(f"need 1 <= dim and offset + dim <= stride, got dim {dim}, offset {offset}, "
                                 f"stride {stride}")
        return Ptr(x, "f", offset=offset), self._rows(x, stride, "x"), stride

    def kmeans_assign(self, x, centroids, *, dim, stride=None, offset=0):
        """Nearest centroid (squared L2, ties to the lower index) for each point of x.
        Points are `stride` floats apart (default dim); floats [offset, offset + dim) count.
        Returns (assignments uint32, squared distances float32)."""
        px, n, stride = self._strided(x, dim, stride, offset)
        centroids = self._in(centroids, "f", "centroids")
        k = self._rows(centroids, dim, "centroids")
        if k == 0:
            raise ArgumentError("k-means needs at least one centroid")
        assign, dist = new_array("I", n), new_array("f", n)
        self._checked("agk_kmeans_assign_f32", px, n, dim, stride, Ptr(centroids, "f"), k,
                      Ptr(memoryview(assign), "I", True), Ptr(memoryview(dist), "f", True))
        return assign, dist

    def kmeans_update(self, x, assign, centroids, *, dim, stride=None, offset=0):
        """Moves each centroid (in place, a writable buffer or KBuffer) to the mean of its points.
        Returns the count per centroid; a centroid with count 0 is left where it was."""
        px, n, stride = self._strided(x, dim, stride, offset)
        assign = self._in(assign, "I", "assign")
        if len(assign) != n:
            raise DimensionError(f"{len(assign)} assignments for {n} points")
        k = self._rows(self._in(centroids, "f", "centroids"), dim, "centroids")
        counts = new_array("I", k)
        self._checked("agk_kmeans_update_f32", px, n, dim, stride, Ptr(assign, "I"), k,
                      self._out_ptr(centroids, "f"), Ptr(memoryview(counts), "I", True))
        return counts

    def _pq_check(self, dim, m, ksub, codebooks):
        if dim < 1 or m < 1 or dim % m:
            raise DimensionError(f"dimension {dim} must split into m = {m} equal subspaces")
        if not 1 <= ksub <= PQ_TABLE_WIDTH:
            raise ArgumentError(f"ksub must be in 1..256, got {ksub}")
        codebooks = self._in(codebooks, "f", "codebooks")
        if len(codebooks) != m * ksub * (dim // m):
            raise DimensionError(f"codebooks need m * ksub * dim / m = {m * ksub * (dim // m)} values, "
                                 f"got {len(codebooks)}")
        return Ptr(codebooks, "f")

    def pq_encode(self, x, codebooks, *, dim, m, ksub, out=None):
        """PQ codes (n x m bytes): the nearest codeword of each subspace.
        codebooks: m x ksub x (dim / m) floats."""
        cb = self._pq_check(dim, m, ksub, codebooks)
        x = self._in(x, "f", "x")
        n = self._rows(x, dim, "x")
        out = self._out(out, "B", n * m)
        self._checked("agk_pq_encode_f32", Ptr(x, "f"), n, dim, m, ksub, cb, self._out_ptr(out, "B"))
        return out

    def pq_table(self, q, codebooks, *, dim, m, ksub, metric="l2", out=None):
        """The per-query distance table, m x 256 floats (entries >= ksub are NaN)."""
        cb = self._pq_check(dim, m, ksub, codebooks)
        code = _metric(metric)
        if code == 2:
            raise OptionError("PQ tables support 'dot' and 'l2'; normalise vectors and use 'dot' for cosine")
        q = self._in(q, "f", "q")
        if len(q) != dim:
            raise DimensionError(f"query has {len(q)} values, dimension is {dim}")
        out = self._out(out, "f", m * PQ_TABLE_WIDTH)
        self._checked("agk_pq_table_f32", Ptr(q, "f"), dim, m, ksub, cb, code, self._out_ptr(out, "f"))
        return out

    def scan_pq(self, table, codes, *, m, subset=None, bitmap=None, out=None):
        """Approximate scores: the sum over subspaces of table[s][code[s]]."""
        table, codes = self._in(table, "f", "table"), self._in(codes, "B", "codes")
        if len(table) != m * PQ_TABLE_WIDTH:
            raise DimensionError(f"table needs m * 256 = {m * PQ_TABLE_WIDTH} values, got {len(table)}")
        n_rows = self._rows(codes, m, "codes")
        return self._scan("agk_scan_pq", (Ptr(table, "f"), m), codes, n_rows, "B", subset, bitmap, out,
                          mid=(n_rows,))

    # ---- filters and bitmaps (bit i = row i, LSB first) ------------------------------------------

    def mask_range(self, col, lo, hi, *, lo_inclusive=True, hi_inclusive=True, out=None):
        """Bitmap of rows with lo <(=) col[i] <(=) hi; NaN (missing) never matches."""
        col = self._in(col, "d", "column")
        n = _u32(len(col), "column length")
        out = self._out(out, "B", (n + 7) // 8)
        bounds = memoryview(new_array("d", 2))
        bounds[0], bounds[1] = float(lo), float(hi)
        self._call("agk_mask_range_f64", Ptr(col, "d"), n, Ptr(bounds, "d"),
                   int(bool(lo_inclusive)) | int(bool(hi_inclusive)) << 1, self._out_ptr(out, "B"))
        return out

    def mask_codes(self, col, code_set, *, out=None):
        """Bitmap of rows whose code is in code_set (itself a bitmap over codes)."""
        col, code_set = self._in(col, "I", "column"), self._in(code_set, "B", "code set")
        n = _u32(len(col), "column length")
        out = self._out(out, "B", (n + 7) // 8)
        self._call("agk_mask_codes_u32", Ptr(col, "I"), n, Ptr(code_set, "B"), _u32(len(code_set) * 8, "codes"),
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
        return self._call("agk_bitmap_count", Ptr(a, "B"), _u32(len(a), "bitmap length")) & U32_MAX

    def bitmap_rows(self, a, n):
        """The indices of the set bits among the first n, ascending (uint32 array)."""
        a = self._in(a, "B", "bitmap")
        if len(a) * 8 < n:
            raise DimensionError(f"bitmap holds {len(a) * 8} bits, {n} requested")
        rows = new_array("I", self.bitmap_count(memoryview(a)[:(n + 7) // 8]))
        count = self._call("agk_bitmap_rows", Ptr(a, "B"), _u32(n, "n"), Ptr(memoryview(rows), "I", True))
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
            self._call("agk_copy_strided", Ptr(src[src_offset:], "B"), _u32(src_stride, "src_stride"),
                       Ptr(target, "B", True, out_offset) if isinstance(target, KBuffer) else
                       Ptr(target[out_offset:], "B", True), _u32(out_stride, "out_stride"), _u32(width, "width"),
                       _u32(n, "n"))
        return out

    # ---- HNSW (arrays owned by the caller; see agentdb.store.hnsw) -------------------------------

    def hnsw_scratch_bytes(self, capacity, ef, m):
        """Bytes of scratch an HNSW insert or search needs for this capacity, ef and m
        (DimensionError past the kernel's 4 GiB buffers)."""
        size = self._call("agk_hnsw_scratch_bytes", _u32(capacity, "capacity"), _u32(ef, "ef"), _u32(m, "m")) & U32_MAX
        if size == 0:
            raise DimensionError(f"HNSW scratch for capacity {capacity}, ef {ef}, m {m} exceeds the kernel's 4 GiB "
                                 "buffers (or m exceeds 1024)")
        return size

    def hnsw_scratch_init(self, scratch, capacity, ef, m):
        """Prepares scratch (a KBuffer of hnsw_scratch_bytes bytes; the kernel checks its size)."""
        self._checked("agk_hnsw_scratch_init", Ptr(scratch, "B", True), _u32(scratch.nbytes, "scratch bytes"),
                      _u32(capacity, "capacity"), _u32(ef, "ef"), _u32(m, "m"))

    def hnsw_assign_levels(self, rng_state, m, count, pool_used, levels, upper_off, *, first):
        """Draws levels for nodes first..first+count-1 and lays out their upper lists;
        returns the new size of the upper-level pool in words."""
        return self._call("agk_hnsw_assign_levels", Ptr(rng_state, "I", True), m, count, pool_used,
                          Ptr(levels, "I", True, first), Ptr(upper_off, "I", True, first)) & U32_MAX

    def hnsw_insert(self, graph, vectors, *, dim, metric, first, count, ef_construction, scratch):
        """Inserts nodes first..first+count-1; graph = (hdr, levels, links0, upper_off, upper)."""
        hdr, levels, links0, upper_off, upper = graph
        self._checked("agk_hnsw_insert", Ptr(hdr, "I", True), Ptr(levels, "I"), Ptr(links0, "I", True),
                      Ptr(upper_off, "I"), Ptr(upper, "I", True), Ptr(vectors, "f"), dim, metric, first, count,
                      ef_construction, Ptr(scratch, "B", True))

    def hnsw_check(self, graph, *, pool_words):
        """True when graph arrays (e.g. read from a file) are internally consistent: every
        count, level, offset and neighbour in range. Searches trust only checked graphs."""
        hdr, levels, links0, upper_off, upper = graph
        return self._call("agk_hnsw_check", Ptr(hdr, "I"), Ptr(levels, "I"), Ptr(links0, "I"), Ptr(upper_off, "I"),
                          Ptr(upper, "I"), _u32(pool_words, "pool words")) == 0

    def hnsw_searcher(self, graph, vectors, *, dim, metric, scratch, q_in, q, k):
        """A HnswSearcher over one graph for queries written into the KBuffer q_in (prepared
        into the KBuffer q on each search); make a new one when any of its buffers is replaced."""
        return HnswSearcher(self, graph, vectors, dim=dim, metric=metric, scratch=scratch, q_in=q_in, q=q, k=k)

    def hnsw_search_batch(self, graph, vectors, queries, *, dim, metric, scratch, q, k, ef, allowed=None):
        """What a HnswSearcher answers, for each of the m queries in `queries` (m x dim floats),
        in one kernel call with one copy in and one out: [(nodes list, scores float32 array)].
        q: a KBuffer of dim floats the kernel prepares each query in."""
        queries, allowed = self._in(queries, "f", "queries"), self._in(allowed, "B", "allowed")
        m = len(queries) // dim
        hdr, levels, links0, upper_off, upper = graph
        out = self.alloc(max(m * (2 * k + 1), 1), "I")     # nodes m*k | scores m*k | counts m
        rc = self._call("agk_hnsw_search_batch", Ptr(hdr, "I"), Ptr(levels, "I"), Ptr(links0, "I"),
                        Ptr(upper_off, "I"), Ptr(upper, "I"), Ptr(vectors, "f"), dim, metric,
                        Ptr(scratch, "B", True), Ptr(queries, "f"), Ptr(q, "f", True), Ptr(out, "I", True),
                        Ptr(out, "f", True, offset=m * k), Ptr(out, "I", True, offset=2 * m * k), Ptr(allowed, "B"),
                        _u32(k, "k"), _u32(ef, "ef"), _u32(m, "queries"))
        if rc == E_NONFINITE:
            self.refuse_query(queries, name="queries", dim=dim)
        if rc < 0:
            raise KernelError(f"agk_hnsw_search_batch: {_CODES.get(rc, 'error')} (code {rc})")
        words = out.read(0, m * (2 * k + 1))
        scores = array.array("f")
        scores.frombytes(words[m * k:2 * m * k].tobytes())
        return [(words[i * k:i * k + n].tolist(), scores[i * k:i * k + n])
                for i, n in enumerate(words[2 * m * k:].tolist())]

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
        self._checked("agk_embed_hash", Ptr(as_view(data, "B", name="text"), "B"), _u32(len(data), "text length"),
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
        return self._call(fname, _u32(crc, "crc"), Ptr(data, "B"), _u32(n, "data length")) & U32_MAX

    # ---- SIMD math (SimdOps) ----------------------------------------------------------------------

    def _pair(self, a, b):
        a, b = self._in(a, "f", "a"), self._in(b, "f", "b")
        if len(a) != len(b):
            raise DimensionError(f"vectors differ in length: {len(a)} and {len(b)}")
        return Ptr(a, "f"), Ptr(b, "f"), _u32(len(a), "vector length")

    def dot(self, a, b):
        """Inner product, accumulated in float32 in the kernel's fixed order."""
        return self._call("agk_dot_f32", *self._pair(a, b))

    def cosine(self, a, b):
        """Cosine similarity; 0.0 when either vector is zero."""
        return self._call("agk_cos_f32", *self._pair(a, b))

    def l2sq(self, a, b):
        """Squared Euclidean distance."""
        return self._call("agk_l2_f32", *self._pair(a, b))

    def l2_distance(self, a, b):
        """Euclidean distance (SimdOps.l2Distance)."""
        return math.sqrt(self.l2sq(a, b))

    def matvec(self, mat, v, *, rows, cols, out=None):
        """out[r] = dot(mat[r], v) for a rows x cols row-major matrix."""
        mat, v = self._in(mat, "f", "mat"), self._in(v, "f", "v")
        if len(mat) != rows * cols or len(v) != cols:
            raise DimensionError(f"matvec needs a {rows}x{cols} matrix ({rows * cols} values) and {cols} "
                                 f"values, got {len(mat)} and {len(v)}")
        out = self._out(out, "f", rows)
        self._call("agk_matvec_f32", Ptr(mat, "f"), _u32(rows, "rows"), _u32(cols, "cols"), Ptr(v, "f"),
                   self._out_ptr(out, "f"))
        return out

    def _binary(self, fname, a, b, out):
        pa, pb, n = self._pair(a, b)
        out = self._out(out, "f", n)
        self._call(fname, pa, pb, n, self._out_ptr(out, "f"))
        return out

    def _unary(self, fname, a, out, *extra):
        a = self._in(a, "f", "a")
        n = _u32(len(a), "vector length")
        out = self._out(out, "f", n)
        self._call(fname, Ptr(a, "f"), *extra, n, self._out_ptr(out, "f"))
        return out

    def add(self, a, b, *, out=None):
        """a + b, element-wise.

        >>> k.add([1, 2], [3, 4]).tolist()
        [4.0, 6.0]
        """
        return self._binary("agk_add_f32", a, b, out)

    def mul(self, a, b, *, out=None):
        """a * b, element-wise."""
        return self._binary("agk_mul_f32", a, b, out)

    def scale(self, a, s, *, out=None):
        """a * s for a scalar s."""
        return self._unary("agk_scale_f32", a, out, float(s))

    def normalize(self, a, *, out=None):
        """a / |a|; a zero vector stays zero."""
        return self._unary("agk_normalize_f32", a, out)

    def normalize_in_place(self, a):
        """Normalises a writable buffer or KBuffer in place and returns its squared norm before
        (one call: a non-finite result also reveals NaN or infinity in the input)."""
        a = a if isinstance(a, KBuffer) else as_view(a, "f", name="a", writable=True)
        return self._call("agk_normalize_f32", Ptr(a, "f", True), _u32(len(a), "vector length"), Ptr(a, "f", True))

    def query_preparer(self, raw, q, *, normalize):
        """A call that prepares the query in KBuffer raw into KBuffer q as searches read it
        (normalised when `normalize`), its arguments bound once; it returns |raw|^2, which is
        not finite when an element is not. HNSW searches do the same step themselves."""
        if len(raw) != len(q):
            raise DimensionError(f"query buffers differ in length: {len(raw)} and {len(q)}")
        return self._b.bind("agk_prepare_query_f32", (Ptr(raw, "f"), _u32(len(raw), "vector length"),
                                                      int(bool(normalize)), Ptr(q, "f", True)), scalars_only=True)

    def relu(self, a, *, out=None):
        """max(a, 0), element-wise."""
        return self._unary("agk_relu_f32", a, out)

    def gelu(self, a, *, out=None):
        """GELU, tanh approximation."""
        return self._unary("agk_gelu_f32", a, out)

    def sigmoid(self, a, *, out=None):
        """1 / (1 + exp(-a)), element-wise."""
        return self._unary("agk_sigmoid_f32", a, out)

    def exp(self, a, *, out=None):
        """exp(a), element-wise, within a few ulp (the kernel's own polynomial, not libm)."""
        return self._unary("agk_exp_f32", a, out)

    def softmax(self, a, *, out=None):
        """exp(a - max(a)) / sum(...): never overflows.

        >>> [round(v, 4) for v in k.softmax([1, 2, 3])]
        [0.09, 0.2447, 0.6652]
        """
        return self._unary("agk_softmax_f32", a, out)

    def layer_norm(self, a, *, gamma=None, beta=None, eps=1e-5, out=None):
        """(a - mean) / sqrt(var + eps) * gamma + beta (population variance)."""
        a = self._in(a, "f", "a")
        n = _u32(len(a), "vector length")
        gamma, beta = self._in(gamma, "f", "gamma"), self._in(beta, "f", "beta")
        for name, v in (("gamma", gamma), ("beta", beta)):
            if v is not None and len(v) != n:
                raise DimensionError(f"{name} has {len(v)} values, input has {n}")
        out = self._out(out, "f", n)
        self._call("agk_layernorm_f32", Ptr(a, "f"), n, Ptr(gamma, "f"), Ptr(beta, "f"), float(eps),
                   self._out_ptr(out, "f"))
        return out

    def normalize_rows(self, x, *, dim):
        """Normalises each row of x (a writable buffer or KBuffer) in place."""
        n = self._rows(self._in(x, "f", "x"), dim, "x")
        self._call("agk_normalize_rows_f32", self._out_ptr(x, "f"), n, dim)
        return x

    def norms_sq(self, x, *, dim, out=None):
        """|row|^2 for each row of x (n x dim)."""
        x = self._in(x, "f", "x")
        n = self._rows(x, dim, "x")
        out = self._out(out, "f", n)
        self._call("agk_norms_sq_f32", Ptr(x, "f"), n, dim, self._out_ptr(out, "f"))
        return out

    def find_nonfinite(self, a):
        """Index of the first NaN or infinity in a, or -1."""
        a = self._in(a, "f", "a")
        n = _u32(len(a), "vector length")
        i = self._call("agk_find_nonfinite_f32", Ptr(a, "f"), n) & U32_MAX
        return -1 if i == n else i

    def refuse_query(self, q, *, name="query", dim=None):
        """Raises NonFiniteError for a query (or m x dim queries) whose squared norm was not
        finite: naming its NaN or infinity, or saying the norm overflowed."""
        self.check_finite(q, name=name, dim=dim)
        raise NonFiniteError(f"{name}: a squared norm overflows float32; scale the vector down")

    def check_finite(self, a, *, name="vector", dim=None):
        """Raises NonFiniteError naming the first NaN or infinity (and its row when dim is given)."""
        i = self.find_nonfinite(a)
        if i >= 0:
            value = self._in(a, "f", name)[i] if not isinstance(a, KBuffer) else a.read(i, i + 1)[0]
            where = f"row {i // dim}, element {i % dim}" if dim else f"element {i}"
            raise NonFiniteError(f"{name}: {where} is {value}")

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
            _u32(value, name)

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
        size = _u32(self.gemm_packed_len(k, n), "packed length")
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
        out = self._out(out, "f", _u32(m * n, "output length"))
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
        return offsets, _u32(len(offsets) - 1, "number of sequences"), longest

    def attention_scratch_len(self, max_len, head_dim):
        """Floats of scratch attention() needs for sequences of up to max_len tokens."""
        size = self._call("agk_attention_scratch_len", _u32(max_len, "max_len"), _u32(head_dim, "head_dim"))
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
        out = self._out(out, "f", _u32(n_tokens * width, "output length"))
        self._distinct(out, ("qkv", qkv), ("scratch", scratch))
        self._checked("agk_attention_f32", Ptr(qkv, "f"), Ptr(qkv, "f", offset=width), Ptr(qkv, "f", offset=2 * width),
                      stride, Ptr(offsets, "I"), n_seqs, n_tokens, heads, head_dim, scale, Ptr(scratch, "f", True),
                      _u32(len(scratch), "scratch length"), self._out_ptr(out, "f"), width)
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
        out = self._out(out, "f", _u32(n_seqs * dim, "output length"))
        self._distinct(out, ("x", x))
        self._checked("agk_mean_pool_rows_f32", Ptr(x, "f"), n_rows, dim, Ptr(offsets, "I"), n_seqs,
                      int(bool(normalize)), self._out_ptr(out, "f"))
        return out


class HnswSearcher:
    """search(k, ef, allowed) -> (nodes as a list of ints, scores as float32 array) for the
    query in its KBuffer q_in, best first, the scores those of scan() (dot, or squared L2; for
    "cos" the query is normalised first). Every buffer argument (graph, scratch, query slots,
    outputs in kernel memory) is bound once, so an unfiltered query costs one kernel call with
    two scalars and one copy of its results out: a query's fixed cost is what a single-query
    caller pays, natively and in the browser (where each crossing costs tens of microseconds).
    A filter's bitmap is passed per call (a bitmap may be resized, so it is never bound)."""

    def __init__(self, kernel, graph, vectors, *, dim, metric, scratch, q_in, q, k):
        hdr, levels, links0, upper_off, upper = graph
        self.k = k                       # the most results one call can return
        self._kernel, self._q_in = kernel, q_in
        # nodes in out[0:k], score bits in out[k:2k]: read out with one copy
        self._out = kernel.alloc(2 * k, "I")
        self._host = bytearray(8 * k)
        self._host_nodes = memoryview(self._host).cast("I")
        self._read, self._out_handle = kernel._b.read, self._out.handle
        static = (Ptr(hdr, "I"), Ptr(levels, "I"), Ptr(links0, "I"), Ptr(upper_off, "I"), Ptr(upper, "I"),
                  Ptr(vectors, "f"), dim, metric, Ptr(scratch, "B", True), Ptr(q_in, "f"), Ptr(q, "f", True),
                  Ptr(self._out, "I", True), Ptr(self._out, "f", True, offset=k))
        self._search_all = kernel._b.bind("agk_hnsw_search", static + (Ptr(None, "B"),), scalars_only=True)
        self._search_in = kernel._b.bind("agk_hnsw_search", static)

    def __call__(self, k, ef, allowed):
        if k > self.k:
            raise ArgumentError(f"this searcher returns at most {self.k} results, {k} asked")
        if allowed is None:
            count = self._search_all(k, ef)
        else:
            count = self._search_in(Ptr(Kernel._in(allowed, "B", "allowed"), "B"), k, ef)
        if count < 0:
            if count == E_NONFINITE:
                self._kernel.refuse_query(self._q_in)
            raise KernelError(f"agk_hnsw_search: {_CODES.get(count, 'error')} (code {count})")
        host, first_score = self._host, 4 * self.k
        self._read(self._out_handle, 0, memoryview(host)[:first_score + 4 * count])
        scores = array.array("f")
        scores.frombytes(host[first_score:first_score + 4 * count])
        return self._host_nodes[:count].tolist(), scores
