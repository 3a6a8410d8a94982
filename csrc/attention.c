/* Scaled dot-product attention for general Q, K, V (agentdb.nn.attention): batched, multi-head,
 * with an additive or boolean mask, causal, forward in key tiles with an online softmax
 * ("flash"), and its backward.
 *
 * The forward is ONE recurrence, so plain, flash and chunked calls give the same bits: keys are
 * taken in tiles of ATTN_KT (256, absolute: tile t is keys 256t .. 256t+255 whatever the queries),
 * and per query row i (its scores s_j = scale * (q_i . k_j) + mask_ij, the dot over p in order,
 * a multiply then an add, as agk_gemm_f32 sums):
 *     m_t = max(m_{t-1}, max_j s_j)         over the tile's unmasked keys (a tile with none: skipped)
 *     p_j = exp(s_j - m_t)                   (0 for a masked key)
 *     first tile:  l = sum_j p_j,  o = P V_t                     (sum in sum_f32's lane order,
 *     later tiles: c = exp(m_{t-1} - m_t), l = l * c + sum_j p_j, o = o * c + P V_t   P V_t summed
 *     out_i = o / l (a division), lse_i = m + log(l)          over the tile's keys in order)
 * A row with no unmasked key at all gives zeros (lse -inf). Every step is per row and per lane,
 * so the query tiling (ATTN_QT_PLAIN / ATTN_QT_FLASH rows per pass), the batch, the ISA and whether
 * K and V are packed once per problem (plain: scratch grows with n_k) or tile by tile
 * (AGK_ATTN_FLASH: scratch fixed by d and dv alone) change no bit. A two-pass softmax (one global
 * max) would round differently: the rescaling by c = exp(m_{t-1} - m_t) is not exact, which is why
 * the plain form is this one. The tile is 256 keys, not 64: with 64, every tile's rescale, state
 * update and short products (k = 64 in P V) cost 10-12% of a plain call at L 256-1024 (measured,
 * bench/bench_attention.py); a causal pass leaves out the keys past its last row, so the wider
 * tile costs causal calls nothing.
 * Speed without changing a bit: a pass's scores are one agk_gemm_f32 per key tile, the exps get
 * their argument x - m <= 0 (so v16f_exp's upper clamp is dropped, and exp(-inf) = exp(-104) is 0
 * without a select), the sum is taken as the exps are stored, the whole-tile case has a fixed trip
 * count, and the per-row bookkeeping (new max, c, l) runs 16 rows to a vector.
 */

#define ATTN_KT 256   /* keys per tile: part of the formula */
/* Query rows per pass: any value gives the same bits. Whole 16-row state vectors; plain's 128
 * makes the common lengths (128 .. 1024) whole passes (120 left an 8-row pass at L 128: 2-4%
 * slower there). Flash repacks each key tile once per pass, so its passes are longer; plain
 * packs K and V once per problem and keeps a pass's scores in L2. */
#define ATTN_QT_PLAIN 128
#define ATTN_QT_FLASH 240

AGK_INLINE uint32_t attn_pad16(uint32_t n) { return (n + GEMM_PANEL - 1) / GEMM_PANEL * GEMM_PANEL; }
AGK_INLINE uint32_t attn_qt(uint32_t flags) { return flags & AGK_ATTN_FLASH ? ATTN_QT_FLASH : ATTN_QT_PLAIN; }

AGK_INLINE void attn_store(float *p, v16f x, uint32_t r) {
    if (r == AGK_LANES) v16f_store(p, x);
    else v16f_store_tail(p, x, r);
}

AGK_INLINE v16f attn_load(const float *p, uint32_t r) { return r == AGK_LANES ? v16f_load(p) : v16f_load_tail(p, r); }

/* v16f_exp for x <= 0 (NaN-free): its upper clamp at 89 never applies, the rest is its steps. */
AGK_INLINE v16f attn_exp_nonpos(v16f x) {
    x = v16f_max(x, v16f_splat(-104.0f));
    v16f k = exp_k(x);
    return exp_scaled(k, exp_reduce(x, k));
}

/* Scratch floats of one call: q pass, scores, P V, row state (m, l, c, live, the tile's max and
 * sum; 16-row vectors), then the packed K^T and V tiles: one tile's worth (flash) or every tile
 * of a problem (plain). */
#define ATTN_STATE 6
AGK_INLINE uint64_t attn_head_len(uint64_t qt, uint64_t d, uint64_t dv) {
    return qt * (d + ATTN_KT + dv) + ATTN_STATE * attn_pad16((uint32_t)qt);
}

AGK_INLINE uint64_t attn_scratch(uint64_t n_k, uint64_t d, uint64_t dv, uint32_t flags) {
    uint64_t tiles = flags & AGK_ATTN_FLASH ? 1 : (n_k + ATTN_KT - 1) / ATTN_KT;
    uint64_t dvp = attn_pad16((uint32_t)dv);
    return attn_head_len(attn_qt(flags), d, dv) + tiles * (d * ATTN_KT + ATTN_KT * dvp);
}

