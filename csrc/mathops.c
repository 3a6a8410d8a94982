/* The SimdOps surface: pairwise metrics, element-wise ops, activations, normalisation.
 * Element-wise ops are lane-wise IEEE arithmetic; reductions use the scan's lane order
 * and hsum16, so every op has one answer on every backend. */

float agk_dot_f32(const float *a, const float *b, uint32_t n) { return dot1(a, b, n); }
                  
                  float agk_l2_f32(const float *a, const float *b, uint32_t n) {
    float s, unused;
    rows_kernel(AGK_METRIC_L2, 1, a, &b, n, &s, &unused);
    return s;
}

float agk_cos_f32(const float *a, const float *b, uint32_t n) {
    float s, nrm;
    rows_kernel(AGK_METRIC_COS, 1, a, &b, n, &s, &nrm);
    return cos_finish(s, dot1(a, a, n), nrm);
}

void agk_matvec_f32(const float *mat, uint32_t rows, uint32_t cols, const float *v, float *out) {
    if (cols) scan_f32(AGK_METRIC_DOT, v, 1, mat, rows, cols, 0, 0, 0, out);
    else
        for (uint32_t r = 0; r < rows; r++) out[r] = 0.0f;
}

/* Applies a lane-wise function to n floats: whole blocks, then one zero-padded tail block. */
#define ELEMENTWISE(N, EXPR)                                                                \
    do {                                                                                    \
        uint32_t i_ = 0;                                                                    \
        for (; i_ + AGK_LANES <= (N); i_ += AGK_LANES) {                                    \
            uint32_t r_ = AGK_LANES;                                                        \
            (void)r_;                                                                       \
            v16f_store(out + i_, EXPR(v16f_load));                                          \
        }                                                                                   \
        if (i_ < (N)) {                                                                     \
            uint32_t r_ = (N)-i_;                                                           \
            v16f_store_tail(out + i_, EXPR(TAIL_LOAD), r_);                                 \
        }                                                                                   \
    } while (0)
#define TAIL_LOAD(p) v16f_load_tail((p), r_)

#define ADD_EXPR(L) (L(a + i_) + L(b + i_))
#define MUL_EXPR(L) (L(a + i_) * L(b + i_))
#define SCALE_EXPR(L) (L(a + i_) * sv)
#define RELU_EXPR(L) v16f_max(L(a + i_), v16f_zero())
#define EXP_EXPR(L) v16f_exp(L(a + i_))
#define SIGMOID_EXPR(L) v16f_sigmoid(L(a + i_))
#define GELU_EXPR(L) v16f_gelu(L(a + i_))

void agk_add_f32(const float *a, const float *b, uint32_t n, float *out) { ELEMENTWISE(n, ADD_EXPR); }
                 void agk_mul_f32(const float *a, const float *b, uint32_t n, float *out) { ELEMENTWISE(n, MUL_EXPR); }
                 
                 void agk_scale_f32(const float *a, float s, uint32_t n, float *out) {
    v16f sv = v16f_splat(s);
    ELEMENTWISE(n, SCALE_EXPR);
}

void agk_relu_f32(const float *a, uint32_t n, float *out) { ELEMENTWISE(n, RELU_EXPR); }
                  
/* exp(x) = 2^k * e^r with k = round(x / ln2) and |r| <= ln2 / 2 (Cody-Waite split of ln2),
 * e^r from the Cephes minimax polynomial, 2^k applied in two halves so that results near
 * overflow and in the subnormal range are scaled without an out-of-range exponent. The
 * steps are separate so gemm.c's exp of a two-part argument shares them. */
AGK_INLINE v16f exp_clamp(v16f x) { return v16f_max(v16f_min(x, v16f_splat(89.0f)), v16f_splat(-104.0f)); }

AGK_INLINE v16f exp_k(v16f x) {   /* round(x / ln2): adding 1.5 * 2^23 rounds to an integer */
    const v16f round_magic = v16f_splat(12582912.0f);
    return (x * v16f_splat(1.44269504088896341f) + round_magic) - round_magic;
}

AGK_INLINE v16f exp_reduce(v16f x, v16f k) {   /* x - k ln2, ln2 in two parts */
    v16f r = x - k * v16f_splat(0.693359375f);
    return r - k * v16f_splat(-2.12194440e-4f);
}

AGK_INLINE v16f exp_scaled(v16f k, v16f r) {   /* e^r * 2^k */
    v16f p = v16f_splat(1.9875691500e-4f);
    p = p * r + v16f_splat(1.3981999507e-3f);
    p = p * r + v16f_splat(8.3334519073e-3f);
    p = p * r + v16f_splat(4.1665795894e-2f);
    p = p * r + v16f_splat(1.6666665459e-1f);
    p = p * r + v16f_splat(5.0000001201e-1f);
    p = p * (r * r) + r + v16f_splat(1.0f);
    v16i ki = __builtin_convertvector(k, v16i);
    v16i k1 = ki >> 1, k2 = ki - k1;
    v16f s1 = (v16f)((k1 + 127) << 23), s2 = (v16f)((k2 + 127) << 23);
    return p * s1 * s2;
}

