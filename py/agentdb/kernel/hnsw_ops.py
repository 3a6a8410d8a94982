"""The Kernel's HNSW ops and the bound single-query searcher (a mixin of core.Kernel; the
graph arrays are owned by agentdb.store.hnsw).
"""

import array

from ..errors import ArgumentError, DimensionError, KernelError
from .buffers import U32_MAX, Ptr, u32
from .codes import CODES, E_NONFINITE


class HnswOps:
    """HNSW scratch, level assignment, insert, batched search, the graph check and the searcher."""

    # ---- HNSW (arrays owned by the caller; see agentdb.store.hnsw) -------------------------------

    def hnsw_scratch_bytes(self, capacity, ef, m):
        """Bytes of scratch an HNSW insert or search needs for this capacity, ef and m
        (DimensionError past the kernel's 4 GiB buffers)."""
        size = self._call("agk_hnsw_scratch_bytes", u32(capacity, "capacity"), u32(ef, "ef"), u32(m, "m")) & U32_MAX
        if size == 0:
            raise DimensionError(f"HNSW scratch for capacity {capacity}, ef {ef}, m {m} exceeds the kernel's 4 GiB "
                                 "buffers (or m exceeds 1024)")
        return size

    def hnsw_scratch_init(self, scratch, capacity, ef, m):
        """Prepares scratch (a KBuffer of hnsw_scratch_bytes bytes; the kernel checks its size)."""
        self._checked("agk_hnsw_scratch_init", Ptr(scratch, "B", True), u32(scratch.nbytes, "scratch bytes"),
                      u32(capacity, "capacity"), u32(ef, "ef"), u32(m, "m"))

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
                          Ptr(upper, "I"), u32(pool_words, "pool words")) == 0

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
                        u32(k, "k"), u32(ef, "ef"), u32(m, "queries"))
        if rc == E_NONFINITE:
            self.refuse_query(queries, name="queries", dim=dim)
        if rc < 0:
            raise KernelError(f"agk_hnsw_search_batch: {CODES.get(rc, 'error')} (code {rc})")
        words = out.read(0, m * (2 * k + 1))
        scores = array.array("f")
        scores.frombytes(words[m * k:2 * m * k].tobytes())
        return [(words[i * k:i * k + n].tolist(), scores[i * k:i * k + n])
                for i, n in enumerate(words[2 * m * k:].tolist())]


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
            count = self._search_in(Ptr(self._kernel._in(allowed, "B", "allowed"), "B"), k, ef)
        if count < 0:
            if count == E_NONFINITE:
                self._kernel.refuse_query(self._q_in)
            raise KernelError(f"agk_hnsw_search: {CODES.get(count, 'error')} (code {count})")
        host, first_score = self._host, 4 * self.k
        self._read(self._out_handle, 0, memoryview(host)[:first_score + 4 * count])
        scores = array.array("f")
        scores.frombytes(host[first_score:first_score + 4 * count])
        return self._host_nodes[:count].tolist(), scores
