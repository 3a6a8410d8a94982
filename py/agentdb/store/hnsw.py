"""The HNSW index: graph arrays in kernel memory, built and searched by the kernel.

Python only decides sizes; the kernel draws levels, inserts and searches. The same inserts
in the same order (and the same seed) build the same graph on every backend.

INDEX payload (segment 0x02, agentdb's; docs/FORMAT.md): a 64-byte header
    "AGIX" | version u16 | metric u8 | 0 u8 | m u32 | ef_construction u32 | seed u64 |
    nodes u32 | entry u32 | max_level u32 | pool_words u32 | rng_state 4 x u32 |
    rows_crc32c u32 | ids_crc32c u32
then levels[nodes], upper_off[nodes], links0[nodes * (2m + 1)], upper[pool_words], all u32.
The two CRCs cover the rows (float32) and ids (u64) the graph was built on, so a graph is only
used for the rows it belongs to; the kernel checks its structure before any search.
"""
import array
import struct

from ..errors import ArgumentError
from ..metrics import KERNEL_COS, KERNEL_L2

from ..rvf.file import INDEX_MAGIC
from .arrays import GrowableArray

HDR_WORDS = 8
NONE = 0xFFFFFFFF
_INDEX_HEAD = struct.Struct("<4sHBBIIQIIII4III")   # 64 bytes


def _splitmix32(seed):
    """Four nonzero xoshiro128** state words from a seed (integer maths: the same everywhere)."""
    state, out = seed & 0xFFFFFFFFFFFFFFFF, []
    while len(out) < 4:
        state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        word = (z ^ (z >> 31)) & 0xFFFFFFFF
        if word:
            out.append(word)
    return out


