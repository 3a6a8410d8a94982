/* Dense layers: GEMM over pre-packed weights, and the row ops of a BERT encoder around it.
 *
 * Bit-identity with wide SIMD: the GEMM vectorises across OUTPUT COLUMNS, so each output
 * element lives in one lane of one accumulator and is computed in one fixed order,
 *     acc = 0; for p = 0 .. k-1: acc = acc + a[i,p] * w[p,j]   (a multiply, then an add)
 *     out[i,j] = act(acc + bias[j])
 * whatever the register blocking, the ISA or the vector width: lanes never meet. Blocking over
 * k stores the running sum in `out` and loads it back, which is exact. Only the tile shapes
 * (how many rows and columns are in registers at once) differ between builds.
 *
 * Packed weights: the k x n matrix W in panels of 16 columns, panel q holding rows p = 0..k-1
 * of columns 16q..16q+15 contiguously, zero-padded past column n:
 *     packed[(q * k + p) * 16 + l] = W[p, 16q + l]   (0 when 16q + l >= n)
 * so a tile reads each of its panels as one sequential stream, 64 bytes per step of p.
 */

#define GEMM_PANEL 16

/* Register tiles: GEMM_MR rows of A by GEMM_NR panels (16 columns each) of accumulators.
 * AVX-512: 12 rows x 1 panel, each multiply taking its A value as an embedded broadcast
 * (vmulps m32{1to16}), one panel load per 12 multiplies. On Zen 4 that loop's multiply and add
 * reach the FMA peak (59.1 GMAC/s both, bench/bench_gemm.py), but a separate vbroadcastss zmm
 * takes an FP pipe slot: 6, 8 and 12 rows x 2 panels (one broadcast for two panels, as clang
 * emits them) ran at 0.58-0.66x of 12 x 1 on an attention pass (120 x 64 x 64) and at best equal
 * elsewhere; 14 x 1 and unrolling p by 2 or 4 were no faster, and A packed per block (one
 * pointer, constant offsets) slower at n = 64 (its copy outweighs the reuse over 4 panels).
 * With 16 ymm (AVX2) a v16f is two registers, with 16 xmm (SSE2, wasm on x86
 * hosts) four: fewer rows and a single panel, so nothing spills. wasm: 5 rows x 8 columns,
 * 10 accumulators + 2 panel vectors + A + a product = the 15 xmm V8 allocates (6 rows spilled;
 * 5 was 5-15% faster than 4 in V8, bench/dense_wasm.mjs). */
#ifndef GEMM_MR
#if defined(__AVX512F__)
#define GEMM_MR 12
#elif defined(__AVX2__)
#define GEMM_MR 4
#elif defined(__wasm__)
#define GEMM_MR 5
#else
#define GEMM_MR 4
#endif
#endif
#ifndef GEMM_NR
#define GEMM_NR 1
#endif
/* GEMM_VW: 16 for tiles of v16f accumulators (GEMM_MR rows by GEMM_NR panels); 4 or 8 for
 * tiles of narrower vectors, GEMM_MR rows by GEMM_NC chunks of GEMM_VW columns of one panel */
#ifndef GEMM_VW
#if defined(__wasm__) || !defined(__AVX2__)
#define GEMM_VW 4
#else
#define GEMM_VW 16
#endif
#endif
#ifndef GEMM_NC
#define GEMM_NC (16 / GEMM_VW / 2)
#endif
#define GEMM_NARROW (GEMM_VW < 16)
/* GEMM_PACK_A (the narrow tiles): each GEMM_MC x GEMM_KC block of A is first copied to the
 * stack, tile by tile with a tile's GEMM_MR values of one p side by side, so a tile reads A
 * through one pointer (wasm engines keep few addresses in registers). Copies broadcast to all
 * lanes (plain loads instead of load32_splat) measured no faster in V8 and need 4x the stack. */
#define GEMM_PACK_A GEMM_NARROW

/* Cache blocks: GEMM_KC steps of p per pass (a tile's panels, GEMM_KC x 16 floats each, stay
 * in L1 while GEMM_MC rows of A stream past them from L2). 384 natively: MiniLM's k = 384 in
 * one pass, measured 5-15% faster than 192 or 256 on Zen 4 (bench/bench_dense.py); wasm keeps
 * its stack buffers small. */
#ifndef GEMM_KC
#if GEMM_PACK_A
#define GEMM_KC 192
#else
#define GEMM_KC 384
#endif
#endif
#ifndef GEMM_MC
#if GEMM_PACK_A
#define GEMM_MC (GEMM_MR * (32 / GEMM_MR))   /* whole tiles; the packed block lives on the stack (wasm's is 64 KiB) */
#else
#define GEMM_MC 96
#endif
#endif

