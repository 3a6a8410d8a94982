/* Sparse attention (agentdb.nn.local_global): each query attends a given set of keys, a CSR
 * shared by the batch x heads problems, at O(nnz * d) instead of agk_sdpa_f32's O(n_q * n_k * d);
 * the local-global pattern (a window each side plus global tokens) is one such CSR, built by
 * agk_local_global_csr in O(nnz).
 *
 * The bits are agk_sdpa_f32's with the pattern as its keep mask. There a masked key is p = +0
 * (exp of -inf selected away), and every sum it enters starts from +0 and adds products or
 * values in a fixed order; a sum that starts at +0 is never -0 (x + y is -0 only for -0 + -0),
 * so adding a +-0 term leaves it unchanged. The dense sums restricted to the kept keys, in
 * increasing key order, are therefore exactly these:
 *   s_j  = scale * (q_i . k_j)               the dot over p in order from 0, a multiply then an add
 *                                            (agk_gemm_f32's), here 16 keys a vector over K^T
 *   per key tile t (keys 256t .. 256t+255, ATTN_KT, absolute) that holds a kept key, in order:
 *     m_t = max(m_{t-1}, max_j s_j);  p_j = exp(s_j - m_t)
 *     sum_j p_j in sum_f32's order: lane (j mod 16) accumulates its keys in order, then hsum16
 *     first tile: l = sum, o = P V_t;  later: c = exp(m_{t-1} - m_t), l = l * c + sum,
 *     o = o * c + P V_t (P V_t per column: acc = 0, acc = acc + p_j * v_jc over the tile's keys)
 *   out_i = o / l, lse_i = m + log(l); a row with no key: zeros, lse -inf (the dense empty row).
 * The backward is agk_sdpa_backward_f32's, each matmul element summed over the kept entries of
 * its inner index in order: p = exp(s - lse), dP = dout_i . v_j (in order), D_i = dot1(dout_i,
 * o_i), dS = (p * (dP - D)) * scale, dQ_i = sum_j dS_ij k_j, dK_j = sum_i dS_ij q_i, dV_j =
 * sum_i p_ij dout_i (i in increasing order: the CSR's transpose, built by a stable counting sort).
 */

#define SPA_TILE 256  /* agk_sdpa_f32's key tile (ATTN_KT): the online softmax steps follow it */

AGK_INLINE v16f spa_load(const float *p, uint32_t r) { return r == AGK_LANES ? v16f_load(p) : v16f_load_tail(p, r); }

AGK_INLINE void spa_store(float *p, v16f x, uint32_t r) {
    if (r == AGK_LANES) v16f_store(p, x);
    else v16f_store_tail(p, x, r);
}

AGK_INLINE uint32_t spa_min(uint32_t a, uint32_t b) { return a < b ? a : b; }

int32_t agk_csr_check(const uint32_t *indptr, const uint32_t *indices, uint32_t n_rows, uint32_t n_cols,
                      uint32_t nnz) {
    if (n_rows && indptr[0] != 0) return 0;
    for (uint32_t i = 0; i < n_rows; i++) {
        uint32_t a = indptr[i], b = indptr[i + 1];
        if (b < a || b > nnz) return (int32_t)i;
        for (uint32_t e = a; e < b; e++)
            if (indices[e] >= n_cols || (e > a && indices[e] <= indices[e - 1])) return (int32_t)i;
    }
    if (n_rows && indptr[n_rows] != nnz) return (int32_t)(n_rows - 1);
    return (int32_t)n_rows;
}

/* Query i's local-global keys, in increasing order, as up to two runs [0, a) and [b, e): every key
 * for a global query (i < globals), else the globals and the window |i - j| <= window; causal
 * keeps j <= i. */
AGK_INLINE void lg_runs(uint32_t i, uint32_t n_k, uint32_t window, uint32_t globals, uint32_t flags, uint32_t *a,
                        uint32_t *b, uint32_t *e) {
    uint32_t end = n_k;
    if ((flags & AGK_ATTN_CAUSAL) && i + 1 < end) end = i + 1;
    if (i < globals) {
        *a = end, *b = *e = end;
        return;
    }
    uint32_t g = spa_min(globals, end), lo = i > window ? i - window : 0;
    uint64_t hi = (uint64_t)i + window + 1;
    *a = g;
    *b = lo > g ? lo : g;
    *e = hi < end ? (uint32_t)hi : end;
    if (*e < *b) *e = *b;
}