uint32_t agk_sdpa_scratch_len(uint32_t n_k, uint32_t d, uint32_t dv, uint32_t flags) {
    uint64_t len = attn_scratch(n_k, d, dv, flags);
    return len > 0xffffffffu ? 0 : (uint32_t)len;
}

/* A 16 x 16 block transposed in registers: stage s swaps bit s of the row and the column index
 * (the off-diagonal s x s sub-blocks), so after s = 1, 2, 4, 8 element (i, l) is at (l, i).
 * Scalar, the transposes took ~6% of the backward at L 256. */
#define ATTN_T16_STAGE(S, LO, HI)                                                    \
    for (uint32_t i = 0; i < AGK_LANES; i++)                                         \
        if (!(i & (S))) {                                                            \
            v16f a_ = r[i], b_ = r[i | (S)];                                         \
            r[i] = __builtin_shufflevector(a_, b_, LO);                              \
            r[i | (S)] = __builtin_shufflevector(a_, b_, HI);                        \
        }
#define ATTN_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define ATTN_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#define ATTN_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define ATTN_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define ATTN_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define ATTN_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define ATTN_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define ATTN_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
AGK_INLINE void attn_t16(v16f *r) {
    ATTN_T16_STAGE(1, ATTN_LO1, ATTN_HI1)
    ATTN_T16_STAGE(2, ATTN_LO2, ATTN_HI2)
    ATTN_T16_STAGE(4, ATTN_LO4, ATTN_HI4)
    ATTN_T16_STAGE(8, ATTN_LO8, ATTN_HI8)
}
#undef ATTN_T16_STAGE

/* dst (cols rows ld apart) = rows [r0, r0 + rows) of a (rows rs apart, cols columns) transposed;
 * full: store all 16 lanes of a row (zeros past rows: a packed panel's padding). */
AGK_INLINE void attn_transpose(const float *a, uintptr_t rs, uint32_t r0, uint32_t rows, uint32_t cols, float *dst,
                               uintptr_t ld, int full) {
    for (uint32_t j0 = 0; j0 < rows; j0 += AGK_LANES) {
        uint32_t nr = rows - j0 < AGK_LANES ? rows - j0 : AGK_LANES;
        for (uint32_t c0 = 0; c0 < cols; c0 += AGK_LANES) {
            uint32_t nc = cols - c0 < AGK_LANES ? cols - c0 : AGK_LANES;
            v16f r[AGK_LANES];
            for (uint32_t i = 0; i < AGK_LANES; i++)
                r[i] = i < nr ? attn_load(a + (r0 + j0 + i) * rs + c0, nc) : v16f_zero();
            attn_t16(r);
            for (uint32_t c = 0; c < nc; c++) attn_store(dst + (c0 + c) * ld + j0, r[c], full ? AGK_LANES : nr);
        }
    }
}

/* Rows [r0, r0 + rows) of a (rows rs apart, cols columns) packed as agk_gemm_f32's weights,
 * transposed (cols x rows, panels of 16 rows: K^T; 16 x 16 blocks through registers) or as they
 * are (rows x cols, panels of 16 columns: V), zero-padded, as agk_pack_gemm_f32 lays them out. */
AGK_INLINE void attn_pack_t(const float *a, uint32_t rs, uint32_t r0, uint32_t rows, uint32_t cols, float *dst) {
    for (uint32_t q = 0; q * GEMM_PANEL < rows; q++) {
        uint32_t n = rows - q * GEMM_PANEL < GEMM_PANEL ? rows - q * GEMM_PANEL : GEMM_PANEL;
        attn_transpose(a, rs, r0 + q * GEMM_PANEL, n, cols, dst + (uintptr_t)q * cols * GEMM_PANEL, GEMM_PANEL, 1);
    }
}

AGK_INLINE void attn_pack_rows(const float *a, uint32_t rs, uint32_t r0, uint32_t rows, uint32_t cols, float *dst) {
    for (uint32_t p = 0; p < rows; p++) {
        const float *src = a + (uintptr_t)(r0 + p) * rs;
        for (uint32_t c0 = 0; c0 < cols; c0 += GEMM_PANEL) {
            uint32_t r = cols - c0 < GEMM_PANEL ? cols - c0 : GEMM_PANEL;
            v16f_store(dst + ((uintptr_t)(c0 / GEMM_PANEL) * rows + p) * GEMM_PANEL, attn_load(src + c0, r));
        }
    }
}

/* Key tile [key0, key0 + kt) of one problem for the forward's two products: K^T and V. */
AGK_INLINE void attn_pack_tile(const float *k, uint32_t k_rs, const float *v, uint32_t v_rs, uint32_t key0,
                               uint32_t kt, uint32_t d, uint32_t dv, float *kp, float *vp) {
    attn_pack_t(k, k_rs, key0, kt, d, kp);
    attn_pack_rows(v, v_rs, key0, kt, dv, vp);
}