/* ---- GELU, exact (erf) form -------------------------------------------------------------
 * gelu(x) = x/2 (1 + erf(x / sqrt 2)):
 *   |x| < GELU_SPLIT:  erf(x / sqrt 2) = x * P(x^2), odd polynomial;  gelu = x/2 + x/2 * x P(x^2)
 *   |x| >= GELU_SPLIT: erfc(|x| / sqrt 2) = exp(-x^2 / 2) * t * Q(t), t = 1 / (1 + GELU_T |x|);
 *                      gelu = x - x/2 erfc for x > 0, x/2 erfc for x < 0 (no cancellation)
 * x^2 / 2 is split as hi + lo with hi exact (x truncated to 12 bits, squared), and exp takes
 * both parts, so the large exponents of the tail lose no accuracy. */

/* erf(x / sqrt 2) / x as a polynomial in x^2, for |x| < 1 (z < 0.7071) */
#define GELU_SPLIT 1.0f
/* t = 1 / (1 + GELU_T |x|); erfc(|x| / sqrt 2) exp(x^2 / 2) = t * Q(t) for 1 <= |x| <= 14.5 */
#define GELU_T 0.35f
/* past 14.5, erfc(|x| / sqrt 2) < 1e-46 is 0 in float32 */
#define GELU_XMAX 14.5f

/* exp(hi + lo) for |lo| << |hi|: v16f_exp with lo added after the range reduction, so an input
 * known to more than float32 precision keeps it (|error| of exp(hi) alone ~ |hi| * 2^-24). */
AGK_INLINE v16f v16f_exp_hilo(v16f hi, v16f lo) {
    v16f k = exp_k(exp_clamp(hi + lo));
    return exp_scaled(k, exp_reduce(exp_clamp(hi), k) + lo);
}

AGK_INLINE v16f v16f_abs(v16f x) { return (v16f)((v16i)x & 0x7fffffff); }

/* GELU, exact form: x/2 (1 + erf(x / sqrt 2)), within ~5 ulp of the true value everywhere
 * (tests/test_kernel_dense.py). Both branches are computed and one is selected per lane. */
AGK_INLINE v16f v16f_gelu_erf(v16f x) {
    v16f h = v16f_splat(0.5f) * x, s = x * x;
    v16f p = v16f_splat(-1.530860027e-05f);
    p = p * s + v16f_splat(2.269732504e-04f);
    p = p * s + v16f_splat(-2.372660441e-03f);
    p = p * s + v16f_splat(1.994664781e-02f);
    p = p * s + v16f_splat(-1.329807192e-01f);
    p = p * s + v16f_splat(7.978845835e-01f);
    v16f near = h + h * (x * p);
    v16f ax = v16f_min(v16f_abs(x), v16f_splat(GELU_XMAX));
    v16f t = v16f_splat(1.0f) / (v16f_splat(1.0f) + v16f_splat(GELU_T) * ax);
    v16f q = v16f_splat(-4.633595049e-02f);
    q = q * t + v16f_splat(2.475717664e-01f);
    q = q * t + v16f_splat(-4.545794129e-01f);
    q = q * t + v16f_splat(2.751000226e-01f);
    q = q * t + v16f_splat(-2.698488347e-02f);
    q = q * t + v16f_splat(2.059713602e-01f);
    q = q * t + v16f_splat(2.404095680e-01f);
    q = q * t + v16f_splat(2.796699405e-01f);
    q = q * t + v16f_splat(2.792440951e-01f);
    v16f xh = (v16f)((v16i)ax & (int32_t)0xfffff000), xl = ax - xh;   /* xh * xh is exact */
    v16f e = v16f_exp_hilo(v16f_splat(-0.5f) * (xh * xh), v16f_splat(-0.5f) * (xl * (ax + xh)));
    v16f he = h * (e * (t * q));                                       /* x/2 erfc(|x| / sqrt 2) */
    v16f far = v16f_select(x > v16f_zero(), x - he, he);
    return v16f_select(v16f_abs(x) < v16f_splat(GELU_SPLIT), near, far);
}

void agk_gelu_erf_f32(const float *a, uint32_t n, float *out) {
#define GELU_ERF_EXPR(L) v16f_gelu_erf(L(a + i_))
    ELEMENTWISE(n, GELU_ERF_EXPR);
}

/* ---- packing ------------------------------------------------------------------------------ */

