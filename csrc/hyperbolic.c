/* Poincaré-ball math (agentdb.nn.hyperbolic): Möbius addition, the exponential and logarithmic
 * maps, the geodesic distance, projection into the ball, and the vector-Jacobian products of
 * the first four, over paired rows of dim floats, curvature -c (c > 0; the ball has radius
 * 1 / sqrt(c)). The formulas are geoopt's (geoopt/manifolds/stereographic/math.py with k = -c),
 * clamps included (norms at least 1e-15, 1 - c|x|^2 at least 1e-15), except that artanh's
 * argument is clamped to 1 - 1e-15 rather than geoopt's 1 - 1e-7, which is what makes its
 * float32 users' boundary points collapse to one distance. Two rewrites keep distinct points near
 * the boundary distinct where geoopt's expanded forms cancel (even in double): Möbius sums are
 * formed from u = a + b element by element (hyp_mobius_u), and the distance is its closed
 * arcosh form (hyp_dist_of).
 *
 * Each row is read as float32, worked in double and rounded to float32 once at the end, so a
 * point 2^-24 from the boundary still has its own distance. Reductions run over 8 double
 * lanes in blocks of 8 in index order (a zero-padded tail block), then one fixed tree; every
 * other step is a scalar or lane-wise IEEE operation (no FMA: -ffp-contract=off), and tanh and
 * artanh are our own series (hyp_expm1, hyp_log below), so each row has one answer on every
 * backend and ISA level, alone or in a batch. */

typedef double v8d __attribute__((vector_size(64)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));

#define HYP_MIN_NORM 1e-15
#define HYP_ARTANH_MAX (1.0 - 1e-15)

/* 8 floats of p from i (r of them, the rest zero) as doubles; p 0 reads as zeros. */
AGK_INLINE v8d hyp_load(const float *p, uint32_t r) {
    v8f f = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (p) {
        if (r == 8) f = *(const v8f_u *)p;
        else
            for (uint32_t l = 0; l < r; l++) f[l] = p[l];
    }
    return __builtin_convertvector(f, v8d);
}

AGK_INLINE void hyp_store(float *p, v8d v, uint32_t r) {
    v8f f = __builtin_convertvector(v, v8f);   /* the one rounding to float32 */
    if (r == 8) *(v8f_u *)p = f;
    else
        for (uint32_t l = 0; l < r; l++) p[l] = f[l];
}

AGK_INLINE v8d v8d_splat(double s) { return (v8d){0} + s; }

/* The fixed horizontal sum: lanes (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1. */
AGK_INLINE double hsum8d(v8d v) {
    double a0 = v[0] + v[4], a1 = v[1] + v[5], a2 = v[2] + v[6], a3 = v[3] + v[7];
    return (a0 + a2) + (a1 + a3);
}

/* Blocks of 8 elements in index order: i_ the first, r_ how many (8, or the tail's). */
#define HYP_FOR(DIM) for (uint32_t i_ = 0, r_ = 0; i_ < (DIM) && ((r_ = (DIM)-i_ < 8 ? (DIM)-i_ : 8), 1); i_ += 8)

/* The five dots of a row (x may be 0: zeros; g may be 0: zeros), each in the fixed order. */
typedef struct {
    double xx, yy, xy, gx, gy;
} hyp_dots;

AGK_INLINE hyp_dots hyp_reduce(const float *x, const float *y, const float *g, uint32_t dim) {
    v8d xx = {0}, yy = {0}, xy = {0}, gx = {0}, gy = {0};
    HYP_FOR(dim) {
        v8d xv = hyp_load(x ? x + i_ : 0, r_), yv = hyp_load(y + i_, r_), gv = hyp_load(g ? g + i_ : 0, r_);
        xx += xv * xv;
        yy += yv * yv;
        xy += xv * yv;
        gx += gv * xv;
        gy += gv * yv;
    }
    hyp_dots d = {hsum8d(xx), hsum8d(yy), hsum8d(xy), hsum8d(gx), hsum8d(gy)};
    return d;
}

/* Möbius addition a (+) b = (A a + B b) / D = (B u + U a) / D with u = a + b and U = A - B. */
typedef struct {
    double A, B, D, U;
} hyp_mobius;