/* The unmasked lanes of keys j0 .. j0+15 of a tile for one row: j < lim and keep (when given). */
AGK_INLINE v16i attn_valid(uint32_t j0, uint32_t lim, const uint8_t *keep_row) {
    v16i ok;
    for (uint32_t l = 0; l < AGK_LANES; l++) ok[l] = j0 + l < lim && (!keep_row || keep_row[j0 + l]) ? -1 : 0;
    return ok;
}

/* Scores of one row of a tile in place: x = scale * s + mask, -inf where masked; returns the max
 * (lanes, then lane 0 .. 15 in order). kt is a constant in the whole-tile instance. */
AGK_INLINE float attn_scores_row(float *sr, uint32_t kt, const float *mr, const uint8_t *kr, uint32_t lim,
                                 float scale) {
    const v16f sv = v16f_splat(scale), ninf = v16f_splat(-agk_inf());
    v16f mv = ninf;
    for (uint32_t j0 = 0; j0 < kt; j0 += AGK_LANES) {
        uint32_t r = kt - j0 < AGK_LANES ? kt - j0 : AGK_LANES;
        v16f x = sv * attn_load(sr + j0, r);
        if (mr) x = x + attn_load(mr + j0, r);
        if (kr || j0 + AGK_LANES > lim) x = v16f_select(attn_valid(j0, lim, kr), x, ninf);
        mv = v16f_max(mv, x);
        attn_store(sr + j0, x, r);   /* rows are kt apart: never past the row */
    }
    float mt = mv[0];
    for (uint32_t l = 1; l < AGK_LANES; l++) mt = mv[l] > mt ? mv[l] : mt;
    return mt;
}

/* p = exp(x - m) over one row of a tile in place (exp(-inf) is 0 after the clamp), returning
 * sum_f32 of the row: the lanes summed block by block, the tail's padding as zeros, hsum16. */
AGK_INLINE float attn_exp_row_sum(float *sr, uint32_t kt, float m) {
    v16f mn = v16f_splat(m), acc = v16f_zero();
    for (uint32_t j0 = 0; j0 < kt; j0 += AGK_LANES) {
        uint32_t r = kt - j0 < AGK_LANES ? kt - j0 : AGK_LANES;
        v16f p = attn_exp_nonpos(attn_load(sr + j0, r) - mn);
        if (r < AGK_LANES) {
            v16i tail;
            for (uint32_t l = 0; l < AGK_LANES; l++) tail[l] = l < r ? -1 : 0;
            p = v16f_select(tail, p, v16f_zero());
        }
        acc += p;
        attn_store(sr + j0, p, r);
    }
    return hsum16(acc);
}

/* Row state of a pass, 16 rows per vector: m (running max), l (running sum), c (this tile's
 * rescale: -1 = tile skipped, 0 = first tile, else exp(m_old - m_new)), live (1 once a tile
 * counted), mt (this tile's max), rs (this tile's sum). */
typedef struct { float *m, *l, *c, *live, *mt, *rs; } attn_state;

/* out (rows ldc apart) = a (rows lda apart) x packed w (panels wk x 16 floats apart, wk >= k).
 * A whole (or exactly half) tile without causal groups inlines its GEMMs: their sizes are then
 * constants (n = k = 256 or 128), worth 10% of a call at L 128-1024; the causal groups' and other
 * tails' varying sizes share one copy
 * (inlined there, they ran 35% slower). */
__attribute__((noinline)) static void attn_gemm_w(const float *a, uint32_t lda, const float *w, uint32_t wk,
                                                  float *out, uint32_t ldc, uint32_t m, uint32_t k, uint32_t n,
                                                  int accumulate) {
    gemm_run_w(a, lda, w, 0, 0, 0, out, ldc, m, k, wk, n, AGK_ACT_NONE, accumulate);
}

AGK_INLINE void attn_gemm_pass(const int inline_it, const float *a, uint32_t lda, const float *w, uint32_t wk,
                               float *out, uint32_t ldc, uint32_t m, uint32_t k, uint32_t n) {
    if (inline_it) gemm_run_w(a, lda, w, 0, 0, 0, out, ldc, m, k, wk, n, AGK_ACT_NONE, 0);
    else attn_gemm_w(a, lda, w, wk, out, ldc, m, k, n, 0);
}

/* Causal passes take their rows in groups of ATTN_CG, each group's products over the keys its
 * last row sees (multiples of 12: whole GEMM tiles). attn_cols: the keys of the tile at key0
 * (ktp of them) that pass rows before e see, the pass starting at position pos0 (all ktp without
 * causal); attn_group_end: the end of row i's group (groups of cg from r0, the last cut at qt). */