/* W given as k x n row-major (w_is_nk = 0) or as n x k (w_is_nk = 1: a torch Linear weight,
 * [out, in]) into the panel layout above. */
#define PACK_GEMM(T)                                                                                 \
    {                                                                                                \
        uint32_t panels = (n + GEMM_PANEL - 1) / GEMM_PANEL;                                         \
        for (uint32_t q = 0; q < panels; q++) {                                                      \
            T *dst = packed + (uintptr_t)q * k * GEMM_PANEL;                                         \
            for (uint32_t p = 0; p < k; p++)                                                         \
                for (uint32_t l = 0; l < GEMM_PANEL; l++) {                                          \
                    uint32_t j = q * GEMM_PANEL + l;                                                 \
                    dst[(uintptr_t)p * GEMM_PANEL + l] =                                             \
                        j >= n ? (T)0 : w_is_nk ? w[(uintptr_t)j * k + p] : w[(uintptr_t)p * n + j]; \
                }                                                                                    \
        }                                                                                            \
    }

void agk_pack_gemm_f32(const float *w, uint32_t k, uint32_t n, uint32_t w_is_nk, float *packed) PACK_GEMM(float)
void agk_pack_gemm_i8(const int8_t *w, uint32_t k, uint32_t n, uint32_t w_is_nk, int8_t *packed) PACK_GEMM(int8_t)

/* ---- the GEMM ----------------------------------------------------------------------------- */

/* A block of up to 16 per-column values (zeros when p is 0). */
AGK_INLINE v16f gemm_cols(const float *p, uint32_t cols) {
    if (!p) return v16f_zero();
    return cols == GEMM_PANEL ? v16f_load(p) : v16f_load_tail(p, cols);
}

/* acc + bias, or acc * scale + bias for int8 weights (scale != 0); scale and bias point at
 * the block's first column. The activation follows (gemm_act). */
AGK_INLINE v16f gemm_affine(v16f acc, const float *scale, const float *bias, uint32_t cols) {
    if (scale) acc = acc * gemm_cols(scale, cols);
    return acc + gemm_cols(bias, cols);
}

/* The activation over an mr x cols block of out (cols <= 16 * GEMM_NR), in place while it is in
 * L1: one call, not GELU's code inlined per accumulator into every tile shape. */
__attribute__((noinline)) static void gemm_act(float *c, uint32_t ldc, uint32_t mr, uint32_t cols, uint32_t act) {
    if (act != AGK_ACT_GELU) return;
    for (uint32_t i = 0; i < mr; i++) agk_gelu_erf_f32(c + (uintptr_t)i * ldc, cols, c + (uintptr_t)i * ldc);
}

