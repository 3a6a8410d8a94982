/* agentdb kernel: one freestanding C unit (no libc), compiled to wasm32 + simd128 and, through
 * cffi, natively with run-time dispatch to AVX-512 / AVX2 / baseline.
 *
 * Determinism rules (a store answers with the same bits in the browser and natively):
 *  1. Float work uses the fixed 16-lane vector v16f (simd.h), whatever the hardware width.
 *  2. A reduction accumulates lane-wise over 16-float blocks in index order, adds one
 *     zero-padded tail block, then sums lanes with hsum16's fixed tree. Nothing else reorders.
 *  3. No FMA contraction: natively -ffp-contract=off (and the pragma below for clang);
 *     wasm simd128 has no fused multiply-add.
 *  4. Only correctly rounded IEEE operations (+ - * / sqrt, int<->float conversions); exp and
 *     log are our own polynomials, never libm calls.
 * Each op's formula is in its doc comment in agentdb_kernel.h or next to its code.
 */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include "simd.h"

#include "scan.c"
#include "quant.c"
#include "bitmap.c"
#include "hnsw.c"
#include "crc.c"
#include "mathops.c"
#include "embed.c"
#include "gemm.c"
#include "learn.c"
#include "hyperbolic.c"
#include "graph.c"
#include "attention.c"
#include "rope.c"   /* after hyperbolic.c: uses hyp_log, hyp_expm1 */
#include "gnn.c"
#include "sparse_attention.c"

uint32_t agk_abi_version(void) { return AGK_ABI_VERSION; }
                         
                         /* The instruction set this build of the kernel was compiled for. */
                         uint32_t agk_features(void) {
#if defined(__wasm_simd128__)
    return AGK_F_SIMD128;
#elif defined(__x86_64__) && defined(__GNUC__)
    uint32_t f = AGK_F_SSE2;
#if defined(__AVX512F__)
    f |= AGK_F_AVX512;
#elif defined(__AVX2__)
    f |= AGK_F_AVX2;
#endif
    if (crc_hw_available()) f |= AGK_F_CRC32_HW;
    return f;
#else
    return 0;
#endif
}
