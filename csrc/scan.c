/* f32 distance scans and top-k selection. */

/* Walks output positions from *j to end, gives excluded rows a NaN score, and fills up to R
 * (<= AGK_GROUP) (position, row) pairs for the next group. Short groups repeat their first
 * entry so that the group kernels can run unconditionally; only the first `count` results
 * are kept. */
AGK_INLINE uint32_t next_group(const uint32_t R, uint32_t *j, uint32_t end, const uint32_t *subset,
                               const uint8_t *bitmap, float *out, uint32_t pos[AGK_GROUP], uint32_t row[AGK_GROUP]) {
    uint32_t count = 0;
    while (count < R && *j < end) {
        uint32_t jj = (*j)++;
        uint32_t r = subset ? subset[jj] : jj;
        if (bitmap && !bitmap_has(bitmap, r)) {
            out[jj] = agk_nan();
            continue;
        }
        pos[count] = jj;
        row[count] = r;
        count++;
    }
    for (uint32_t t = count; t < R && count; t++) {
        pos[t] = pos[0];
        row[t] = row[0];
    }
    return count;
}

/* Every subset index must name an existing row: checked before anything is written. */
AGK_INLINE int32_t check_subset(const uint32_t *subset, uint32_t n_subset, uint32_t n_rows) {
    if (!subset) return AGK_OK;
    for (uint32_t j = 0; j < n_subset; j++)
        if (subset[j] >= n_rows) return AGK_E_RANGE;
    return AGK_OK;
}

/* The body of a scan over quantized rows: checks the subset, then runs the statements given
 * as the last argument once per group, with pos[], row[] and count in scope; returns the
 * number of scores written. */
#define AGK_SCAN_GROUPS(n_rows, subset, n_subset, bitmap, out, ...)                           \
    do {                                                                                      \
        int32_t rc_ = check_subset(subset, n_subset, n_rows);                                 \
        if (rc_) return rc_;                                                                  \
        uint32_t n_out_ = (subset) ? (n_subset) : (n_rows), j_ = 0, pos[AGK_GROUP], row[AGK_GROUP], count; \
        while ((count = next_group(AGK_GROUP, &j_, n_out_, subset, bitmap, out, pos, row)) > 0) { \
            __VA_ARGS__                                                                       \
        }                                                                                     \
        return (int32_t)n_out_;                                                               \
    } while (0)

/* One lane step of a metric: dot and cosine accumulate q*x, L2 accumulates (q-x)^2,
 * cosine also accumulates x*x for the row norm. */
AGK_INLINE void metric_step(const int metric, v16f qv, v16f x, v16f *acc, v16f *nrm) {
    if (metric == AGK_METRIC_L2) {
        v16f d = qv - x;
        *acc += d * d;
    } else {
        *acc += qv * x;
    }
    if (metric == AGK_METRIC_COS) *nrm += x * x;
}

/* R rows (1 <= R <= AGK_MAX_ROWS) against one query: per-row lane accumulators over 16-float blocks,
 * a zero-padded tail block, then hsum16. The order never depends on R or the ISA.
 * ahead > 0 prefetches each row's data that many floats ahead (natively; a no-op in wasm). */
AGK_INLINE void rows_kernel_ahead(const int metric, const uint32_t R, const float *q, const float *const *p,
                                  uint32_t dim, float *s, float *nrm, uintptr_t ahead) {
    v16f acc[AGK_MAX_ROWS], nn[AGK_MAX_ROWS];
    for (uint32_t t = 0; t < R; t++) acc[t] = nn[t] = v16f_zero();
    uint32_t i = 0;
    for (; i + AGK_LANES <= dim; i += AGK_LANES) {
        v16f qv = v16f_load(q + i);
        for (uint32_t t = 0; t < R; t++) {
            if (ahead) __builtin_prefetch(p[t] + i + ahead);
            metric_step(metric, qv, v16f_load(p[t] + i), &acc[t], &nn[t]);
        }
    }
    if (i < dim) {
        uint32_t r = dim - i;
        v16f qv = v16f_load_tail(q + i, r);
        for (uint32_t t = 0; t < R; t++) metric_step(metric, qv, v16f_load_tail(p[t] + i, r), &acc[t], &nn[t]);
    }
    for (uint32_t t = 0; t < R; t++) {
        s[t] = hsum16(acc[t]);
        if (metric == AGK_METRIC_COS) nrm[t] = hsum16(nn[t]);
    }
}

