"""The Kernel's quantization ops: int8 scalar, binary, k-means and product quantization
(a mixin of core.Kernel; the Kernel's plumbing validates and calls).
"""

from ..errors import ArgumentError, DimensionError, OptionError
from ..metrics import kernel_code
from .buffers import Ptr, new_array
from .codes import I8_MAX_DIM, PQ_TABLE_WIDTH


class QuantOps:
    """int8 / binary codes and their scans, k-means, PQ codebooks, tables and scans."""

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
        code = kernel_code(metric)
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