#define ATTN_CG 24
AGK_INLINE uint32_t attn_cols(int causal, uint64_t pos0, uint32_t e, uint32_t key0, uint32_t ktp) {
    return causal && pos0 + e - key0 < ktp ? (uint32_t)(pos0 + e - key0) : ktp;
}

AGK_INLINE uint32_t attn_group_end(uint32_t i, uint32_t r0, uint32_t cg, uint32_t qt) {
    uint32_t e = r0 + ((i - r0) / cg + 1) * cg;
    return e < qt ? e : qt;
}

/* One query pass (rows i0 .. i0+qt-1) of one problem against every key tile. */
AGK_INLINE void attn_query_tile_kt(const uint32_t KT, const int causal, const float *k, const float *v,
                                   const float *mask, const uint8_t *keep, const uint32_t *layout, uint32_t i0,
                                   uint32_t qt, uint32_t n_k, uint32_t d, uint32_t dv, float scale, uint64_t q_pos,
                                   uint32_t flags, float *s, attn_state st, float *qs, float *pv, float *kvp,
                                   float *out, uint32_t key0, uint32_t t) {
    const uint32_t k_rs = layout[3], v_rs = layout[6], o_rs = layout[9], m_rs = layout[12];
    const uint32_t dvp = attn_pad16(dv), ktile = d * ATTN_KT + ATTN_KT * dvp;
    const uint32_t ktp = KT ? KT : n_k - key0;   /* the tile's keys, as packed */
    float *kp = flags & AGK_ATTN_FLASH ? kvp : kvp + (uintptr_t)t * ktile, *vp = kp + (uintptr_t)d * ATTN_KT;
    if (flags & AGK_ATTN_FLASH) attn_pack_tile(k, k_rs, v, v_rs, key0, ktp, d, dv, kp, vp);
    /* causal: rows before r0 see no key of the tile, and a group of rows no key past its last
     * row's: both are left out of both products (their p would be 0, and a sum from +0 never
     * turns -0, so adding 0 * v would change no bit) */
    const uint64_t pos0 = q_pos + i0;
    const uint32_t r0 = causal && key0 > pos0 ? (uint32_t)(key0 - pos0) : 0;
    const uint32_t kt = attn_cols(causal, pos0, qt, key0, ktp);   /* s's row stride */
    const uint32_t cg = causal ? ATTN_CG : qt;
    for (uint32_t i = r0 / AGK_LANES * AGK_LANES; i < r0; i++) st.mt[i] = -agk_inf();
    for (uint32_t g = r0; g < qt; g += cg) {
        uint32_t gn = qt - g < cg ? qt - g : cg, kg = attn_cols(causal, pos0, g + gn, key0, ktp);
        attn_gemm_pass(KT && !causal, qs + (uintptr_t)g * d, d, kp, d, s + (uintptr_t)g * kt, kt, gn, d, kg);
    }
    for (uint32_t i = r0; i < qt; i++) {
        uint64_t pos = q_pos + i0 + i;
        uint32_t lim = kt;
        if (causal) lim = pos + 1 <= key0 ? 0 : pos + 1 - key0 < kt ? (uint32_t)(pos + 1 - key0) : kt;
        const uint32_t kg = attn_cols(causal, pos0, attn_group_end(i, r0, cg, qt), key0, ktp);
        const float *mr = mask ? mask + (uintptr_t)(i0 + i) * m_rs + key0 : 0;
        const uint8_t *kr = keep ? keep + (uintptr_t)(i0 + i) * m_rs + key0 : 0;
        st.mt[i] = attn_scores_row(s + (uintptr_t)i * kt, kg, mr, kr, lim, scale);
    }
    /* the new maxima, 16 rows at a time (m_new = m_old > mt ? m_old : mt) */
    const v16f ninf = v16f_splat(-agk_inf());
    for (uint32_t i = r0 / AGK_LANES * AGK_LANES; i < qt; i += AGK_LANES) {
        v16f mo = v16f_load(st.m + i), mt = v16f_load(st.mt + i);
        v16f_store(st.rs + i, v16f_select(mo > mt, mo, mt));
    }
    for (uint32_t i = r0; i < qt; i++) {
        float *sr = s + (uintptr_t)i * kt;
        const uint32_t kg = attn_cols(causal, pos0, attn_group_end(i, r0, cg, qt), key0, ktp);
        if (!(st.mt[i] > -agk_inf())) {   /* nothing to see in this tile: P = 0, the row is left as it is */
            for (uint32_t j = 0; j < kg; j++) sr[j] = 0.0f;
            continue;
        }
        st.mt[i] = attn_exp_row_sum(sr, kg, st.rs[i]);   /* mt now holds the tile's sum (>= 1; -inf: skipped) */
    }
    for (uint32_t i = r0 / AGK_LANES * AGK_LANES; i < qt; i += AGK_LANES) {
        v16f mo = v16f_load(st.m + i), mn = v16f_load(st.rs + i), rs = v16f_load(st.mt + i);
        v16f lo = v16f_load(st.l + i), live = v16f_load(st.live + i);
        v16i skip = ~(rs > ninf), first = live == v16f_zero();
        v16f c = attn_exp_nonpos(v16f_select(first | skip, v16f_zero(), mo - mn));
        v16f_store(st.l + i, v16f_select(skip, lo, v16f_select(first, rs, lo * c + rs)));
        v16f_store(st.c + i, v16f_select(skip, v16f_splat(-1.0f), v16f_select(first, v16f_zero(), c)));
        v16f_store(st.m + i, v16f_select(skip, mo, mn));
    }
    for (uint32_t g = r0; g < qt; g += cg) {
        uint32_t gn = qt - g < cg ? qt - g : cg, kg = attn_cols(causal, pos0, g + gn, key0, ktp);
        attn_gemm_pass(KT && !causal, s + (uintptr_t)g * kt, kt, vp, ktp, pv + (uintptr_t)g * dv, dv, gn, kg, dv);
    }
    for (uint32_t i = r0; i < qt; i++) {
        float ci = st.c[i];
        if (ci < 0.0f) continue;
        float *o = out + (uintptr_t)(i0 + i) * o_rs;
        const float *pr = pv + (uintptr_t)i * dv;
        if (st.live[i] == 0.0f) {
            for (uint32_t c = 0; c < dv; c++) o[c] = pr[c];
            st.live[i] = 1.0f;
            continue;
        }
        v16f cv = v16f_splat(ci);
        for (uint32_t c0 = 0; c0 < dv; c0 += AGK_LANES) {
            uint32_t r = dv - c0 < AGK_LANES ? dv - c0 : AGK_LANES;
            attn_store(o + c0, attn_load(o + c0, r) * cv + attn_load(pr + c0, r), r);
        }
    }
}