class HnswIndex:
    def __init__(self, kernel, *, dim, metric, m=16, ef_construction=200, seed=0, normalize_queries=False):
        # m and ef_construction were checked by the store (agentdb.store.options)
        self.k, self.dim, self.metric = kernel, dim, metric
        # cosine graphs hold unit rows scored by dot; their searches normalise the query first
        self._search_metric = KERNEL_COS if normalize_queries else metric
        self.m, self.m0, self.ef_construction, self.seed = m, 2 * m, ef_construction, seed
        self.hdr = kernel.from_buffer([NONE, 0, m, 2 * m, 0, 0, 0, 0], "I")
        self.rng = kernel.from_buffer(_splitmix32(seed), "I")
        self.levels = GrowableArray(kernel, "I")
        self.upper_off = GrowableArray(kernel, "I")
        self.links0 = GrowableArray(kernel, "I")
        self.upper = GrowableArray(kernel, "I")
        self.scratch = None
        self._scratch_shape = (0, 0)
        self._searcher = None       # bound to the current buffers; dropped when one is replaced
        self._searcher_for = None     # the (vectors, query in, query) buffers it was bound to

    def __len__(self):
        return self.levels.length

    @property
    def graph(self):
        return (self.hdr, self.levels.buf, self.links0.buf, self.upper_off.buf, self.upper.buf)

    @property
    def max_level(self):
        return self.hdr.read(1, 2)[0] if len(self) else 0

    @property
    def nbytes(self):
        """Bytes of graph data in use (levels, offsets, level-0 and upper lists)."""
        return sum(a.nbytes for a in (self.levels, self.upper_off, self.links0, self.upper)) + 4 * HDR_WORDS

    def _ensure_scratch(self, capacity, ef):
        # a beam wider than the graph finds the same nodes, so the kernel searches at most
        # `capacity` wide and the scratch is never sized for more (ef=10**9 stays small)
        capacity = max(capacity, 1)
        ef = min(ef, capacity)
        have_cap, have_ef = self._scratch_shape
        if capacity <= have_cap and ef <= have_ef:
            return
        capacity = max(capacity, have_cap + have_cap // 2)
        ef = min(max(ef, have_ef, self.ef_construction), capacity)
        scratch = self.k.alloc(self.k.hnsw_scratch_bytes(capacity, ef, self.m), "B")
        self.k.hnsw_scratch_init(scratch, capacity, ef, self.m)
        self.scratch, self._scratch_shape = scratch, (capacity, ef)
        self._searcher = None

    def reserve(self, total):
        """Allocates room for `total` nodes (upper lists grow in add); the only step of an
        insert that can fail, so a store calls it before changing anything."""
        for arr in (self.levels, self.upper_off):
            arr.reserve(total)
        self.links0.reserve(total * (self.m0 + 1))
        self._ensure_scratch(total, self.ef_construction)

    def add(self, vectors, count):
        """Inserts the next `count` rows of `vectors` (a KBuffer of all rows) as nodes."""
        first = len(self)
        total = first + count
        self.reserve(total)
        pool = self.k.hnsw_assign_levels(self.rng, self.m, count, self.upper.length, self.levels.buf,
                                         self.upper_off.buf, first=first)
        self.upper.resize(pool)
        self.levels.length = self.upper_off.length = total
        self.links0.length = total * (self.m0 + 1)
        self.k.hnsw_insert(self.graph, vectors, dim=self.dim, metric=self.metric, first=first, count=count,
                           ef_construction=self.ef_construction, scratch=self.scratch)
        self._searcher = None

    def _clamp(self, k, ef):
        """(k, ef) as a search can use them: ef >= k, both at most the node count."""
        n = max(len(self), 1)
        return min(k, n), min(max(ef, k), n)

    def search(self, vectors, q_in, q, k, ef, allowed):
        """(rows, scores) of the k nearest allowed nodes to the query in KBuffer q_in, best
        first; the query as searched (normalised for cosine) is left in KBuffer q. k and ef
        are clamped to the node count (the kernel does the same), so no size follows from them."""
        k, ef = self._clamp(k, ef)
        searcher = self._searcher
        # a searcher is dropped whenever the graph, its scratch or its node count changes
        if searcher is None or k > searcher.k or ef > self._scratch_shape[1] or self._searcher_for != (vectors, q_in, q):
            self._ensure_scratch(len(self), ef)
            searcher = self._searcher = self.k.hnsw_searcher(self.graph, vectors, dim=self.dim,
                                                             metric=self._search_metric, scratch=self.scratch,
                                                             q_in=q_in, q=q, k=max(k, 16))
            self._searcher_for = (vectors, q_in, q)
        return searcher(k, ef, allowed)

    def search_batch(self, vectors, queries, q, k, ef, allowed):
        """search() for each of the m queries in `queries` (m x dim floats), in one kernel
        call: [(rows, scores)]. KBuffer q holds each query as it is searched."""
        k, ef = self._clamp(k, ef)
        self._ensure_scratch(len(self), ef)
        return self.k.hnsw_search_batch(self.graph, vectors, queries, dim=self.dim, metric=self._search_metric,
                                        scratch=self.scratch, q=q, k=k, ef=ef, allowed=allowed)

    # ---- reading the graph: its levels and the greedy descent of a search ---------------------

    def _lists(self):
        """(levels, upper_off, links0, upper) read out of kernel memory, as array.array('I')."""
        return tuple(a.read() for a in (self.levels, self.upper_off, self.links0, self.upper))

    def _list_at(self, lists, node, level):
        """(words, start, count): node's neighbour list on `level` is words[start:start + count]
        (its layout: agentdb_kernel.h; the count is the list's first word)."""
        _, upper_off, links0, upper = lists
        if level == 0:
            base, words = node * (self.m0 + 1), links0
        else:
            base, words = upper_off[node] + (level - 1) * (self.m + 1), upper
        return words, base + 1, words[base]

    def levels_csr(self):
        """Every level of the graph, level 0 first: [(nodes, offsets, targets)], array.array('I')
        each: the nodes on that level ascending (a node is on levels 0..its own level), and
        their neighbour lists there in CSR form (node nodes[p]'s neighbours are
        targets[offsets[p]:offsets[p + 1]], in the order the graph keeps them and a search
        walks them). Neighbours are node numbers, and on level l only nodes of level l or up."""
        lists = self._lists()
        levels, n = lists[0], len(self)
        out = []
        for level in range(self.max_level + 1 if n else 0):
            nodes, offsets, targets = array.array("I"), array.array("I", [0]), array.array("I")
            for node in range(n):
                if levels[node] >= level:
                    words, start, count = self._list_at(lists, node, level)
                    nodes.append(node)
                    targets.extend(words[start:start + count])
                    offsets.append(len(targets))
            out.append((nodes, offsets, targets))
        return out

    def neighbours(self, node, level=0):
        """Node's neighbour list on `level` (array.array('I') of node numbers, in the graph's
        order); ArgumentError for a level the graph does not have or a node not on it."""
        for name, value in (("node", node), ("level", level)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ArgumentError(f"{name} must be an integer, got {value!r}")
        if not 0 <= level <= self.max_level or not len(self):
            raise ArgumentError(f"level {level} is not a level of this graph: it has levels 0..{self.max_level}"
                                if len(self) else f"level {level}: the graph is empty")
        if not 0 <= node < len(self):
            raise ArgumentError(f"node {node} is not a node of this graph: it has nodes 0..{len(self) - 1}")
        node_level = self.levels.read(node, node + 1)[0]
        if node_level < level:
            raise ArgumentError(f"node {node} is not on level {level}: its levels are 0..{node_level}")
        if level == 0:
            words, base = self.links0, node * (self.m0 + 1)
        else:
            words, base = self.upper, self.upper_off.read(node, node + 1)[0] + (level - 1) * (self.m + 1)
        return words.read(base + 1, base + 1 + words.read(base, base + 1)[0])

    def descent(self, vectors, q):
        """The node a search's greedy descent stops at on each level above 0, top level first:
        [(level, node)], for the prepared query in KBuffer q (agk_hnsw_search's walk step for
        step: from the entry point, on each level move to the closest neighbour of the current
        node until none is closer, distance ties to the lower node; the distances are the
        kernel's scan scores, the same bits the walk computes). Level 0's beam search starts
        from the last of them (the entry point when the graph has one level)."""
        if not len(self):
            return []
        lists = self._lists()
        rows = vectors.head(len(self) * self.dim)
        l2 = self.metric == KERNEL_L2
        scan = "l2" if l2 else "dot"

        def dist(nodes):          # smaller is closer: squared L2, or -dot
            scores = self.k.scan(q, rows, dim=self.dim, metric=scan, subset=nodes)
            return list(scores) if l2 else [-s for s in scores]

        ep, top = self.hdr.read(0, 2)
        d_ep = dist([ep])[0]
        path = []
        for level in range(top, 0, -1):
            changed = True
            while changed:
                changed = False
                words, start, count = self._list_at(lists, ep, level)
                nbs = words[start:start + count]
                # the list of the node the pass began at, each compared with the best so far
                for nb, d in zip(nbs, dist(nbs) if count else []):
                    if d < d_ep or d == d_ep and nb < ep:
                        ep, d_ep, changed = nb, d, True
            path.append((level, ep))
        return path

    # ---- INDEX segments -----------------------------------------------------------------

    def export(self, rows_crc, ids_crc):
        """The INDEX payload of the graph as it stands."""
        hdr = self.hdr.read()
        head = _INDEX_HEAD.pack(INDEX_MAGIC, 1, self.metric, 0, self.m, self.ef_construction, self.seed, len(self),
                                hdr[0], hdr[1], self.upper.length, *self.rng.read(), rows_crc, ids_crc)
        return head + b"".join(bytes(memoryview(a.read()).cast("B"))
                               for a in (self.levels, self.upper_off, self.links0, self.upper))

    def load(self, payload, rows, rows_crc_of, ids_crc_of):
        """Adopts a stored graph if it was built with this index's parameters on the same first
        rows (rows_crc_of(n), ids_crc_of(n) give the checksums of the first n rows and ids) and
        passes the kernel's structural check. rows: how many rows the store holds. Returns the
        node count adopted, or a reason string."""
        if len(payload) < _INDEX_HEAD.size:
            return "the INDEX segment is truncated"
        (magic, version, metric, _, m, efc, seed, n, entry, max_level, pool, r0, r1, r2, r3, rows_crc,
         ids_crc) = _INDEX_HEAD.unpack_from(payload, 0)
        if magic != INDEX_MAGIC or version != 1:
            return "the INDEX segment has an unknown version"
        if (metric, m, efc, seed) != (self.metric, self.m, self.ef_construction, self.seed):
            return "the INDEX segment was built with other parameters"
        if n > rows:
            return f"the INDEX segment covers {n} rows, the file holds {rows}"
        words = 2 * n + n * (2 * m + 1) + pool
        if len(payload) != _INDEX_HEAD.size + 4 * words:
            return "the INDEX segment's size does not match its header"
        if rows_crc_of(n) != rows_crc or ids_crc_of(n) != ids_crc:
            return "the INDEX segment belongs to other rows"
        body = memoryview(payload)[_INDEX_HEAD.size:].cast("I")
        arrays = {}
        at = 0
        for name, length in (("levels", n), ("upper_off", n), ("links0", n * (2 * m + 1)), ("upper", pool)):
            buf = self.k.alloc(max(length, 1), "I")
            buf.write(body[at:at + length])
            arrays[name] = buf
            at += length
        hdr = self.k.from_buffer([entry, max_level, m, 2 * m, n, 0, 0, 0], "I")
        graph = (hdr, arrays["levels"], arrays["links0"], arrays["upper_off"], arrays["upper"])
        if not self.k.hnsw_check(graph, pool_words=pool):
            return "the INDEX segment's graph is inconsistent"
        self.hdr = hdr
        self.rng.write([r0, r1, r2, r3])
        for name, length in (("levels", n), ("upper_off", n), ("links0", n * (2 * m + 1)), ("upper", pool)):
            getattr(self, name).replace(arrays[name], length)
        self._searcher = None
        return n