/* From the dots aa, bb, ab (exp_map, whose b is a scaled v). */
AGK_INLINE hyp_mobius hyp_mobius_of(double c, double aa, double bb, double ab) {
    hyp_mobius m;
    m.A = 1.0 + 2.0 * c * ab + c * bb;
    m.B = 1.0 - c * aa;
    m.U = m.A - m.B;
    double d = 1.0 + 2.0 * c * ab + c * c * aa * bb;
    m.D = d > HYP_MIN_NORM ? d : HYP_MIN_NORM;
    return m;
}

/* The dots of a row pair with u = s x + y formed element by element (exact in double for float32
 * rows, however close s x comes to -y): |x|^2, |y|^2, <x, u>, |u|^2, each in the fixed order. */
typedef struct {
    double xx, yy, xu, uu;
} hyp_udots;

AGK_INLINE hyp_udots hyp_u_reduce(const float *x, double s, const float *y, uint32_t dim) {
    v8d xx = {0}, yy = {0}, xu = {0}, uu = {0}, sv = v8d_splat(s);
    HYP_FOR(dim) {
        v8d xv = hyp_load(x + i_, r_), yv = hyp_load(y + i_, r_), u = sv * xv + yv;
        xx += xv * xv;
        yy += yv * yv;
        xu += xv * u;
        uu += u * u;
    }
    hyp_udots d = {hsum8d(xx), hsum8d(yy), hsum8d(xu), hsum8d(uu)};
    return d;
}

/* From |a|^2, <a, u> and |u|^2 (u = a + b): U = c|u|^2, B = 1 - c|a|^2, A = B + U and
 * D = (B + c<a,u>)^2 + c^2 (|a|^2 |u|^2 - <a,u>^2), the expanded 1 + 2c<a,b> + c^2|a|^2|b|^2 rewritten
 * (Lagrange's identity) so that nothing cancels when a nears -b near the boundary: there D is of
 * order |u|^2 and the expanded form loses about 1e-16 / |u|^2 of it. */
AGK_INLINE hyp_mobius hyp_mobius_u(double c, double aa, double au, double uu) {
    hyp_mobius m;
    m.U = c * uu;
    m.B = 1.0 - c * aa;
    m.A = m.B + m.U;
    double e = m.B + c * au, lag = aa * uu - au * au;
    double d = e * e + c * c * (lag > 0.0 ? lag : 0.0);
    m.D = d > HYP_MIN_NORM ? d : HYP_MIN_NORM;
    return m;
}

/* w = a (+) b with a = sa * x (sa = 1 or -1), recomputed element by element as (B u + U a) / D
 * (u = a + b), and its dots with itself, g, a and b. */
typedef struct {
    double ww, wg, wa, wb;
} hyp_wdots;

AGK_INLINE hyp_wdots hyp_w_reduce(const float *x, double sa, const float *y, double sb, const float *g,
                                  hyp_mobius m, uint32_t dim) {
    v8d ww = {0}, wg = {0}, wa = {0}, wb = {0};
    v8d U = v8d_splat(m.U), B = v8d_splat(m.B), D = v8d_splat(m.D), sav = v8d_splat(sa), sbv = v8d_splat(sb);
    HYP_FOR(dim) {
        v8d a = sav * hyp_load(x ? x + i_ : 0, r_), b = sbv * hyp_load(y + i_, r_);
        v8d w = (B * (a + b) + U * a) / D;
        ww += w * w;
        wg += w * hyp_load(g ? g + i_ : 0, r_);
        wa += w * a;
        wb += w * b;
    }
    hyp_wdots d = {hsum8d(ww), hsum8d(wg), hsum8d(wa), hsum8d(wb)};
    return d;
}

/* The vector-Jacobian product of w = a (+) b for an upstream G given by its dots G.a, G.b, G.w:
 * dL/da = pG G + pa a + pb b, dL/db = qG G + qa a + qb b (the chain rule through num / D). */
typedef struct {
    double pG, pa, pb, qG, qa, qb;
} hyp_vjp;

