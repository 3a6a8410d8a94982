/* Quantization: int8 scalar, binary (sign bits), k-means and product quantization. */

#define AGK_I8_MAX_DIM 32768u /* keeps exact int32 sums of int8 products from overflowing */
#define AGK_PQ_TABLE_WIDTH 256u

/* ---- int8 scalar quantization --------------------------------------------------------- */

void agk_sq8_train_f32(const float *x, uint32_t n, uint32_t dim, float *lo, float *step) {
    for (uint32_t d = 0; d < dim; d++) {
        float mn = n ? x[d] : 0.0f, mx = mn;
        for (uint32_t i = 1; i < n; i++) {
            float v = x[(uintptr_t)i * dim + d];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        lo[d] = mn;
        step[d] = (mx - mn) / 254.0f;
    }
}

void agk_sq8_encode_f32(const float *x, uint32_t n, uint32_t dim, const float *lo, const float *step,
                        int8_t *codes) {
    for (uint32_t i = 0; i < n; i++) {
        const float *r = x + (uintptr_t)i * dim;
        int8_t *c = codes + (uintptr_t)i * dim;
        for (uint32_t d = 0; d < dim; d++) {
            float t = step[d] > 0.0f ? (r[d] - lo[d]) / step[d] : 0.0f;
            if (!(t >= 0.0f)) t = 0.0f; /* also maps NaN to 0 */
            if (t > 254.0f) t = 254.0f;
            c[d] = (int8_t)((int32_t)(t + 0.5f) - 127);
        }
    }
}

void agk_sq8_decode_f32(const int8_t *codes, uint32_t n, uint32_t dim, const float *lo, const float *step,
                        float *x) {
    for (uint32_t i = 0; i < n; i++) {
        const int8_t *c = codes + (uintptr_t)i * dim;
        float *r = x + (uintptr_t)i * dim;
        for (uint32_t d = 0; d < dim; d++) r[d] = lo[d] + step[d] * (float)((int32_t)c[d] + 127);
    }
}

AGK_INLINE void i8f32_kernel(const float *w, const int8_t *const *p, uint32_t dim, float *s) {
    v16f acc[AGK_GROUP];
    for (uint32_t t = 0; t < AGK_GROUP; t++) acc[t] = v16f_zero();
    uint32_t i = 0;
    for (; i + AGK_LANES <= dim; i += AGK_LANES) {
        v16f wv = v16f_load(w + i);
        for (uint32_t t = 0; t < AGK_GROUP; t++) acc[t] += wv * v16b_to_f(p[t] + i);
    }
    if (i < dim) {
        v16f wv = v16f_load_tail(w + i, dim - i);
        for (uint32_t t = 0; t < AGK_GROUP; t++) acc[t] += wv * v16b_to_f_tail(p[t] + i, dim - i);
    }
    for (uint32_t t = 0; t < AGK_GROUP; t++) s[t] = hsum16(acc[t]);
}

int32_t agk_scan_dot_i8f32(const float *w, float bias, const int8_t *codes, uint32_t n_rows, uint32_t dim,
                           const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out) {
    if (dim == 0) return AGK_E_DIM;
    AGK_SCAN_GROUPS(n_rows, subset, n_subset, bitmap, out, {
        const int8_t *p[AGK_GROUP];
        float s[AGK_GROUP];
        for (uint32_t t = 0; t < AGK_GROUP; t++) p[t] = codes + (uintptr_t)row[t] * dim;
        if (!subset) prefetch_bytes(p[0] + (uintptr_t)4 * AGK_GROUP * dim, AGK_GROUP * dim);
        i8f32_kernel(w, p, dim, s);
        for (uint32_t t = 0; t < count; t++) out[pos[t]] = bias + s[t];
    });
}

/* Exact integer sums (int32 cannot overflow for dim <= AGK_I8_MAX_DIM). Integer addition is
 * associative, so the vectorised forms below (pmaddwd or VNNI from GCC's vectoriser, wasm's
 * i32x4.dot_i16x8_s) all give the same result as the plain loop. */
#if defined(__wasm_simd128__)
AGK_INLINE v128_t i8_widen_dot(v128_t a, v128_t b, const int l2) {
    v128_t alo = wasm_i16x8_extend_low_i8x16(a), ahi = wasm_i16x8_extend_high_i8x16(a);
    v128_t blo = wasm_i16x8_extend_low_i8x16(b), bhi = wasm_i16x8_extend_high_i8x16(b);
    if (l2) { /* |a - b| <= 255 fits int16; each pair of squares fits int32 */
        alo = wasm_i16x8_sub(alo, blo), ahi = wasm_i16x8_sub(ahi, bhi);
        blo = alo, bhi = ahi;
    }
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(alo, blo), wasm_i32x4_dot_i16x8(ahi, bhi));
}
#endif

