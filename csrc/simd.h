/* Vector types and helpers shared by every kernel file.
 *
 * All float work goes through v16f, a 16-lane GCC/clang vector: wasm lowers it to four
 * v128, SSE2 to four xmm, AVX2 to two ymm, AVX-512 to one zmm. The lane arithmetic is
 * IEEE per lane, so every lowering gives the same bits as long as the reduction order
 * (lane accumulation, then hsum16's fixed tree) is the same and nothing is contracted
 * into an FMA (-ffp-contract=off natively; wasm has no FMA without relaxed-simd).
 */
#ifndef AGK_SIMD_H
#define AGK_SIMD_H

#include "agentdb_kernel.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

#define AGK_INLINE static inline __attribute__((always_inline))
#define AGK_LANES 16
/* Rows scored together per query (independent accumulators, so no effect on results):
 * 4 suits AVX-512's 32 registers; in wasm a v16f is four v128 and x86 hosts have 16 xmm,
 * where one row at a time measured fastest under wasmtime (bench/bench_kernel.py). */
#ifndef AGK_GROUP
#if defined(__wasm__)
#define AGK_GROUP 1
#else
#define AGK_GROUP 4
#endif
#endif

/* The most rows one row kernel scores together (scans use AGK_GROUP, graph walks WALK_ROWS). */
#define AGK_MAX_ROWS 4

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef int8_t v16b __attribute__((vector_size(16)));
typedef int16_t v16s __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
/* Unaligned, alias-safe views for loads and stores from caller buffers. */
typedef float v16f_u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int8_t v16b_u __attribute__((vector_size(16), aligned(1), may_alias));
typedef uint64_t u64_u __attribute__((aligned(1), may_alias));

/* One ISA per build (from -march); the native build compiles the kernel once per x86-64
 * level and picks one at load (build/build_native.py). */

AGK_INLINE v16f v16f_zero(void) { return (v16f){0}; }
AGK_INLINE v16f v16f_splat(float s) { return (v16f){0} + s; }
AGK_INLINE v16f v16f_load(const float *p) { return *(const v16f_u *)p; }
AGK_INLINE void v16f_store(float *p, v16f v) { *(v16f_u *)p = v; }

typedef float v4f_u __attribute__((vector_size(16), aligned(4), may_alias));

/* Up to 4 floats from p into a zero-filled v4f (never reads past p + n). */
AGK_INLINE v4f v4f_load_upto(const float *p, uint32_t n) {
    if (n >= 4) return *(const v4f_u *)p;
    v4f v = {0.0f, 0.0f, 0.0f, 0.0f};
    for (uint32_t i = 0; i < n; i++) v[i] = p[i];
    return v;
}

/* Loads r < 16 floats and zero-fills the remaining lanes, whole 4-float chunks at a time
 * (a scalar insert per lane made short rows, e.g. 8-float PQ subspaces, several times slower). */