AGK_INLINE v16f v16f_exp(v16f x) {
    x = exp_clamp(x);
    v16f k = exp_k(x);
    return exp_scaled(k, exp_reduce(x, k));
}

AGK_INLINE v16f v16f_sigmoid(v16f x) { return v16f_splat(1.0f) / (v16f_splat(1.0f) + v16f_exp(-x)); }

/* GELU, tanh form: 0.5 x (1 + tanh(z)) = x * sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3). */
AGK_INLINE v16f v16f_gelu(v16f x) {
    v16f z2 = v16f_splat(1.5957691216057308f) * (x + v16f_splat(0.044715f) * (x * x * x));
    return x * v16f_sigmoid(z2);
}

void agk_exp_f32(const float *a, uint32_t n, float *out) { ELEMENTWISE(n, EXP_EXPR); }
                 void agk_sigmoid_f32(const float *a, uint32_t n, float *out) { ELEMENTWISE(n, SIGMOID_EXPR); }
                 void agk_gelu_f32(const float *a, uint32_t n, float *out) { ELEMENTWISE(n, GELU_EXPR); }
                 
                 /* Sum of n floats in the scan's lane order (zero-padded tail, then hsum16). */
                 AGK_INLINE float sum_f32(const float *a, uint32_t n) {
    v16f acc = v16f_zero();
    uint32_t i = 0;
    for (; i + AGK_LANES <= n; i += AGK_LANES) acc += v16f_load(a + i);
    if (i < n) acc += v16f_load_tail(a + i, n - i);
    return hsum16(acc);
}

float agk_normalize_f32(const float *a, uint32_t n, float *out) {
    float sq = dot1(a, a, n), nrm = agk_sqrtf(sq);
    if (nrm == 0.0f) {
        for (uint32_t i = 0; i < n; i++) out[i] = 0.0f;
        return sq;
    }
    v16f dv = v16f_splat(nrm);
#define DIV_EXPR(L) (L(a + i_) / dv)
    ELEMENTWISE(n, DIV_EXPR);
    return sq;
}

void agk_normalize_rows_f32(float *x, uint32_t n, uint32_t dim) {
    for (uint32_t i = 0; i < n; i++) agk_normalize_f32(x + (uintptr_t)i * dim, dim, x + (uintptr_t)i * dim);
}

float agk_prepare_query_f32(const float *in, uint32_t n, uint32_t normalize, float *out) {
    if (normalize) return agk_normalize_f32(in, n, out);
    if (out != in)
        for (uint32_t i = 0; i < n; i++) out[i] = in[i];
    return dot1(in, in, n);
}

void agk_norms_sq_f32(const float *x, uint32_t n, uint32_t dim, float *out) {
    for (uint32_t i = 0; i < n; i++) out[i] = dot1(x + (uintptr_t)i * dim, x + (uintptr_t)i * dim, dim);
}

/* Softmax with the maximum subtracted first, so large inputs do not overflow. */
void agk_softmax_f32(const float *a, uint32_t n, float *out) {
    if (n == 0) return;
    float mx = a[0];
    for (uint32_t i = 1; i < n; i++) mx = a[i] > mx ? a[i] : mx;
    v16f mv = v16f_splat(mx);
#define SHIFTED_EXP_EXPR(L) v16f_exp(L(a + i_) - mv)
    ELEMENTWISE(n, SHIFTED_EXP_EXPR);
    v16f sv = v16f_splat(sum_f32(out, n));
    const float *e = out;
#define NORM_EXPR(L) (L(e + i_) / sv)
    ELEMENTWISE(n, NORM_EXPR);
}

/* (x - mean) / sqrt(var + eps) * gamma + beta, with the population variance; gamma and
 * beta may be 0 (ones and zeros). */
void agk_layernorm_f32(const float *a, uint32_t n, const float *gamma, const float *beta, float eps,
                       float *out) {
    if (n == 0) return;
    float mean = sum_f32(a, n) / (float)n;
    v16f mv = v16f_splat(mean);
#define CENTER_EXPR(L) (L(a + i_) - mv)
    ELEMENTWISE(n, CENTER_EXPR);
    float var = dot1(out, out, n) / (float)n;
    v16f inv = v16f_splat(1.0f / agk_sqrtf(var + eps));
    const float *c = out;
#define NORMED_EXPR(L) (L(c + i_) * inv)
    ELEMENTWISE(n, NORMED_EXPR);
    if (gamma) {
        const float *b = gamma;
        a = out;
        ELEMENTWISE(n, MUL_EXPR);
    }
    if (beta) {
        const float *b = beta;
        a = out;
        ELEMENTWISE(n, ADD_EXPR);
    }
}

uint32_t agk_find_nonfinite_f32(const float *a, uint32_t n) {
    const uint32_t *u = (const uint32_t *)a;
    for (uint32_t i = 0; i < n; i++)
        if ((u[i] & 0x7f800000u) == 0x7f800000u) return i;
    return n;
}