AGK_INLINE hyp_vjp hyp_mobius_vjp(double c, double aa, double bb, hyp_mobius m, double Ga, double Gb, double Gw) {
    hyp_vjp v;
    double k = 2.0 * c / m.D;
    v.pG = m.A / m.D;
    v.pa = -k * (Gb + c * bb * Gw);
    v.pb = k * (Ga - Gw);
    v.qG = m.B / m.D;
    v.qa = k * (Ga - Gw);
    v.qb = k * (Ga - c * aa * Gw);
    return v;
}

/* out = cg g + cx x + cy y, element-wise in double, rounded once (x, g may be 0: zeros). */
AGK_INLINE void hyp_combine(const float *g, double cg, const float *x, double cx, const float *y, double cy,
                            uint32_t dim, float *out) {
    v8d gv = v8d_splat(cg), xv = v8d_splat(cx), yv = v8d_splat(cy);
    HYP_FOR(dim) {
        v8d r = gv * hyp_load(g ? g + i_ : 0, r_) + xv * hyp_load(x ? x + i_ : 0, r_) + yv * hyp_load(y + i_, r_);
        hyp_store(out + i_, r, r_);
    }
}

/* out = cu u + cx x with u = s x + y formed element by element, rounded once. */
AGK_INLINE void hyp_combine_u(const float *x, double s, const float *y, double cu, double cx, uint32_t dim,
                              float *out) {
    v8d sv = v8d_splat(s), uv = v8d_splat(cu), xv = v8d_splat(cx);
    HYP_FOR(dim) {
        v8d a = hyp_load(x + i_, r_), u = sv * a + hyp_load(y + i_, r_);
        hyp_store(out + i_, uv * u + xv * a, r_);
    }
}

/* ---- scalar functions in double: our own, never libm ---- */

/* 2^k for an integer k in [-1022, 1023], from its bits. */
AGK_INLINE double hyp_pow2(int32_t k) {
    union { uint64_t u; double d; } v = {(uint64_t)(k + 1023) << 52};
    return v.d;
}

/* e^x - 1 for 0 <= x <= 700: x = k ln2 + r, |r| <= ln2 / 2 (ln2 in two parts, fdlibm's),
 * e^r - 1 by its Taylor series to r^14 (error below 2^-56 relative), then 2^k (e^r - 1) + (2^k - 1). */
