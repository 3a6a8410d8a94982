/* HNSW (Malkov & Yashunin) over caller-owned arrays; layouts in agentdb_kernel.h.
 *
 * Follows hnswlib where it matters for quality and speed: greedy descent through the upper
 * levels, beam search with a generation-tagged visited set, the neighbour-selection heuristic
 * (keep a candidate only if it is closer to the new node than to every neighbour kept so
 * far), and pruning a full list with the same heuristic. Every comparison breaks distance
 * ties by node index (lower first; the heuristic takes the newest first, see select_neighbours),
 * so the graph and the answers never depend on the platform.
 */

/* How far ahead a search fetches neighbour rows (3 measured best at 384 dims: rows come
 * from memory, so several must be in flight at once). */
#define PREFETCH_ROWS 3
/* How many neighbour rows a walk scores together. Wasm has no prefetch: rows loaded side by
 * side keep several cache misses in flight (100k x 384 under wasmtime: queries 17% and
 * builds 27% faster than one row at a time; neutral natively, where rows are prefetched). */
#define WALK_ROWS 4

enum { H_ENTRY, H_MAXLEVEL, H_M, H_M0, H_COUNT };
enum { S_GEN, S_CAPACITY, S_EF, S_M0, S_WORDS };

typedef struct {
    uint32_t *hdr;
    const uint32_t *levels, *upper_off;
    uint32_t *links0, *upper;
    const float *vec;
    uint32_t dim, m, m0;
    int metric;
    uint8_t *visited;
    uint32_t gen, capacity;
    float *cd, *rd, *sd;       /* candidate heap, result heap, selection list: distances */
    uint32_t *cn, *rn, *sn;    /* ... and their nodes */
} graph_t;

/* Scratch layout after S_WORDS header words: cand[cap] (d, n), res[ef] (d, n),
 * sel[max(ef, 2 * (m0 + 1))] (d, n): the new node's choices, then a pruned list after them (a
 * search keeps its list of neighbours to score in the nodes half);
 * then visited[cap], one byte per node (a quarter of the cache footprint of word tags).
 * The candidate heap can hold every node: a node is pushed at most once per search (it is
 * marked visited when pushed). */
AGK_INLINE uint32_t sel_size(uint32_t ef, uint32_t m0) { return ef > 2 * (m0 + 1) ? ef : 2 * (m0 + 1); }

/* In 64-bit arithmetic, so no argument can wrap the size (ef near 2^28 used to). */
AGK_INLINE uint64_t scratch_size(uint32_t capacity, uint32_t ef, uint32_t m) {
    uint64_t m0 = 2 * (uint64_t)m, sel = ef > 2 * (m0 + 1) ? ef : 2 * (m0 + 1);
    return 4 * (S_WORDS + 2 * (uint64_t)capacity + 2 * (uint64_t)ef + 2 * sel) + capacity;
}

uint32_t agk_hnsw_scratch_bytes(uint32_t capacity, uint32_t ef, uint32_t m) {
    if (m > AGK_HNSW_MAX_M) return 0;
    uint64_t size = scratch_size(capacity, ef, m);
    return size > 0xFFFFFFFFu ? 0 : (uint32_t)size;
}

int32_t agk_hnsw_scratch_init(uint8_t *scratch, uint32_t scratch_bytes, uint32_t capacity, uint32_t ef, uint32_t m) {
    if (ef == 0 || ef > capacity || m < 2 || m > AGK_HNSW_MAX_M) return AGK_E_ARG;
    if (scratch_size(capacity, ef, m) > scratch_bytes) return AGK_E_RANGE;
    uint32_t *w = (uint32_t *)scratch;
    w[S_GEN] = 0;
    w[S_CAPACITY] = capacity;
    w[S_EF] = ef;
    w[S_M0] = 2 * m;
    uint8_t *visited = scratch + 4u * (S_WORDS + 2u * capacity + 2u * ef + 2u * sel_size(ef, 2 * m));
    for (uint32_t i = 0; i < capacity; i++) visited[i] = 0;
    return AGK_OK;
}

