/* The learning stack's ops: matrix plumbing around the packed GEMM (transpose, row-wise
 * products and sums), log, batched softmax and cross-entropy, and the optimizer updates.
 * Every element is one lane's fixed sequence of IEEE operations (reductions as the scans
 * order them), so each op has one answer on every backend. The optimizer updates follow
 * torch.optim's order of operations (_single_tensor_sgd / _single_tensor_adam); torch may
 * fuse some of its multiply-adds, so its results agree to rounding, not to the bit. */

AGK_INLINE v16f learn_load(const float *p, uint32_t r) { return r == AGK_LANES ? v16f_load(p) : v16f_load_tail(p, r); }

AGK_INLINE void learn_store(float *p, v16f v, uint32_t r) {
    if (r == AGK_LANES) v16f_store(p, v);
    else v16f_store_tail(p, v, r);
}

/* correctly rounded per lane; clang lowers the loop to sqrtps / f32x4.sqrt */
AGK_INLINE v16f v16f_sqrt(v16f x) {
    for (uint32_t l = 0; l < AGK_LANES; l++) x[l] = agk_sqrtf(x[l]);
    return x;
}

/* log(x) = e ln2 + log(m), x = m 2^e with m in [sqrt(1/2), sqrt(2)): Cephes logf's minimax
 * polynomial in m - 1 and ln2 in two parts. Subnormals are scaled by 2^25 first (exact). */
AGK_INLINE v16f v16f_log(v16f x) {
    v16i sub = ((v16i)x & 0x7f800000) == 0;
    v16i u = (v16i)v16f_select(sub, x * v16f_splat(33554432.0f), x);
    v16i e = ((u >> 23) & 0xff) - 126 - (sub & 25);
    v16f m = (v16f)((u & 0x007fffff) | 0x3f000000);                 /* [0.5, 1) */
    v16i low = m < v16f_splat(0.707106781186547524f);
    e = e + low;                                                     /* low lanes are -1 */
    m = v16f_select(low, m + m, m) - v16f_splat(1.0f);
    v16f z = m * m, fe = __builtin_convertvector(e, v16f);
    v16f y = v16f_splat(7.0376836292e-2f);
    y = y * m - v16f_splat(1.1514610310e-1f);
    y = y * m + v16f_splat(1.1676998740e-1f);
    y = y * m - v16f_splat(1.2420140846e-1f);
    y = y * m + v16f_splat(1.4249322787e-1f);
    y = y * m - v16f_splat(1.6668057665e-1f);
    y = y * m + v16f_splat(2.0000714765e-1f);
    y = y * m - v16f_splat(2.4999993993e-1f);
    y = y * m + v16f_splat(3.3333331174e-1f);
    y = y * m * z;
    y = y + fe * v16f_splat(-2.12194440e-4f);
    y = y - v16f_splat(0.5f) * z;
    v16f r = (m + y) + fe * v16f_splat(0.693359375f);
    r = v16f_select(x == v16f_splat(agk_inf()), x, r);
    r = v16f_select(x == v16f_zero(), v16f_splat(-agk_inf()), r);
    return v16f_select((x != x) | (x < v16f_zero()), v16f_splat(agk_nan()), r);
}

void agk_log_f32(const float *a, uint32_t n, float *out) {
#define LOG_EXPR(L) v16f_log(L(a + i_))
    ELEMENTWISE(n, LOG_EXPR);
}

void agk_transpose_f32(const float *x, uint32_t rows, uint32_t cols, float *out) {
    for (uint32_t i0 = 0; i0 < rows; i0 += AGK_LANES) {   /* 16 x 16 tiles: both sides stay in cache */
        uint32_t i1 = rows - i0 < AGK_LANES ? rows : i0 + AGK_LANES;
        for (uint32_t j0 = 0; j0 < cols; j0 += AGK_LANES) {
            uint32_t j1 = cols - j0 < AGK_LANES ? cols : j0 + AGK_LANES;
            for (uint32_t j = j0; j < j1; j++)
                for (uint32_t i = i0; i < i1; i++) out[(uintptr_t)j * rows + i] = x[(uintptr_t)i * cols + j];
        }
    }
}