AGK_INLINE double hyp_expm1(double x) {
    const double magic = 6755399441055744.0;   /* 1.5 * 2^52: adding it rounds to an integer */
    double kf = (x * 1.4426950408889634 + magic) - magic;
    double r = (x - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10;
    double p = 1.0 / 87178291200.0;
    p = p * r + 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r * r + r;
    int32_t k = (int32_t)kf;
    if (k == 0) return p;
    double s = hyp_pow2(k);
    return s * p + (s - 1.0);
}

/* artanh(s) = sum_j s^(2j+1) / (2j+1) for |s| <= 0.1716, to j = 12 (error below 2^-60 relative). */
AGK_INLINE double hyp_atanh_series(double s) {
    double z = s * s, p = 1.0 / 25.0;
    p = p * z + 1.0 / 23.0;
    p = p * z + 1.0 / 21.0;
    p = p * z + 1.0 / 19.0;
    p = p * z + 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    return s + s * (p * z);
}

/* log(y) for a normal y > 0: y = m 2^e with m in [sqrt(1/2), sqrt(2)], log m = 2 artanh((m - 1) / (m + 1)). */
AGK_INLINE double hyp_log(double y) {
    union { double d; uint64_t u; } v = {y};
    int32_t e = (int32_t)((v.u >> 52) & 0x7ff) - 1023;
    v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double m = v.d;
    if (m > 1.4142135623730951) {
        m = m * 0.5;
        e = e + 1;
    }
    double s = (m - 1.0) / (m + 1.0), fe = (double)e;
    return fe * 6.93147180369123816490e-01 + (fe * 1.90821492927058770002e-10 + 2.0 * hyp_atanh_series(s));
}

/* artanh(z) for 0 <= z < 1: the series below 0.1716, else log((1 + z) / (1 - z)) / 2. */
AGK_INLINE double hyp_atanh(double z) {
    if (z < 0.1716) return hyp_atanh_series(z);
    return 0.5 * hyp_log((1.0 + z) / (1.0 - z));
}

AGK_INLINE double hyp_sqrt(double x) { return __builtin_sqrt(x); }

AGK_INLINE double hyp_max(double a, double b) { return a > b ? a : b; }

/* tanh(a) and sech(a)^2 for a >= 0 from E = e^(2a) - 1: E / (E + 2) and 4 (E + 1) / (E + 2)^2. */
AGK_INLINE void hyp_tanh_sech2(double a, double *t, double *sech2) {
    double e = hyp_expm1(2.0 * (a < 300.0 ? a : 300.0));
    *t = e / (e + 2.0);
    *sech2 = 4.0 * (e + 1.0) / ((e + 2.0) * (e + 2.0));
}

/* (T'(a) / a) for T(a) = tanh(a) / a: (a sech^2 a - tanh a) / a^3, by its series below 0.05. */
AGK_INLINE double hyp_tanh_q(double a, double t, double sech2) {
    if (a < 0.05) {
        double z = a * a;
        return -2.0 / 3.0 + z * (8.0 / 15.0 + z * (-102.0 / 315.0 + z * (496.0 / 2835.0 + z * (-13820.0 / 155925.0))));
    }
    return (a * sech2 - t) / (a * a * a);
}

/* Q(z) = H'(z) / z for H(z) = artanh(z) / z: (1 / (1 - z^2) - H) / z^2, by its series
 * sum_j 2j / (2j + 1) z^(2j - 2) below 0.1. */
AGK_INLINE double hyp_atanh_q(double z, double h) {
    if (z < 0.1) {
        double s = z * z, p = 18.0 / 19.0;
        p = p * s + 16.0 / 17.0;
        p = p * s + 14.0 / 15.0;
        p = p * s + 12.0 / 13.0;
        p = p * s + 10.0 / 11.0;
        p = p * s + 8.0 / 9.0;
        p = p * s + 6.0 / 7.0;
        p = p * s + 4.0 / 5.0;
        return p * s + 2.0 / 3.0;
    }
    return (1.0 / ((1.0 - z) * (1.0 + z)) - h) / (z * z);
}

/* sqrt(c) |w| clamped into [sqrt(c) 1e-15, 1 - 1e-15]; *sn gets |w| clamped below at 1e-15. */
AGK_INLINE double hyp_scaled_norm(double sqrt_c, double ww, double *sn) {
    *sn = hyp_max(hyp_sqrt(ww), HYP_MIN_NORM);
    double z = sqrt_c * *sn;
    return z < HYP_ARTANH_MAX ? z : HYP_ARTANH_MAX;
}

#define HYP_ROW(p, i) ((p) ? (p) + (uintptr_t)(i) * dim : 0)

/* ---- the ops ---- */

uint32_t agk_ball_check_f32(const float *x, uint32_t n, uint32_t dim, float c) {
    double cd = c;
    for (uint32_t i = 0; i < n; i++) {
        hyp_dots d = hyp_reduce(0, HYP_ROW(x, i), 0, dim);
        if (!(1.0 - cd * d.yy > 0.0)) return i;
    }
    return n;
}

void agk_mobius_add_f32(const float *x, const float *y, uint32_t n, uint32_t dim, float c, float *out) {
    double cd = c;
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = HYP_ROW(x, i), *yi = HYP_ROW(y, i);
        hyp_udots d = hyp_u_reduce(xi, 1.0, yi, dim);
        hyp_mobius m = hyp_mobius_u(cd, d.xx, d.xu, d.uu);
        hyp_combine_u(xi, 1.0, yi, m.B / m.D, m.U / m.D, dim, out + (uintptr_t)i * dim);
    }
}

void agk_mobius_add_backward_f32(const float *x, const float *y, const float *g, uint32_t n, uint32_t dim, float c,
                                 float *dx, float *dy) {
    double cd = c;
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = HYP_ROW(x, i), *yi = HYP_ROW(y, i), *gi = HYP_ROW(g, i);
        hyp_dots d = hyp_reduce(xi, yi, gi, dim);
        hyp_udots u = hyp_u_reduce(xi, 1.0, yi, dim);
        hyp_mobius m = hyp_mobius_u(cd, u.xx, u.xu, u.uu);
        hyp_wdots w = hyp_w_reduce(xi, 1.0, yi, 1.0, gi, m, dim);
        hyp_vjp v = hyp_mobius_vjp(cd, d.xx, d.yy, m, d.gx, d.gy, w.wg);
        hyp_combine(gi, v.pG, xi, v.pa, yi, v.pb, dim, dx + (uintptr_t)i * dim);
        hyp_combine(gi, v.qG, xi, v.qa, yi, v.qb, dim, dy + (uintptr_t)i * dim);
    }
}