AGK_INLINE void graph_bind(graph_t *g, uint32_t *hdr, const uint32_t *levels, uint32_t *links0,
                           const uint32_t *upper_off, uint32_t *upper, const float *vec, uint32_t dim,
                           uint32_t metric, uint8_t *scratch) {
    uint32_t *w = (uint32_t *)scratch;
    g->hdr = hdr, g->levels = levels, g->links0 = links0, g->upper_off = upper_off, g->upper = upper;
    g->vec = vec, g->dim = dim, g->metric = (int)metric, g->m = hdr[H_M], g->m0 = hdr[H_M0];
    g->capacity = w[S_CAPACITY];
    uint32_t cap = w[S_CAPACITY], ef = w[S_EF], sel = sel_size(ef, w[S_M0]);
    uint32_t *h = w + S_WORDS;
    g->cd = (float *)h, g->cn = h + cap;
    g->rd = (float *)(h + 2 * cap), g->rn = h + 2 * cap + ef;
    g->sd = (float *)(h + 2 * cap + 2 * ef), g->sn = h + 2 * cap + 2 * ef + sel;
    g->visited = (uint8_t *)(h + 2 * cap + 2 * ef + 2 * sel);
}

/* A fresh visited generation (1..255); on wrap-around the tags are cleared once. */
AGK_INLINE uint32_t next_gen(graph_t *g, uint8_t *scratch) {
    uint32_t *w = (uint32_t *)scratch;
    if (++w[S_GEN] == 256) {
        for (uint32_t i = 0; i < g->capacity; i++) g->visited[i] = 0;
        w[S_GEN] = 1;
    }
    return g->gen = w[S_GEN];
}

AGK_INLINE uint32_t *node_links(const graph_t *g, uint32_t node, uint32_t level) {
    return level == 0 ? g->links0 + (uintptr_t)node * (g->m0 + 1)
                      : g->upper + g->upper_off[node] + (uintptr_t)(level - 1) * (g->m + 1);
}

AGK_INLINE const float *node_vec(const graph_t *g, uint32_t node) { return g->vec + (uintptr_t)node * g->dim; }

/* Distances of R rows to q (R a constant where inlined), smaller is closer: -dot for
 * AGK_METRIC_DOT, squared L2 otherwise. The same arithmetic as the scans, so HNSW and exact
 * search agree on every score, whatever R. */
AGK_INLINE void distances_of(const graph_t *g, const uint32_t R, const float *q, const float *const *p, float *out) {
    float s[AGK_MAX_ROWS], unused[AGK_MAX_ROWS];
    if (g->metric == AGK_METRIC_L2) {
        rows_kernel(AGK_METRIC_L2, R, q, p, g->dim, s, unused);
        for (uint32_t t = 0; t < R; t++) out[t] = s[t];
    } else {
        rows_kernel(AGK_METRIC_DOT, R, q, p, g->dim, s, unused);
        for (uint32_t t = 0; t < R; t++) out[t] = -s[t];
    }
}

AGK_INLINE float distance(const graph_t *g, const float *a, const float *b) {
    float d;
    distances_of(g, 1, a, &b, &d);
    return d;
}

/* distance() of WALK_ROWS nodes at once: their rows are loaded side by side, so several
 * cache misses are in flight together (wasm has no prefetch). */
AGK_INLINE void distances(const graph_t *g, const float *q, const uint32_t *nodes, float *out) {
    const float *p[WALK_ROWS];
    for (uint32_t t = 0; t < WALK_ROWS; t++) p[t] = node_vec(g, nodes[t]);
    distances_of(g, WALK_ROWS, q, p, out);
}

AGK_INLINE int closer(float da, uint32_t na, float db, uint32_t nb) { return da < db || (da == db && na < nb); }

AGK_INLINE void swap_pair(float *d, uint32_t *n, uint32_t i, uint32_t j) {
    float td = d[i]; d[i] = d[j]; d[j] = td;
    uint32_t tn = n[i]; n[i] = n[j]; n[j] = tn;
}

/* Binary heaps over (d, n) arrays. far_first = 1: the root is the farthest (results);
 * far_first = 0: the root is the closest (candidates). */
AGK_INLINE int heap_above(int far_first, const float *d, const uint32_t *n, uint32_t i, uint32_t j) {
    return far_first ? closer(d[j], n[j], d[i], n[i]) : closer(d[i], n[i], d[j], n[j]);
}

AGK_INLINE void heap_push(int far_first, float *d, uint32_t *n, uint32_t *size, float dv, uint32_t nv) {
    uint32_t at = (*size)++;
    d[at] = dv, n[at] = nv;
    while (at > 0) {
        uint32_t parent = (at - 1) / 2;
        if (!heap_above(far_first, d, n, at, parent)) break;
        swap_pair(d, n, at, parent);
        at = parent;
    }
}