void agk_axpy_f32(float alpha, const float *x, const float *y, uint32_t n, float *out) {
    v16f av = v16f_splat(alpha);
#define AXPY_EXPR(L) (L(y + i_) + av * L(x + i_))
    ELEMENTWISE(n, AXPY_EXPR);
}

void agk_row_dots_f32(const float *a, const float *b, uint32_t n, uint32_t dim, float *out) {
    for (uint32_t i = 0; i < n; i++) out[i] = dot1(a + (uintptr_t)i * dim, b + (uintptr_t)i * dim, dim);
}

void agk_scale_rows_f32(const float *x, const float *s, uint32_t n, uint32_t dim, float *out) {
    for (uint32_t i = 0; i < n; i++) {
        const float *a = x + (uintptr_t)i * dim;
        float *o = out + (uintptr_t)i * dim;
        v16f sv = v16f_splat(s[i]);
        float *out = o;
        ELEMENTWISE(dim, SCALE_EXPR);
    }
}

void agk_sum_rows_f32(const float *x, uint32_t n, uint32_t dim, float *out) {
    for (uint32_t d = 0; d < dim; d++) out[d] = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        const float *a = out, *b = x + (uintptr_t)i * dim;
        ELEMENTWISE(dim, ADD_EXPR);
    }
}

/* 1 / |x| for a float32 squared norm, in double (as Python's 1.0 / math.sqrt(v) would), rounded
 * once to float32; 0 for a zero row. */
AGK_INLINE float learn_inv_norm(float nsq) { return nsq > 0.0f ? (float)(1.0 / __builtin_sqrt((double)nsq)) : 0.0f; }

void agk_unit_rows_f32(const float *x, uint32_t n, uint32_t dim, float *inv, float *out) {
    for (uint32_t i = 0; i < n; i++) {
        const float *a = x + (uintptr_t)i * dim;
        float s = learn_inv_norm(dot1(a, a, dim));
        inv[i] = s;
        v16f sv = v16f_splat(s);   /* agk_scale_rows_f32's steps */
        float *o = out + (uintptr_t)i * dim;
        float *out = o;
        ELEMENTWISE(dim, SCALE_EXPR);
    }
}

void agk_unit_backward_f32(const float *u, const float *du, const float *inv, uint32_t n, uint32_t dim, float *out) {
    v16f neg = v16f_splat(-1.0f);
    for (uint32_t i = 0; i < n; i++) {
        const float *ui = u + (uintptr_t)i * dim, *gi = du + (uintptr_t)i * dim;
        float *o = out + (uintptr_t)i * dim;
        /* row_dots, scale_rows, axpy(-1), scale_rows, one row at a time: the same operations */
        v16f along = v16f_splat(dot1(ui, gi, dim)), sv = v16f_splat(inv[i]);
#define UNIT_BACK_EXPR(L) ((L(gi + i_) + neg * (L(ui + i_) * along)) * sv)
        float *out = o;
        ELEMENTWISE(dim, UNIT_BACK_EXPR);
    }
}

/* op(a) @ op(b) as matmul() composed it: op(a) transposed into scratch after the packed op(b). */
void agk_matmul_f32(const float *a, const float *b, uint32_t m, uint32_t k, uint32_t n, uint32_t flags,
                    float *scratch, float *out) {
    uintptr_t packed_len = (uintptr_t)k * ((n + GEMM_PANEL - 1) / GEMM_PANEL) * GEMM_PANEL;
    agk_pack_gemm_f32(b, k, n, flags & AGK_MATMUL_TRANS_B ? 1u : 0u, scratch);
    if (flags & AGK_MATMUL_TRANS_A) {
        agk_transpose_f32(a, k, m, scratch + packed_len);
        a = scratch + packed_len;
    }
    agk_gemm_f32(a, scratch, 0, out, m, k, n, AGK_ACT_NONE);
}

