/* One thread's f32 multiply-add ceiling on AVX-512 (bench/bench_gemm.py builds and times it):
 * 12 independent zmm accumulators, 16 lanes each, per step
 *   kind 0: vmulps reg + vaddps    (agk_gemm_f32's rule: a multiply, then an add)
 *   kind 1: vmulps m32{1to16} + vaddps   (its 12 x 1 tile: the A value broadcast by the multiply)
 *   kind 2: vbroadcastss once, two vmulps reg + two vaddps (a 6 x 2 tile's separate broadcast)
 *   kind 3: vfmadd231ps reg   (what torch's MKL/oneDNN kernels run)
 * Returns seconds for n steps (192 multiply-adds each). Not part of the kernel. */
#include <time.h>
#include <immintrin.h>

static float buf[1024] __attribute__((aligned(64)));

#define ACC "+v"(a[0]), "+v"(a[1]), "+v"(a[2]), "+v"(a[3]), "+v"(a[4]), "+v"(a[5]), \
            "+v"(a[6]), "+v"(a[7]), "+v"(a[8]), "+v"(a[9]), "+v"(a[10]), "+v"(a[11])
#define TMP "zmm20", "zmm21", "zmm22", "zmm23", "zmm24", "zmm25", "zmm26", "zmm27", "zmm28", "zmm29", "zmm30", "zmm31"
/* a temporary per accumulator (t = 20 + x), as a compiler allocates them */
#define MA(x, t) "vmulps %13, %14, %%zmm" #t "\n vaddps %%zmm" #t ", %" #x ", %" #x "\n"
#define MB(off, x, t) "vmulps " #off "(%12)%{1to16%}, %13, %%zmm" #t "\n vaddps %%zmm" #t ", %" #x ", %" #x "\n"
#define M2(off, x, y, b, t, u) "vbroadcastss " #off "(%12), %%zmm" #b "\n vmulps %%zmm" #b ", %13, %%zmm" #t \
    "\n vaddps %%zmm" #t ", %" #x ", %" #x "\n vmulps %%zmm" #b ", %14, %%zmm" #u "\n vaddps %%zmm" #u ", %" #y ", %" #y "\n"
#define FM(x) "vfmadd231ps %13, %14, %" #x "\n"

/* one loop per kind, so each keeps its accumulators in registers */
#define PEAK_LOOP(NAME, BODY)                                                          \
    static void NAME(long n) {                                                         \
        __m512 a[12], w = _mm512_set1_ps(1.0001f), v = _mm512_set1_ps(0.9999f);         \
        for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);                  \
        const float *p = buf;                                                          \
        for (long s = 0; s < n; s++) __asm__ volatile(BODY : ACC : "r"(p), "v"(w), "v"(v) : TMP); \
        for (int i = 0; i < 12; i++) buf[1000] += a[i][0];                             \
    }
PEAK_LOOP(peak_mul_add, MA(0, 20) MA(1, 21) MA(2, 22) MA(3, 23) MA(4, 24) MA(5, 25) MA(6, 26) MA(7, 27) MA(8, 28)
                        MA(9, 29) MA(10, 30) MA(11, 31))
PEAK_LOOP(peak_mul_bcast_add, MB(0, 0, 20) MB(256, 1, 21) MB(512, 2, 22) MB(768, 3, 23) MB(1024, 4, 24)
                              MB(1280, 5, 25) MB(1536, 6, 26) MB(1792, 7, 27) MB(2048, 8, 28) MB(2304, 9, 29)
                              MB(2560, 10, 30) MB(2816, 11, 31))
PEAK_LOOP(peak_bcast_mul2_add2, M2(0, 0, 1, 20, 21, 22) M2(256, 2, 3, 23, 24, 25) M2(512, 4, 5, 26, 27, 28)
                                M2(768, 6, 7, 29, 30, 31) M2(1024, 8, 9, 20, 21, 22) M2(1280, 10, 11, 23, 24, 25))
PEAK_LOOP(peak_fma, FM(0) FM(1) FM(2) FM(3) FM(4) FM(5) FM(6) FM(7) FM(8) FM(9) FM(10) FM(11))

double agk_bench_peak(int kind, long n) {
    static void (*const loops[4])(long) = {peak_mul_add, peak_mul_bcast_add, peak_bcast_mul2_add2, peak_fma};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    loops[kind & 3](n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
}