AGK_INLINE void heap_pop(int far_first, float *d, uint32_t *n, uint32_t *size) {
    uint32_t last = --(*size), at = 0;
    d[0] = d[last], n[0] = n[last];
    for (;;) {
        uint32_t l = 2 * at + 1, r = l + 1, top = at;
        if (l < last && heap_above(far_first, d, n, l, top)) top = l;
        if (r < last && heap_above(far_first, d, n, r, top)) top = r;
        if (top == at) return;
        swap_pair(d, n, at, top);
        at = top;
    }
}

/* Greedy descent on one upper level: move to the closest neighbour until none is closer. */
AGK_INLINE void greedy(const graph_t *g, const float *q, uint32_t *ep, float *d_ep, uint32_t level) {
    for (int changed = 1; changed;) {
        changed = 0;
        const uint32_t *list = node_links(g, *ep, level);
        for (uint32_t i = 1; i <= list[0]; i++) {
            uint32_t nb = list[i];
            float d = distance(g, q, node_vec(g, nb));
            if (closer(d, nb, *d_ep, *ep)) {
                *ep = nb, *d_ep = d;
                changed = 1;
            }
        }
    }
}

/* Beam search on one level from ep; leaves up to ef nearest allowed nodes in the result heap
 * and returns how many. Disallowed nodes are still walked through, only not returned. */
AGK_INLINE uint32_t search_level(graph_t *g, uint8_t *scratch, const float *q, uint32_t ep, float d_ep,
                                 uint32_t level, uint32_t ef, const uint8_t *allowed) {
    uint32_t gen = next_gen(g, scratch), n_cand = 0, n_res = 0;
    float bound = agk_inf();
    g->visited[ep] = gen;
    heap_push(0, g->cd, g->cn, &n_cand, d_ep, ep);
    if (!allowed || bitmap_has(allowed, ep)) {
        heap_push(1, g->rd, g->rn, &n_res, d_ep, ep);
        bound = d_ep;
    }
    while (n_cand) {
        float dc = g->cd[0];
        uint32_t c = g->cn[0];
        if (dc > bound && n_res == ef) break;
        heap_pop(0, g->cd, g->cn, &n_cand);
        /* the unvisited neighbours first (the selection list is free during a search), so
         * each row can be fetched PREFETCH_ROWS rows ahead of the one being scored */
        const uint32_t *list = node_links(g, c, level);
        uint32_t count = list[0], *todo = g->sn, n_todo = 0;
        for (uint32_t i = 1; i <= count; i++) __builtin_prefetch(g->visited + list[i]);
        for (uint32_t i = 1; i <= count; i++) {
            uint32_t nb = list[i];
            if (g->visited[nb] == gen) continue;
            g->visited[nb] = gen;
            todo[n_todo++] = nb;
        }
        for (uint32_t j = 0; j < n_todo && j < PREFETCH_ROWS; j++) prefetch_bytes(node_vec(g, todo[j]), 4 * g->dim);
        float dist[WALK_ROWS];
        for (uint32_t j = 0; j < n_todo; j++) {
            uint32_t nb = todo[j], t = j % WALK_ROWS;
            if (t == 0) {
                for (uint32_t u = 0; u < WALK_ROWS; u++)
                    if (j + u + PREFETCH_ROWS < n_todo) prefetch_bytes(node_vec(g, todo[j + u + PREFETCH_ROWS]), 4 * g->dim);
                if (n_todo - j >= WALK_ROWS) distances(g, q, todo + j, dist);
                else for (uint32_t u = 0; u < n_todo - j; u++) dist[u] = distance(g, q, node_vec(g, todo[j + u]));
            }
            float d = dist[t];
            if (n_res < ef || closer(d, nb, g->rd[0], g->rn[0])) {
                prefetch_bytes(node_links(g, nb, level), 4 * (g->m0 + 1)); /* likely expanded soon: its whole list */
                heap_push(0, g->cd, g->cn, &n_cand, d, nb);
                if (!allowed || bitmap_has(allowed, nb)) {
                    heap_push(1, g->rd, g->rn, &n_res, d, nb);
                    if (n_res > ef) heap_pop(1, g->rd, g->rn, &n_res);
                    bound = g->rd[0];
                }
            }
        }
    }
    return n_res;
}

/* Empties the result heap into the selection list, closest first; returns the count. */
AGK_INLINE uint32_t drain_sorted(graph_t *g, uint32_t n_res) {
    uint32_t count = n_res;
    while (n_res) {
        g->sd[n_res - 1] = g->rd[0], g->sn[n_res - 1] = g->rn[0];
        heap_pop(1, g->rd, g->rn, &n_res);
    }
    return count;
}

