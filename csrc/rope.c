/* Rotary position embeddings (agentdb.nn.rope): our own sin and cos of float32 angles, the RoPE
 * cos/sin tables and the rotation of rows, forward and transposed (the backward).
 *
 * sin/cos of a float32 x, the same bits on every backend because only integer ops and IEEE
 * double + - * (no FMA, no libm) are used:
 *  - |x| < 25/32: r = x, quadrant 0;
 *  - else x = M 2^E (M the 24-bit significand) and x * 2/pi mod 4 = M W 2^-94 mod 4, W the 96
 *    bits of 2/pi from bit E - 1 on (the bits before add multiples of 4; those after, less than
 *    2^-70 of a quadrant): an exact 24 x 96-bit integer product (Payne-Hanek), so the quadrant n
 *    and the reduced angle r = (x * 2/pi - n) pi/2, |r| <= pi/4, are right for every float32 (no
 *    loss for large angles: a position of 10^6 or 10^9 times theta is reduced like 0.9);
 *  - sin r and cos r from fdlibm's double kernels (__kernel_sin / __kernel_cos: degree 13 and 14
 *    minimax, error below 2^-58), the quadrant's sign and swap, one rounding to float32. */

/* 2/pi in 32-bit words, most significant first, after one zero word for the integer part */
static const uint32_t rope_two_over_pi[10] = {0x00000000u, 0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u,
                                              0xdb629599u, 0x3c439041u, 0xfe5163abu, 0xdebbc561u, 0xb7246e3au};

AGK_INLINE double rope_sin_kernel(double x) {
    double z = x * x, v = z * x;
    double r = 8.33333333332248946124e-03 +
               z * (-1.98412698298579493134e-04 +
                    z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)));
    return x + v * (-1.66666666666666324348e-01 + z * r);
}

AGK_INLINE double rope_cos_kernel(double x) {
    double z = x * x, hz = 0.5 * z;
    double r = z * (4.16666666666666019037e-02 +
                    z * (-1.38888888888741095749e-03 +
                         z * (2.48015872894767294178e-05 +
                              z * (-2.75573143513906633035e-07 +
                                   z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))));
    double w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + z * r);
}

/* sin(x) and cos(x) of one float32, each rounded once to float32 */
AGK_INLINE void rope_sincos(float x, float *s_out, float *c_out) {
    union { float f; uint32_t u; } v = {x};
    uint32_t ax = v.u & 0x7fffffffu, e = ax >> 23;
    if (e == 255) {   /* inf or NaN */
        *s_out = *c_out = x - x;
        return;
    }
    uint32_t n = 0;
    double r;
    if (ax < 0x3f480000u) {   /* |x| < 0.78125 */
        r = (double)(v.u >> 31 ? -x : x);
    } else {
        uint64_t m = (ax & 0x7fffffu) | 0x800000u;   /* e >= 126 here, so x is normal */
        uint32_t p = e - 150 - 1 + 31, w = p >> 5, sh = p & 31;   /* window start E - 1, word 0 is bits -31..0 */
        const uint32_t *t = rope_two_over_pi + w;
        uint64_t w2 = ((((uint64_t)t[0] << 32) | t[1]) >> (32 - sh)) & 0xffffffffu;
        uint64_t w1 = ((((uint64_t)t[1] << 32) | t[2]) >> (32 - sh)) & 0xffffffffu;
        uint64_t w0 = ((((uint64_t)t[2] << 32) | t[3]) >> (32 - sh)) & 0xffffffffu;
        uint64_t p0 = m * w0, p1 = m * w1, p2 = m * w2;
        uint64_t hi = (p0 >> 32) + p1 + (p2 << 32);   /* M W mod 2^96 = hi 2^32 + lo: hi in 2^-62 quadrants */
        uint64_t lo = p0 & 0xffffffffu;
        n = (uint32_t)((hi + (1ull << 61)) >> 62);
        int64_t frac = (int64_t)(hi - ((uint64_t)n << 62));   /* in [-2^61, 2^61) */
        double q = (double)frac * 2.16840434497100886801e-19 + (double)lo * 5.04870979341447555790e-29;
        r = q * 1.57079632679489661923;   /* 2^-62, 2^-94, pi/2 */
        n &= 3;
    }
    double s = rope_sin_kernel(r), c = rope_cos_kernel(r), so, co;
    switch (n) {
    case 0: so = s, co = c; break;
    case 1: so = c, co = -s; break;
    case 2: so = -s, co = -c; break;
    default: so = -c, co = s; break;
    }
    *s_out = (float)(v.u >> 31 ? -so : so);
    *c_out = (float)co;
}