/* exp_x(v): lam = 2 / max(1 - c|x|^2, 1e-15), |v| clamped at 1e-15, a = sqrt(c) lam |v| / 2,
 * s = tanh(a) / (sqrt(c) |v|) v, out = x (+) s (x 0: the origin). */
typedef struct {
    double lam, vn, a, t, sech2, k;
} hyp_exp;

AGK_INLINE hyp_exp hyp_exp_of(double c, double sqrt_c, double xx, double vv) {
    hyp_exp e;
    e.lam = 2.0 / hyp_max(1.0 - c * xx, HYP_MIN_NORM);
    e.vn = hyp_max(hyp_sqrt(vv), HYP_MIN_NORM);
    e.a = sqrt_c * (e.lam / 2.0 * e.vn);
    hyp_tanh_sech2(e.a, &e.t, &e.sech2);
    e.k = e.t / (sqrt_c * e.vn);
    return e;
}

void agk_exp_map_f32(const float *x, const float *v, uint32_t n, uint32_t dim, float c, float *out) {
    double cd = c, sqrt_c = hyp_sqrt(cd);
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = HYP_ROW(x, i), *vi = HYP_ROW(v, i);
        hyp_dots d = hyp_reduce(xi, vi, 0, dim);
        hyp_exp e = hyp_exp_of(cd, sqrt_c, d.xx, d.yy);
        hyp_mobius m = hyp_mobius_of(cd, d.xx, e.k * e.k * d.yy, e.k * d.xy);
        hyp_combine(0, 0.0, xi, m.A / m.D, vi, m.B / m.D * e.k, dim, out + (uintptr_t)i * dim);
    }
}

void agk_exp_map_backward_f32(const float *x, const float *v, const float *g, uint32_t n, uint32_t dim, float c,
                              float *dx, float *dv) {
    double cd = c, sqrt_c = hyp_sqrt(cd);
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = HYP_ROW(x, i), *vi = HYP_ROW(v, i), *gi = HYP_ROW(g, i);
        hyp_dots d = hyp_reduce(xi, vi, gi, dim);
        hyp_exp e = hyp_exp_of(cd, sqrt_c, d.xx, d.yy);
        double ss = e.k * e.k * d.yy, xs = e.k * d.xy, gs = e.k * d.gy;
        hyp_mobius m = hyp_mobius_of(cd, d.xx, ss, xs);
        double gw = (m.A * d.gx + m.B * gs) / m.D;   /* g . (x (+) s), s a multiple of v */
        hyp_vjp p = hyp_mobius_vjp(cd, d.xx, ss, m, d.gx, gs, gw);
        /* dL/ds = qG g + qa x + qb s; s = k(|v|, lam) v */
        double gsv = p.qG * d.gy + p.qa * d.xy + p.qb * e.k * d.yy;
        double h = e.lam / 2.0;
        double dk = h * h * h * cd * hyp_tanh_q(e.a, e.t, e.sech2);   /* (dk / d|v|) / |v| */
        hyp_combine(gi, e.k * p.qG, xi, e.k * p.qa, vi, e.k * p.qb * e.k + gsv * dk, dim, dv + (uintptr_t)i * dim);
        if (dx) {
            /* dk / dlam = sech^2(a) / 2, dlam / dx = lam^2 c x */
            double lx = gsv * (e.sech2 / 2.0) * (e.lam * e.lam * cd);
            hyp_combine(gi, p.pG, xi, p.pa + lx, vi, p.pb * e.k, dim, dx + (uintptr_t)i * dim);
        }
    }
}

/* w = (-x) (+) y of one row pair, what log_map and the distance start from: the row dots (g's
 * too when given), the Mobius coefficients, w's dots, |w| (sn) and z = sqrt(c) |w|. */