/* hnswlib's heuristic over a closest-first list: keep a candidate only if no kept neighbour
 * is closer to it than the base node is. Compacts the kept ones to the front, returns how many.
 * Among candidates at exactly the same distance (copies of one vector) the newest node comes
 * first, as in hnswlib: the oldest copies' lists are full, so linking a new node to them only
 * had its back-links pruned away, and masses of duplicates left the graph poorly connected
 * (episode texts repeated ~30 times: recall@10 at ef=32 0.88 -> 0.99). */
AGK_INLINE uint32_t select_neighbours(const graph_t *g, float *d, uint32_t *n, uint32_t count, uint32_t max) {
    if (count <= max) return count;
    for (uint32_t a = 0; a < count;) {
        uint32_t b = a + 1;
        while (b < count && d[b] == d[a]) b++;
        for (uint32_t i = a, j = b - 1; i < j; i++, j--) swap_pair(d, n, i, j);
        a = b;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count && kept < max; i++) {
        const float *v = node_vec(g, n[i]);
        int good = 1;
        for (uint32_t j = 0; j < kept && good; j++)
            if (distance(g, v, node_vec(g, n[j])) < d[i]) good = 0;
        if (good) d[kept] = d[i], n[kept] = n[i], kept++;
    }
    return kept;
}

/* Adds `node` to nb's list on `level`; a full list is re-chosen by the heuristic from its
 * members plus the new node (all measured from nb), closest first. */
AGK_INLINE void link_back(graph_t *g, uint32_t nb, uint32_t node, float d_node, uint32_t level) {
    uint32_t *list = node_links(g, nb, level);
    uint32_t max = level ? g->m : g->m0;
    if (list[0] < max) {
        list[++list[0]] = node;
        return;
    }
    float *d = g->sd + max + 1;     /* past the new node's own selection (at most m kept) */
    uint32_t *n = g->sn + max + 1;
    const float *v = node_vec(g, nb);
    uint32_t count = 0;
    for (uint32_t i = 0; i <= list[0]; i++) {
        uint32_t c = i < list[0] ? list[i + 1] : node;
        float dc = i < list[0] ? distance(g, v, node_vec(g, c)) : d_node;
        uint32_t at = count++;
        while (at > 0 && closer(dc, c, d[at - 1], n[at - 1])) d[at] = d[at - 1], n[at] = n[at - 1], at--;
        d[at] = dc, n[at] = c;
    }
    uint32_t kept = select_neighbours(g, d, n, count, max);
    list[0] = kept;
    for (uint32_t i = 0; i < kept; i++) list[i + 1] = n[i];
}

AGK_INLINE void insert_node(graph_t *g, uint8_t *scratch, uint32_t node, uint32_t efc) {
    uint32_t level = g->levels[node];
    for (uint32_t l = 0; l <= level; l++) node_links(g, node, l)[0] = 0;
    uint32_t *hdr = g->hdr;
    if (hdr[H_ENTRY] == AGK_HNSW_NONE) {
        hdr[H_ENTRY] = node, hdr[H_MAXLEVEL] = level;
        return;
    }
    const float *q = node_vec(g, node);
    uint32_t ep = hdr[H_ENTRY], top = hdr[H_MAXLEVEL];
    float d_ep = distance(g, q, node_vec(g, ep));
    for (uint32_t l = top; l > level; l--) greedy(g, q, &ep, &d_ep, l);
    for (uint32_t l = level < top ? level : top;; l--) {
        uint32_t found = drain_sorted(g, search_level(g, scratch, q, ep, d_ep, l, efc, 0));
        ep = g->sn[0], d_ep = g->sd[0];
        /* link_back works in the selection list past slot m, so keep at most m here */
        uint32_t kept = select_neighbours(g, g->sd, g->sn, found, g->m);
        uint32_t *list = node_links(g, node, l);
        list[0] = kept;
        for (uint32_t i = 0; i < kept; i++) list[i + 1] = g->sn[i];
        for (uint32_t i = 0; i < kept; i++) link_back(g, list[i + 1], node, g->sd[i], l);
        if (l == 0) break;
    }
    if (level > top) hdr[H_ENTRY] = node, hdr[H_MAXLEVEL] = level;
}

