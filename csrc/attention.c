/* Scaled dot-product attention for general Q, K, V (agentdb.nn.attention): batched, multi-head,
 * with an additive or boolean mask, causal, forward in key tiles with an online softmax
 * ("flash"), and its backward.
 *
 * The forward is ONE recurrence, so plain, flash and chunked calls give the same bits: keys are
 * taken in tiles of ATTN_KT (64, absolute: tile t is keys 64t .. 64t+63 whatever the queries),
 * and per query row i (its scores s_j = scale * (q_i . k_j) + mask_ij, the dot over p in order,
 * a multiply then an add, as agk_gemm_f32 sums):
 *     m_t = max(m_{t-1}, max_j s_j)         over the tile's unmasked keys (a tile with none: skipped)
 *     p_j = exp(s_j - m_t)                   (0 for a masked key)
 *     first tile:  l = sum_j p_j,  o = P V_t                     (sum in sum_f32's lane order,
 *     later tiles: c = exp(m_{t-1} - m_t), l = l * c + sum_j p_j, o = o * c + P V_t   P V_t summed
 *     out_i = o / l (a division), lse_i = m + log(l)          over the tile's keys in order)
 * A row with no unmasked key at all gives zeros (lse -inf). Every step is per row and per lane,
 * so the query tiling (ATTN_QT rows at a time), the batch, the ISA and whether K and V are packed
 * once per problem (plain: scratch grows with n_k) or tile by tile (AGK_ATTN_FLASH: scratch fixed
 * by d and dv alone) change no bit. A two-pass softmax (one global max) would round differently:
 * the rescaling by c = exp(m_{t-1} - m_t) is not exact, which is why the plain form is this one.
 */

#define ATTN_KT 64   /* keys per tile: part of the formula */
#define ATTN_QT 60   /* query rows per pass: any value gives the same bits; 60 = whole GEMM tiles for MR 12, 5, 4 */

AGK_INLINE uint32_t attn_pad16(uint32_t n) { return (n + GEMM_PANEL - 1) / GEMM_PANEL * GEMM_PANEL; }

AGK_INLINE void attn_store(float *p, v16f x, uint32_t r) {
    if (r == AGK_LANES) v16f_store(p, x);
    else v16f_store_tail(p, x, r);
}

/* Scratch floats of one call: q tile, scores, P V, row state (m, l, c, started), then the packed
 * K^T and V tiles: one tile's worth (flash) or every tile of a problem (plain). */
AGK_INLINE uint64_t attn_scratch(uint64_t n_k, uint64_t d, uint64_t dv, uint32_t flags) {
    uint64_t tiles = flags & AGK_ATTN_FLASH ? 1 : (n_k + ATTN_KT - 1) / ATTN_KT;
    uint64_t dvp = attn_pad16((uint32_t)dv);
    return ATTN_QT * (d + ATTN_KT + dv + 4) + tiles * (d * ATTN_KT + ATTN_KT * dvp);
}

uint32_t agk_sdpa_scratch_len(uint32_t n_k, uint32_t d, uint32_t dv, uint32_t flags) {
    uint64_t len = attn_scratch(n_k, d, dv, flags);
    return len > 0xffffffffu ? 0 : (uint32_t)len;
}

/* Key tile [key0, key0 + kt) of one problem packed for agk_gemm_f32: K^T (d x kt, panels of 16
 * keys) and V (kt x dv, panels of 16 columns), zero-padded, as agk_pack_gemm_f32 lays them out. */
AGK_INLINE void attn_pack_tile(const float *k, uint32_t k_rs, const float *v, uint32_t v_rs, uint32_t key0,
                               uint32_t kt, uint32_t d, uint32_t dv, float *kp, float *vp) {
    for (uint32_t q = 0; q * GEMM_PANEL < kt; q++)
        for (uint32_t p = 0; p < d; p++)
            for (uint32_t l = 0; l < GEMM_PANEL; l++) {
                uint32_t j = q * GEMM_PANEL + l;
                kp[((uintptr_t)q * d + p) * GEMM_PANEL + l] = j < kt ? k[(uintptr_t)(key0 + j) * k_rs + p] : 0.0f;
            }
    for (uint32_t q = 0; q * GEMM_PANEL < dv; q++)
        for (uint32_t p = 0; p < kt; p++)
            for (uint32_t l = 0; l < GEMM_PANEL; l++) {
                uint32_t c = q * GEMM_PANEL + l;
                vp[((uintptr_t)q * kt + p) * GEMM_PANEL + l] = c < dv ? v[(uintptr_t)(key0 + p) * v_rs + c] : 0.0f;
            }
}