uint32_t agk_local_global_nnz(uint32_t n_q, uint32_t n_k, uint32_t window, uint32_t globals, uint32_t flags) {
    uint64_t nnz = 0;
    for (uint32_t i = 0; i < n_q; i++) {
        uint32_t a, b, e;
        lg_runs(i, n_k, window, globals, flags, &a, &b, &e);
        nnz += a + (e - b);
    }
    return nnz > 0xffffffffu ? 0xffffffffu : (uint32_t)nnz;
}

int32_t agk_local_global_csr(uint32_t n_q, uint32_t n_k, uint32_t window, uint32_t globals, uint32_t flags,
                             uint32_t *indptr, uint32_t *indices, uint32_t cap) {
    uint32_t n = 0;
    indptr[0] = 0;
    for (uint32_t i = 0; i < n_q; i++) {
        uint32_t a, b, e;
        lg_runs(i, n_k, window, globals, flags, &a, &b, &e);
        if ((uint64_t)n + a + (e - b) > cap) return AGK_E_ARG;
        for (uint32_t j = 0; j < a; j++) indices[n++] = j;
        for (uint32_t j = b; j < e; j++) indices[n++] = j;
        indptr[i + 1] = n;
    }
    return (int32_t)n;
}

/* s[e] = scale * (x . kt column idx[e]) for the cnt keys idx (kt: d x n_k, K^T), each dot over p
 * in order from 0, a multiply then an add (agk_gemm_f32's element order), 16 keys a vector: a run
 * of consecutive keys is one load per p, other keys are gathered. */
static void spa_dots(const float *x, const float *kt, uint32_t n_k, uint32_t d, const uint32_t *idx, uint32_t cnt,
                     float scale, float *s) {
    const v16f sv = v16f_splat(scale);
    uint32_t e0 = 0;
    for (; e0 + 4 * AGK_LANES <= cnt && idx[e0 + 4 * AGK_LANES - 1] - idx[e0] == 4 * AGK_LANES - 1;
         e0 += 4 * AGK_LANES) {   /* a run of 64 consecutive keys: four independent chains */
        const float *col = kt + idx[e0];
        v16f a0 = v16f_zero(), a1 = v16f_zero(), a2 = v16f_zero(), a3 = v16f_zero();
        for (uint32_t p = 0; p < d; p++) {
            v16f xp = v16f_splat(x[p]);
            const float *row = col + (uintptr_t)p * n_k;
            a0 = a0 + xp * v16f_load(row);
            a1 = a1 + xp * v16f_load(row + AGK_LANES);
            a2 = a2 + xp * v16f_load(row + 2 * AGK_LANES);
            a3 = a3 + xp * v16f_load(row + 3 * AGK_LANES);
        }
        v16f_store(s + e0, sv * a0);
        v16f_store(s + e0 + AGK_LANES, sv * a1);
        v16f_store(s + e0 + 2 * AGK_LANES, sv * a2);
        v16f_store(s + e0 + 3 * AGK_LANES, sv * a3);
    }
    for (; e0 < cnt; e0 += AGK_LANES) {
        uint32_t r = spa_min(AGK_LANES, cnt - e0);
        const uint32_t *ix = idx + e0;
        v16f acc = v16f_zero();
        if (ix[r - 1] - ix[0] == r - 1) {
            const float *col = kt + ix[0];
            for (uint32_t p = 0; p < d; p++) acc = acc + v16f_splat(x[p]) * spa_load(col + (uintptr_t)p * n_k, r);
        } else {
            for (uint32_t p = 0; p < d; p++) {
                const float *row = kt + (uintptr_t)p * n_k;
                v16f kv = v16f_zero();
                for (uint32_t l = 0; l < r; l++) kv[l] = row[ix[l]];
                acc = acc + v16f_splat(x[p]) * kv;
            }
        }
        spa_store(s + e0, sv * acc, r);
    }
}

/* out (cols) = sum over the cnt entries e of w_e * row idx[e] of m (row stride rs), w_e = w[widx[e]]
 * (w[e] when widx is 0), in order from +0, a multiply then an add per column (agk_gemm_f32's /
 * agk_matmul_f32's element order); 64 columns at once, four independent chains. */