AGK_INLINE int32_t i8_sum(const int l2, const int8_t *a, const int8_t *b, uint32_t dim) {
    int32_t s = 0;
    uint32_t k = 0;
#if defined(__wasm_simd128__)
    v128_t acc = wasm_i32x4_splat(0);
    for (; k + 16 <= dim; k += 16) acc = wasm_i32x4_add(acc, i8_widen_dot(wasm_v128_load(a + k), wasm_v128_load(b + k), l2));
    s = wasm_i32x4_extract_lane(acc, 0) + wasm_i32x4_extract_lane(acc, 1) + wasm_i32x4_extract_lane(acc, 2) +
        wasm_i32x4_extract_lane(acc, 3);
#endif
    for (; k < dim; k++) {
        int32_t x = a[k], y = b[k];
        s += l2 ? (x - y) * (x - y) : x * y;
    }
    return s;
}

AGK_INLINE int32_t scan_i8(const int l2, const int8_t *qc, float alpha, float bias, const int8_t *codes,
                           uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset,
                           const uint8_t *bitmap, float *out) {
    if (dim == 0 || dim > AGK_I8_MAX_DIM) return AGK_E_DIM;
    AGK_SCAN_GROUPS(n_rows, subset, n_subset, bitmap, out, {
        for (uint32_t t = 0; t < count; t++) {
            const int8_t *p = codes + (uintptr_t)row[t] * dim;
            if (!subset) prefetch_bytes(p + (uintptr_t)8 * dim, dim);
            out[pos[t]] = alpha * (float)i8_sum(l2, qc, p, dim) + bias;
        }
    });
}

int32_t agk_scan_dot_i8(const int8_t *qc, float alpha, float bias, const int8_t *codes, uint32_t n_rows,
                        uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap,
                        float *out) {
    return scan_i8(0, qc, alpha, bias, codes, n_rows, dim, subset, n_subset, bitmap, out);
}

int32_t agk_scan_l2_i8(const int8_t *qc, float alpha, float bias, const int8_t *codes, uint32_t n_rows,
                       uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap,
                       float *out) {
    return scan_i8(1, qc, alpha, bias, codes, n_rows, dim, subset, n_subset, bitmap, out);
}

/* ---- binary quantization -------------------------------------------------------------- */

void agk_b1_encode_f32(const float *x, uint32_t n, uint32_t dim, uint8_t *bits) {
    uint32_t n_bytes = (dim + 7) / 8;
    for (uint32_t i = 0; i < n; i++) {
        const float *r = x + (uintptr_t)i * dim;
        uint8_t *b = bits + (uintptr_t)i * n_bytes;
        for (uint32_t k = 0; k < n_bytes; k++) b[k] = 0;
        for (uint32_t d = 0; d < dim; d++)
            if (r[d] > 0.0f) b[d >> 3] |= (uint8_t)(1u << (d & 7));
    }
}

AGK_INLINE uint32_t hamming(const uint8_t *a, const uint8_t *b, uint32_t n_bytes) {
    uint32_t dist = 0, k = 0;
    for (; k + 8 <= n_bytes; k += 8)
        dist += (uint32_t)__builtin_popcountll(*(const u64_u *)(a + k) ^ *(const u64_u *)(b + k));
    for (; k < n_bytes; k++) dist += (uint32_t)__builtin_popcount((uint32_t)(a[k] ^ b[k]));
    return dist;
}

int32_t agk_scan_hamming_b1(const uint8_t *qbits, const uint8_t *codes, uint32_t n_rows, uint32_t n_bytes,
                            const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out) {
    if (n_bytes == 0) return AGK_E_DIM;
    AGK_SCAN_GROUPS(n_rows, subset, n_subset, bitmap, out, {
        for (uint32_t t = 0; t < count; t++) {
            const uint8_t *p = codes + (uintptr_t)row[t] * n_bytes;
            if (!subset) prefetch_bytes(p + (uintptr_t)32 * n_bytes, n_bytes);
            out[pos[t]] = (float)hamming(qbits, p, n_bytes);
        }
    });
}

/* ---- k-means and product quantization -------------------------------------------------- */

/* Nearest of k contiguous centroids by squared L2; ties go to the lower index. */
AGK_INLINE uint32_t nearest_l2(const float *q, const float *cent, uint32_t k, uint32_t dim, float *best_dist) {
    uint32_t best = 0;
    float bd = agk_inf();
    for (uint32_t c0 = 0; c0 < k; c0 += AGK_GROUP) {
        const float *p[AGK_GROUP];
        float s[AGK_GROUP], unused[AGK_GROUP];
        for (uint32_t t = 0; t < AGK_GROUP; t++) p[t] = cent + (uintptr_t)(c0 + t < k ? c0 + t : c0) * dim;
        rows_kernel(AGK_METRIC_L2, AGK_GROUP, q, p, dim, s, unused);
        for (uint32_t t = 0; t < AGK_GROUP && c0 + t < k; t++)
            if (s[t] < bd) {
                bd = s[t];
                best = c0 + t;
            }
    }
    *best_dist = bd;
    return best;
}