static void attn_query_tile(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep,
                            const uint32_t *layout, uint32_t i0, uint32_t qt, uint32_t n_k, uint32_t d, uint32_t dv,
                            float scale, uint64_t q_pos, uint32_t flags, float *scratch, float *kvp, float *out,
                            float *lse) {
    const uint32_t q_rs = layout[0], o_rs = layout[9], qmax = attn_qt(flags);
    float *qs = scratch, *s = qs + (uintptr_t)qmax * d, *pv = s + (uintptr_t)qmax * ATTN_KT, *sb = pv + (uintptr_t)qmax * dv;
    const uint32_t qp = attn_pad16(qmax);
    attn_state st = {sb, sb + qp, sb + 2 * qp, sb + 3 * qp, sb + 4 * qp, sb + 5 * qp};
    for (uint32_t i = 0; i < qt; i++)
        for (uint32_t p = 0; p < d; p++) qs[(uintptr_t)i * d + p] = q[(uintptr_t)(i0 + i) * q_rs + p];
    for (uint32_t i = 0; i < qp; i++) st.m[i] = -agk_inf(), st.l[i] = 0.0f, st.live[i] = 0.0f, st.mt[i] = -agk_inf();
    const int causal = (flags & AGK_ATTN_CAUSAL) != 0;
    const uint64_t last_pos = q_pos + i0 + qt - 1;   /* causal: no row of the pass sees a key past it */
    for (uint32_t key0 = 0, t = 0; key0 < n_k; key0 += ATTN_KT, t++) {
        if (causal && key0 > last_pos) break;
        if (n_k - key0 >= ATTN_KT)
            if (causal) attn_query_tile_kt(ATTN_KT, 1, k, v, mask, keep, layout, i0, qt, n_k, d, dv, scale, q_pos,
                                           flags, s, st, qs, pv, kvp, out, key0, t);
            else attn_query_tile_kt(ATTN_KT, 0, k, v, mask, keep, layout, i0, qt, n_k, d, dv, scale, q_pos, flags, s,
                                    st, qs, pv, kvp, out, key0, t);
        else if (!causal && n_k - key0 == ATTN_KT / 2)   /* L 128, 384, ...: the last tile half full */
            attn_query_tile_kt(ATTN_KT / 2, 0, k, v, mask, keep, layout, i0, qt, n_k, d, dv, scale, q_pos, flags, s,
                               st, qs, pv, kvp, out, key0, t);
        else
            attn_query_tile_kt(0, causal, k, v, mask, keep, layout, i0, qt, n_k, d, dv, scale, q_pos, flags, s, st, qs,
                               pv, kvp, out, key0, t);
    }
    for (uint32_t i = 0; i < qt; i++) {
        float *o = out + (uintptr_t)(i0 + i) * o_rs;
        if (st.live[i] == 0.0f) {
            for (uint32_t c = 0; c < dv; c++) o[c] = 0.0f;
            if (lse) lse[i0 + i] = -agk_inf();
            continue;
        }
        v16f lv = v16f_splat(st.l[i]);
        for (uint32_t c0 = 0; c0 < dv; c0 += AGK_LANES) {
            uint32_t r = dv - c0 < AGK_LANES ? dv - c0 : AGK_LANES;
            attn_store(o + c0, attn_load(o + c0, r) / lv, r);
        }
        if (lse) lse[i0 + i] = st.m[i] + v16f_log(lv)[0];
    }
}