/* The unmasked lanes of keys j0 .. j0+15 of a tile for one row: j < lim and keep (when given). */
AGK_INLINE v16i attn_valid(uint32_t j0, uint32_t lim, const uint8_t *keep_row) {
    v16i ok;
    for (uint32_t l = 0; l < AGK_LANES; l++) ok[l] = j0 + l < lim && (!keep_row || keep_row[j0 + l]) ? -1 : 0;
    return ok;
}

/* One query tile (rows i0 .. i0+qt-1) of one problem against every key tile. */
static void attn_query_tile(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep,
                            const uint32_t *layout, uint32_t i0, uint32_t qt, uint32_t n_k, uint32_t d, uint32_t dv,
                            float scale, uint64_t q_pos, uint32_t flags, float *scratch, float *kvp, float *out,
                            float *lse) {
    const uint32_t q_rs = layout[0], k_rs = layout[3], v_rs = layout[6], o_rs = layout[9], m_rs = layout[12];
    const uint32_t dvp = attn_pad16(dv), ktile = d * ATTN_KT + ATTN_KT * dvp;
    float *qs = scratch, *s = qs + ATTN_QT * d, *pv = s + ATTN_QT * ATTN_KT, *mrow = pv + ATTN_QT * dv;
    float *lrow = mrow + ATTN_QT, *crow = lrow + ATTN_QT, *live = crow + ATTN_QT;
    for (uint32_t i = 0; i < qt; i++) {
        for (uint32_t p = 0; p < d; p++) qs[(uintptr_t)i * d + p] = q[(uintptr_t)(i0 + i) * q_rs + p];
        mrow[i] = -agk_inf(), lrow[i] = 0.0f, live[i] = 0.0f;
    }
    const int causal = (flags & AGK_ATTN_CAUSAL) != 0;
    const uint64_t last_pos = q_pos + i0 + qt - 1;   /* causal: no row of the tile sees a key past it */
    const v16f sv = v16f_splat(scale), ninf = v16f_splat(-agk_inf());
    for (uint32_t key0 = 0, t = 0; key0 < n_k; key0 += ATTN_KT, t++) {
        if (causal && key0 > last_pos) break;
        uint32_t kt = n_k - key0 < ATTN_KT ? n_k - key0 : ATTN_KT;
        float *kp = flags & AGK_ATTN_FLASH ? kvp : kvp + (uintptr_t)t * ktile, *vp = kp + (uintptr_t)d * ATTN_KT;
        if (flags & AGK_ATTN_FLASH) attn_pack_tile(k, k_rs, v, v_rs, key0, kt, d, dv, kp, vp);
        agk_gemm_f32(qs, kp, 0, s, qt, d, kt, AGK_ACT_NONE);
        for (uint32_t i = 0; i < qt; i++) {
            float *sr = s + (uintptr_t)i * kt;
            uint64_t pos = q_pos + i0 + i;
            uint32_t lim = kt;
            if (causal) lim = pos + 1 <= key0 ? 0 : pos + 1 - key0 < kt ? (uint32_t)(pos + 1 - key0) : kt;
            const float *mr = mask ? mask + (uintptr_t)(i0 + i) * m_rs + key0 : 0;
            const uint8_t *kr = keep ? keep + (uintptr_t)(i0 + i) * m_rs + key0 : 0;
            v16f mv = ninf;
            for (uint32_t j0 = 0; j0 < kt; j0 += AGK_LANES) {
                uint32_t r = kt - j0 < AGK_LANES ? kt - j0 : AGK_LANES;
                v16f x = sv * (r == AGK_LANES ? v16f_load(sr + j0) : v16f_load_tail(sr + j0, r));
                if (mr) x = x + (r == AGK_LANES ? v16f_load(mr + j0) : v16f_load_tail(mr + j0, r));
                if (kr || j0 + AGK_LANES > lim) x = v16f_select(attn_valid(j0, lim, kr), x, ninf);
                mv = v16f_max(mv, x);
                attn_store(sr + j0, x, r);   /* rows are kt apart: never past the row */
            }
            float mt = mv[0];
            for (uint32_t l = 1; l < AGK_LANES; l++) mt = mv[l] > mt ? mv[l] : mt;
            if (!(mt > -agk_inf())) {   /* nothing to see in this tile: P = 0, the row is left as it is */
                for (uint32_t j = 0; j < kt; j++) sr[j] = 0.0f;
                crow[i] = -1.0f;
                continue;
            }
            float m_old = mrow[i], m_new = m_old > mt ? m_old : mt;
            v16f mn = v16f_splat(m_new);
            for (uint32_t j0 = 0; j0 < kt; j0 += AGK_LANES) {
                uint32_t r = kt - j0 < AGK_LANES ? kt - j0 : AGK_LANES;
                v16f x = r == AGK_LANES ? v16f_load(sr + j0) : v16f_load_tail(sr + j0, r);
                attn_store(sr + j0, v16f_select(x == ninf, v16f_zero(), v16f_exp(x - mn)), r);
            }
            float rs = sum_f32(sr, kt);
            if (live[i] != 0.0f) {
                float c = v16f_exp(v16f_splat(m_old - m_new))[0];
                lrow[i] = lrow[i] * c + rs;
                crow[i] = c;
            } else {
                lrow[i] = rs;
                crow[i] = 0.0f;   /* first tile: o = P V */
            }
            mrow[i] = m_new;
        }
        agk_gemm_f32(s, vp, 0, pv, qt, kt, dv, AGK_ACT_NONE);
        for (uint32_t i = 0; i < qt; i++) {
            if (crow[i] < 0.0f) continue;
            float *o = out + (uintptr_t)(i0 + i) * o_rs;
            const float *pr = pv + (uintptr_t)i * dv;
            if (live[i] == 0.0f) {
                for (uint32_t c = 0; c < dv; c++) o[c] = pr[c];
                live[i] = 1.0f;
                continue;
            }
            v16f cv = v16f_splat(crow[i]);
            for (uint32_t c0 = 0; c0 < dv; c0 += AGK_LANES) {
                uint32_t r = dv - c0 < AGK_LANES ? dv - c0 : AGK_LANES;
                v16f x = r == AGK_LANES ? v16f_load(o + c0) : v16f_load_tail(o + c0, r);
                v16f y = r == AGK_LANES ? v16f_load(pr + c0) : v16f_load_tail(pr + c0, r);
                attn_store(o + c0, x * cv + y, r);
            }
        }
    }
    for (uint32_t i = 0; i < qt; i++) {
        float *o = out + (uintptr_t)(i0 + i) * o_rs;
        if (live[i] == 0.0f) {
            for (uint32_t c = 0; c < dv; c++) o[c] = 0.0f;
            if (lse) lse[i0 + i] = -agk_inf();
            continue;
        }
        v16f lv = v16f_splat(lrow[i]);
        for (uint32_t c0 = 0; c0 < dv; c0 += AGK_LANES) {
            uint32_t r = dv - c0 < AGK_LANES ? dv - c0 : AGK_LANES;
            v16f x = r == AGK_LANES ? v16f_load(o + c0) : v16f_load_tail(o + c0, r);
            attn_store(o + c0, x / lv, r);
        }
        if (lse) lse[i0 + i] = mrow[i] + v16f_log(lv)[0];
    }
}

