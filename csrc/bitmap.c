/* Metadata filters evaluated over whole columns into bitmaps, and the bitmap algebra that
 * combines them: a filter costs a few passes over columns, never a Python loop per row. */

void agk_mask_range_f64(const double *col, uint32_t n, const double *bounds, uint32_t flags,
                        uint8_t *out) {
    const double lo = bounds[0], hi = bounds[1];
    const int lo_incl = flags & 1, hi_incl = (flags >> 1) & 1;
    for (uint32_t b = 0; b < (n + 7) / 8; b++) {
        uint32_t byte = 0;
        for (uint32_t t = 0; t < 8 && b * 8 + t < n; t++) {
            double v = col[b * 8 + t];
            int ok = (lo_incl ? v >= lo : v > lo) && (hi_incl ? v <= hi : v < hi); /* NaN fails both */
            byte |= (uint32_t)ok << t;
        }
        out[b] = (uint8_t)byte;
    }
}

void agk_mask_codes_u32(const uint32_t *col, uint32_t n, const uint8_t *code_set, uint32_t n_codes,
                        uint8_t *out) {
    for (uint32_t b = 0; b < (n + 7) / 8; b++) {
        uint32_t byte = 0;
        for (uint32_t t = 0; t < 8 && b * 8 + t < n; t++) {
            uint32_t c = col[b * 8 + t];
            byte |= (uint32_t)(c < n_codes && bitmap_has(code_set, c)) << t;
        }
        out[b] = (uint8_t)byte;
    }
}

void agk_bitmap_and(const uint8_t *a, const uint8_t *b, uint32_t n_bytes, uint8_t *out) {
    for (uint32_t i = 0; i < n_bytes; i++) out[i] = a[i] & b[i];
}

void agk_bitmap_or(const uint8_t *a, const uint8_t *b, uint32_t n_bytes, uint8_t *out) {
    for (uint32_t i = 0; i < n_bytes; i++) out[i] = a[i] | b[i];
}

void agk_bitmap_andnot(const uint8_t *a, const uint8_t *b, uint32_t n_bytes, uint8_t *out) {
    for (uint32_t i = 0; i < n_bytes; i++) out[i] = a[i] & (uint8_t)~b[i];
}

uint32_t agk_bitmap_count(const uint8_t *a, uint32_t n_bytes) {
    uint32_t count = 0, i = 0;
    for (; i + 8 <= n_bytes; i += 8) count += (uint32_t)__builtin_popcountll(*(const u64_u *)(a + i));
    for (; i < n_bytes; i++) count += (uint32_t)__builtin_popcount(a[i]);
    return count;
}

uint32_t agk_bitmap_rows(const uint8_t *a, uint32_t n, uint32_t *rows) {
    uint32_t count = 0;
    for (uint32_t b = 0; b < (n + 7) / 8; b++) {
        uint32_t byte = a[b];
        while (byte) {
            uint32_t r = b * 8 + (uint32_t)__builtin_ctz(byte);
            if (r >= n) break;
            rows[count++] = r;
            byte &= byte - 1;
        }
    }
    return count;
}

void agk_copy_strided(const uint8_t *src, uint32_t src_stride, uint8_t *dst, uint32_t dst_stride,
                      uint32_t width, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *from = src + (uintptr_t)i * src_stride;
        uint8_t *to = dst + (uintptr_t)i * dst_stride;
        for (uint32_t b = 0; b < width; b++) to[b] = from[b];
    }
}

int32_t agk_gather_rows(const uint8_t *src, uint32_t row_bytes, uint32_t n_src, const uint32_t *rows,
                        uint32_t n, uint8_t *dst) {
    int32_t rc = check_subset(rows, n, n_src);
    if (rc) return rc;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *from = src + (uintptr_t)rows[i] * row_bytes;
        uint8_t *to = dst + (uintptr_t)i * row_bytes;
        for (uint32_t b = 0; b < row_bytes; b++) to[b] = from[b];
    }
    return (int32_t)n;
}
