/* Property-graph adjacency (agentdb.graph): CSR built by a counting sort, one BFS hop over a CSR
 * plus a small unsorted delta of recent edges, Dijkstra over a CSR, and the bitmap helpers the
 * traversals need. Integer work except Dijkstra's distances, which are IEEE doubles summed in
 * the order nodes are settled (correctly rounded adds: the same bits everywhere).
 *
 * An adjacency lists entries (key -> val, id): a graph's out-adjacency has key = src, val = dst
 * and id = the edge; its in-adjacency the reverse; AGK_GRAPH_BOTH builds and walks both. */

#define GRAPH_NONE 0xFFFFFFFFu
#define GRAPH_SETTLED 0xFFFFFFFEu

AGK_INLINE void bitmap_set(uint8_t *bitmap, uint32_t row) { bitmap[row >> 3] |= (uint8_t)(1u << (row & 7)); }
AGK_INLINE void bitmap_clear(uint8_t *bitmap, uint32_t row) { bitmap[row >> 3] &= (uint8_t)~(1u << (row & 7)); }

int32_t agk_graph_csr_build(const uint32_t *key, const uint32_t *val, const uint32_t *ids, uint32_t n, uint32_t n_rows,
                            uint32_t n_vals, const uint8_t *mask, uint32_t flags, uint32_t *off, uint32_t *tgt,
                            uint32_t *eid) {
    const int both = (flags & AGK_GRAPH_BOTH) != 0;
    /* every key and val in range before anything is written */
    for (uint32_t i = 0; i < n; i++) {
        if (mask && !bitmap_has(mask, i)) continue;
        if (key[i] >= n_rows || val[i] >= n_vals) return AGK_E_RANGE;
        if (both && (val[i] >= n_rows || key[i] >= n_vals)) return AGK_E_RANGE;
    }
    for (uint32_t r = 0; r <= n_rows; r++) off[r] = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (mask && !bitmap_has(mask, i)) continue;
        off[key[i] + 1]++;
        if (both) off[val[i] + 1]++;
    }
    for (uint32_t r = 0; r < n_rows; r++) off[r + 1] += off[r];
    /* off[r] is now row r's start; placing entries advances it to row r's end (= row r+1's start) */
    for (uint32_t i = 0; i < n; i++) {
        if (mask && !bitmap_has(mask, i)) continue;
        uint32_t e = ids ? ids[i] : i;
        uint32_t p = off[key[i]]++;
        tgt[p] = val[i];
        eid[p] = e;
        if (both) {
            p = off[val[i]]++;
            tgt[p] = key[i];
            eid[p] = e;
        }
    }
    for (uint32_t r = n_rows; r > 0; r--) off[r] = off[r - 1];
    off[0] = 0;
    return (int32_t)off[n_rows];
}

/* Whether entry id e passes the traversal's filter (see agentdb_kernel.h). */
AGK_INLINE int graph_entry_ok(uint32_t e, const uint8_t *edge_mask, const uint32_t *etype, const uint8_t *type_set,
                              uint32_t n_types, const double *vfrom, const double *vto, const double *window) {
    if (edge_mask && !bitmap_has(edge_mask, e)) return 0;
    if (type_set) {
        uint32_t t = etype[e];
        if (t >= n_types || !bitmap_has(type_set, t)) return 0;
    }
    if (window && !(vfrom[e] <= window[1] && vto[e] > window[0])) return 0;
    return 1;
}