typedef struct { hyp_dots d; hyp_mobius m; hyp_wdots w; double sn, z; } hyp_gyro;
AGK_INLINE hyp_gyro hyp_gyro_of(const float *x, const float *y, const float *g, double c, double sqrt_c, uint32_t dim) {
    hyp_gyro r;
    r.d = hyp_reduce(x, y, g, dim);
    hyp_udots u = hyp_u_reduce(x, -1.0, y, dim);   /* a = -x, u = y - x: <a, u> = -<x, u> */
    r.m = hyp_mobius_u(c, u.xx, -u.xu, u.uu);
    r.w = hyp_w_reduce(x, -1.0, y, 1.0, g, r.m, dim);
    r.z = hyp_scaled_norm(sqrt_c, r.w.ww, &r.sn);
    return r;
}

/* log_x(y): w = (-x) (+) y, out = max(1 - c|x|^2, 1e-15) artanh(z) / (sqrt(c) |w|) w, z = sqrt(c) |w|. */
void agk_log_map_f32(const float *x, const float *y, uint32_t n, uint32_t dim, float c, float *out) {
    double cd = c, sqrt_c = hyp_sqrt(cd);
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = HYP_ROW(x, i), *yi = HYP_ROW(y, i);
        hyp_gyro r = hyp_gyro_of(xi, yi, 0, cd, sqrt_c, dim);
        double f = hyp_max(1.0 - cd * r.d.xx, HYP_MIN_NORM) * hyp_atanh(r.z) / (sqrt_c * r.sn);
        hyp_combine_u(xi, -1.0, yi, f * r.m.B / r.m.D, -f * r.m.U / r.m.D, dim, out + (uintptr_t)i * dim);
    }
}

void agk_log_map_backward_f32(const float *x, const float *y, const float *g, uint32_t n, uint32_t dim, float c,
                              float *dx, float *dy) {
    double cd = c, sqrt_c = hyp_sqrt(cd);
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = HYP_ROW(x, i), *yi = HYP_ROW(y, i), *gi = HYP_ROW(g, i);
        hyp_gyro r = hyp_gyro_of(xi, yi, gi, cd, sqrt_c, dim);
        double mm = hyp_max(1.0 - cd * r.d.xx, HYP_MIN_NORM);
        double hz = hyp_atanh(r.z) / (sqrt_c * r.sn), f = mm * hz;
        /* dL/dw = f g + gam w, then through w = a (+) b with a = -x, b = y */
        double gam = mm * cd * hyp_atanh_q(r.z, hz) * r.w.wg;
        double Ga = -f * r.d.gx + gam * r.w.wa, Gb = f * r.d.gy + gam * r.w.wb, Gw = f * r.w.wg + gam * r.w.ww;
        hyp_vjp p = hyp_mobius_vjp(cd, r.d.xx, r.d.yy, r.m, Ga, Gb, Gw);
        /* dL/da = pG (f g + gam (A a + B b) / D) + pa a + pb b, likewise dL/db; a = -x */
        double ua = p.pG * gam * r.m.A / r.m.D + p.pa, ub = p.pG * gam * r.m.B / r.m.D + p.pb;
        double va = p.qG * gam * r.m.A / r.m.D + p.qa, vb = p.qG * gam * r.m.B / r.m.D + p.qb;
        hyp_combine(gi, p.qG * f, xi, -va, yi, vb, dim, dy + (uintptr_t)i * dim);
        if (dx) {
            double lm = 1.0 - cd * r.d.xx > HYP_MIN_NORM ? -2.0 * cd * hz * r.w.wg : 0.0;   /* through 1 - c|x|^2 */
            hyp_combine(gi, -p.pG * f, xi, ua + lm, yi, -ub, dim, dx + (uintptr_t)i * dim);
        }
    }
}