int32_t agk_sdpa_f32(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep,
                     const uint32_t *layout, uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k, uint32_t d,
                     uint32_t dv, float scale, uint32_t q_pos, uint32_t flags, float *scratch, uint32_t scratch_len,
                     float *out, float *lse) {
    if (!d || !dv || attn_scratch(n_k, d, dv, flags) > scratch_len) return AGK_E_ARG;
    const uint32_t dvp = attn_pad16(dv), ktile = d * ATTN_KT + ATTN_KT * dvp, qmax = attn_qt(flags);
    float *kvp = scratch + attn_head_len(qmax, d, dv);
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
            for (uint32_t i0 = 0; i0 < n_q; i0 += qmax)
                attn_query_tile(qb, kb, vb, mask ? mask + moff : 0, keep ? keep + moff : 0, layout, i0,
                                n_q - i0 < qmax ? n_q - i0 : qmax, n_k, d, dv, scale, q_pos, flags, scratch,
                                kvp, ob, lb);
        }
    return (int32_t)batch;
}

/* ---- backward ------------------------------------------------------------------------------
 * Per problem, with P recomputed from the forward's lse (p_ij = exp(s_ij - lse_i), 0 where masked)
 * and D_i = dot(dout_i, out_i) (agk_dot_f32's order):
 *   dV = P^T dout,  dP = dout V^T,  dS = (P * (dP - D)) * scale,  dQ = dS K,  dK = dS^T Q,
 * every element of a product summed over its inner index in order (a multiply, then an add).
 * In blocks of up to ATTN_BQ queries by ATTN_BK keys, P and dS recomputed per block;
 * dQ's block sums continue over the key blocks and dK's and dV's over the query blocks (gemm_run's
 * accumulate: the running sum stored and reloaded, exact), so block sizes change no bit. A block
 * that a causal mask hides entirely is skipped, and so are a block's key rows past its last query:
 * their terms are zeros, and a sum that starts at +0 is never -0, so adding a zero changes nothing.
 * The block is computed transposed, keys as rows (S^T = K Q^T, dP^T = V dout^T): K and V are then
 * the A operands as they lie, P^T and dS^T the A operands of dV and dK, dS^T goes into dQ^T =
 * K^T dS^T's packed B as it is computed, and per key block only K^T is transposed (in registers,
 * as are Q^T and dout^T per query block). Scratch is fixed by d and dv, and AGK_ATTN_FLASH changes
 * nothing: the whole form (five agk_matmul_f32 over n_q x n_k scratch) was slower at every L, and
 * K^T packed once per problem (scratch + d x n_k) gained < 1% (avx512, L 128-1024).
 * Each product is the same multiply of the same two numbers (x * y = y * x), so the bits are those
 * of the untransposed products. */

/* Most queries and keys per block (the scratch is sized for these on every target): a length is
 * split into equal blocks rounded up to 16 (128 keys: one block, 10 GEMM tiles of 12 rows + 8).
 * 256 x 128 measured 2-5% faster than 128 x 128, 128 x 64 or 256 x 64 at L 512-1024 (one thread,
 * avx512) and equal elsewhere; 96 or 192 keys, or P^T / dS^T rows a constant ATTN_BQ apart
 * (constant GEMM offsets), no faster. The narrow GEMM (wasm, SSE2) runs blocks of at most
 * 128 x 64: in wasmtime 1.3-1.5x faster than 256 x 128 at L 128-256. */
#define ATTN_BQ 256
#define ATTN_BK 128
#if GEMM_NARROW
#define ATTN_BQ_RUN 128
#define ATTN_BK_RUN 64
#else
#define ATTN_BQ_RUN ATTN_BQ
#define ATTN_BK_RUN ATTN_BK
#endif

/* Rows per block of n: the fewest blocks of at most bmax, sizes rounded up to 16. */
AGK_INLINE uint32_t attn_block(uint32_t n, uint32_t bmax) {
    uint32_t nb = (n + bmax - 1) / bmax;
    return nb ? attn_pad16((n + nb - 1) / nb) : bmax;
}

/* Scratch of the blocks: Q^T and dout^T packed (B of S^T and dP^T), Q and dout packed (B of dK
 * and dV), P^T, dS^T and dS^T packed, K^T of a key block, dQ^T, lse and D (16-padded). */
AGK_INLINE uint64_t attn_back_block_len(uint64_t d, uint64_t dv) {
    uint64_t bq = ATTN_BQ, bk = ATTN_BK, dp = attn_pad16((uint32_t)d), dvp = attn_pad16((uint32_t)dv);
    return bq * (d + dv) + bq * (dp + dvp) + 3 * bk * bq + d * bk + d * bq + 2 * bq;
}