int32_t agk_graph_expand(const uint32_t *off, const uint32_t *tgt, const uint32_t *eid, uint32_t n_rows,
                         uint32_t n_entries, const uint32_t *d_key, const uint32_t *d_val, const uint32_t *d_eid,
                         uint32_t d_first, uint32_t n_delta, uint32_t flags, const uint8_t *edge_mask,
                         uint32_t n_edges, const uint32_t *etype, const uint8_t *type_set, uint32_t n_types,
                         const double *vfrom, const double *vto, const double *window, uint8_t *frontier_bits,
                         uint32_t n_keys, uint8_t *visited, uint32_t n_targets, uint32_t *parent_node,
                         uint32_t *parent_edge, const uint32_t *frontier, uint32_t n_frontier, uint32_t *out,
                         uint32_t *out_edge, uint32_t out_cap) {
    const int both = (flags & AGK_GRAPH_BOTH) != 0;
    /* the caller's arrays in range before anything is written; the CSR is checked as it is read */
    for (uint32_t f = 0; f < n_frontier; f++)
        if (frontier[f] >= n_keys) return AGK_E_RANGE;
    if (n_delta && !frontier_bits) return AGK_E_ARG;
    for (uint32_t i = 0; i < n_delta; i++) {
        uint32_t e = d_eid ? d_eid[i] : d_first + i;
        if (d_key[i] >= n_keys || d_val[i] >= n_targets || e >= n_edges) return AGK_E_RANGE;
        if (both && (d_val[i] >= n_keys || d_key[i] >= n_targets)) return AGK_E_RANGE;
    }
    if (n_rows && off[n_rows] > n_entries) return AGK_E_RANGE;
    uint32_t count = 0;
#define GRAPH_EMIT(u_, v_, e_)                                                                             \
    do {                                                                                               \
        uint32_t v__ = (v_), e__ = (e_);                                                               \
        if (!graph_entry_ok(e__, edge_mask, etype, type_set, n_types, vfrom, vto, window)) break;       \
        if (visited) {                                                                                 \
            if (bitmap_has(visited, v__)) break;                                                       \
            bitmap_set(visited, v__);                                                                  \
            if (parent_node) parent_node[v__] = (u_);                                                  \
            if (parent_edge) parent_edge[v__] = e__;                                                   \
        }                                                                                              \
        if (count < out_cap) {                                                                         \
            out[count] = v__;                                                                          \
            if (out_edge) out_edge[count] = e__;                                                       \
        }                                                                                              \
        count++;                                                                                       \
    } while (0)
    for (uint32_t f = 0; f < n_frontier; f++) {
        uint32_t u = frontier[f];
        if (u >= n_rows) continue;                   /* a node newer than the CSR: delta only */
        uint32_t a = off[u], b = off[u + 1];
        if (a > b || b > n_entries) return AGK_E_RANGE;
        for (uint32_t j = a; j < b; j++) {
            if (tgt[j] >= n_targets || eid[j] >= n_edges) return AGK_E_RANGE;
            GRAPH_EMIT(u, tgt[j], eid[j]);
        }
    }
    if (n_delta) {
        for (uint32_t f = 0; f < n_frontier; f++) bitmap_set(frontier_bits, frontier[f]);
        for (uint32_t i = 0; i < n_delta; i++) {
            uint32_t e = d_eid ? d_eid[i] : d_first + i;
            if (bitmap_has(frontier_bits, d_key[i])) GRAPH_EMIT(d_key[i], d_val[i], e);
            if (both && bitmap_has(frontier_bits, d_val[i])) GRAPH_EMIT(d_val[i], d_key[i], e);
        }
        for (uint32_t f = 0; f < n_frontier; f++) bitmap_clear(frontier_bits, frontier[f]);
    }
#undef GRAPH_EMIT
    return count > 0x7FFFFFFFu ? AGK_E_RANGE : (int32_t)count;
}

/* One hop of agk_graph_bfs: the frontier out[lo, hi) reaches into out[hi, *end); returns 0, or
 * AGK_E_RANGE for a CSR entry out of range (*end still counts what was written and marked).
 * Stops right after reaching `stop` (*reached = 1). The caller has checked the delta and off[n_rows], and that out has room for
 * every target plus the start (each reach sets a fresh visited bit, so it never runs over). */
AGK_INLINE int32_t graph_bfs_hop(const uint32_t *off, const uint32_t *tgt, const uint32_t *eid, uint32_t n_rows,
                                 uint32_t n_entries, const uint32_t *d_key, const uint32_t *d_val,
                                 const uint32_t *d_eid, uint32_t d_first, uint32_t n_delta, int both,
                                 const uint8_t *edge_mask, uint32_t n_edges, const uint32_t *etype,
                                 const uint8_t *type_set, uint32_t n_types, const double *vfrom, const double *vto,
                                 const double *window, uint8_t *frontier_bits, uint8_t *visited, uint32_t n_targets,
                                 uint32_t *parent_node, uint32_t *parent_edge, uint32_t *out, uint32_t lo,
                                 uint32_t hi, uint32_t stop, int *reached, uint32_t *end) {
    /* the entry ids matter only to a filter or parent_edge: without them the eid array is not read */
    const int need_eid = edge_mask || type_set || window || parent_edge;
    uint32_t count = hi;
    int32_t rc = 0;
#define BFS_REACH(u_, v_, e_)                                                                              \
    do {                                                                                               \
        uint32_t v__ = (v_), e__ = (e_);                                                               \
        if (need_eid && !graph_entry_ok(e__, edge_mask, etype, type_set, n_types, vfrom, vto, window)) \
            break;                                                                                     \
        if (bitmap_has(visited, v__)) break;                                                           \
        bitmap_set(visited, v__);                                                                      \
        if (parent_node) parent_node[v__] = (u_);                                                      \
        if (parent_edge) parent_edge[v__] = e__;                                                       \
        out[count++] = v__;                                                                            \
        if (v__ == stop) { *reached = 1; goto done; }                                                  \
    } while (0)
    for (uint32_t f = lo; f < hi; f++) {
        uint32_t u = out[f];
        if (u >= n_rows) continue;                   /* a node newer than the CSR: delta only */
        uint32_t a = off[u], b = off[u + 1];
        if (a > b || b > n_entries) { rc = AGK_E_RANGE; goto done; }
        for (uint32_t j = a; j < b; j++) {
            uint32_t e = 0;
            if (need_eid) {
                e = eid[j];
                if (e >= n_edges) { rc = AGK_E_RANGE; goto done; }
            }
            if (tgt[j] >= n_targets) { rc = AGK_E_RANGE; goto done; }
            BFS_REACH(u, tgt[j], e);
        }
    }
    if (n_delta) {
        for (uint32_t f = lo; f < hi; f++) bitmap_set(frontier_bits, out[f]);
        for (uint32_t i = 0; i < n_delta; i++) {
            uint32_t e = d_eid ? d_eid[i] : d_first + i;
            if (bitmap_has(frontier_bits, d_key[i])) BFS_REACH(d_key[i], d_val[i], e);
            if (both && bitmap_has(frontier_bits, d_val[i])) BFS_REACH(d_val[i], d_key[i], e);
        }
    }
done:
    if (n_delta)
        for (uint32_t f = lo; f < hi; f++) bitmap_clear(frontier_bits, out[f]);
#undef BFS_REACH
    *end = count;
    return rc;
}