void agk_softmax_rows_f32(const float *x, uint32_t rows, uint32_t dim, float *out) {
    for (uint32_t i = 0; i < rows; i++) agk_softmax_f32(x + (uintptr_t)i * dim, dim, out + (uintptr_t)i * dim);
}

/* The mean softmax cross-entropy of rows of logits and its gradient into grad (formula in the
 * header); targets 0 means row i's class is i (InfoNCE's diagonal). */
AGK_INLINE float xent_rows(const float *logits, const uint32_t *targets, uint32_t rows, uint32_t dim, float *grad) {
    double total = 0.0;   /* the mean over rows, in row order, in double (IEEE on every backend) */
    v16f rv = v16f_splat((float)rows);
    for (uint32_t i = 0; i < rows; i++) {
        const float *a = logits + (uintptr_t)i * dim;
        float *out = grad + (uintptr_t)i * dim;
        uint32_t t = targets ? targets[i] : i;
        float mx = a[0];   /* agk_softmax_f32's steps, so the probabilities are its bits */
        for (uint32_t j = 1; j < dim; j++) mx = a[j] > mx ? a[j] : mx;
        v16f mv = v16f_splat(mx);
        ELEMENTWISE(dim, SHIFTED_EXP_EXPR);
        float s = sum_f32(out, dim);
        float lse = v16f_log(v16f_splat(s))[0];
        total += (double)(lse - (a[t] - mx));
        v16f sv = v16f_splat(s);
        const float *e = out;
        ELEMENTWISE(dim, NORM_EXPR);
        out[t] = out[t] - 1.0f;
#define PER_ROW_EXPR(L) (L(e + i_) / rv)
        ELEMENTWISE(dim, PER_ROW_EXPR);
    }
    return rows ? (float)(total / (double)rows) : 0.0f;
}

int32_t agk_softmax_xent_rows_f32(const float *logits, const uint32_t *targets, uint32_t rows, uint32_t dim,
                                  float *grad, float *loss) {
    for (uint32_t i = 0; i < rows; i++)
        if (targets[i] >= dim) return AGK_E_RANGE;
    *loss = xent_rows(logits, targets, rows, dim, grad);
    return (int32_t)rows;
}

/* agk_info_nce_f32's scratch, each part starting on 16 floats (a cache line): unit anchors
 * (n x dim), unit candidates and their gradient (w x dim each), inverse norms (n, then w), logits
 * and their gradient (n x w each), then the matmuls' packing space (the largest of the three). */
#define LEARN_UP16(x) (((x) + 15) / 16 * 16)
AGK_INLINE uint64_t info_nce_parts(uint64_t n, uint64_t m, uint64_t dim, uint64_t start[8]) {
    uint64_t w = n + m, cols = LEARN_UP16(dim);
    uint64_t pack = dim * LEARN_UP16(w);                        /* logits: k = dim, n = w */
    if (w * cols > pack) pack = w * cols;                       /* dL/d(unit anchors): k = w, n = dim */
    if (n * cols + w * n > pack) pack = n * cols + w * n;       /* dL/d(candidates): k = n, n = dim, a transposed */
    uint64_t size[8] = {n * dim, w * dim, w * dim, n, w, n * w, n * w, pack};
    start[0] = 0;
    for (int i = 1; i < 8; i++) start[i] = start[i - 1] + LEARN_UP16(size[i - 1]);
    return start[7] + pack;
}

uint32_t agk_info_nce_scratch_len(uint32_t n, uint32_t m, uint32_t dim) {
    uint64_t start[8], len = info_nce_parts(n, m, dim, start);
    return len > 0xffffffffu ? 0 : (uint32_t)len;
}