/* A float in every lane (v16f_splat adds it to a zero vector, which costs a scalar add). */
AGK_INLINE v16f gemm_bcast(const float *p) {
    float x = *p;
    return (v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}
#if GEMM_VW == 8
typedef v8f gvec;
typedef float gvec_u __attribute__((vector_size(32), aligned(4), may_alias));
#else
typedef v4f gvec;
typedef v4f_u gvec_u;
#endif

AGK_INLINE gvec gvec_bcast(const float *p) {
#if defined(__wasm_simd128__)
    return (gvec)wasm_v128_load32_splat(p);   /* one load; engines do not fuse a load and a splat */
#else
    float x = *p;
#if GEMM_VW == 8
    return (gvec){x, x, x, x, x, x, x, x};
#else
    return (gvec){x, x, x, x};
#endif
#endif
}

/* The epilogue over an mr x 16 block of sums in memory (the narrow tiles' finish). */
AGK_INLINE void gemm_finish_block(uint32_t mr, float *c, uint32_t ldc, uint32_t cols, const float *scale,
                                  const float *bias, uint32_t act) {
    for (uint32_t i = 0; i < mr; i++) {
        float *ci = c + (uintptr_t)i * ldc;
        if (cols == GEMM_PANEL) v16f_store(ci, gemm_affine(v16f_load(ci), scale, bias, cols));
        else v16f_store_tail(ci, gemm_affine(v16f_load_tail(ci, cols), scale, bias, cols), cols);
    }
    gemm_act(c, ldc, mr, cols, act);
}

#if GEMM_NARROW
/* Hides a pointer's value from the optimiser after each step of the loop. wasm folds a constant
 * offset into a load only when the add cannot wrap, and LLVM's loop strength reduction rewrote
 * each address of the tile into an add of its own (an extra instruction per load in V8); an
 * opaque pointer keeps one base and constant offsets. Natively x86 addressing folds either way.
 * (Unrolling over p did not pay in V8: its scheduler hoists every load of the unrolled steps
 * ahead of the arithmetic, and the tile's live values then no longer fit in 16 registers.) */
#if defined(__wasm__)
#define GEMM_OPAQUE(ptr) __asm__("" : "+r"(ptr))
#else
#define GEMM_OPAQUE(ptr) (void)0
#endif

/* A tile of narrow vectors (wasm, SSE2: 16 registers of 128 bits): MR rows by NC chunks of
 * GEMM_VW columns of one panel, from w / c on; cols: valid columns from c on (may exceed the
 * tile's). a: the tile's rows packed (GEMM_PACK_A). */
AGK_INLINE void gemm_tile_narrow(const uint32_t MR, const uint32_t NC, const float *a, const float *w,
                                 uint32_t kc, float *c, uint32_t ldc, uint32_t cols, int first) {
    /* the sums start at 0 or from c; a tile past n's last column goes through part, so that
     * every access to acc has a constant index (else clang kept acc in memory) */
    gvec acc[GEMM_MR][GEMM_NC];
    float part[GEMM_MR * GEMM_NC * GEMM_VW];
    const uint32_t tw = NC * GEMM_VW;
    const int whole = cols >= tw;
    if (!first && !whole)
        for (uint32_t i = 0; i < MR; i++)
            for (uint32_t l = 0; l < tw; l++) part[i * tw + l] = l < cols ? c[(uintptr_t)i * ldc + l] : 0.0f;
    const float *src = whole ? c : part;
    const uintptr_t lds = whole ? ldc : tw;
    for (uint32_t i = 0; i < MR; i++)
        for (uint32_t j = 0; j < NC; j++)
            acc[i][j] = first ? (gvec){0} : (gvec) * (const gvec_u *)(src + i * lds + GEMM_VW * j);   /* GCC: both arms one type */
    const uintptr_t astep = GEMM_MR;   /* packed A: GEMM_MR floats per step of p */
#define GEMM_NARROW_STEP()                                                                            \
    do {                                                                                              \
        for (uint32_t i = 0; i < MR; i++) {                                                           \
            gvec av = gvec_bcast(a + i);                                                              \
            for (uint32_t j = 0; j < NC; j++) acc[i][j] += av * *(const gvec_u *)(w + GEMM_VW * j);   \
        }                                                                                             \
        a += astep;                                                                                   \
        w += GEMM_PANEL;                                                                              \
    } while (0)
    /* the last step after the loop: as a plain counted loop (or a do-while) V8 hoisted all of
     * the body's A loads to its top, and accumulators spilled (measured) */
    for (uint32_t p = 1; p < kc; p++) {
        GEMM_NARROW_STEP();
        GEMM_OPAQUE(a);
        GEMM_OPAQUE(w);
    }
    GEMM_NARROW_STEP();
#undef GEMM_NARROW_STEP
    float *dst = whole ? c : part;
    for (uint32_t i = 0; i < MR; i++)
        for (uint32_t j = 0; j < NC; j++) *(gvec_u *)(dst + i * lds + GEMM_VW * j) = acc[i][j];
    if (!whole)
        for (uint32_t i = 0; i < MR; i++)
            for (uint32_t l = 0; l < cols; l++) c[(uintptr_t)i * ldc + l] = part[i * tw + l];
}

/* The full tile as a function of its own (GEMM_NOINLINE): a wasm engine allocates registers
 * per function, and inlined into the driver the tile's accumulators were spilled. */
#ifndef GEMM_NOINLINE
#if defined(__wasm__)
#define GEMM_NOINLINE 1
#else
#define GEMM_NOINLINE 0
#endif
#endif
__attribute__((noinline)) static void gemm_tile_narrow_full(const float *a, const float *w, uint32_t kc,
                                                            float *c, uint32_t ldc, uint32_t cols, int first) {
    gemm_tile_narrow(GEMM_MR, GEMM_NC, a, w, kc, c, ldc, cols, first);
}
#endif

/* One MR x (NR panels) tile over p in [0, kc): a points at A[i0, p0] (rows lda apart), w at
 * panel q0's row p0 (panels pstride floats apart), c at out[i0, 16 q0] (rows ldc apart).
 * cols: valid columns of the last panel (16 unless n's tail). first: the sums start at 0,
 * else from c. finish: apply the epilogue (scale and bias point at column 16 q0). */
AGK_INLINE void gemm_tile(const uint32_t MR, const uint32_t NR, const float *a, uint32_t lda, const float *w,
                          uintptr_t pstride, uint32_t kc, float *c, uint32_t ldc, uint32_t cols, int first,
                          int finish, const float *scale, const float *bias, uint32_t act) {
#if GEMM_NARROW
    (void)NR; (void)pstride; (void)lda;  /* A packed; one panel at a time, GEMM_NC * GEMM_VW columns after another */
    for (uint32_t h = 0; h < GEMM_PANEL && h < cols; h += GEMM_VW * GEMM_NC)
        if (GEMM_NOINLINE && MR == GEMM_MR) gemm_tile_narrow_full(a, w + h, kc, c + h, ldc, cols - h, first);
        else gemm_tile_narrow(MR, GEMM_NC, a, w + h, kc, c + h, ldc, cols - h, first);
    if (finish) gemm_finish_block(MR, c, ldc, cols, scale, bias, act);
#else
    v16f acc[GEMM_MR][GEMM_NR];
    for (uint32_t i = 0; i < MR; i++)
        for (uint32_t j = 0; j < NR; j++) {
            float *ci = c + (uintptr_t)i * ldc + j * GEMM_PANEL;
            acc[i][j] = first ? v16f_zero() : j + 1 < NR || cols == GEMM_PANEL ? v16f_load(ci) : v16f_load_tail(ci, cols);
        }
    for (uint32_t p = 0; p < kc; p++) {
        v16f wv[GEMM_NR];
        for (uint32_t j = 0; j < NR; j++) wv[j] = v16f_load(w + j * pstride + (uintptr_t)p * GEMM_PANEL);
        for (uint32_t i = 0; i < MR; i++) {
            v16f av = gemm_bcast(a + (uintptr_t)i * lda + p);
            for (uint32_t j = 0; j < NR; j++) acc[i][j] += av * wv[j];
        }
    }
    for (uint32_t i = 0; i < MR; i++)
        for (uint32_t j = 0; j < NR; j++) {
            float *ci = c + (uintptr_t)i * ldc + j * GEMM_PANEL;
            uint32_t cj = j + 1 < NR ? GEMM_PANEL : cols;
            v16f v = acc[i][j];
            if (finish)
                v = gemm_affine(v, scale ? scale + j * GEMM_PANEL : 0, bias ? bias + j * GEMM_PANEL : 0, cj);
            if (cj == GEMM_PANEL) v16f_store(ci, v);
            else v16f_store_tail(ci, v, cj);
        }
    if (finish) gemm_act(c, ldc, MR, (NR - 1) * GEMM_PANEL + cols, act);
#endif
}

/* Dispatch to a tile with constant MR and NR (mr <= GEMM_MR, nr <= GEMM_NR), so each
 * instance keeps its accumulators in registers. */
#define GEMM_TILE_ARGS a, lda, w, pstride, kc, c, ldc, cols, first, finish, scale, bias, act
AGK_INLINE void gemm_tile_any(uint32_t mr, uint32_t nr, const float *a, uint32_t lda, const float *w,
                              uintptr_t pstride, uint32_t kc, float *c, uint32_t ldc, uint32_t cols, int first,
                              int finish, const float *scale, const float *bias, uint32_t act) {
#define GEMM_CASE_NR(R, N) \
    case R: gemm_tile((R) < GEMM_MR ? (R) : GEMM_MR, N, GEMM_TILE_ARGS); break;
#define GEMM_CASES(N)                                                                       \
    switch (mr) {                                                                           \
        GEMM_CASE_NR(1, N) GEMM_CASE_NR(2, N) GEMM_CASE_NR(3, N) GEMM_CASE_NR(4, N)         \
        GEMM_CASE_NR(5, N) GEMM_CASE_NR(6, N) GEMM_CASE_NR(7, N) GEMM_CASE_NR(8, N)         \
        GEMM_CASE_NR(9, N) GEMM_CASE_NR(10, N) GEMM_CASE_NR(11, N) GEMM_CASE_NR(12, N)      \
        GEMM_CASE_NR(13, N) GEMM_CASE_NR(14, N) GEMM_CASE_NR(15, N)                         \
        default: break;                                                                     \
    }
    if (nr == GEMM_NR) {
        if (mr == GEMM_MR) gemm_tile(GEMM_MR, GEMM_NR, GEMM_TILE_ARGS);
        else GEMM_CASES(GEMM_NR)
    }
#if GEMM_NR > 1
    else if (nr == 1) GEMM_CASES(1)
#endif
#if GEMM_NR > 2
    else if (nr == 2) GEMM_CASES(2)
#endif
#if GEMM_NR > 3
    else if (nr == 3) GEMM_CASES(3)
#endif
}

/* Stack buffers of one GEMM call: A packed a block at a time (GEMM_PACK_A), and for int8 weights
 * a tile's panels converted to floats a block at a time (exact, so the sums are those of float
 * weights). wasm's stack is 64 KiB in all, below it the kernel's static data: stay well inside. */
#define GEMM_AP_LEN (GEMM_PACK_A ? (GEMM_MC + GEMM_MR - 1) / GEMM_MR * GEMM_MR * GEMM_KC : 1)
#define GEMM_WF_LEN (GEMM_NR * GEMM_KC * GEMM_PANEL)
#if defined(__wasm__)
_Static_assert((GEMM_AP_LEN + GEMM_WF_LEN) * 4 <= 40960, "GEMM stack buffers too large for wasm's 64 KiB stack");
#endif

/* Both GEMMs: weights as float panels (wf) or int8 panels (wi, with per-column scale) packed for
 * wk >= k rows (panels wk x 16 apart: the first k rows of weights packed taller). A's rows are
 * lda apart and out's ldc (k and n for the exported GEMMs); accumulate: the sums start from out
 * instead of 0 (the k range continued exactly, as the blocking over k does). */
AGK_INLINE void gemm_run_w(const float *a, uint32_t lda, const float *wf, const int8_t *wi, const float *scale,
                           const float *bias, float *out, uint32_t ldc, uint32_t m, uint32_t k, uint32_t wk, uint32_t n,
                           uint32_t act, int accumulate) {
    uint32_t panels = (n + GEMM_PANEL - 1) / GEMM_PANEL;
    uintptr_t pstride = (uintptr_t)wk * GEMM_PANEL;
    if (k == 0) {  /* no products: out = act(0 (* scale) + bias) */
        for (uint32_t i = 0; i < m; i++)
            for (uint32_t q = 0; q < panels; q++) {
                uint32_t cols = n - q * GEMM_PANEL < GEMM_PANEL ? n - q * GEMM_PANEL : GEMM_PANEL;
                v16f v = gemm_affine(v16f_zero(), scale ? scale + q * GEMM_PANEL : 0,
                                     bias ? bias + q * GEMM_PANEL : 0, cols);
                v16f_store_tail(out + (uintptr_t)i * ldc + q * GEMM_PANEL, v, cols);
            }
        gemm_act(out, ldc, m, n, act);
        return;
    }
#if GEMM_PACK_A
    float ap[GEMM_AP_LEN] __attribute__((aligned(64)));
#endif
    float wf_block[GEMM_WF_LEN] __attribute__((aligned(64)));
    for (uint32_t p0 = 0; p0 < k; p0 += GEMM_KC) {
        uint32_t kc = k - p0 < GEMM_KC ? k - p0 : GEMM_KC;
        int first = p0 == 0 && !accumulate, finish = p0 + kc == k;
        for (uint32_t i0 = 0; i0 < m; i0 += GEMM_MC) {
            uint32_t mc = m - i0 < GEMM_MC ? m - i0 : GEMM_MC;
#if GEMM_PACK_A
            for (uint32_t i = 0; i < mc; i++)
                for (uint32_t p = 0; p < kc; p++)
                    ap[(i / GEMM_MR) * GEMM_MR * kc + p * GEMM_MR + i % GEMM_MR] = a[(uintptr_t)(i0 + i) * lda + p0 + p];
#endif
            for (uint32_t q = 0; q < panels; q += GEMM_NR) {
                uint32_t nr = panels - q < GEMM_NR ? panels - q : GEMM_NR;
                uint32_t last = q + nr - 1, cols = n - last * GEMM_PANEL < GEMM_PANEL ? n - last * GEMM_PANEL : GEMM_PANEL;
                const float *wq = wf + q * pstride + (uintptr_t)p0 * GEMM_PANEL;
                uintptr_t wstride = pstride;
                if (wi) {
                    for (uint32_t j = 0; j < nr; j++) {
                        const int8_t *src = wi + (q + j) * pstride + (uintptr_t)p0 * GEMM_PANEL;
                        for (uint32_t p = 0; p < kc; p++)
                            v16f_store(wf_block + (j * kc + p) * GEMM_PANEL, v16b_to_f(src + p * GEMM_PANEL));
                    }
                    wq = wf_block;
                    wstride = (uintptr_t)kc * GEMM_PANEL;
                }
                const float *sq = scale ? scale + q * GEMM_PANEL : 0, *bq = bias ? bias + q * GEMM_PANEL : 0;
                for (uint32_t i = i0; i < i0 + mc; i += GEMM_MR) {
                    uint32_t mr = i0 + mc - i < GEMM_MR ? i0 + mc - i : GEMM_MR;
#if GEMM_PACK_A
                    const float *ai = ap + (i - i0) * kc;
#else
                    const float *ai = a + (uintptr_t)i * lda + p0;
#endif
                    gemm_tile_any(mr, nr, ai, lda, wq, wstride, kc, out + (uintptr_t)i * ldc + q * GEMM_PANEL, ldc, cols,
                                  first, finish, sq, bq, act);
                }
            }
        }
    }
}

AGK_INLINE void gemm_run(const float *a, uint32_t lda, const float *wf, const int8_t *wi, const float *scale,
                         const float *bias, float *out, uint32_t ldc, uint32_t m, uint32_t k, uint32_t n, uint32_t act,
                         int accumulate) {
    gemm_run_w(a, lda, wf, wi, scale, bias, out, ldc, m, k, k, n, act, accumulate);
}

void agk_gemm_f32(const float *a, const float *w, const float *bias, float *out, uint32_t m, uint32_t k, uint32_t n,
                  uint32_t act) {
    gemm_run(a, k, w, 0, 0, bias, out, n, m, k, n, act, 0);
}

void agk_gemm_i8f32(const float *a, const int8_t *w, const float *scale, const float *bias, float *out, uint32_t m,
                    uint32_t k, uint32_t n, uint32_t act) {
    gemm_run(a, k, 0, w, scale, bias, out, n, m, k, n, act, 0);
}

/* ---- row ops around the GEMMs --------------------------------------------------------------- */

void agk_layer_norm_rows_f32(const float *x, const float *residual, const float *gamma, const float *beta, float eps,
                             uint32_t rows, uint32_t dim, float *out) {
    for (uint32_t r = 0; r < rows; r++) {
        const float *xr = x + (uintptr_t)r * dim;
        float *o = out + (uintptr_t)r * dim;
        if (residual) {  /* element-wise, so in place is safe */
            const float *a = xr, *b = residual + (uintptr_t)r * dim;
            float *out = o;
            ELEMENTWISE(dim, ADD_EXPR);
            xr = o;
        }
        agk_layernorm_f32(xr, dim, gamma, beta, eps, o);
    }
}

/* Checks a batch's offsets (n_seqs + 1 nondecreasing values ending <= n_rows); the longest
 * sequence's length, or -1. */
static int64_t seq_longest(const uint32_t *offsets, uint32_t n_seqs, uint32_t n_rows) {
    uint32_t longest = 0;
    for (uint32_t s = 0; s < n_seqs; s++) {
        if (offsets[s + 1] < offsets[s]) return -1;
        if (offsets[s + 1] - offsets[s] > longest) longest = offsets[s + 1] - offsets[s];
    }
    return offsets[n_seqs] > n_rows ? -1 : (int64_t)longest;
}

/* Scratch layout for sequences of up to L tokens, Lp = L rounded up to 16: the head's keys
 * transposed (head_dim x Lp, zero-padded), its values (L x head_dim), one query's scores (Lp). */
AGK_INLINE uint64_t attention_scratch(uint64_t max_len, uint64_t head_dim) {
    uint64_t lp = (max_len + AGK_LANES - 1) / AGK_LANES * AGK_LANES;
    return head_dim * lp + max_len * head_dim + lp;
}

uint32_t agk_attention_scratch_len(uint32_t max_len, uint32_t head_dim) {
    uint64_t len = attention_scratch(max_len, head_dim);
    return len > 0xffffffffu ? 0 : (uint32_t)len;
}

/* One head of one sequence of L tokens (q, k, v at its first token, rows stride apart). Scores
 * vectorise across keys (a lane per key, the dot over d in order), the weighted sum of values
 * across d; every output element is thus one lane's fixed sequence of operations. */
AGK_INLINE void attention_head(const float *q, const float *k, const float *v, uint32_t stride, uint32_t L,
                               uint32_t hd, float scale, float *scratch, float *out, uint32_t out_stride) {
    uint32_t lp = (L + AGK_LANES - 1) / AGK_LANES * AGK_LANES;
    float *kt = scratch, *vs = kt + (uintptr_t)hd * lp, *e = vs + (uintptr_t)L * hd;
    for (uint32_t d = 0; d < hd; d++) {
        for (uint32_t j = 0; j < L; j++) kt[(uintptr_t)d * lp + j] = k[(uintptr_t)j * stride + d];
        for (uint32_t j = L; j < lp; j++) kt[(uintptr_t)d * lp + j] = 0.0f;
    }
    for (uint32_t j = 0; j < L; j++)
        for (uint32_t d = 0; d < hd; d++) vs[(uintptr_t)j * hd + d] = v[(uintptr_t)j * stride + d];
    v16f sv = v16f_splat(scale);
    for (uint32_t t = 0; t < L; t++) {
        const float *qt = q + (uintptr_t)t * stride;
        v16f mv = v16f_splat(-agk_inf());
        for (uint32_t j0 = 0; j0 < lp; j0 += AGK_LANES) {
            v16f acc = v16f_zero();
            for (uint32_t d = 0; d < hd; d++) acc += gemm_bcast(qt + d) * v16f_load(kt + (uintptr_t)d * lp + j0);
            acc = sv * acc;
            if (j0 + AGK_LANES > L) {  /* padded keys: no score */
                for (uint32_t l = L - j0; l < AGK_LANES; l++) acc[l] = -agk_inf();
            }
            mv = v16f_max(mv, acc);
            v16f_store(e + j0, acc);
        }
        float mx = mv[0];
        for (uint32_t l = 1; l < AGK_LANES; l++) mx = mv[l] > mx ? mv[l] : mx;
        mv = v16f_splat(mx);
        for (uint32_t j0 = 0; j0 < lp; j0 += AGK_LANES) v16f_store(e + j0, v16f_exp(v16f_load(e + j0) - mv));
        v16f total = v16f_splat(sum_f32(e, L));
        float *o = out + (uintptr_t)t * out_stride;
        for (uint32_t d0 = 0; d0 < hd; d0 += AGK_LANES) {
            uint32_t r = hd - d0 < AGK_LANES ? hd - d0 : AGK_LANES;
            v16f acc = v16f_zero();
            if (r == AGK_LANES)
                for (uint32_t j = 0; j < L; j++) acc += gemm_bcast(e + j) * v16f_load(vs + (uintptr_t)j * hd + d0);
            else
                for (uint32_t j = 0; j < L; j++) acc += gemm_bcast(e + j) * v16f_load_tail(vs + (uintptr_t)j * hd + d0, r);
            v16f_store_tail(o + d0, acc / total, r);
        }
    }
}

int32_t agk_attention_f32(const float *q, const float *k, const float *v, uint32_t stride, const uint32_t *offsets,
                          uint32_t n_seqs, uint32_t n_tokens, uint32_t heads, uint32_t head_dim, float scale,
                          float *scratch, uint32_t scratch_len, float *out, uint32_t out_stride) {
    int64_t longest = seq_longest(offsets, n_seqs, n_tokens);
    if (longest < 0) return AGK_E_RANGE;
    if (attention_scratch((uint64_t)longest, head_dim) > scratch_len) return AGK_E_ARG;
    for (uint32_t s = 0; s < n_seqs; s++) {
        uintptr_t t0 = offsets[s];
        uint32_t L = offsets[s + 1] - offsets[s];
        for (uint32_t h = 0; h < heads && L; h++) {
            uintptr_t col = (uintptr_t)h * head_dim;
            attention_head(q + t0 * stride + col, k + t0 * stride + col, v + t0 * stride + col, stride, L, head_dim,
                           scale, scratch, out + t0 * out_stride + col, out_stride);
        }
    }
    return (int32_t)n_seqs;
}

int32_t agk_mean_pool_rows_f32(const float *x, uint32_t n_rows, uint32_t dim, const uint32_t *offsets, uint32_t n_seqs,
                               uint32_t normalize, float *out) {
    if (seq_longest(offsets, n_seqs, n_rows) < 0) return AGK_E_RANGE;
    for (uint32_t s = 0; s < n_seqs; s++) {
        uint32_t r0 = offsets[s], count = offsets[s + 1] - r0;
        float *o = out + (uintptr_t)s * dim;
        v16f cv = v16f_splat((float)count);
        for (uint32_t d0 = 0; d0 < dim; d0 += AGK_LANES) {
            uint32_t r = dim - d0 < AGK_LANES ? dim - d0 : AGK_LANES;
            v16f acc = v16f_zero();
            for (uint32_t i = r0; i < r0 + count; i++) {
                const float *xi = x + (uintptr_t)i * dim + d0;
                acc += r == AGK_LANES ? v16f_load(xi) : v16f_load_tail(xi, r);
            }
            v16f_store_tail(o + d0, count ? acc / cv : v16f_zero(), r);
        }
        if (normalize) agk_normalize_f32(o, dim, o);
    }
    return (int32_t)n_seqs;
}