int32_t agk_graph_bfs(const uint32_t *off, const uint32_t *tgt, const uint32_t *eid, uint32_t n_rows,
                      uint32_t n_entries, const uint32_t *d_key, const uint32_t *d_val, const uint32_t *d_eid,
                      uint32_t d_first, uint32_t n_delta, uint32_t flags, const uint8_t *edge_mask,
                      uint32_t n_edges, const uint32_t *etype, const uint8_t *type_set, uint32_t n_types,
                      const double *vfrom, const double *vto, const double *window, uint8_t *frontier_bits,
                      uint32_t n_keys, uint8_t *visited, uint32_t n_targets, uint32_t *parent_node,
                      uint32_t *parent_edge, uint32_t *out, uint32_t out_cap, uint32_t start, uint32_t hops,
                      uint32_t stop) {
    const int both = (flags & AGK_GRAPH_BOTH) != 0;
    if (!visited || n_targets > n_keys || n_targets > 0x7FFFFFFEu || out_cap < n_targets + 1) return AGK_E_ARG;
    if (n_delta && !frontier_bits) return AGK_E_ARG;
    if (start >= n_targets) return AGK_E_RANGE;
    for (uint32_t i = 0; i < n_delta; i++) {
        uint32_t e = d_eid ? d_eid[i] : d_first + i;
        if (d_key[i] >= n_keys || d_val[i] >= n_targets || e >= n_edges) return AGK_E_RANGE;
        if (both && (d_val[i] >= n_keys || d_key[i] >= n_targets)) return AGK_E_RANGE;
    }
    if (n_rows && off[n_rows] > n_entries) return AGK_E_RANGE;
    out[0] = start;
    if (!(flags & AGK_GRAPH_OPEN_START)) bitmap_set(visited, start);
    uint32_t lo = 0, hi = 1;
    int32_t rc = 0;
    int reached = 0;
    for (uint32_t hop = 0; lo < hi && hop < hops && !reached && rc == 0; hop++) {
        uint32_t end = hi;
        rc = graph_bfs_hop(off, tgt, eid, n_rows, n_entries, d_key, d_val, d_eid, d_first, n_delta, both, edge_mask,
                           n_edges, etype, type_set, n_types, vfrom, vto, window, frontier_bits, visited, n_targets,
                           parent_node, parent_edge, out, lo, hi, stop, &reached, &end);
        lo = hi;
        hi = end;
    }
    /* every bit set is a node in out[0, hi) (the start's too, set or not): all zeros again, even
     * after an error */
    for (uint32_t i = 0; i < hi; i++) bitmap_clear(visited, out[i]);
    return rc < 0 ? rc : (int32_t)hi;
}

/* The indexed binary heap of Dijkstra: nodes ordered by (dist, node), so ties settle the lower
 * node first and every backend pops in the same order. pos[v] is v's heap index, GRAPH_NONE
 * (never reached) or GRAPH_SETTLED. */
AGK_INLINE int heap_less(const double *dist, uint32_t a, uint32_t b) {
    return dist[a] < dist[b] || (dist[a] == dist[b] && a < b);
}

AGK_INLINE void heap_up(uint32_t *heap, uint32_t *pos, const double *dist, uint32_t i) {
    uint32_t v = heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!heap_less(dist, v, heap[p])) break;
        heap[i] = heap[p];
        pos[heap[i]] = i;
        i = p;
    }
    heap[i] = v;
    pos[v] = i;
}