AGK_INLINE void rows_kernel(const int metric, const uint32_t R, const float *q, const float *const *p,
                            uint32_t dim, float *s, float *nrm) {
    rows_kernel_ahead(metric, R, q, p, dim, s, nrm, 0);
}

AGK_INLINE float dot1(const float *a, const float *b, uint32_t dim) {
    float s, unused;
    rows_kernel(AGK_METRIC_DOT, 1, a, &b, dim, &s, &unused);
    return s;
}

/* Cosine of a zero vector is defined as 0, never NaN. */
AGK_INLINE float cos_finish(float dot, float qq, float xx) {
    if (qq == 0.0f || xx == 0.0f) return 0.0f;
    return dot / (agk_sqrtf(qq) * agk_sqrtf(xx));
}

/* Rows per cache block for batch scans: about 128 KiB of rows stay hot while every query
 * of the batch visits them, so a batch reads the rows from memory once, not m times. */
AGK_INLINE uint32_t block_rows(uint32_t dim) {
    uint32_t b = (128u * 1024u) / (dim * 4u);
    return b < AGK_GROUP ? AGK_GROUP : b;
}

/* Scores rows [j0, j1) of one query into o, R rows at a time (R <= AGK_GROUP, a constant
 * where inlined). Without a subset or bitmap the groups are consecutive rows (no per-row
 * bookkeeping on the hot path). */
AGK_INLINE void scan_rows(const int metric, const uint32_t R, const float *q, float qq, const float *rows,
                          uint32_t dim, uint32_t j0, uint32_t j1, const uint32_t *subset, const uint8_t *bitmap,
                          float *o) {
    const float *p[AGK_GROUP];
    float s[AGK_GROUP], nrm[AGK_GROUP];
    if (!subset && !bitmap) {
        for (uint32_t j = j0; j < j1; j += R) {
            uint32_t count = j1 - j < R ? j1 - j : R;
            for (uint32_t t = 0; t < R; t++) p[t] = rows + (uintptr_t)(j + (t < count ? t : 0)) * dim;
            /* groups: the next group's rows (hardware prefetchers lag on interleaved streams) */
            rows_kernel_ahead(metric, R, q, p, dim, s, nrm, R > 1 && j + 2 * R <= j1 ? (uintptr_t)R * dim : 0);
            for (uint32_t t = 0; t < count; t++)
                o[j + t] = metric == AGK_METRIC_COS ? cos_finish(s[t], qq, nrm[t]) : s[t];
        }
        return;
    }
    uint32_t j = j0, pos[AGK_GROUP], row[AGK_GROUP], count;
    while ((count = next_group(R, &j, j1, subset, bitmap, o, pos, row)) > 0) {
        for (uint32_t t = 0; t < R; t++) p[t] = rows + (uintptr_t)row[t] * dim;
        rows_kernel(metric, R, q, p, dim, s, nrm);
        for (uint32_t t = 0; t < count; t++)
            o[pos[t]] = metric == AGK_METRIC_COS ? cos_finish(s[t], qq, nrm[t]) : s[t];
    }
}

/* A query over rows read once from memory in order (`stream`: one query, no subset) scores
 * them one by one: a single sequential stream, which the hardware prefetchers follow (on a
 * Zen 4, 100k x 384: 6.6 ms one by one vs 13.6 ms in groups of 4 with software prefetch).
 * A batch's cache-resident block, or scattered subset rows, go in groups of AGK_GROUP
 * (a query load serves several rows: batches 20% faster; misses of scattered rows overlap).
 * The same bits either way. */
AGK_INLINE void scan_range(const int metric, const float *q, float qq, const float *rows, uint32_t dim,
                           uint32_t j0, uint32_t j1, const uint32_t *subset, const uint8_t *bitmap, float *o,
                           int stream) {
    if (stream && !subset) scan_rows(metric, 1, q, qq, rows, dim, j0, j1, subset, bitmap, o);
    else scan_rows(metric, AGK_GROUP, q, qq, rows, dim, j0, j1, subset, bitmap, o);
}