static void spa_combine(const float *w, const uint32_t *widx, const uint32_t *idx, uint32_t cnt, const float *m,
                        uint32_t rs, uint32_t cols, float *out) {
    uint32_t c0 = 0;
    for (; c0 + 4 * AGK_LANES <= cols; c0 += 4 * AGK_LANES) {
        v16f a0 = v16f_zero(), a1 = v16f_zero(), a2 = v16f_zero(), a3 = v16f_zero();
        for (uint32_t e = 0; e < cnt; e++) {
            v16f we = v16f_splat(widx ? w[widx[e]] : w[e]);
            const float *row = m + (uintptr_t)idx[e] * rs + c0;
            a0 = a0 + we * v16f_load(row);
            a1 = a1 + we * v16f_load(row + AGK_LANES);
            a2 = a2 + we * v16f_load(row + 2 * AGK_LANES);
            a3 = a3 + we * v16f_load(row + 3 * AGK_LANES);
        }
        v16f_store(out + c0, a0);
        v16f_store(out + c0 + AGK_LANES, a1);
        v16f_store(out + c0 + 2 * AGK_LANES, a2);
        v16f_store(out + c0 + 3 * AGK_LANES, a3);
    }
    for (; c0 < cols; c0 += AGK_LANES) {
        uint32_t r = spa_min(AGK_LANES, cols - c0);
        v16f acc = v16f_zero();
        for (uint32_t e = 0; e < cnt; e++)
            acc = acc + v16f_splat(widx ? w[widx[e]] : w[e]) * spa_load(m + (uintptr_t)idx[e] * rs + c0, r);
        spa_store(out + c0, acc, r);
    }
}

/* dst (cols x rows) = src^T (rows x cols, row stride rs), 16 rows at a time (whole lines written) */
AGK_INLINE void spa_transpose(const float *src, uint32_t rs, uint32_t rows, uint32_t cols, float *dst) {
    for (uint32_t j0 = 0; j0 < rows; j0 += AGK_LANES) {
        uint32_t r = spa_min(AGK_LANES, rows - j0);
        for (uint32_t p = 0; p < cols; p++)
            for (uint32_t l = 0; l < r; l++) dst[(uintptr_t)p * rows + j0 + l] = src[(uintptr_t)(j0 + l) * rs + p];
    }
}

/* problem (b, h)'s element offsets into q, k, v and out (agk_sdpa_f32's layout) */
AGK_INLINE void spa_offsets(const uint32_t *layout, uint32_t b, uint32_t h, uintptr_t *off) {
    for (uint32_t t = 0; t < 4; t++) off[t] = (uintptr_t)b * layout[3 * t + 1] + (uintptr_t)h * layout[3 * t + 2];
}

uint32_t agk_sparse_attn_scratch_len(uint32_t n_k, uint32_t d, uint32_t dv) {
    uint64_t len = ((uint64_t)d + 1) * n_k + 2u * dv + AGK_LANES;
    return len > 0xffffffffu ? 0 : (uint32_t)len;
}

