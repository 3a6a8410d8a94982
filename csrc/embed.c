/* The offline text embedder (agk_embed_hash): deterministic feature hashing over the UTF-8
 * bytes, so the browser and native builds give the same vector for the same text. */

#define AGK_FNV_OFFSET 2166136261u
#define AGK_FNV_PRIME 16777619u
#define AGK_MAX_TOKEN 64u       /* longer tokens are hashed on their first 64 bytes */

AGK_INLINE uint32_t fnv1a(uint32_t h, const uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * AGK_FNV_PRIME;
    return h;
}

AGK_INLINE uint8_t token_byte(uint8_t c) {
    if (c >= 'A' && c <= 'Z') return (uint8_t)(c + 32);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) return c;
    return 0;
}

AGK_INLINE void add_feature(float *out, uint32_t dim, uint32_t h, float weight) {
    out[h % dim] += (h >> 31) ? -weight : weight;
}

int32_t agk_embed_hash(const uint8_t *text, uint32_t len, uint32_t dim, float *out) {
    if (dim == 0) return AGK_E_DIM;
    for (uint32_t d = 0; d < dim; d++) out[d] = 0.0f;
    uint8_t token[AGK_MAX_TOKEN + 2];
    uint32_t features = 0, prev_hash = 0, have_prev = 0, i = 0;
    while (i < len) {
        while (i < len && !token_byte(text[i])) i++;
        uint32_t n = 0;
        token[0] = ' ';
        while (i < len && token_byte(text[i])) {
            if (n < AGK_MAX_TOKEN) token[1 + n++] = token_byte(text[i]);
            i++;
        }
        if (n == 0) break;
        token[1 + n] = ' ';
        uint32_t h = fnv1a(AGK_FNV_OFFSET ^ 0x9e3779b9u, token + 1, n);       /* the token */
        add_feature(out, dim, h, 1.0f);
        features++;
        if (have_prev) {                                                       /* the pair */
            uint8_t pair[8];
            for (uint32_t b = 0; b < 4; b++) pair[b] = (uint8_t)(prev_hash >> (8 * b)), pair[4 + b] = (uint8_t)(h >> (8 * b));
            add_feature(out, dim, fnv1a(AGK_FNV_OFFSET ^ 0x85ebca6bu, pair, 8), 1.0f);
            features++;
        }
        for (uint32_t c = 0; c + 3 <= n + 2; c++) {                             /* trigrams of " token " */
            add_feature(out, dim, fnv1a(AGK_FNV_OFFSET ^ 0xc2b2ae35u, token + c, 3), 0.5f);
            features++;
        }
        prev_hash = h, have_prev = 1;
    }
    if (features) agk_normalize_f32(out, dim, out);
    return (int32_t)features;
}