void agk_sincos_f32(const float *x, uint32_t n, float *s, float *c) {
    for (uint32_t i = 0; i < n; i++) rope_sincos(x[i], s + i, c + i);
}

/* theta_i = 1 / fl32(base^fl32(2i / dim)) in float32, as HF computes inv_freq: the power in double
 * (e^(e ln base) from hyperbolic.c's hyp_log and hyp_expm1, base >= 1) rounded once. */
AGK_INLINE float rope_theta(uint32_t i, uint32_t dim, double log_base) {
    float e = (float)(2 * i) / (float)dim;
    float p = (float)(1.0 + hyp_expm1((double)e * log_base));
    return 1.0f / p;
}

void agk_rope_table_f32(const float *pos, uint32_t n, uint32_t dim, float base, float *cos_out, float *sin_out) {
    uint32_t h = dim / 2;
    double lb = hyp_log((double)base);
    for (uint32_t i = 0; i < h; i++) {
        float th = rope_theta(i, dim, lb);
        for (uint32_t r = 0; r < n; r++) {
            float a = pos[r] * th;
            rope_sincos(a, sin_out + (uintptr_t)r * h + i, cos_out + (uintptr_t)r * h + i);
        }
    }
}

int32_t agk_rope_apply_f32(const float *x, uint32_t n, uint32_t row_len, uint32_t dim, const float *cos_t,
                           const float *sin_t, const uint32_t *tab_row, uint32_t n_tab, uint32_t flags, float *out) {
    if (dim > row_len || dim % 2) return AGK_E_ARG;
    for (uint32_t r = 0; r < n; r++)
        if ((tab_row ? tab_row[r] : r) >= n_tab) return AGK_E_RANGE;
    const uint32_t h = dim / 2, inter = flags & AGK_ROPE_INTERLEAVED;
    /* the transpose is the rotation by -theta: sin negated (exact), the same products and sums */
    const float sg = flags & AGK_ROPE_TRANSPOSE ? -1.0f : 1.0f;
    for (uint32_t r = 0; r < n; r++) {
        const float *xr = x + (uintptr_t)r * row_len, *cr = cos_t + (uintptr_t)(tab_row ? tab_row[r] : r) * h;
        const float *sr = sin_t + (uintptr_t)(tab_row ? tab_row[r] : r) * h;
        float *o = out + (uintptr_t)r * row_len;
        /* HF: x * cos + rotate_half(x) * sin, rotate_half(x) = (-x2, x1); two loops so that the
         * rotate_half one runs over contiguous halves (vectorised: the same IEEE ops per lane) */
        if (inter)
            for (uint32_t i = 0; i < h; i++) {
                float x1 = xr[2 * i], x2 = xr[2 * i + 1], c = cr[i], s = sg * sr[i];
                o[2 * i] = x1 * c - x2 * s;
                o[2 * i + 1] = x2 * c + x1 * s;
            }
        else
            for (uint32_t i = 0; i < h; i++) {
                float x1 = xr[i], x2 = xr[i + h], c = cr[i], s = sg * sr[i];
                o[i] = x1 * c - x2 * s;
                o[i + h] = x2 * c + x1 * s;
            }
        if (o != xr)
            for (uint32_t j = dim; j < row_len; j++) o[j] = xr[j];
    }
    return (int32_t)n;
}