/* One query row: s holds its cnt scores on entry (overwritten by p); o is its output row. */
static void spa_row(const uint32_t *idx, uint32_t cnt, float *s, const float *v, uint32_t v_rs, uint32_t dv,
                    float *pv, float *o, float *lse) {
    const v16f ninf = v16f_splat(-agk_inf());
    float m = -agk_inf(), l = 0.0f;
    int live = 0;
    for (uint32_t e = 0; e < cnt;) {
        uint32_t t = idx[e] / SPA_TILE, e1 = e + 1;
        while (e1 < cnt && idx[e1] / SPA_TILE == t) e1++;
        float mt = -agk_inf();
        for (uint32_t j = e; j < e1; j++) mt = s[j] > mt ? s[j] : mt;
        if (!(mt > -agk_inf())) {   /* the dense path skips such a tile */
            e = e1;
            continue;
        }
        float m_new = m > mt ? m : mt;
        v16f mn = v16f_splat(m_new);
        for (uint32_t j0 = e; j0 < e1; j0 += AGK_LANES) {
            uint32_t r = spa_min(AGK_LANES, e1 - j0);
            v16f x = spa_load(s + j0, r);
            spa_store(s + j0, v16f_select(x == ninf, v16f_zero(), v16f_exp(x - mn)), r);
        }
        float lanes[AGK_LANES];   /* sum_f32 over the tile, masked keys' +0 left out */
        v16f_store(lanes, v16f_zero());
        for (uint32_t j = e; j < e1; j++) lanes[idx[j] % AGK_LANES] += s[j];
        float rs = hsum16(v16f_load(lanes));
        spa_combine(s + e, 0, idx + e, e1 - e, v, v_rs, dv, pv);   /* P V_t */
        if (live) {
            float c = v16f_exp(v16f_splat(m - m_new))[0];
            l = l * c + rs;
            v16f cv = v16f_splat(c);
            for (uint32_t c0 = 0; c0 < dv; c0 += AGK_LANES) {
                uint32_t r = spa_min(AGK_LANES, dv - c0);
                spa_store(o + c0, spa_load(o + c0, r) * cv + spa_load(pv + c0, r), r);
            }
        } else {
            l = rs;
            for (uint32_t c = 0; c < dv; c++) o[c] = pv[c];
            live = 1;
        }
        m = m_new;
        e = e1;
    }
    if (!live) {
        for (uint32_t c = 0; c < dv; c++) o[c] = 0.0f;
        if (lse) *lse = -agk_inf();
        return;
    }
    v16f lv = v16f_splat(l);
    for (uint32_t c0 = 0; c0 < dv; c0 += AGK_LANES) {
        uint32_t r = spa_min(AGK_LANES, dv - c0);
        spa_store(o + c0, spa_load(o + c0, r) / lv, r);
    }
    if (lse) *lse = m + v16f_log(lv)[0];
}

int32_t agk_sparse_attn_f32(const float *q, const float *k, const float *v, const uint32_t *layout, uint32_t batch,
                            uint32_t heads, uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv, float scale,
                            const uint32_t *indptr, const uint32_t *indices, float *scratch, uint32_t scratch_len,
                            float *out, float *lse) {
    if (!d || !dv || agk_sparse_attn_scratch_len(n_k, d, dv) > scratch_len || !agk_sparse_attn_scratch_len(n_k, d, dv))
        return AGK_E_ARG;
    if (agk_csr_check(indptr, indices, n_q, n_k, n_q ? indptr[n_q] : 0) != (int32_t)n_q) return AGK_E_RANGE;
    float *kt = scratch, *s = kt + (uintptr_t)d * n_k, *pv = s + n_k;
    for (uint32_t b = 0; b < batch; b++)
        for (uint32_t h = 0; h < heads; h++) {
            uintptr_t off[4];
            spa_offsets(layout, b, h, off);
            const float *qb = q + off[0], *kb = k + off[1], *vb = v + off[2];
            float *ob = out + off[3];
            float *lb = lse ? lse + ((uintptr_t)b * heads + h) * n_q : 0;
            spa_transpose(kb, layout[3], n_k, d, kt);
            for (uint32_t i = 0; i < n_q; i++) {
                const uint32_t *idx = indices + indptr[i];
                uint32_t cnt = indptr[i + 1] - indptr[i];
                spa_dots(qb + (uintptr_t)i * layout[0], kt, n_k, d, idx, cnt, scale, s);
                spa_row(idx, cnt, s, vb, layout[6], dv, pv, ob + (uintptr_t)i * layout[9], lb ? lb + i : 0);
            }
        }
    return (int32_t)batch;
}

/* ---- backward ---------------------------------------------------------------------------- */

uint32_t agk_sparse_attn_backward_scratch_len(uint32_t n_k, uint32_t d, uint32_t dv, uint32_t nnz) {
    uint64_t len = (uint64_t)n_k + 1 + 4 * (uint64_t)nnz + ((uint64_t)d + dv) * n_k;
    return len > 0xffffffffu ? 0 : (uint32_t)len;
}