int32_t agk_sdpa_f32(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep,
                     const uint32_t *layout, uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k, uint32_t d,
                     uint32_t dv, float scale, uint32_t q_pos, uint32_t flags, float *scratch, uint32_t scratch_len,
                     float *out, float *lse) {
    if (!d || !dv || attn_scratch(n_k, d, dv, flags) > scratch_len) return AGK_E_ARG;
    const uint32_t dvp = attn_pad16(dv), ktile = d * ATTN_KT + ATTN_KT * dvp;
    float *kvp = scratch + ATTN_QT * (d + ATTN_KT + dv + 4);
    for (uint32_t b = 0; b < batch; b++)
        for (uint32_t h = 0; h < heads; h++) {
            const float *qb = q + (uintptr_t)b * layout[1] + (uintptr_t)h * layout[2];
            const float *kb = k + (uintptr_t)b * layout[4] + (uintptr_t)h * layout[5];
            const float *vb = v + (uintptr_t)b * layout[7] + (uintptr_t)h * layout[8];
            float *ob = out + (uintptr_t)b * layout[10] + (uintptr_t)h * layout[11];
            uintptr_t moff = (uintptr_t)b * layout[13] + (uintptr_t)h * layout[14];
            float *lb = lse ? lse + ((uintptr_t)b * heads + h) * n_q : 0;
            if (!(flags & AGK_ATTN_FLASH))
                for (uint32_t key0 = 0, t = 0; key0 < n_k; key0 += ATTN_KT, t++) {
                    uint32_t kt = n_k - key0 < ATTN_KT ? n_k - key0 : ATTN_KT;
                    float *kp = kvp + (uintptr_t)t * ktile;
                    attn_pack_tile(kb, layout[3], vb, layout[6], key0, kt, d, dv, kp, kp + (uintptr_t)d * ATTN_KT);
                }
            for (uint32_t i0 = 0; i0 < n_q; i0 += ATTN_QT)
                attn_query_tile(qb, kb, vb, mask ? mask + moff : 0, keep ? keep + moff : 0, layout, i0,
                                n_q - i0 < ATTN_QT ? n_q - i0 : ATTN_QT, n_k, d, dv, scale, q_pos, flags, scratch,
                                kvp, ob, lb);
        }
    return (int32_t)batch;
}

