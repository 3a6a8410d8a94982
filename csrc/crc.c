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
    return ~crc_slice8(crc32_ieee_table, ~crc, data, len);
}