AGK_INLINE v16f v16f_load_tail(const float *p, uint32_t r) {
    v4f c0 = v4f_load_upto(p, r);
    v4f c1 = r > 4 ? v4f_load_upto(p + 4, r - 4) : (v4f){0.0f, 0.0f, 0.0f, 0.0f};
    v4f c2 = r > 8 ? v4f_load_upto(p + 8, r - 8) : (v4f){0.0f, 0.0f, 0.0f, 0.0f};
    v4f c3 = r > 12 ? v4f_load_upto(p + 12, r - 12) : (v4f){0.0f, 0.0f, 0.0f, 0.0f};
    v8f lo = __builtin_shufflevector(c0, c1, 0, 1, 2, 3, 4, 5, 6, 7);
    v8f hi = __builtin_shufflevector(c2, c3, 0, 1, 2, 3, 4, 5, 6, 7);
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

AGK_INLINE void v16f_store_tail(float *p, v16f v, uint32_t r) {
    for (uint32_t i = 0; i < r; i++) p[i] = v[i];
}

/* 16 int8 codes widened to floats. Both compilers scalarise __builtin_convertvector from
 * int8 vectors, so each gets the form it vectorises; the conversion is exact either way. */
#if defined(__wasm_simd128__)
AGK_INLINE v16f v16b_to_f(const int8_t *p) {
    v128_t b = wasm_v128_load(p);
    v128_t lo = wasm_i16x8_extend_low_i8x16(b), hi = wasm_i16x8_extend_high_i8x16(b);
    v4f f0 = (v4f)wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo));
    v4f f1 = (v4f)wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo));
    v4f f2 = (v4f)wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi));
    v4f f3 = (v4f)wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi));
    v8f a = __builtin_shufflevector(f0, f1, 0, 1, 2, 3, 4, 5, 6, 7);
    v8f c = __builtin_shufflevector(f2, f3, 0, 1, 2, 3, 4, 5, 6, 7);
    return __builtin_shufflevector(a, c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
#else
AGK_INLINE v16f v16b_to_f(const int8_t *p) {
    v16s s = __builtin_convertvector(*(const v16b_u *)p, v16s); /* GCC: vpmovsxbw, vpmovsxwd, vcvtdq2ps */
    return __builtin_convertvector(__builtin_convertvector(s, v16i), v16f);
}
#endif

AGK_INLINE v16f v16b_to_f_tail(const int8_t *p, uint32_t r) {
    v16f v = v16f_zero();
    for (uint32_t i = 0; i < r; i++) v[i] = (float)p[i];
    return v;
}

/* The fixed horizontal sum: halves added pairwise, 16 -> 8 -> 4 -> 2 -> 1. */
AGK_INLINE float hsum16(v16f v) {
    v8f a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
            __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    v4f b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    float c0 = b[0] + b[2];
    float c1 = b[1] + b[3];
    return c0 + c1;
}

/* Lane-wise select without the vector ?: operator, which GCC's C front end lacks. */
AGK_INLINE v16f v16f_select(v16i mask, v16f a, v16f b) {
    return (v16f)(((v16i)a & mask) | ((v16i)b & ~mask));
}
#if defined(__wasm_simd128__)
/* The selects below in one instruction per v128: pmin(b, a) = a < b ? a : b, pmax(b, a) =
 * b < a ? a : b, lane for lane the same value (NaN and -0 included) as the bit selects. */
#define V16F_Q(v, q) __builtin_shufflevector(v, v, 4 * (q), 4 * (q) + 1, 4 * (q) + 2, 4 * (q) + 3)
#define V16F_PAIRWISE(OP, a, b)                                                                         \
    do {                                                                                                \
        v4f r0 = (v4f)OP((v128_t)V16F_Q(b, 0), (v128_t)V16F_Q(a, 0));                                  \
        v4f r1 = (v4f)OP((v128_t)V16F_Q(b, 1), (v128_t)V16F_Q(a, 1));                                  \
        v4f r2 = (v4f)OP((v128_t)V16F_Q(b, 2), (v128_t)V16F_Q(a, 2));                                  \
        v4f r3 = (v4f)OP((v128_t)V16F_Q(b, 3), (v128_t)V16F_Q(a, 3));                                  \
        v8f lo = __builtin_shufflevector(r0, r1, 0, 1, 2, 3, 4, 5, 6, 7);                               \
        v8f hi = __builtin_shufflevector(r2, r3, 0, 1, 2, 3, 4, 5, 6, 7);                               \
        return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);   \
    } while (0)
AGK_INLINE v16f v16f_min(v16f a, v16f b) { V16F_PAIRWISE(wasm_f32x4_pmin, a, b); }
AGK_INLINE v16f v16f_max(v16f a, v16f b) { V16F_PAIRWISE(wasm_f32x4_pmax, a, b); }
#undef V16F_PAIRWISE
#undef V16F_Q
#else
AGK_INLINE v16f v16f_min(v16f a, v16f b) { return v16f_select(a < b, a, b); }
AGK_INLINE v16f v16f_max(v16f a, v16f b) { return v16f_select(a > b, a, b); }
#endif

AGK_INLINE float agk_sqrtf(float x) { return __builtin_sqrtf(x); }

/* Asks for the cache lines of a row ahead of use (natively; wasm has no prefetch, and a
 * prefetch never faults, so reaching past the end of the data is harmless). */
AGK_INLINE void prefetch_bytes(const void *p, uint32_t nbytes) {
    for (uint32_t o = 0; o < nbytes; o += 64) __builtin_prefetch((const char *)p + o);
}

AGK_INLINE int bitmap_has(const uint8_t *bitmap, uint32_t row) {
    return (bitmap[row >> 3] >> (row & 7)) & 1;
}

/* A quiet NaN built from bits, so no libc or math.h is needed. */
AGK_INLINE float agk_nan(void) {
    union { uint32_t u; float f; } v = {0x7fc00000u};
    return v.f;
}

AGK_INLINE float agk_inf(void) {
    union { uint32_t u; float f; } v = {0x7f800000u};
    return v.f;
}

#endif
