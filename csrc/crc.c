/* CRC32C (Castagnoli) and CRC-32/IEEE (zlib), both reflected, continuing from `crc`.
 * Natively CRC32C uses the SSE4.2 instruction when the CPU has it; everywhere else
 * slice-by-8 tables. All paths return the same value. */

#include "crc_tables.h"

AGK_INLINE uint32_t crc_slice8(const uint32_t (*t)[256], uint32_t c, const uint8_t *p, uint32_t len) {
    while (len && ((uintptr_t)p & 7)) {
        c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        len--;
    }
    for (; len >= 8; len -= 8, p += 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
            t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    while (len--) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define AGK_HAVE_CRC_HW 1
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const uint8_t *p, uint32_t len) {
    uint64_t c64 = c;
    for (; len >= 8; len -= 8, p += 8) c64 = __builtin_ia32_crc32di(c64, *(const u64_u *)p);
    c = (uint32_t)c64;
    while (len--) c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}

static int crc_hw_available(void) { return __builtin_cpu_supports("sse4.2"); }

/* CRC-32/IEEE by carry-less multiplication (Gopal et al., "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ", Intel 2009; the bit-reflected constants of its appendix, as in
 * zlib's crc32_simd): four 128-bit lanes fold 64 bytes a step, then fold to one lane, to 64
 * bits, and a Barrett reduction to the 32-bit register. len >= 64 and a multiple of 16; c is
 * the register (not inverted). Several times the table's speed: opening a file checks the
 * CRC of every row. */
typedef long long v2i64 __attribute__((vector_size(16)));
typedef unsigned int v4u32 __attribute__((vector_size(16)));
typedef long long v2i64_u __attribute__((vector_size(16), aligned(1), may_alias));

#define CLMUL(a, b, imm) ((v2i64)__builtin_ia32_pclmulqdq128((a), (b), (imm)))

__attribute__((target("pclmul,sse4.1"))) static uint32_t crc32_ieee_clmul(uint32_t c, const uint8_t *p, uint32_t len) {
    const v2i64 k1k2 = {0x0154442bd4LL, 0x01c6e41596LL}, k3k4 = {0x01751997d0LL, 0x00ccaa009eLL};
    const v2i64 k5k0 = {0x0163cd6124LL, 0}, poly = {0x01db710641LL, 0x01f7011641LL};
    const v2i64 low32 = (v2i64)(v4u32){~0u, 0, ~0u, 0};
    v2i64 x1 = *(const v2i64_u *)(p + 0), x2 = *(const v2i64_u *)(p + 16);
    v2i64 x3 = *(const v2i64_u *)(p + 32), x4 = *(const v2i64_u *)(p + 48);
    x1 ^= (v2i64)(v4u32){c, 0, 0, 0};
    for (p += 64, len -= 64; len >= 64; p += 64, len -= 64) {
        x1 = CLMUL(x1, k1k2, 0x11) ^ CLMUL(x1, k1k2, 0x00) ^ *(const v2i64_u *)(p + 0);
        x2 = CLMUL(x2, k1k2, 0x11) ^ CLMUL(x2, k1k2, 0x00) ^ *(const v2i64_u *)(p + 16);
        x3 = CLMUL(x3, k1k2, 0x11) ^ CLMUL(x3, k1k2, 0x00) ^ *(const v2i64_u *)(p + 32);
        x4 = CLMUL(x4, k1k2, 0x11) ^ CLMUL(x4, k1k2, 0x00) ^ *(const v2i64_u *)(p + 48);
    }
    x1 = CLMUL(x1, k3k4, 0x11) ^ CLMUL(x1, k3k4, 0x00) ^ x2;
    x1 = CLMUL(x1, k3k4, 0x11) ^ CLMUL(x1, k3k4, 0x00) ^ x3;
    x1 = CLMUL(x1, k3k4, 0x11) ^ CLMUL(x1, k3k4, 0x00) ^ x4;
    for (; len >= 16; p += 16, len -= 16) x1 = CLMUL(x1, k3k4, 0x11) ^ CLMUL(x1, k3k4, 0x00) ^ *(const v2i64_u *)p;
    /* 128 -> 64 bits: the high half moved down (a byte shift by 8), plus the low half times k4 */
    x1 = CLMUL(x1, k3k4, 0x10) ^ (v2i64){x1[1], 0};
    /* 64 -> 32 bits of remainder */
    v4u32 w = (v4u32)x1;
    x1 = CLMUL(x1 & low32, k5k0, 0x00) ^ (v2i64)(v4u32){w[1], w[2], w[3], 0};
    /* Barrett reduction */
    v2i64 t = CLMUL(x1 & low32, poly, 0x10) & low32;
    x1 ^= CLMUL(t, poly, 0x00);
    return ((v4u32)x1)[1];
}

static int clmul_available(void) { return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1"); }
#else
#define AGK_HAVE_CRC_HW 0
#endif

uint32_t agk_crc32c(uint32_t crc, const uint8_t *data, uint32_t len) {
#if AGK_HAVE_CRC_HW
    if (crc_hw_available()) return ~crc32c_hw(~crc, data, len);
#endif
    return ~crc_slice8(crc32c_table, ~crc, data, len);
}

uint32_t agk_crc32_ieee(uint32_t crc, const uint8_t *data, uint32_t len) {
    uint32_t c = ~crc;
#if AGK_HAVE_CRC_HW
    if (len >= 64 && clmul_available()) {
        uint32_t bulk = len & ~15u;
        c = crc32_ieee_clmul(c, data, bulk);
        data += bulk, len -= bulk;
    }
#endif
    return ~crc_slice8(crc32_ieee_table, c, data, len);
}