AGK_INLINE int32_t scan_f32(const int metric, const float *qs, uint32_t m, const float *rows, uint32_t n_rows,
                            uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap,
                            float *out) {
    if (dim == 0) return AGK_E_DIM;
    int32_t rc = check_subset(subset, n_subset, n_rows);
    if (rc) return rc;
    uint32_t n_out = subset ? n_subset : n_rows;
    uint32_t block = m > 1 ? block_rows(dim) : n_out;
    for (uint32_t b0 = 0; b0 < n_out; b0 += block) {
        uint32_t b1 = n_out - b0 > block ? b0 + block : n_out;
        for (uint32_t qi = 0; qi < m; qi++) {
            const float *q = qs + (uintptr_t)qi * dim;
            float qq = metric == AGK_METRIC_COS ? dot1(q, q, dim) : 0.0f;
            scan_range(metric, q, qq, rows, dim, b0, b1, subset, bitmap, out + (uintptr_t)qi * n_out, m == 1);
        }
    }
    return (int32_t)n_out;
}

#define SCAN_EXPORTS(NAME, METRIC)                                                                      \
    int32_t agk_scan_##NAME##_f32(const float *q, const float *rows, uint32_t n_rows,        \
                                             uint32_t dim, const uint32_t *subset, uint32_t n_subset,   \
                                             const uint8_t *bitmap, float *out) {                       \
        return scan_f32(METRIC, q, 1, rows, n_rows, dim, subset, n_subset, bitmap, out);                \
    }                                                                                                   \
    int32_t agk_scan_batch_##NAME##_f32(const float *qs, uint32_t m, const float *rows,      \
                                                   uint32_t n_rows, uint32_t dim, const uint32_t *subset, \
                                                   uint32_t n_subset, const uint8_t *bitmap, float *out) { \
        return scan_f32(METRIC, qs, m, rows, n_rows, dim, subset, n_subset, bitmap, out);               \
    }

SCAN_EXPORTS(dot, AGK_METRIC_DOT)
SCAN_EXPORTS(l2, AGK_METRIC_L2)
SCAN_EXPORTS(cos, AGK_METRIC_COS)

/* ---- top-k ---------------------------------------------------------------------------- */

/* (a, ia) ranks before (b, ib): better score, or equal score and lower index. */
AGK_INLINE int ranks_before(float a, uint32_t ia, float b, uint32_t ib, uint32_t largest) {
    if (a != b) return largest ? a > b : a < b;
    return ia < ib;
}

/* The heap keeps its worst entry at the root, so a candidate is compared with one value. */
AGK_INLINE void heap_sift_down(uint32_t *idx, float *sc, uint32_t size, uint32_t at, uint32_t largest) {
    for (;;) {
        uint32_t l = 2 * at + 1, r = l + 1, worst = at;
        if (l < size && ranks_before(sc[worst], idx[worst], sc[l], idx[l], largest)) worst = l;
        if (r < size && ranks_before(sc[worst], idx[worst], sc[r], idx[r], largest)) worst = r;
        if (worst == at) return;
        float ts = sc[at]; sc[at] = sc[worst]; sc[worst] = ts;
        uint32_t ti = idx[at]; idx[at] = idx[worst]; idx[worst] = ti;
        at = worst;
    }
}

AGK_INLINE void heap_sift_up(uint32_t *idx, float *sc, uint32_t at, uint32_t largest) {
    while (at > 0) {
        uint32_t parent = (at - 1) / 2;
        if (!ranks_before(sc[parent], idx[parent], sc[at], idx[at], largest)) return;
        float ts = sc[at]; sc[at] = sc[parent]; sc[parent] = ts;
        uint32_t ti = idx[at]; idx[at] = idx[parent]; idx[parent] = ti;
        at = parent;
    }
}

int32_t agk_topk_f32(const float *scores, uint32_t n, uint32_t k, uint32_t largest, uint32_t *out_idx,
                     float *out_scores) {
    if (k == 0) return AGK_E_K;
    uint32_t size = 0;
    for (uint32_t i = 0; i < n; i++) {
        float s = scores[i];
        if (s != s) continue;
        if (size < k) {
            out_idx[size] = i;
            out_scores[size] = s;
            heap_sift_up(out_idx, out_scores, size, largest);
            size++;
        } else if (ranks_before(s, i, out_scores[0], out_idx[0], largest)) {
            out_idx[0] = i;
            out_scores[0] = s;
            heap_sift_down(out_idx, out_scores, size, 0, largest);
        }
    }
    /* Heap sort: moving the worst to the end each time leaves the array best first. */
    for (uint32_t end = size; end > 1; end--) {
        float ts = out_scores[0]; out_scores[0] = out_scores[end - 1]; out_scores[end - 1] = ts;
        uint32_t ti = out_idx[0]; out_idx[0] = out_idx[end - 1]; out_idx[end - 1] = ti;
        heap_sift_down(out_idx, out_scores, end - 1, 0, largest);
    }
    return (int32_t)size;
}