AGK_INLINE void heap_down(uint32_t *heap, uint32_t *pos, const double *dist, uint32_t size, uint32_t i) {
    uint32_t v = heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= size) break;
        if (c + 1 < size && heap_less(dist, heap[c + 1], heap[c])) c++;
        if (!heap_less(dist, heap[c], v)) break;
        heap[i] = heap[c];
        pos[heap[i]] = i;
        i = c;
    }
    heap[i] = v;
    pos[v] = i;
}

int32_t agk_graph_dijkstra(const uint32_t *off, const uint32_t *tgt, const uint32_t *eid, uint32_t n_rows,
                           uint32_t n_entries, const uint8_t *edge_mask, uint32_t n_edges, const uint32_t *etype,
                           const uint8_t *type_set, uint32_t n_types, const double *vfrom, const double *vto,
                           const double *window, const double *weight, uint32_t source, uint32_t target,
                           uint32_t n_nodes, double *dist, uint32_t *parent_node, uint32_t *parent_edge,
                           uint32_t *heap, uint32_t *pos) {
    if (source >= n_nodes || (target != GRAPH_NONE && target >= n_nodes) || n_rows > n_nodes) return AGK_E_RANGE;
    if (n_rows && off[n_rows] > n_entries) return AGK_E_RANGE;
    const double inf = __builtin_inf();
    for (uint32_t v = 0; v < n_nodes; v++) {
        dist[v] = inf;
        pos[v] = GRAPH_NONE;
        parent_node[v] = GRAPH_NONE;
        parent_edge[v] = GRAPH_NONE;
    }
    uint32_t size = 0, settled = 0;
    dist[source] = 0.0;
    heap[size++] = source;
    pos[source] = 0;
    while (size) {
        uint32_t u = heap[0];
        pos[u] = GRAPH_SETTLED;
        settled++;
        if (--size) {
            heap[0] = heap[size];
            pos[heap[0]] = 0;
            heap_down(heap, pos, dist, size, 0);
        }
        if (u == target) break;
        if (u >= n_rows) continue;
        uint32_t a = off[u], b = off[u + 1];
        if (a > b || b > n_entries) return AGK_E_RANGE;
        for (uint32_t j = a; j < b; j++) {
            uint32_t v = tgt[j], e = eid[j];
            if (v >= n_nodes || e >= n_edges) return AGK_E_RANGE;
            if (!graph_entry_ok(e, edge_mask, etype, type_set, n_types, vfrom, vto, window)) continue;
            double w = weight[e];
            if (!(w >= 0.0)) return AGK_E_ARG;           /* negative or NaN: no shortest path */
            if (pos[v] == GRAPH_SETTLED) continue;
            double d = dist[u] + w;
            if (d < dist[v]) {
                dist[v] = d;
                parent_node[v] = u;
                parent_edge[v] = e;
                if (pos[v] == GRAPH_NONE) {
                    heap[size] = v;
                    heap_up(heap, pos, dist, size++);
                } else {
                    heap_up(heap, pos, dist, pos[v]);
                }
            }
        }
    }
    return (int32_t)settled;
}

int32_t agk_bitmap_mark_rows(const uint32_t *rows, uint32_t n, uint32_t value, uint8_t *bits, uint32_t n_bits) {
    for (uint32_t i = 0; i < n; i++)
        if (rows[i] >= n_bits) return AGK_E_RANGE;
    if (value)
        for (uint32_t i = 0; i < n; i++) bitmap_set(bits, rows[i]);
    else
        for (uint32_t i = 0; i < n; i++) bitmap_clear(bits, rows[i]);
    return (int32_t)n;
}

uint32_t agk_bitmap_rank(const uint8_t *bits, uint32_t n, uint32_t *rank) {
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (bitmap_has(bits, i)) rank[i] = count++;
        else rank[i] = GRAPH_NONE;
    }
    return count;
}

void agk_column_stats_u32(const uint32_t *a, uint32_t n, uint32_t *out) {
    uint32_t lo = 0xFFFFFFFFu, hi = 0, descents = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = a[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        descents += (uint32_t)(i && v <= a[i - 1]);
    }
    out[0] = lo;
    out[1] = hi;
    out[2] = descents;
}

void agk_iota_u64(uint32_t start_lo, uint32_t start_hi, uint32_t n, uint32_t *out) {
    uint64_t v = (uint64_t)start_lo | (uint64_t)start_hi << 32;
    for (uint32_t i = 0; i < n; i++, v++) {
        out[2 * i] = (uint32_t)v;
        out[2 * i + 1] = (uint32_t)(v >> 32);
    }
}