int32_t agk_kmeans_assign_f32(const float *x, uint32_t n, uint32_t dim, uint32_t stride,
                              const float *centroids, uint32_t k, uint32_t *assign, float *dist) {
    if (dim == 0 || stride < dim) return AGK_E_DIM;
    if (k == 0) return AGK_E_K;
    for (uint32_t i = 0; i < n; i++) {
        float d;
        assign[i] = nearest_l2(x + (uintptr_t)i * stride, centroids, k, dim, &d);
        if (dist) dist[i] = d;
    }
    return (int32_t)n;
}

/* Centroid = mean of its points, summed in point order; an empty cluster keeps its old
 * centroid (counts[c] == 0 tells the caller to re-seed it). */
int32_t agk_kmeans_update_f32(const float *x, uint32_t n, uint32_t dim, uint32_t stride,
                              const uint32_t *assign, uint32_t k, float *centroids, uint32_t *counts) {
    if (dim == 0 || stride < dim) return AGK_E_DIM;
    if (k == 0) return AGK_E_K;
    for (uint32_t c = 0; c < k; c++) counts[c] = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (assign[i] >= k) return AGK_E_RANGE;
        counts[assign[i]]++;
    }
    for (uint32_t c = 0; c < k; c++)
        if (counts[c])
            for (uint32_t d = 0; d < dim; d++) centroids[(uintptr_t)c * dim + d] = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        float *c = centroids + (uintptr_t)assign[i] * dim;
        const float *p = x + (uintptr_t)i * stride;
        for (uint32_t d = 0; d < dim; d++) c[d] += p[d];
    }
    for (uint32_t c = 0; c < k; c++)
        if (counts[c])
            for (uint32_t d = 0; d < dim; d++) centroids[(uintptr_t)c * dim + d] /= (float)counts[c];
    return (int32_t)k;
}

AGK_INLINE int32_t check_pq(uint32_t dim, uint32_t m, uint32_t ksub) {
    if (dim == 0 || m == 0 || dim % m) return AGK_E_DIM;
    if (ksub == 0 || ksub > AGK_PQ_TABLE_WIDTH) return AGK_E_ARG;
    return AGK_OK;
}

int32_t agk_pq_encode_f32(const float *x, uint32_t n, uint32_t dim, uint32_t m, uint32_t ksub,
                          const float *codebooks, uint8_t *codes) {
    int32_t rc = check_pq(dim, m, ksub);
    if (rc) return rc;
    uint32_t dsub = dim / m;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t s = 0; s < m; s++) {
            float unused;
            codes[(uintptr_t)i * m + s] = (uint8_t)nearest_l2(x + (uintptr_t)i * dim + s * dsub,
                                                              codebooks + (uintptr_t)s * ksub * dsub, ksub, dsub, &unused);
        }
    return (int32_t)n;
}

int32_t agk_pq_table_f32(const float *q, uint32_t dim, uint32_t m, uint32_t ksub, const float *codebooks,
                         uint32_t metric, float *table) {
    int32_t rc = check_pq(dim, m, ksub);
    if (rc) return rc;
    if (metric != AGK_METRIC_DOT && metric != AGK_METRIC_L2) return AGK_E_ARG;
    uint32_t dsub = dim / m;
    for (uint32_t s = 0; s < m; s++) {
        float *t = table + (uintptr_t)s * AGK_PQ_TABLE_WIDTH;
        const float *cb = codebooks + (uintptr_t)s * ksub * dsub;
        if (metric == AGK_METRIC_L2)
            scan_f32(AGK_METRIC_L2, q + s * dsub, 1, cb, ksub, dsub, 0, 0, 0, t);
        else
            scan_f32(AGK_METRIC_DOT, q + s * dsub, 1, cb, ksub, dsub, 0, 0, 0, t);
        for (uint32_t c = ksub; c < AGK_PQ_TABLE_WIDTH; c++) t[c] = agk_nan();
    }
    return (int32_t)m;
}

/* Sum of table lookups, subspace 0 first, a group of rows interleaved. */
int32_t agk_scan_pq(const float *table, uint32_t m, const uint8_t *codes, uint32_t n_rows,
                    const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out) {
    if (m == 0) return AGK_E_DIM;
    AGK_SCAN_GROUPS(n_rows, subset, n_subset, bitmap, out, {
        const uint8_t *c[AGK_GROUP];
        float s[AGK_GROUP];
        for (uint32_t t = 0; t < AGK_GROUP; t++) c[t] = codes + (uintptr_t)row[t] * m, s[t] = 0.0f;
        for (uint32_t k = 0; k < m; k++) {
            const float *tk = table + (uintptr_t)k * AGK_PQ_TABLE_WIDTH;
            for (uint32_t t = 0; t < AGK_GROUP; t++) s[t] += tk[c[t][k]];
        }
        for (uint32_t t = 0; t < count; t++) out[pos[t]] = s[t];
    });
}