int32_t agk_sparse_attn_backward_f32(const float *q, const float *k, const float *v, const uint32_t *layout,
                                     uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k, uint32_t d,
                                     uint32_t dv, float scale, const uint32_t *indptr, const uint32_t *indices,
                                     const float *o, const float *dout, const float *lse, float *scratch,
                                     uint32_t scratch_len, float *dq, float *dk, float *dvv) {
    if (!d || !dv) return AGK_E_ARG;
    if (agk_csr_check(indptr, indices, n_q, n_k, n_q ? indptr[n_q] : 0) != (int32_t)n_q) return AGK_E_RANGE;
    const uint32_t nnz = n_q ? indptr[n_q] : 0, need = agk_sparse_attn_backward_scratch_len(n_k, d, dv, nnz);
    if (!need || need > scratch_len) return AGK_E_ARG;
    /* the transpose: colptr (n_k + 1), then per key its entries (tr_ent) and their rows (tr_row),
     * rows increasing (entries are visited in row order) */
    uint32_t *colptr = (uint32_t *)scratch, *tr_ent = colptr + n_k + 1, *tr_row = tr_ent + nnz;
    float *p = (float *)(tr_row + nnz), *ds = p + nnz, *kt = ds + nnz, *vt = kt + (uintptr_t)d * n_k;
    for (uint32_t j = 0; j <= n_k; j++) colptr[j] = 0;
    for (uint32_t e = 0; e < nnz; e++) colptr[indices[e] + 1]++;
    for (uint32_t j = 0; j < n_k; j++) colptr[j + 1] += colptr[j];
    for (uint32_t i = 0; i < n_q; i++)
        for (uint32_t e = indptr[i]; e < indptr[i + 1]; e++) {
            uint32_t at = colptr[indices[e]]++;
            tr_ent[at] = e, tr_row[at] = i;
        }
    for (uint32_t j = n_k; j > 0; j--) colptr[j] = colptr[j - 1];
    colptr[0] = 0;
    const v16f ninf = v16f_splat(-agk_inf()), sv = v16f_splat(scale);
    for (uint32_t b = 0; b < batch; b++)
        for (uint32_t h = 0; h < heads; h++) {
            uintptr_t off[4];
            spa_offsets(layout, b, h, off);
            const uintptr_t qo = off[0], ko = off[1], vo = off[2], oo = off[3];
            const float *lb = lse + ((uintptr_t)b * heads + h) * n_q;
            spa_transpose(k + ko, layout[3], n_k, d, kt);
            spa_transpose(v + vo, layout[6], n_k, dv, vt);
            for (uint32_t i = 0; i < n_q; i++) {
                const uint32_t *idx = indices + indptr[i];
                uint32_t cnt = indptr[i + 1] - indptr[i];
                float *pr = p + indptr[i], *dr = ds + indptr[i], li = lb[i];
                const float *gi = dout + oo + (uintptr_t)i * layout[9];
                spa_dots(q + qo + (uintptr_t)i * layout[0], kt, n_k, d, idx, cnt, scale, pr);
                spa_dots(gi, vt, n_k, dv, idx, cnt, 1.0f, dr);   /* dP (1 * x is x) */
                v16f lv = v16f_splat(li), di = v16f_splat(dot1(gi, o + oo + (uintptr_t)i * layout[9], dv));
                int row_ok = li > -agk_inf();
                for (uint32_t j0 = 0; j0 < cnt; j0 += AGK_LANES) {
                    uint32_t r = spa_min(AGK_LANES, cnt - j0);
                    v16f x = spa_load(pr + j0, r);
                    v16f pe = row_ok ? v16f_select(x == ninf, v16f_zero(), v16f_exp(x - lv)) : v16f_zero();
                    spa_store(pr + j0, pe, r);
                    spa_store(dr + j0, (pe * (spa_load(dr + j0, r) - di)) * sv, r);
                }
                spa_combine(dr, 0, idx, cnt, k + ko, layout[3], d, dq + qo + (uintptr_t)i * layout[0]);
            }
            for (uint32_t j = 0; j < n_k; j++) {
                uint32_t a = colptr[j], cnt = colptr[j + 1] - a;
                spa_combine(ds, tr_ent + a, tr_row + a, cnt, q + qo, layout[0], d, dk + ko + (uintptr_t)j * layout[3]);
                spa_combine(p, tr_ent + a, tr_row + a, cnt, dout + oo, layout[9], dv,
                            dvv + vo + (uintptr_t)j * layout[6]);
            }
        }
    return (int32_t)batch;
}