/* d(x, y) = 2 / sqrt(c) artanh(z), z = sqrt(c) |(-x) (+) y|, in its closed form: with u = y - x
 * (element by element), p = c|u|^2, q = mx my (m = max(1 - c|.|^2, 1e-15)) and S = p + q,
 * z^2 = p / S and 1 - z^2 = q / S, so artanh(z) = log((1 + z)^2 S / q) / 2 (the series below
 * 0.1716) takes 1 - z^2 from q, never from z: no cancellation and no clamp of z, so distinct points
 * near the boundary keep distinct distances (geoopt's Mobius form cancels there) and d(x, x) = 0.
 * This is arcosh(1 + 2c|x - y|^2 / (mx my)) / sqrt(c). */
typedef struct { hyp_udots d; double mx, my, s, z; } hyp_dist;

AGK_INLINE hyp_dist hyp_dist_of(const float *x, const float *y, double c, uint32_t dim) {
    hyp_dist r;
    r.d = hyp_u_reduce(x, -1.0, y, dim);
    r.mx = hyp_max(1.0 - c * r.d.xx, HYP_MIN_NORM);
    r.my = hyp_max(1.0 - c * r.d.yy, HYP_MIN_NORM);
    double p = c * r.d.uu;
    r.s = p + r.mx * r.my;
    r.z = hyp_sqrt(p / r.s);
    return r;
}

void agk_poincare_distance_f32(const float *x, const float *y, uint32_t n, uint32_t dim, float c, float *out) {
    double cd = c, sqrt_c = hyp_sqrt(cd);
    for (uint32_t i = 0; i < n; i++) {
        hyp_dist r = hyp_dist_of(HYP_ROW(x, i), HYP_ROW(y, i), cd, dim);
        double at = r.z < 0.1716 ? hyp_atanh_series(r.z)
                                 : 0.5 * hyp_log((1.0 + r.z) * (1.0 + r.z) * r.s / (r.mx * r.my));
        out[i] = (float)(2.0 / sqrt_c * at);
    }
}

void agk_poincare_distance_backward_f32(const float *x, const float *y, const float *g, uint32_t n, uint32_t dim,
                                        float c, float *dx, float *dy) {
    double cd = c;
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = HYP_ROW(x, i), *yi = HYP_ROW(y, i);
        hyp_dist r = hyp_dist_of(xi, yi, cd, dim);
        /* of arcosh(1 + 2c|u|^2 / (mx my)) / sqrt(c): dd/dx = k ((x - y) + (c|u|^2 / mx) x), dd/dy =
         * k ((y - x) + (c|u|^2 / my) y), k = 2 / (|u| sqrt(S)); 0 at x = y (a cusp, like |u|'s) and
         * through a clamped m */
        double k = r.d.uu > 0.0 ? (double)g[i] * 2.0 / (hyp_sqrt(r.d.uu) * hyp_sqrt(r.s)) : 0.0;
        double bx = 1.0 - cd * r.d.xx > HYP_MIN_NORM ? k * cd * r.d.uu / r.mx : 0.0;
        double by = 1.0 - cd * r.d.yy > HYP_MIN_NORM ? k * cd * r.d.uu / r.my : 0.0;
        hyp_combine_u(xi, -1.0, yi, -k, bx, dim, dx + (uintptr_t)i * dim);         /* -k u + bx x */
        hyp_combine_u(yi, -1.0, xi, -k, by, dim, dy + (uintptr_t)i * dim);         /* k u + by y */
    }
}

/* geoopt's project: |x| clamped at 1e-15; rows longer than (1 - eps) / sqrt(c) become x / |x| * that. */
void agk_project_to_ball_f32(const float *x, uint32_t n, uint32_t dim, float c, float eps, float *out) {
    double maxnorm = (1.0 - (double)eps) / hyp_sqrt((double)c);
    for (uint32_t i = 0; i < n; i++) {
        const float *xi = HYP_ROW(x, i);
        float *o = out + (uintptr_t)i * dim;
        hyp_dots d = hyp_reduce(0, xi, 0, dim);
        double nrm = hyp_max(hyp_sqrt(d.yy), HYP_MIN_NORM);
        if (nrm > maxnorm) {
            v8d nv = v8d_splat(nrm), mv = v8d_splat(maxnorm);
            HYP_FOR(dim) { hyp_store(o + i_, hyp_load(xi + i_, r_) / nv * mv, r_); }
        } else if (o != xi) {
            for (uint32_t j = 0; j < dim; j++) o[j] = xi[j];
        }
    }
}