void agk_info_nce_f32(const float *anchors, const float *positives, const float *negatives, uint32_t n, uint32_t m,
                      uint32_t dim, float inv_t, float *scratch, float *loss, float *d_anchors, float *d_positives,
                      float *d_negatives) {
    uint32_t w = n + m;
    uintptr_t nd = (uintptr_t)n * dim, nw = (uintptr_t)n * w;
    uint64_t at[8];
    info_nce_parts(n, m, dim, at);
    float *ua = scratch, *cand = scratch + at[1], *dcand = scratch + at[2], *inv_a = scratch + at[3];
    float *inv_c = scratch + at[4], *logits = scratch + at[5], *g = scratch + at[6], *pack = scratch + at[7];
    agk_unit_rows_f32(anchors, n, dim, inv_a, ua);
    agk_unit_rows_f32(positives, n, dim, inv_c, cand);
    if (m) agk_unit_rows_f32(negatives, m, dim, inv_c + n, cand + nd);
    agk_matmul_f32(ua, cand, n, dim, w, AGK_MATMUL_TRANS_B, pack, logits);
    agk_scale_f32(logits, inv_t, (uint32_t)nw, logits);
    *loss = xent_rows(logits, 0, n, w, g);
    agk_scale_f32(g, inv_t, (uint32_t)nw, g);                            /* dL/dcos, n x w */
    agk_matmul_f32(g, cand, n, w, dim, 0, pack, d_anchors);              /* dL/d(unit anchors) */
    agk_matmul_f32(g, ua, w, n, dim, AGK_MATMUL_TRANS_A, pack, dcand);
    agk_unit_backward_f32(ua, d_anchors, inv_a, n, dim, d_anchors);
    agk_unit_backward_f32(cand, dcand, inv_c, n, dim, d_positives);
    if (m) agk_unit_backward_f32(cand + nd, dcand + nd, inv_c + n, m, dim, d_negatives);
}

void agk_sgd_step_f32(float *param, const float *grad, float *velocity, uint32_t n, float lr, float momentum,
                      float keep, float weight_decay, uint32_t flags) {
    v16f lv = v16f_splat(lr), mom = v16f_splat(momentum), kv = v16f_splat(keep), wd = v16f_splat(weight_decay);
    for (uint32_t i = 0; i < n; i += AGK_LANES) {
        uint32_t r = n - i < AGK_LANES ? n - i : AGK_LANES;
        v16f p = learn_load(param + i, r), g = learn_load(grad + i, r);
        if (weight_decay != 0.0f) g = g + wd * p;
        if (momentum != 0.0f) {
            v16f b = flags & AGK_SGD_FIRST ? g : learn_load(velocity + i, r) * mom + kv * g;
            learn_store(velocity + i, b, r);
            g = flags & AGK_SGD_NESTEROV ? g + mom * b : b;
        }
        learn_store(param + i, p - lv * g, r);
    }
}

void agk_adam_step_f32(float *param, const float *grad, float *m, float *v, uint32_t n, float w1, float beta2,
                       float w2, float step_size, float bc2_sqrt, float eps, float weight_decay, float decay) {
    v16f w1v = v16f_splat(w1), w1c = v16f_splat(1.0f - w1), b2 = v16f_splat(beta2), w2v = v16f_splat(w2);
    v16f ss = v16f_splat(-step_size), bc = v16f_splat(bc2_sqrt), ev = v16f_splat(eps), wd = v16f_splat(weight_decay);
    v16f dv = v16f_splat(decay);
    for (uint32_t i = 0; i < n; i += AGK_LANES) {
        uint32_t r = n - i < AGK_LANES ? n - i : AGK_LANES;
        v16f p = learn_load(param + i, r), g = learn_load(grad + i, r), mi = learn_load(m + i, r);
        if (decay != 1.0f) p = p * dv;
        if (weight_decay != 0.0f) g = g + wd * p;
        mi = w1 < 0.5f ? mi + w1v * (g - mi) : g - (g - mi) * w1c;   /* torch's lerp */
        v16f vi = learn_load(v + i, r) * b2 + w2v * g * g;
        v16f denom = v16f_sqrt(vi) / bc + ev;
        learn_store(m + i, mi, r);
        learn_store(v + i, vi, r);
        learn_store(param + i, p + ss * mi / denom, r);
    }
}