int32_t agk_hnsw_insert(uint32_t *hdr, const uint32_t *levels, uint32_t *links0,
                        const uint32_t *upper_off, uint32_t *upper, const float *vectors, uint32_t dim,
                        uint32_t metric, uint32_t first, uint32_t count, uint32_t ef_construction,
                        uint8_t *scratch) {
    if (dim == 0) return AGK_E_DIM;
    if (metric != AGK_METRIC_DOT && metric != AGK_METRIC_L2) return AGK_E_ARG;
    const uint32_t *w = (const uint32_t *)scratch;
    /* a beam wider than the graph finds the same nodes: the scratch need not be wider either */
    if (ef_construction > w[S_CAPACITY]) ef_construction = w[S_CAPACITY];
    if (first != hdr[H_COUNT] || first + count < first || first + count > w[S_CAPACITY] ||
        ef_construction == 0 || ef_construction > w[S_EF] || hdr[H_M0] != w[S_M0] || hdr[H_M] < 2)
        return AGK_E_ARG;
    graph_t g;
    graph_bind(&g, hdr, levels, links0, upper_off, upper, vectors, dim, metric, scratch);
    for (uint32_t i = 0; i < count; i++) {
        if (levels[first + i] > AGK_HNSW_MAX_LEVEL) return AGK_E_RANGE;
        insert_node(&g, scratch, first + i, ef_construction);
        hdr[H_COUNT] = first + i + 1;
    }
    return (int32_t)count;
}

/* One query of agk_hnsw_search after its argument checks: the count written, or
 * AGK_E_NONFINITE. */
AGK_INLINE int32_t search_one(const uint32_t *hdr, const uint32_t *levels, const uint32_t *links0,
                              const uint32_t *upper_off, const uint32_t *upper, const float *vectors, uint32_t dim,
                              uint32_t metric, uint8_t *scratch, const float *q_in, float *q, uint32_t *out_idx,
                              float *out_score, const uint8_t *allowed, uint32_t k, uint32_t ef) {
    /* preparing the query here saves a caller a kernel call per query (20-35 us in a browser) */
    float norm_sq = agk_prepare_query_f32(q_in, dim, metric == AGK_METRIC_COS, q);
    if (!(norm_sq - norm_sq == 0.0f)) return AGK_E_NONFINITE;
    if (metric == AGK_METRIC_COS) metric = AGK_METRIC_DOT;   /* unit rows: cosine is their dot */
    if (hdr[H_ENTRY] == AGK_HNSW_NONE) return 0;
    graph_t g;
    /* search never writes the graph; the casts only share graph_bind with insert */
    graph_bind(&g, (uint32_t *)hdr, levels, (uint32_t *)links0, upper_off, (uint32_t *)upper, vectors, dim, metric,
               scratch);
    uint32_t ep = hdr[H_ENTRY];
    float d_ep = distance(&g, q, node_vec(&g, ep));
    for (uint32_t l = hdr[H_MAXLEVEL]; l > 0; l--) greedy(&g, q, &ep, &d_ep, l);
    uint32_t found = drain_sorted(&g, search_level(&g, scratch, q, ep, d_ep, 0, ef, allowed));
    uint32_t out = found < k ? found : k;
    /* negating -dot back to dot is exact, so scores equal the exact scan's bit for bit */
    for (uint32_t i = 0; i < out; i++) out_idx[i] = g.sn[i], out_score[i] = metric == AGK_METRIC_L2 ? g.sd[i] : -g.sd[i];
    return (int32_t)out;
}

/* The checks both search entry points make before any query; AGK_OK or an AGK_E_* code.
 * *ef becomes the beam actually searched: at least k, at most the node count (a wider beam
 * finds the same nodes, and the scratch is sized for at most the capacity). */
AGK_INLINE int32_t search_args(const uint32_t *hdr, uint32_t dim, uint32_t metric, const uint8_t *scratch,
                               uint32_t k, uint32_t *ef) {
    if (dim == 0) return AGK_E_DIM;
    if (k == 0) return AGK_E_K;
    if (metric != AGK_METRIC_DOT && metric != AGK_METRIC_L2 && metric != AGK_METRIC_COS) return AGK_E_ARG;
    const uint32_t *w = (const uint32_t *)scratch;
    if (*ef < k) *ef = k;
    if (*ef > hdr[H_COUNT]) *ef = hdr[H_COUNT] ? hdr[H_COUNT] : 1;
    if (*ef > w[S_EF] || hdr[H_COUNT] > w[S_CAPACITY] || hdr[H_M0] != w[S_M0]) return AGK_E_ARG;
    return AGK_OK;
}