/* ---- backward ------------------------------------------------------------------------------
 * Per problem, with P recomputed from the forward's lse (p_ij = exp(s_ij - lse_i), 0 where masked)
 * and D_i = dot(dout_i, out_i) (agk_dot_f32's order):
 *   dV = P^T dout,  dP = dout V^T,  dS = (P * (dP - D)) * scale,  dQ = dS K,  dK = dS^T Q,
 * each product an agk_matmul_f32 (every element summed over its inner index in order). */

AGK_INLINE uint64_t attn_max(uint64_t a, uint64_t b) { return a > b ? a : b; }

uint32_t agk_sdpa_backward_scratch_len(uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv) {
    uint64_t nq = n_q, nk = n_k;
    uint64_t pack = attn_max(attn_max((uint64_t)d * attn_pad16(n_k), (uint64_t)dv * attn_pad16(n_k)),
                             attn_max(nq * attn_pad16(dv) + nk * nq, attn_max(nk * attn_pad16(d), nq * attn_pad16(d) + nk * nq)));
    uint64_t len = 2 * (nq * d + nk * d + nk * dv) + 2 * nq * dv + 2 * nq * nk + pack;
    return len > 0xffffffffu ? 0 : (uint32_t)len;
}

AGK_INLINE void attn_gather(const float *src, uint32_t rs, uint32_t rows, uint32_t cols, float *dst) {
    for (uint32_t i = 0; i < rows; i++)
        for (uint32_t c = 0; c < cols; c++) dst[(uintptr_t)i * cols + c] = src[(uintptr_t)i * rs + c];
}

AGK_INLINE void attn_scatter(const float *src, uint32_t rows, uint32_t cols, float *dst, uint32_t rs) {
    for (uint32_t i = 0; i < rows; i++)
        for (uint32_t c = 0; c < cols; c++) dst[(uintptr_t)i * rs + c] = src[(uintptr_t)i * cols + c];
}

/* p = exp(x) for the row's lanes, 0 where x is -inf (masked) */
AGK_INLINE void attn_exp_row(float *out, uint32_t n) {
    const float *a = out;
#define ATTN_P_EXPR(L) v16f_select(L(a + i_) == v16f_splat(-agk_inf()), v16f_zero(), v16f_exp(L(a + i_)))
    ELEMENTWISE(n, ATTN_P_EXPR);
#undef ATTN_P_EXPR
}

/* dS row = (p * (dp - di)) * scale, into out (= dp) */
AGK_INLINE void attn_ds_row(const float *a, float *out, uint32_t n, float di, float scale) {
    const float *b = out;
    v16f dvec = v16f_splat(di), sv = v16f_splat(scale);
#define ATTN_DS_EXPR(L) ((L(a + i_) * (L(b + i_) - dvec)) * sv)
    ELEMENTWISE(n, ATTN_DS_EXPR);
#undef ATTN_DS_EXPR
}

