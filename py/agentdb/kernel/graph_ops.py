"""The Kernel's property-graph ops (agentdb.graph): CSR adjacency built by a counting sort, one
breadth-first hop over a CSR plus a delta of recent edges, Dijkstra, and two bitmap helpers (a
mixin of core.Kernel; formulas in csrc/agentdb_kernel.h).

Buffers are KBuffers (or any buffer of the element type); every length the C side reads is
checked here first, so a call never reads past a buffer.
"""
import array

from ..errors import ArgumentError, BufferFormatError, DimensionError, KernelError
from .buffers import U32_MAX, KBuffer, Ptr, as_view, u32
from .codes import CODES

GRAPH_BOTH = 1          # AGK_GRAPH_BOTH
GRAPH_OPEN_START = 2    # AGK_GRAPH_OPEN_START
NONE = U32_MAX          # "no node / no edge" in parent arrays and Dijkstra's target


class GraphOps:
    """Adjacency and traversal over caller-owned arrays (agentdb.graph owns them)."""

    def _span(self, buf, fmt, need, name, offset=0, out=False):
        """A Ptr to `need` elements of buf from element `offset` (None: a NULL pointer); out:
        the kernel writes there."""
        if buf is None:
            return Ptr(None, fmt)
        if out and not isinstance(buf, KBuffer):
            buf = as_view(buf, fmt, name=name, writable=True)
        else:
            buf = self._in(buf, fmt, name)
        if offset < 0 or offset + need > len(buf):
            raise DimensionError(f"{name} holds {len(buf)} elements; {need} from element {offset} are needed")
        return Ptr(buf, fmt, out, offset)

    def _bits(self, buf, nbits, name, out=False):
        """A Ptr to a bitmap of at least nbits bits (None: NULL)."""
        return self._span(buf, "B", (nbits + 7) // 8, name, out=out)

    def _graph_rc(self, fname, rc):
        if rc < 0:
            raise KernelError(f"{fname}: {CODES.get(rc, 'error')} (code {rc})")
        return rc

    def graph_csr_build(self, key, val, *, n, n_rows, n_vals, off, tgt, eid, ids=None, mask=None, both=False):
        """Counting sort of n entries (key[i] -> val[i], id ids[i] or i) into CSR arrays: off
        (n_rows + 1), tgt and eid (one per entry, two with both=True); entries whose mask bit is
        clear are left out. Returns how many were written.

        >>> off, tgt, eid = (array.array("I", bytes(4 * m)) for m in (4, 3, 3))
        >>> k.graph_csr_build([2, 0, 2], [0, 1, 1], n=3, n_rows=3, n_vals=3, off=off, tgt=tgt, eid=eid)
        3
        >>> off.tolist(), tgt.tolist(), eid.tolist()
        ([0, 1, 1, 3], [1, 0, 1], [1, 0, 2])
        """
        u32(n, "n"), u32(n_rows, "n_rows"), u32(n_vals, "n_vals")
        entries = u32(n * (2 if both else 1), "entries")      # room for all of them, masked or not
        rc = self._call("agk_graph_csr_build", self._span(key, "I", n, "key"), self._span(val, "I", n, "val"),
                        self._span(ids, "I", n, "ids"), n, n_rows, n_vals, self._bits(mask, n, "mask"),
                        GRAPH_BOTH if both else 0, self._span(off, "I", n_rows + 1, "off", out=True),
                        self._span(tgt, "I", entries, "tgt", out=True), self._span(eid, "I", entries, "eid", out=True))
        return self._graph_rc("agk_graph_csr_build", rc)

    def graph_expand(self, *, frontier, n_frontier, out, out_cap, frontier_offset=0, out_offset=0, out_edge=None,
                     **walk):
        """One breadth-first hop (agk_graph_expand): the entries of the frontier's nodes (its
        first n_frontier elements from frontier_offset) in the CSR (off/tgt/eid over n_rows
        rows) and in the delta (d_key/d_val/d_eid, n_delta entries from d_offset, ids d_first + i
        without d_eid) that pass the filter, into out (from out_offset; at most out_cap).
        Returns the reaches counted (more than out_cap: call again with room). walk: what
        graph_expander() takes.

        >>> off, tgt, eid = array.array("I", [0, 2, 3, 3]), array.array("I", [1, 2, 2]), array.array("I", [0, 1, 2])
        >>> out = array.array("I", bytes(12)); seen = bytearray(1)
        >>> k.graph_expand(off=off, tgt=tgt, eid=eid, n_rows=3, frontier=[0], n_frontier=1, n_keys=3,
        ...                n_targets=3, n_edges=3, out=out, out_cap=3, visited=seen), out.tolist()
        (2, [1, 2, 0])
        """
        return self.graph_expander(**walk)(frontier, n_frontier, out, out_cap, frontier_offset=frontier_offset,
                                           out_offset=out_offset, out_edge=out_edge)

    def graph_expander(self, **walk):
        """An Expander: agk_graph_expand with everything but the frontier and the out lists
        checked and bound once (a walk calls it once per hop). Keep the buffers unchanged while
        it is in use. walk: off, tgt, eid, n_rows, n_keys, n_targets, n_edges (required); the
        delta d_key, d_val, d_eid, d_first, n_delta, d_offset; both; the filter edge_mask, etype,
        type_set, n_types, vfrom, vto, window; frontier_bits, visited, parent_node, parent_edge.

        >>> off, tgt, eid = array.array("I", [0, 1, 2, 2]), array.array("I", [1, 2]), array.array("I", [0, 1])
        >>> out = array.array("I", bytes(16)); out[0] = 0
        >>> hop = k.graph_expander(off=off, tgt=tgt, eid=eid, n_rows=3, n_keys=3, n_targets=3, n_edges=2)
        >>> hop(out, 1, out, 3, out_offset=1), hop(out, 1, out, 2, frontier_offset=1, out_offset=2), out.tolist()
        (1, 1, [0, 1, 2, 0])
        """
        return Expander(self, self._walk_static(**walk))

    def graph_walker(self, *, out, visited, n_targets, open_start=False, **walk):
        """A Walker: a whole breadth-first walk per call (agk_graph_bfs) with everything but
        the start, the hops and the stop node checked and bound once. out: a KBuffer of at least
        n_targets + 1 uint32 (the walk's nodes, the start first); visited: a KBuffer of n_targets
        zero bits (zeros again after each walk); open_start: the start is not marked visited, so
        a loop reaches it again (neighbours). walk: what graph_expander() takes. Keep the
        buffers unchanged while it is in use.

        >>> off, tgt, eid = array.array("I", [0, 2, 3, 4]), array.array("I", [1, 2, 2, 0]), array.array("I", [0, 1, 2, 3])
        >>> out, seen = k.alloc(4, "I"), k.alloc(1, "B")
        >>> walk = k.graph_walker(off=off, tgt=tgt, eid=eid, n_rows=3, n_keys=3, n_targets=3, n_edges=4, out=out,
        ...                       visited=seen)
        >>> n = walk(1); out.read(0, n).tolist(), walk(1, hops=1), seen.read().tolist()
        ([1, 2, 0], 2, [0])
        """
        for name, buf in (("out", out), ("visited", visited), ("frontier_bits", walk.get("frontier_bits")),
                          ("parent_node", walk.get("parent_node")), ("parent_edge", walk.get("parent_edge"))):
            if buf is not None and not isinstance(buf, KBuffer) or buf is None and name in ("out", "visited"):
                raise BufferFormatError(f"{name} of a walker must be a KBuffer (the kernel writes it, bound once)")
        u32(n_targets, "n_targets")
        if n_targets > walk.get("n_keys", 0):
            raise DimensionError(f"n_targets ({n_targets}) exceeds n_keys ({walk.get('n_keys')}): every node "
                                 "reached must be able to be a frontier node")
        if walk.get("n_delta") and walk.get("frontier_bits") is None:
            raise DimensionError("a walk over a delta needs frontier_bits")
        static = self._walk_static(n_targets=n_targets, visited=visited, **walk)
        if open_start:
            static[10] |= GRAPH_OPEN_START
        static += [self._span(out, "I", n_targets + 1, "out", out=True), n_targets + 1]
        return Walker(self, static, out, n_targets)

    def graph_bfs(self, start, *, hops=None, stop=None, out=None, **walk):
        """One breadth-first walk from start (agk_graph_bfs): the nodes within `hops` hops (None:
        all), nearest first, in the order reached, the start first (an array.array; with
        stop: the walk ends once stop is reached). walk: what graph_walker() takes, out and
        visited as any writable buffers.

        >>> off, tgt, eid = array.array("I", [0, 2, 3, 4]), array.array("I", [1, 2, 2, 0]), array.array("I", [0, 1, 2, 3])
        >>> k.graph_bfs(2, off=off, tgt=tgt, eid=eid, n_rows=3, n_keys=3, n_targets=3, n_edges=4,
        ...             visited=bytearray(1)).tolist()
        [2, 0, 1]
        """
        n_targets = walk["n_targets"]
        kbuf = {name: self._kernel_copy(walk.get(name), fmt, name, size)
                for name, fmt, size in (("visited", "B", (n_targets + 7) // 8), ("frontier_bits", "B", None),
                                        ("parent_node", "I", None), ("parent_edge", "I", None))}
        kout = self.alloc(n_targets + 1, "I")
        walker = self.graph_walker(**{**walk, **kbuf}, out=kout)
        count = walker(start, hops=hops, stop=stop)
        for name, buf in kbuf.items():        # the caller's buffers get what the kernel wrote
            given = walk.get(name)
            if given is not None and not isinstance(given, KBuffer):
                as_view(given, buf.fmt, name=name, writable=True)[:len(buf)] = buf.read()
        found = kout.read(0, count)
        if out is not None:
            as_view(out, "I", name="out", writable=True)[:count] = found
        return found

    def _kernel_copy(self, buf, fmt, name, size):
        """buf as a KBuffer (itself, or a copy of at least `size` elements; None stays None)."""
        if buf is None or isinstance(buf, KBuffer):
            return buf
        view = as_view(buf, fmt, name=name, writable=True)
        if size is not None and len(view) < size:
            raise DimensionError(f"{name} holds {len(view)} elements, {size} needed")
        return self.from_buffer(view, fmt) if len(view) else self.alloc(1, fmt)

    def _walk_static(self, *, off, tgt, eid, n_rows, n_keys, n_targets, n_edges, d_key=None, d_val=None,
                     d_eid=None, d_first=0, n_delta=0, d_offset=0, both=False, edge_mask=None, etype=None,
                     type_set=None, n_types=0, vfrom=None, vto=None, window=None, frontier_bits=None,
                     visited=None, parent_node=None, parent_edge=None):
        """The arguments agk_graph_expand and agk_graph_bfs take first, checked and converted."""
        n_entries = min(len(self._in(tgt, "I", "tgt")), len(self._in(eid, "I", "eid")))
        for name, value in (("n_rows", n_rows), ("n_keys", n_keys), ("n_targets", n_targets), ("n_edges", n_edges),
                            ("n_delta", n_delta), ("d_first", d_first), ("n_types", n_types)):
            u32(value, name)
        if n_delta and d_eid is None and d_first + n_delta > n_edges:
            raise DimensionError(f"delta ids {d_first} .. {d_first + n_delta - 1} exceed the {n_edges} entry ids")
        if type_set is not None and etype is None or window is not None and (vfrom is None or vto is None):
            raise DimensionError("type_set needs etype, and window needs vfrom and vto")
        static = [
            self._span(off, "I", n_rows + 1 if n_rows else 0, "off"), self._span(tgt, "I", n_entries, "tgt"),
            self._span(eid, "I", n_entries, "eid"), n_rows, n_entries, self._span(d_key, "I", n_delta, "d_key", d_offset),
            self._span(d_val, "I", n_delta, "d_val", d_offset), self._span(d_eid, "I", n_delta, "d_eid", d_offset),
            d_first, n_delta, GRAPH_BOTH if both else 0, self._bits(edge_mask, n_edges, "edge_mask"), n_edges,
            self._span(etype, "I", n_edges if type_set is not None else 0, "etype"),
            self._bits(type_set, n_types, "type_set"), n_types,
            self._span(vfrom, "d", n_edges if window is not None else 0, "vfrom"),
            self._span(vto, "d", n_edges if window is not None else 0, "vto"), self._span(window, "d", 2, "window"),
            self._bits(frontier_bits, n_keys if n_delta else 0, "frontier_bits", out=frontier_bits is not None),
            n_keys, self._bits(visited, n_targets, "visited", out=visited is not None), n_targets,
            self._span(parent_node, "I", n_targets, "parent_node", out=True),
            self._span(parent_edge, "I", n_targets, "parent_edge", out=True)]
        return static

    def graph_dijkstra(self, *, off, tgt, eid, n_rows, weight, source, n_nodes, n_edges, dist, parent_node,
                       parent_edge, heap, pos, target=NONE, both=False, edge_mask=None, etype=None, type_set=None,
                       n_types=0, vfrom=None, vto=None, window=None):
        """Least-weight paths from source over a CSR (agk_graph_dijkstra), until target is
        settled: dist (float64 per node, inf unreached), parent_node / parent_edge (NONE for
        none). heap and pos: n_nodes uint32 of scratch each. Returns the nodes settled.

        >>> off, tgt, eid = array.array("I", [0, 2, 3, 3]), array.array("I", [1, 2, 2]), array.array("I", [0, 1, 2])
        >>> dist, pn, pe, heap, pos = array.array("d", bytes(24)), *(array.array("I", bytes(12)) for _ in range(4))
        >>> k.graph_dijkstra(off=off, tgt=tgt, eid=eid, n_rows=3, weight=[5.0, 9.0, 1.0], source=0, n_nodes=3,
        ...                  n_edges=3, dist=dist, parent_node=pn, parent_edge=pe, heap=heap, pos=pos), dist.tolist()
        (3, [0.0, 5.0, 6.0])
        """
        n_entries = min(len(self._in(tgt, "I", "tgt")), len(self._in(eid, "I", "eid")))
        for name, value in (("n_rows", n_rows), ("n_nodes", n_nodes), ("n_edges", n_edges), ("n_types", n_types),
                            ("source", source), ("target", target)):
            u32(value, name)
        if type_set is not None and etype is None or window is not None and (vfrom is None or vto is None):
            raise DimensionError("type_set needs etype, and window needs vfrom and vto")
        rc = self._call(
            "agk_graph_dijkstra", self._span(off, "I", n_rows + 1 if n_rows else 0, "off"),
            self._span(tgt, "I", n_entries, "tgt"), self._span(eid, "I", n_entries, "eid"), n_rows, n_entries, self._bits(edge_mask, n_edges, "edge_mask"), n_edges,
            self._span(etype, "I", n_edges if type_set is not None else 0, "etype"),
            self._bits(type_set, n_types, "type_set"), n_types,
            self._span(vfrom, "d", n_edges if window is not None else 0, "vfrom"),
            self._span(vto, "d", n_edges if window is not None else 0, "vto"), self._span(window, "d", 2, "window"),
            self._span(weight, "d", n_edges, "weight"), source, target, n_nodes,
            self._span(dist, "d", n_nodes, "dist", out=True),
            self._span(parent_node, "I", n_nodes, "parent_node", out=True),
            self._span(parent_edge, "I", n_nodes, "parent_edge", out=True),
            self._span(heap, "I", n_nodes, "heap", out=True), self._span(pos, "I", n_nodes, "pos", out=True))
        return self._graph_rc("agk_graph_dijkstra", rc)

    def bitmap_mark_rows(self, rows, bits, *, n_bits, value=True, n=None, offset=0):
        """Sets (value=True) or clears bit r of bits for each r in rows (its n elements from
        offset; all by default); KernelError, nothing changed, when one is >= n_bits.

        >>> bits = bytearray(2); k.bitmap_mark_rows([1, 9], bits, n_bits=16); bytes(bits)
        2
        b'\\x02\\x02'
        """
        rows_in = self._in(rows, "I", "rows")
        n = len(rows_in) - offset if n is None else n
        u32(n, "n"), u32(n_bits, "n_bits")
        rc = self._call("agk_bitmap_mark_rows", self._span(rows_in, "I", n, "rows", offset), n, int(bool(value)),
                        self._bits(bits, n_bits, "bits", out=True), n_bits)
        return self._graph_rc("agk_bitmap_mark_rows", rc)

    def bitmap_rank(self, bits, n, *, out=None):
        """rank[i] = how many set bits precede bit i when it is set, else 4294967295: the new
        row of each kept row when the set ones are kept in order. Returns (rank, count).

        >>> rank, count = k.bitmap_rank(bytes([0b101]), 3); rank.tolist(), count
        ([0, 4294967295, 1], 2)
        """
        u32(n, "n")
        out = self._out(out, "I", n)
        count = self._call("agk_bitmap_rank", self._bits(bits, n, "bits"), n, self._out_ptr(out, "I")) & U32_MAX
        return out, count

    def column_stats_u32(self, values, n=None):
        """(least, greatest, descents) of the first n (all by default) of a u32 buffer in one
        kernel pass: descents counts the i with values[i] <= values[i - 1] (0: strictly
        ascending); (4294967295, 0, 0) when there are none.

        >>> k.column_stats_u32(array.array("I", [7, 3, 9]))
        (3, 9, 1)
        """
        values = self._in(values, "I", "values")
        n = len(values) if n is None else n
        u32(n, "n")
        out = array.array("I", bytes(12))
        self._call("agk_column_stats_u32", self._span(values, "I", n, "values"), n, self._out_ptr(out, "I"))
        return out[0], out[1], out[2]

    def iota_u64(self, start, n):
        """array('Q') of start, start + 1, .. start + n - 1, made in the kernel (a Python range
        would make an int object per value).

        >>> k.iota_u64(2**32 - 1, 3).tolist()
        [4294967295, 4294967296, 4294967297]
        """
        if not 0 <= start < 1 << 64:
            raise ArgumentError(f"start must be in 0 .. 2**64 - 1, got {start}")
        words = array.array("I", bytes(8 * u32(n, "n")))
        if n:
            self._call("agk_iota_u64", start & U32_MAX, start >> 32, n, self._out_ptr(words, "I"))
        out = array.array("Q")
        out.frombytes(memoryview(words).cast("B"))
        return out



class Expander:
    """expander(frontier, n_frontier, out, out_cap, *, frontier_offset=0, out_offset=0,
    out_edge=None) -> the reaches counted: one agk_graph_expand hop over the arguments bound by
    Kernel.graph_expander. The bound ones are converted once (in wasm: when they are all kernel
    buffers; small input buffers are copied into kernel memory for that), so a hop costs one call
    with the frontier and the out lists."""

    def __init__(self, kernel, static):
        self._k = kernel
        if not kernel.is_native:         # wasm binds kernel buffers only: copy the small inputs there
            static = [Ptr(kernel.from_buffer(a.obj, a.fmt), a.fmt, False, 0) if isinstance(a, Ptr) and
                      a.obj is not None and not isinstance(a.obj, KBuffer) and not a.out and not a.offset else a
                      for a in static]
        self._static = static            # a bound address stays valid while its buffer lives
        if all(not isinstance(a, Ptr) or a.obj is None or isinstance(a.obj, KBuffer) for a in static) or \
                kernel.is_native:
            self._call = kernel._b.bind("agk_graph_expand", static)
        else:                            # an output outside kernel memory: copied in and out each call
            self._call = lambda *args: kernel._call("agk_graph_expand", *static, *args)

    def __call__(self, frontier, n_frontier, out, out_cap, *, frontier_offset=0, out_offset=0, out_edge=None):
        k = self._k
        u32(n_frontier, "n_frontier")
        u32(out_cap, "out_cap")
        rc = self._call(k._span(frontier, "I", n_frontier, "frontier", frontier_offset), n_frontier,
                        k._span(out, "I", out_cap, "out", out_offset, out=True),
                        k._span(out_edge, "I", out_cap, "out_edge", out_offset, out=True), out_cap)
        return k._graph_rc("agk_graph_expand", rc)


class Walker:
    """walker(start, *, hops=None, stop=None) -> how many nodes out[0:count] holds: one
    agk_graph_bfs walk over the arguments bound by Kernel.graph_walker (all kernel buffers and
    numbers, so a walk is one call with three numbers in every backend). walker.read(lo, hi):
    out[lo:hi] as an array.array."""

    def __init__(self, kernel, static, out, n_targets):
        self._k, self.out, self.n_targets = kernel, out, n_targets
        self._wasm = not kernel.is_native
        if self._wasm:                   # wasm binds kernel buffers only: copy the inputs there (outputs are)
            static = [Ptr(kernel.from_buffer(a.obj[a.offset:] if len(a.obj) > a.offset else b"\0" * 8, a.fmt),
                          a.fmt) if isinstance(a, Ptr) and a.obj is not None and not isinstance(a.obj, KBuffer)
                      else a for a in static]
        self._static = static            # a bound address stays valid while its buffer lives
        self.call = kernel._b.bind("agk_graph_bfs", static, scalars_only=True)
        # natively out's bytes are read in place: one copy into the result, nothing zero-filled first
        self._bytes = out.handle.data if kernel.is_native else None

    def __call__(self, start, *, hops=None, stop=None):
        if not 0 <= start < self.n_targets:
            raise DimensionError(f"start node {start} is outside the walk's {self.n_targets} nodes")
        hops = NONE if hops is None else u32(hops, "hops")
        stop = NONE if stop is None else u32(stop, "stop")
        if self._wasm:                   # a bound wasm call takes i32 as they are: signed
            hops, stop = hops - (hops >> 31 << 32), stop - (stop >> 31 << 32)
        rc = self.call(start, hops, stop)
        if rc < 0:
            raise KernelError(f"agk_graph_bfs: {CODES.get(rc, 'error')} (code {rc})")
        return rc

    def read(self, lo, hi):
        if self._bytes is None or not 0 <= lo <= hi <= self.out.length:
            return self.out.read(lo, hi)
        found = array.array("I")
        found.frombytes(self._bytes[lo * 4:hi * 4])
        return found
