"""The graph kernel ops (agk_graph_csr_build, agk_graph_expand, agk_graph_bfs, agk_graph_dijkstra,
agk_bitmap_mark_rows, agk_bitmap_rank) against plain-Python references, on every backend, and
the same results (Dijkstra's float64 distances bit for bit) on all of them."""
import array
import heapq
import random

import pytest

from agentdb import BufferFormatError, KernelError, DimensionError
from agentdb.kernel import load
from agentdb.kernel.graph_ops import NONE
from support import HOST_BACKENDS, SEED


def u32(values):
    return array.array("I", values)


def bits_of(rows, n):
    out = bytearray((n + 7) // 8)
    for r in rows:
        out[r >> 3] |= 1 << (r & 7)
    return out


def csr(kernel, key, val, n_rows, *, both=False, mask=None, ids=None):
    n = len(key)
    room = max(1, n * (2 if both else 1))
    off, tgt, eid = u32(bytes(4 * (n_rows + 1))), u32(bytes(4 * room)), u32(bytes(4 * room))
    count = kernel.graph_csr_build(u32(key), u32(val), n=n, n_rows=n_rows, n_vals=n_rows, off=off, tgt=tgt, eid=eid,
                                   mask=mask, both=both, ids=None if ids is None else u32(ids))
    return off, tgt, eid, count


def ref_csr(key, val, n_rows, both=False, live=None, ids=None):
    rows = [[] for _ in range(n_rows)]
    for i, (k, v) in enumerate(zip(key, val)):
        if live is not None and i not in live:
            continue
        e = ids[i] if ids is not None else i
        rows[k].append((v, e))
        if both:
            rows[v].append((k, e))
    return rows


def graph(seed, n=40, m=150):
    r = random.Random(seed)
    return [r.randrange(n) for _ in range(m)], [r.randrange(n) for _ in range(m)]


@pytest.mark.parametrize("both", [False, True])
def test_csr_build_is_a_stable_counting_sort(kernel, both):
    key, val = graph(SEED)
    live = set(random.Random(SEED + 1).sample(range(len(key)), 100))
    off, tgt, eid, count = csr(kernel, key, val, 40, both=both, mask=bits_of(live, len(key)))
    rows = ref_csr(key, val, 40, both=both, live=live)
    assert count == sum(map(len, rows)) == off[40]
    for r in range(40):
        assert list(zip(tgt[off[r]:off[r + 1]], eid[off[r]:off[r + 1]])) == rows[r]


def test_csr_build_refuses_out_of_range_entries_without_writing(kernel):
    off = u32([7] * 4)
    with pytest.raises(KernelError, match="out of range"):
        kernel.graph_csr_build(u32([0, 3]), u32([1, 1]), n=2, n_rows=3, n_vals=3, off=off, tgt=u32([0, 0]),
                               eid=u32([0, 0]))
    assert off.tolist() == [7] * 4
    with pytest.raises(DimensionError):
        kernel.graph_csr_build(u32([0, 1]), u32([1, 1]), n=2, n_rows=3, n_vals=3, off=off, tgt=u32([0]),
                               eid=u32([0, 0]))


def bfs_hop(rows, delta, frontier, visited, *, both=False, allowed=None):
    """The reference of one hop: CSR rows of the frontier in order, then the delta."""
    out = []
    seen = visited

    def reach(v, e):
        if allowed is not None and e not in allowed:
            return
        if v not in seen:
            seen.add(v)
            out.append((v, e))
    for u in frontier:
        for v, e in (rows[u] if u < len(rows) else []):
            reach(v, e)
    fset = set(frontier)
    for k, v, e in delta:
        if k in fset:
            reach(v, e)
        if both and v in fset:
            reach(k, e)
    return out


@pytest.mark.parametrize("both", [False, True])
def test_expand_walks_the_csr_then_the_delta(kernel, both):
    key, val = graph(SEED + 2, n=45, m=150)        # entries [0, 150) in the CSR, over nodes 0..44
    newer = graph(SEED + 5, n=50, m=50)            # a delta of 50, reaching nodes 45..49 too
    key, val, base = key + newer[0], val + newer[1], 150
    off, tgt, eid, _ = csr(kernel, key[:base], val[:base], 45, both=both)    # nodes 45..49 are newer
    rows = ref_csr(key[:base], val[:base], 45, both=both)
    delta = [(key[i], val[i], i) for i in range(base, 200)]
    allowed = set(random.Random(SEED).sample(range(200), 170))
    mask = bits_of(allowed, 200)
    visited, seen = bytearray(7), {3}
    visited[0] |= 1 << 3
    frontier = [3]
    out, out_edge = u32(bytes(4 * 50)), u32(bytes(4 * 50))
    parent, pedge = u32([NONE] * 50), u32([NONE] * 50)
    fbits = bytearray(7)
    for _ in range(4):
        want = bfs_hop(rows, delta, frontier, seen, both=both, allowed=allowed)
        count = kernel.graph_expand(off=off, tgt=tgt, eid=eid, n_rows=45, frontier=u32(frontier),
                                    n_frontier=len(frontier), n_keys=50, n_targets=50, n_edges=200, out=out,
                                    out_cap=50, out_edge=out_edge, d_key=u32(key), d_val=u32(val), d_first=base,
                                    n_delta=50, d_offset=base, both=both, edge_mask=mask, frontier_bits=fbits,
                                    visited=visited, parent_node=parent, parent_edge=pedge)
        assert count == len(want)
        assert list(zip(out[:count], out_edge[:count])) == want
        assert fbits == bytearray(7)                 # the call clears what it used
        frontier = out[:count].tolist()
    assert bytes(visited) == bytes(bits_of(seen, 50))


def test_expand_filters_types_and_time_and_counts_past_its_room(kernel):
    # 0 -> 1 (type 0, [0, 10)), 0 -> 2 (type 1, always), 0 -> 3 (type 0, [5, inf))
    off, tgt, eid, _ = csr(kernel, [0, 0, 0], [1, 2, 3], 4)
    etype = u32([0, 1, 0])
    vfrom, vto = array.array("d", [0, float("-inf"), 5]), array.array("d", [10, float("inf"), float("inf")])

    def reach(**kw):
        out = u32(bytes(16))
        count = kernel.graph_expand(off=off, tgt=tgt, eid=eid, n_rows=4, frontier=u32([0]), n_frontier=1, n_keys=4,
                                    n_targets=4, n_edges=3, out=out, out_cap=kw.pop("cap", 4), etype=etype,
                                    vfrom=vfrom, vto=vto, **kw)
        return count, out[:min(count, 4)].tolist()
    assert reach() == (3, [1, 2, 3])
    assert reach(type_set=bytes([0b01]), n_types=2) == (2, [1, 3])
    assert reach(window=array.array("d", [7, 7])) == (3, [1, 2, 3])
    assert reach(window=array.array("d", [10, 10])) == (2, [2, 3])        # [0, 10) has ended at 10
    assert reach(window=array.array("d", [1, 4]), type_set=bytes([0b01]), n_types=2) == (1, [1])
    count, _ = reach(cap=1)
    assert count == 3                                # more than out_cap: the caller calls again


def test_expand_refuses_frontier_and_delta_entries_out_of_range(kernel):
    off, tgt, eid, _ = csr(kernel, [0], [1], 2)
    out = u32(bytes(8))
    with pytest.raises(KernelError, match="out of range"):
        kernel.graph_expand(off=off, tgt=tgt, eid=eid, n_rows=2, frontier=u32([5]), n_frontier=1, n_keys=2,
                            n_targets=2, n_edges=1, out=out, out_cap=2)
    with pytest.raises(KernelError, match="out of range"):
        kernel.graph_expand(off=off, tgt=tgt, eid=eid, n_rows=2, frontier=u32([0]), n_frontier=1, n_keys=2,
                            n_targets=2, n_edges=2, out=out, out_cap=2, d_key=u32([0]), d_val=u32([9]), d_first=1,
                            n_delta=1, frontier_bits=bytearray(1))


def ref_dijkstra(rows, weight, source, n):
    dist = [float("inf")] * n
    dist[source] = 0.0
    heap, done = [(0.0, source)], set()
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        for v, e in (rows[u] if u < len(rows) else []):
            nd = d + weight[e]
            if nd < dist[v]:
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return dist


@pytest.mark.parametrize("both", [False, True])
def test_dijkstra_matches_a_heap_reference_and_every_backend(kernel, both):
    key, val = graph(SEED + 3, n=60, m=300)
    r = random.Random(SEED)
    weight = array.array("d", [r.uniform(0, 3) for _ in key])
    off, tgt, eid, _ = csr(kernel, key, val, 60, both=both)
    results = {}
    for backend in HOST_BACKENDS:
        k = load(backend)
        dist, pn, pe, heap, pos = array.array("d", bytes(8 * 60)), *(u32(bytes(4 * 60)) for _ in range(4))
        settled = k.graph_dijkstra(off=off, tgt=tgt, eid=eid, n_rows=60, weight=weight, source=0, n_nodes=60,
                                   n_edges=len(key), dist=dist, parent_node=pn, parent_edge=pe, heap=heap, pos=pos,
                                   both=both)
        results[backend] = (settled, dist.tobytes(), pn.tobytes(), pe.tobytes())
        want = ref_dijkstra(ref_csr(key, val, 60, both=both), weight, 0, 60)
        assert settled == sum(d != float("inf") for d in want)
        for v in range(60):
            assert dist[v] == pytest.approx(want[v], rel=1e-12)
            if v and dist[v] != float("inf"):          # the parent step is a shortest one
                assert dist[pn[v]] + weight[pe[v]] == dist[v]
    assert len(set(results.values())) == 1


def test_dijkstra_stops_at_the_target_and_refuses_negative_weights(kernel):
    off, tgt, eid, _ = csr(kernel, [0, 1, 2], [1, 2, 3], 4)
    dist, pn, pe, heap, pos = array.array("d", bytes(32)), *(u32(bytes(16)) for _ in range(4))
    args = dict(off=off, tgt=tgt, eid=eid, n_rows=4, source=0, n_nodes=4, n_edges=3, dist=dist, parent_node=pn,
                parent_edge=pe, heap=heap, pos=pos)
    assert kernel.graph_dijkstra(weight=array.array("d", [1, 1, 1]), target=1, **args) == 2
    with pytest.raises(KernelError, match="bad argument"):
        kernel.graph_dijkstra(weight=array.array("d", [1, -1, 1]), **args)


def ref_bfs(rows, delta, start, hops, *, both=False, allowed=None, open_start=False, stop=None):
    """A plain breadth-first walk: [start] then each hop's reaches (CSR rows of the frontier in
    order, then the delta), ending right after stop; and the first (node, edge) reaching each."""
    out, parents = [start], {}
    seen = set() if open_start else {start}
    lo, hop = 0, 0

    def reach(u, v, e):
        if allowed is not None and e not in allowed or v in seen:
            return False
        seen.add(v)
        parents[v] = (u, e)
        out.append(v)
        return v == stop
    while lo < len(out) and (hops is None or hop < hops):
        frontier, lo = out[lo:], len(out)
        hop += 1
        for u in frontier:
            for v, e in (rows[u] if u < len(rows) else []):
                if reach(u, v, e):
                    return out, parents
        fset = set(frontier)
        for k, v, e in delta:
            if k in fset and reach(k, v, e) or both and v in fset and reach(v, k, e):
                return out, parents
    return out, parents


def walk_graph(kernel, seed, both):
    """A graph of 60 nodes: 260 edges in a CSR over nodes 0..54, 60 newer ones (reaching 55..58)
    in the delta, a loop on 7 and 30, node 59 without edges; three types and validities."""
    r = random.Random(seed)
    key, val = graph(seed, n=55, m=260)
    key[5:7], val[5:7] = [7, 30], [7, 30]
    newer = graph(seed + 1, n=59, m=60)
    key, val, base = key + newer[0], val + newer[1], 260
    off, tgt, eid, _ = csr(kernel, key[:base], val[:base], 55, both=both)
    etype = [r.randrange(3) for _ in key]
    vfrom = [r.choice([float("-inf"), 0.0, 5.0]) for _ in key]
    vto = [f + r.choice([3.0, float("inf")]) for f in vfrom]
    return dict(key=key, val=val, base=base, off=off, tgt=tgt, eid=eid, etype=etype, vfrom=vfrom, vto=vto,
                rows=ref_csr(key[:base], val[:base], 55, both=both),
                delta=[(key[i], val[i], i) for i in range(base, len(key))])


FILTERS = {"none": {}, "mask": {"mask": True}, "types": {"types": {0, 2}}, "window": {"window": (4.0, 6.0)},
           "all": {"mask": True, "types": {1, 2}, "window": (1.0, 1.0)}}


def walk_filter(kernel, g, mask=False, types=None, window=None):
    """(the graph_walker filter arguments, the edge ids passing) for a walk over g."""
    m = len(g["key"])
    allowed = set(range(m))
    args = {}
    if mask:
        live = set(random.Random(SEED + 9).sample(range(m), m * 4 // 5))
        allowed &= live
        args["edge_mask"] = bits_of(live, m)
    if types is not None:
        allowed &= {e for e in range(m) if g["etype"][e] in types}
        args.update(etype=u32(g["etype"]), type_set=bits_of(types, 3), n_types=3)
    if window is not None:
        allowed &= {e for e in range(m) if g["vfrom"][e] <= window[1] and g["vto"][e] > window[0]}
        args.update(vfrom=array.array("d", g["vfrom"]), vto=array.array("d", g["vto"]),
                    window=array.array("d", window))
    return args, allowed


@pytest.mark.parametrize("filt", sorted(FILTERS))
@pytest.mark.parametrize("both", [False, True])
@pytest.mark.parametrize("open_start", [False, True])
def test_bfs_walks_like_a_plain_bfs_and_leaves_the_bitmaps_zero(kernel, filt, both, open_start):
    g = walk_graph(kernel, SEED + 11, both)
    args, allowed = walk_filter(kernel, g, **FILTERS[filt])
    m = len(g["key"])
    out, visited, fbits = kernel.alloc(61, "I"), kernel.alloc(8, "B"), kernel.alloc(8, "B")
    walk = kernel.graph_walker(off=g["off"], tgt=g["tgt"], eid=g["eid"], n_rows=55, n_keys=60, n_targets=60,
                               n_edges=m, d_key=u32(g["key"]), d_val=u32(g["val"]), d_first=g["base"],
                               n_delta=m - g["base"], d_offset=g["base"], both=both, frontier_bits=fbits,
                               visited=visited, out=out, open_start=open_start, **args)
    lengths = set()
    for start in (0, 7, 30, 57, 59, 3, 41):       # loops on 7 and 30; 57 only in the delta; 59 no edges
        for hops in (0, 1, 2, 3, 10 ** 6, None):
            want, _ = ref_bfs(g["rows"], g["delta"], start, hops, both=both, allowed=allowed, open_start=open_start)
            count = walk(start, hops=hops)
            assert out.read(0, count).tolist() == want, (start, hops)
            assert walk.read(1, count).tolist() == want[1:]
            assert not any(visited.read()) and not any(fbits.read())
            lengths.add(len(want))
    assert len(lengths) > 4                          # the walks differ (the graph is not trivial)
    assert ref_bfs(g["rows"], g["delta"], 59, None, both=both, allowed=allowed)[0] == [59]


@pytest.mark.parametrize("both", [False, True])
def test_bfs_records_parents_and_stops_at_the_target(kernel, both):
    g = walk_graph(kernel, SEED + 12, both)
    args, allowed = walk_filter(kernel, g, mask=True, types={0, 1})
    m = len(g["key"])
    delta = dict(d_key=u32(g["key"]), d_val=u32(g["val"]), d_first=g["base"], n_delta=m - g["base"],
                 d_offset=g["base"], both=both)
    for start, stop in ((0, None), (0, 58), (3, 41), (41, 41), (12, 59)):
        pn, pe = u32([NONE] * 60), u32([NONE] * 60)
        visited = bytearray(8)
        found = kernel.graph_bfs(start, stop=stop, off=g["off"], tgt=g["tgt"], eid=g["eid"], n_rows=55, n_keys=60,
                                 n_targets=60, n_edges=m, frontier_bits=bytearray(8), visited=visited,
                                 parent_node=pn, parent_edge=pe, **delta, **args)
        want, parents = ref_bfs(g["rows"], g["delta"], start, None, both=both, allowed=allowed, stop=stop)
        assert found.tolist() == want
        assert {v: (pn[v], pe[v]) for v in want[1:]} == parents
        assert all(pn[v] == NONE for v in range(60) if v not in parents)
        assert visited == bytearray(8)
        if stop is not None and stop in want[1:]:
            assert found[-1] == stop


def test_bfs_refuses_bad_arguments_and_clears_after_an_error(kernel):
    off, tgt, eid = u32([0, 1, 2, 2]), u32([1, 7]), u32([0, 1])   # row 1 reaches node 7 of 3
    out, visited = kernel.alloc(4, "I"), kernel.alloc(1, "B")
    walk = kernel.graph_walker(off=off, tgt=tgt, eid=eid, n_rows=3, n_keys=3, n_targets=3, n_edges=2, out=out,
                               visited=visited)
    assert walk(0, hops=1) == 2
    with pytest.raises(KernelError, match="out of range"):
        walk(0)
    assert visited.read().tolist() == [0]            # the nodes marked before the bad entry: cleared
    with pytest.raises(DimensionError):
        walk(3)
    with pytest.raises(DimensionError):
        walk(0, hops=-1)
    with pytest.raises(BufferFormatError):           # the kernel writes out: a bound KBuffer
        kernel.graph_walker(off=off, tgt=tgt, eid=eid, n_rows=3, n_keys=3, n_targets=3, n_edges=2,
                            out=u32(bytes(16)), visited=visited)
    with pytest.raises(DimensionError):              # out must hold every node and the start
        kernel.graph_walker(off=off, tgt=tgt, eid=eid, n_rows=3, n_keys=3, n_targets=3, n_edges=2,
                            out=kernel.alloc(3, "I"), visited=visited)
    with pytest.raises(DimensionError):              # a reached node must be able to be a frontier
        kernel.graph_walker(off=off, tgt=tgt, eid=eid, n_rows=3, n_keys=2, n_targets=3, n_edges=2, out=out,
                            visited=visited)
    with pytest.raises(DimensionError):              # a delta needs frontier_bits
        kernel.graph_walker(off=off, tgt=tgt, eid=eid, n_rows=3, n_keys=3, n_targets=3, n_edges=3, out=out,
                            visited=visited, d_key=u32([0]), d_val=u32([2]), d_first=2, n_delta=1)


def test_bitmap_mark_rows_and_rank(kernel):
    bits = bytearray(3)
    assert kernel.bitmap_mark_rows(u32([0, 9, 17, 9]), bits, n_bits=24) == 4
    assert bytes(bits) == bytes(bits_of([0, 9, 17], 24))
    kernel.bitmap_mark_rows(u32([9]), bits, n_bits=24, value=False)
    assert bytes(bits) == bytes(bits_of([0, 17], 24))
    with pytest.raises(KernelError):
        kernel.bitmap_mark_rows(u32([1, 24]), bits, n_bits=24)
    assert bytes(bits) == bytes(bits_of([0, 17], 24))        # checked before anything changed
    rank, count = kernel.bitmap_rank(bits, 20)
    assert count == 2 and rank[0] == 0 and rank[17] == 1 and rank[5] == NONE


def test_column_stats_and_iota_match_python(kernel):
    rng = random.Random(SEED + 9)
    for n in (0, 1, 2, 17, 1000):
        values = [rng.randrange(1 << 32) for _ in range(n)]
        want = (min(values, default=NONE), max(values, default=0),
                sum(b <= a for a, b in zip(values, values[1:])))
        assert kernel.column_stats_u32(u32(values)) == want
        ascending = sorted(set(values))
        assert kernel.column_stats_u32(u32(ascending))[2] == 0
        assert kernel.column_stats_u32(u32(values), n // 2) == (
            min(values[:n // 2], default=NONE), max(values[:n // 2], default=0),
            sum(b <= a for a, b in zip(values[:n // 2], values[1:n // 2])))
    for start in (0, 5, (1 << 32) - 2, (1 << 64) - 3):
        got = kernel.iota_u64(start, 5)
        assert got.typecode == "Q" and got.tolist() == [(start + i) % (1 << 64) for i in range(5)]
    assert kernel.iota_u64(7, 0).tolist() == []


def test_every_backend_walks_to_the_same_nodes():
    key, val = graph(SEED + 4, n=80, m=400)
    seen = []
    for backend in HOST_BACKENDS:
        k = load(backend)
        off, tgt, eid, _ = csr(k, key, val, 80, both=True)
        out, visited = u32(bytes(4 * 80)), bytearray(10)
        count = k.graph_expand(off=off, tgt=tgt, eid=eid, n_rows=80, frontier=u32(range(5)), n_frontier=5, n_keys=80,
                               n_targets=80, n_edges=400, out=out, out_cap=80, visited=visited, both=True)
        seen.append(out[:count].tolist())
    assert seen[0] == seen[1]


def test_graph_ops_examples_run_and_every_op_is_documented(kernel):
    import doctest
    import inspect

    from agentdb.kernel import graph_ops

    assert doctest.testmod(graph_ops, extraglobs={"k": kernel}).failed == 0
    missing = [name for name, obj in vars(graph_ops.GraphOps).items() if not name.startswith("_")
               and inspect.isfunction(obj) and ">>>" not in (obj.__doc__ or "")]
    assert not missing, missing