uint32_t agk_sdpa_backward_scratch_len(uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv, uint32_t flags) {
    (void)n_q, (void)n_k, (void)flags;
    uint64_t len = attn_back_block_len(d, dv);
    return len > 0xffffffffu ? 0 : (uint32_t)len;
}

/* out (rows ldc apart) = or += a (rows lda apart) x packed w (packed for k rows): the backward's
 * products, through the forward's one GEMM instance */
AGK_INLINE void attn_gemm(const float *a, uint32_t lda, const float *w, float *out, uint32_t ldc, uint32_t m,
                          uint32_t k, uint32_t n, int accumulate) {
    attn_gemm_w(a, lda, w, k, out, ldc, m, k, n, accumulate);
}

/* Lanes of queries c0 .. c0+15 (of the block) that key kj may enter: the query is in the block
 * (lse -inf as padding: also a row with no key), x > -inf, the key at or before its position
 * (causal), keep. mask: its values added to x. */
AGK_INLINE v16i attn_lanes_ok(v16f *x, v16f lv, uint32_t c0, uint32_t bq, uint64_t kj, uint64_t pos0, int causal,
                              const float *mask, const uint8_t *keep, uint32_t m_rs) {
    const v16f ninf = v16f_splat(-agk_inf());
    if (mask) {
        v16f mv = v16f_zero();
        for (uint32_t l = 0; l < AGK_LANES && c0 + l < bq; l++) mv[l] = mask[(uintptr_t)(c0 + l) * m_rs + kj];
        *x = *x + mv;
    }
    v16i ok = (*x > ninf) & (lv > ninf);
    if (causal && kj > pos0 + c0) {   /* lane l sees key kj when kj <= pos0 + c0 + l */
        uint64_t first = kj - pos0 - c0;
        for (uint32_t l = 0; l < AGK_LANES; l++) ok[l] = l < first ? 0 : ok[l];
    }
    if (keep)
        for (uint32_t l = 0; l < AGK_LANES && c0 + l < bq; l++) ok[l] = keep[(uintptr_t)(c0 + l) * m_rs + kj] ? ok[l] : 0;
    return ok;
}