int32_t agk_hnsw_search(const uint32_t *hdr, const uint32_t *levels, const uint32_t *links0,
                        const uint32_t *upper_off, const uint32_t *upper, const float *vectors, uint32_t dim,
                        uint32_t metric, uint8_t *scratch, const float *q_in, float *q, uint32_t *out_idx,
                        float *out_score, const uint8_t *allowed, uint32_t k, uint32_t ef) {
    int32_t rc = search_args(hdr, dim, metric, scratch, k, &ef);
    if (rc) return rc;
    return search_one(hdr, levels, links0, upper_off, upper, vectors, dim, metric, scratch, q_in, q, out_idx,
                      out_score, allowed, k, ef);
}

int32_t agk_hnsw_search_batch(const uint32_t *hdr, const uint32_t *levels, const uint32_t *links0,
                              const uint32_t *upper_off, const uint32_t *upper, const float *vectors, uint32_t dim,
                              uint32_t metric, uint8_t *scratch, const float *q_in, float *q, uint32_t *out_idx,
                              float *out_score, uint32_t *out_count, const uint8_t *allowed, uint32_t k, uint32_t ef,
                              uint32_t m) {
    int32_t rc = search_args(hdr, dim, metric, scratch, k, &ef);
    if (rc) return rc;
    for (uint32_t i = 0; i < m; i++) {
        int32_t n = search_one(hdr, levels, links0, upper_off, upper, vectors, dim, metric, scratch,
                               q_in + (uintptr_t)i * dim, q, out_idx + (uintptr_t)i * k, out_score + (uintptr_t)i * k,
                               allowed, k, ef);
        if (n < 0) return n;
        out_count[i] = (uint32_t)n;
    }
    return (int32_t)m;
}

AGK_INLINE int list_ok(const uint32_t *list, uint32_t max, uint32_t n) {
    if (list[0] > max) return 0;
    for (uint32_t i = 1; i <= list[0]; i++)
        if (list[i] >= n) return 0;
    return 1;
}

int32_t agk_hnsw_check(const uint32_t *hdr, const uint32_t *levels, const uint32_t *links0,
                       const uint32_t *upper_off, const uint32_t *upper, uint32_t pool_words) {
    uint32_t n = hdr[H_COUNT], m = hdr[H_M], m0 = hdr[H_M0];
    if (m < 2 || m0 != 2 * m || m > AGK_HNSW_MAX_M) return AGK_E_RANGE;
    if (n == 0) return hdr[H_ENTRY] == AGK_HNSW_NONE ? AGK_OK : AGK_E_RANGE;
    if (hdr[H_ENTRY] >= n || hdr[H_MAXLEVEL] > AGK_HNSW_MAX_LEVEL || levels[hdr[H_ENTRY]] != hdr[H_MAXLEVEL])
        return AGK_E_RANGE;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t level = levels[i];
        if (level > hdr[H_MAXLEVEL]) return AGK_E_RANGE;
        if (!list_ok(links0 + (uintptr_t)i * (m0 + 1), m0, n)) return AGK_E_RANGE;
        if (level == 0) continue;
        uint64_t end = (uint64_t)upper_off[i] + (uint64_t)level * (m + 1);
        if (end > pool_words) return AGK_E_RANGE;
        for (uint32_t l = 1; l <= level; l++)
            if (!list_ok(upper + upper_off[i] + (uintptr_t)(l - 1) * (m + 1), m, n)) return AGK_E_RANGE;
    }
    return AGK_OK;
}

/* xoshiro128**: small, fast, and the same sequence on every platform. */
AGK_INLINE uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

AGK_INLINE uint32_t xoshiro_next(uint32_t *s) {
    uint32_t result = rotl32(s[1] * 5, 7) * 9, t = s[1] << 9;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl32(s[3], 11);
    return result;
}

uint32_t agk_hnsw_assign_levels(uint32_t *rng_state, uint32_t m, uint32_t count, uint32_t pool_used,
                                uint32_t *levels, uint32_t *upper_off) {
    uint32_t threshold = m > 1 ? 0xFFFFFFFFu / m : 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t level = 0;
        while (level < AGK_HNSW_MAX_LEVEL && xoshiro_next(rng_state) < threshold) level++;
        levels[i] = level;
        upper_off[i] = pool_used;
        pool_used += level * (m + 1);
    }
    return pool_used;
}