int32_t agk_sdpa_backward_f32(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep,
                              const uint32_t *layout, uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k,
                              uint32_t d, uint32_t dv, float scale, uint32_t q_pos, uint32_t flags, const float *o,
                              const float *dout, const float *lse, float *scratch, uint32_t scratch_len, float *dq,
                              float *dk, float *dvv) {
    if (!d || !dv || agk_sdpa_backward_scratch_len(n_q, n_k, d, dv) > scratch_len) return AGK_E_ARG;
    uintptr_t nq = n_q, nk = n_k;
    float *qc = scratch, *kc = qc + nq * d, *vc = kc + nk * d, *gc = vc + nk * dv, *oc = gc + nq * dv;
    float *gq = oc + nq * dv, *gk = gq + nq * d, *gv = gk + nk * d, *p = gv + nk * dv, *dp = p + nq * nk;
    float *pack = dp + nq * nk;
    const uint32_t m_rs = layout[12];
    for (uint32_t b = 0; b < batch; b++)
        for (uint32_t h = 0; h < heads; h++) {
            uintptr_t qo = (uintptr_t)b * layout[1] + (uintptr_t)h * layout[2];
            uintptr_t ko = (uintptr_t)b * layout[4] + (uintptr_t)h * layout[5];
            uintptr_t vo = (uintptr_t)b * layout[7] + (uintptr_t)h * layout[8];
            uintptr_t oo = (uintptr_t)b * layout[10] + (uintptr_t)h * layout[11];
            uintptr_t moff = (uintptr_t)b * layout[13] + (uintptr_t)h * layout[14];
            const float *lb = lse + ((uintptr_t)b * heads + h) * n_q;
            attn_gather(q + qo, layout[0], n_q, d, qc);
            attn_gather(k + ko, layout[3], n_k, d, kc);
            attn_gather(v + vo, layout[6], n_k, dv, vc);
            attn_gather(dout + oo, layout[9], n_q, dv, gc);
            attn_gather(o + oo, layout[9], n_q, dv, oc);
            agk_matmul_f32(qc, kc, n_q, d, n_k, AGK_MATMUL_TRANS_B, pack, p);   /* S = Q K^T */
            for (uint32_t i = 0; i < n_q; i++) {
                uint64_t pos = (uint64_t)q_pos + i;
                uint32_t lim = n_k;
                if (flags & AGK_ATTN_CAUSAL) lim = pos + 1 < n_k ? (uint32_t)(pos + 1) : n_k;
                float *pr = p + (uintptr_t)i * nk, li = lb[i];
                for (uint32_t j = 0; j < n_k; j++) {
                    float x = scale * pr[j];
                    if (mask) x = x + mask[moff + (uintptr_t)i * m_rs + j];
                    int ok = j < lim && (!keep || keep[moff + (uintptr_t)i * m_rs + j]) && x > -agk_inf() &&
                             li > -agk_inf();
                    pr[j] = ok ? x - li : -agk_inf();
                }
                attn_exp_row(pr, n_k);
            }
            agk_matmul_f32(gc, vc, n_q, dv, n_k, AGK_MATMUL_TRANS_B, pack, dp);   /* dP = dout V^T */
            for (uint32_t i = 0; i < n_q; i++)
                attn_ds_row(p + (uintptr_t)i * nk, dp + (uintptr_t)i * nk, n_k,
                            dot1(gc + (uintptr_t)i * dv, oc + (uintptr_t)i * dv, dv), scale);
            agk_matmul_f32(p, gc, n_k, n_q, dv, AGK_MATMUL_TRANS_A, pack, gv);    /* dV = P^T dout */
            agk_matmul_f32(dp, kc, n_q, n_k, d, 0, pack, gq);                     /* dQ = dS K */
            agk_matmul_f32(dp, qc, n_k, n_q, d, AGK_MATMUL_TRANS_A, pack, gk);    /* dK = dS^T Q */
            attn_scatter(gq, n_q, d, dq + qo, layout[0]);
            attn_scatter(gk, n_k, d, dk + ko, layout[3]);
            attn_scatter(gv, n_k, dv, dvv + vo, layout[6]);
        }
    return (int32_t)batch;
}