/* The backward of one problem (pointers at its first rows). */
static void attn_backward_blocks(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep,
                                 const uint32_t *layout, uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv,
                                 float scale, uint32_t q_pos, uint32_t flags, const float *o, const float *dout,
                                 const float *lse, float *scratch, float *dq, float *dk, float *dvv) {
    const uint32_t q_rs = layout[0], k_rs = layout[3], v_rs = layout[6], o_rs = layout[9], m_rs = layout[12];
    const uint32_t dp16 = attn_pad16(d), dvp = attn_pad16(dv);
    const uint32_t bqm = attn_block(n_q, ATTN_BQ_RUN), bkm = attn_block(n_k, ATTN_BK_RUN);
    float *qt = scratch, *gt = qt + ATTN_BQ * d, *qp = gt + ATTN_BQ * dv, *gp = qp + ATTN_BQ * dp16;
    float *pt = gp + ATTN_BQ * dvp, *dst = pt + ATTN_BK * ATTN_BQ, *dsp = dst + ATTN_BK * ATTN_BQ;
    float *kt = dsp + ATTN_BK * ATTN_BQ, *gqt = kt + d * ATTN_BK, *lsev = gqt + d * ATTN_BQ, *dd = lsev + ATTN_BQ;
    const int causal = (flags & AGK_ATTN_CAUSAL) != 0;
    const v16f sv = v16f_splat(scale), ninf = v16f_splat(-agk_inf());
    /* dK and dV sum over the query blocks from +0: without causal, query block 0 starts every
     * key row's sums; causal (a key row may first appear in a later block), from zeroed rows */
    const int dkv_zeroed = causal || !n_q;
    for (uint32_t j = 0; dkv_zeroed && j < n_k; j++) {
        for (uint32_t c = 0; c < d; c++) dk[(uintptr_t)j * k_rs + c] = 0.0f;
        for (uint32_t c = 0; c < dv; c++) dvv[(uintptr_t)j * v_rs + c] = 0.0f;
    }
    if (!n_k)   /* no key: dQ = 0 (else key block 0 starts every dQ sum) */
        for (uint32_t i = 0; i < n_q; i++)
            for (uint32_t c = 0; c < d; c++) dq[(uintptr_t)i * q_rs + c] = 0.0f;
    for (uint32_t i0 = 0; i0 < n_q; i0 += bqm) {
        const uint32_t bq = n_q - i0 < bqm ? n_q - i0 : bqm, ld = attn_pad16(bq);
        attn_pack_t(q, q_rs, i0, bq, d, qt);        /* Q^T: S^T = K Q^T */
        attn_pack_t(dout, o_rs, i0, bq, dv, gt);    /* dout^T: dP^T = V dout^T */
        attn_pack_rows(q, q_rs, i0, bq, d, qp);       /* Q: dK += dS^T Q */
        attn_pack_rows(dout, o_rs, i0, bq, dv, gp);   /* dout: dV += P^T dout */
        for (uint32_t i = 0; i < ld; i++) {
            lsev[i] = i < bq ? lse[i0 + i] : -agk_inf();
            dd[i] = i < bq ? dot1(dout + (uintptr_t)(i0 + i) * o_rs, o + (uintptr_t)(i0 + i) * o_rs, dv) : 0.0f;
        }
        const uint64_t pos0 = (uint64_t)q_pos + i0, last_pos = pos0 + bq - 1;
        for (uint32_t key0 = 0; key0 < n_k; key0 += bkm) {
            if (causal && key0 > last_pos) break;
            uint32_t bk = n_k - key0 < bkm ? n_k - key0 : bkm;
            if (causal && key0 + bk - 1 > last_pos) bk = (uint32_t)(last_pos + 1 - key0);   /* later keys: zeros */
            attn_gemm(k + (uintptr_t)key0 * k_rs, k_rs, qt, pt, ld, bk, d, bq, 0);
            attn_gemm(v + (uintptr_t)key0 * v_rs, v_rs, gt, dst, ld, bk, dv, bq, 0);
            for (uint32_t j = 0; j < bk; j++) {
                const uint64_t kj = key0 + j;
                float *pr = pt + (uintptr_t)j * ld, *sr = dst + (uintptr_t)j * ld;
                for (uint32_t c0 = 0; c0 < ld; c0 += AGK_LANES) {
                    v16f lv = v16f_load(lsev + c0), x = sv * v16f_load(pr + c0);
                    v16i ok = attn_lanes_ok(&x, lv, c0, bq, kj, pos0, causal, mask ? mask + (uintptr_t)i0 * m_rs : 0,
                                            keep ? keep + (uintptr_t)i0 * m_rs : 0, m_rs);
                    /* x - lse <= 0 (lse = m + log l, l >= 1): no upper clamp; exp(-inf) is 0 */
                    v16f p = attn_exp_nonpos(v16f_select(ok, x - lv, ninf));
                    v16f ds = v16f_select(ok, (p * (v16f_load(sr + c0) - v16f_load(dd + c0))) * sv, v16f_zero());
                    v16f_store(pr + c0, p);
                    v16f_store(sr + c0, ds);
                    v16f_store(dsp + ((uintptr_t)(c0 / AGK_LANES) * bk + j) * GEMM_PANEL, ds);
                }
            }
            const int acc = dkv_zeroed || i0 > 0;
            attn_gemm(pt, ld, gp, dvv + (uintptr_t)key0 * v_rs, v_rs, bk, bq, dv, acc);    /* dV (+)= P^T dout */
            attn_gemm(dst, ld, qp, dk + (uintptr_t)key0 * k_rs, k_rs, bk, bq, d, acc);     /* dK (+)= dS^T Q */
            attn_transpose(k, k_rs, key0, bk, d, kt, bk, 0);
            attn_gemm(kt, bk, dsp, gqt, ld, d, bk, bq, key0 > 0);   /* dQ^T (+)= K^T dS^T */
        }
        attn_transpose(gqt, ld, 0, d, bq, dq + (uintptr_t)i0 * q_rs, q_rs, 0);
    }
}

int32_t agk_sdpa_backward_f32(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep,
                              const uint32_t *layout, uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k,
                              uint32_t d, uint32_t dv, float scale, uint32_t q_pos, uint32_t flags, const float *o,
                              const float *dout, const float *lse, float *scratch, uint32_t scratch_len, float *dq,
                              float *dk, float *dvv) {
    if (!d || !dv || agk_sdpa_backward_scratch_len(n_q, n_k, d, dv, flags) > scratch_len) return AGK_E_ARG;
    for (uint32_t b = 0; b < batch; b++)
        for (uint32_t h = 0; h < heads; h++) {
            uintptr_t qo = (uintptr_t)b * layout[1] + (uintptr_t)h * layout[2];
            uintptr_t ko = (uintptr_t)b * layout[4] + (uintptr_t)h * layout[5];
            uintptr_t vo = (uintptr_t)b * layout[7] + (uintptr_t)h * layout[8];
            uintptr_t oo = (uintptr_t)b * layout[10] + (uintptr_t)h * layout[11];
            uintptr_t moff = (uintptr_t)b * layout[13] + (uintptr_t)h * layout[14];
            attn_backward_blocks(q + qo, k + ko, v + vo, mask ? mask + moff : 0, keep ? keep + moff : 0, layout, n_q,
                                 n_k, d, dv, scale, q_pos, flags, o + oo, dout + oo,
                                 lse + ((uintptr_t)b * heads + h) * n_q, scratch, dq + qo, dk + ko, dvv + vo);
        }
    return (int32_t)batch;
}
