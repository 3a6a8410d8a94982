"""Adjacency in kernel memory: a CSR of the entries that existed at its last build plus a
delta of the entries written since, read in place from the graph's own edge arrays.

An Adjacency lists entries (key -> val, id) of one source: the edges' out-adjacency (key =
src slot, val = dst slot, id = the edge's slot), their in-adjacency (dst -> src), both at
once (AGK_GRAPH_BOTH: each edge both ways, for direction="both"), or hyperedge membership
(key = member node, val = id = the hyperedge). The CSR is rebuilt by one counting sort in the
kernel (agk_graph_csr_build, dead entries dropped) when the delta or the entries retired since
the build outgrow a fraction of it, or before a walk that wants none (Dijkstra); a walk reads
the CSR rows of its frontier and scans the delta (agk_graph_expand).
"""
from ..kernel.buffers import U32_MAX

DELTA_MIN = 4096        # entries a delta may hold whatever the CSR's size
DELTA_SHARE = 8         # ... or one entry per this many in the CSR


class Adjacency:
    """CSR + delta over the GrowableArrays key / val (/ ids) of a table."""

    def __init__(self, kernel, key, val, ids=None, both=False):
        self.k = kernel
        self.key, self.val, self.ids, self.both = key, val, ids, both
        self.base = 0                 # entries [0, base) are in the CSR, [base, n) are the delta
        self.rows = 0                 # key slots the CSR has rows for
        self.off = self.tgt = self.eid = None
        self.retired = 0              # entries retired since the build (still in the CSR)
        self.built = False
        self.builds = 0               # how many times it was built (bound walks key on it)

    def invalidate(self):
        """The source arrays were renumbered or cut: rebuild before the next walk."""
        self.built = False

    def retire(self, count=1):
        self.retired += count

    def ensure(self, n, n_rows, n_vals, mask, *, max_delta=None):
        """Rebuilds the CSR over entries [0, n) when it is missing, its delta holds more than
        max_delta entries (default: DELTA_MIN or a DELTA_SHARE-th of the CSR) or as many were
        retired. mask: a bitmap of live entries (None: all)."""
        usual = max(DELTA_MIN, self.base // DELTA_SHARE)
        limit = usual if max_delta is None else max_delta
        if self.built and 0 <= n - self.base <= limit and self.retired <= usual:
            return
        per = 2 if self.both else 1
        room = max(1, per * n)
        off, tgt, eid = self.k.alloc(n_rows + 1, "I"), self.k.alloc(room, "I"), self.k.alloc(room, "I")
        self.k.graph_csr_build(self.key.buf, self.val.buf, n=n, n_rows=n_rows, n_vals=n_vals, off=off, tgt=tgt,
                               eid=eid, ids=self.ids.buf if self.ids is not None else None, mask=mask,
                               both=self.both)
        self.off, self.tgt, self.eid = off, tgt, eid
        self.base, self.rows, self.retired, self.built = n, n_rows, 0, True
        self.builds += 1

    def walk_args(self, n):
        """The CSR and delta arguments of graph_expand for entries [0, n)."""
        delta = n - self.base
        return dict(off=self.off, tgt=self.tgt, eid=self.eid, n_rows=self.rows, d_key=self.key.buf,
                    d_val=self.val.buf, d_eid=self.ids.buf if self.ids is not None else None, d_first=self.base,
                    n_delta=delta, d_offset=self.base, both=self.both)

    @property
    def nbytes(self):
        return sum(b.nbytes for b in (self.off, self.tgt, self.eid) if b is not None)


class Scratch:
    """A walk's buffers, kept between walks: the visited and frontier bitmaps (all zeros
    between walks: a walk clears the bits it set) and the out list, sized to the node count."""

    def __init__(self, kernel):
        self.k = kernel
        self.cap = 0
        self.visited = self.frontier_bits = self.out = self.out_edge = None

    def ready(self, n):
        if n + 1 > self.cap:
            cap = max(64, n + 1, self.cap * 3 // 2)
            self.visited = self.k.alloc((cap + 7) // 8, "B")
            self.frontier_bits = self.k.alloc((cap + 7) // 8, "B")
            self.out = self.k.alloc(cap, "I")
            self.out_edge = self.k.alloc(cap, "I")
            self.cap = cap
        return self

    def clear(self, count):
        """Clears the visited bits of out[0:count] (the walk's nodes)."""
        if count:
            self.k.bitmap_mark_rows(self.out, self.visited, n_bits=self.cap, value=False, n=count)


NONE = U32_MAX
