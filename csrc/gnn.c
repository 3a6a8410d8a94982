/* GAT-style message passing over ragged neighbourhoods (agentdb.nn.gnn's GNNLayer): the
 * per-node logits, softmax and weighted sums in one call instead of one Python step per node,
 * the backward alike, the row-wise layer-norm backward and the dropout keep mask.
 *
 * Neighbourhood i is nbr[off[i] .. off[i+1]) (the caller puts i itself first). Per (edge, head)
 * values sit in "alpha layout": node i's block starts at heads * off[i], head h's row of d_i =
 * off[i+1] - off[i] values at heads * off[i] + h * d_i. Every sum runs in a fixed order (nodes,
 * then heads, then the neighbourhood's order; dots with dot1's lane tree), so the bits depend
 * on nothing else and a node's forward on its own neighbourhood alone. */

AGK_INLINE int32_t gat_check(const uint32_t *off, const uint32_t *nbr, uint32_t n) {
    if (off[0] != 0) return AGK_E_ARG;
    for (uint32_t i = 0; i < n; i++) {
        if (off[i + 1] < off[i]) return AGK_E_ARG;
        for (uint32_t p = off[i]; p < off[i + 1]; p++)
            if (nbr[p] >= n) return AGK_E_RANGE;
    }
    return AGK_OK;
}

/* c = (alpha w) keep: the coefficient a message is scaled by (w and keep 0 mean ones). */
AGK_INLINE float gat_coef(float alpha, const float *w, const float *keep, uint32_t p, uint32_t q) {
    float c = w ? alpha * w[p] : alpha;
    return keep ? c * keep[q] : c;
}

int32_t agk_gat_forward_f32(const float *st, const float *z, const uint32_t *off, const uint32_t *nbr,
                            const float *w, const float *keep, uint32_t n, uint32_t heads, uint32_t head_dim,
                            float slope, float *pre, float *alpha, float *h) {
    int32_t rc = gat_check(off, nbr, n);
    if (rc < 0) return rc;
    uint32_t H = heads, D = heads * head_dim;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t o = off[i], d = off[i + 1] - o;
        for (uint32_t hh = 0; hh < H; hh++) {
            uintptr_t row = (uintptr_t)H * o + (uintptr_t)hh * d;
            float s = st[(uintptr_t)i * 2 * H + hh];
            for (uint32_t jj = 0; jj < d; jj++) {
                float u = s + st[(uintptr_t)nbr[o + jj] * 2 * H + H + hh];
                pre[row + jj] = u;
                alpha[row + jj] = u > 0.0f ? u : u * slope;
            }
            agk_softmax_f32(alpha + row, d, alpha + row);
            float *out = h + (uintptr_t)i * D + (uintptr_t)hh * head_dim;
            for (uint32_t k = 0; k < head_dim; k++) out[k] = 0.0f;
            for (uint32_t jj = 0; jj < d; jj++) {
                float c = gat_coef(alpha[row + jj], w, keep, o + jj, (uint32_t)(row + jj));
                const float *zj = z + (uintptr_t)nbr[o + jj] * D + (uintptr_t)hh * head_dim;
                for (uint32_t k = 0; k < head_dim; k++) out[k] = out[k] + c * zj[k];
            }
        }
    }
    return AGK_OK;
}

int32_t agk_gat_backward_f32(const float *dh, const float *z, const uint32_t *off, const uint32_t *nbr,
                             const float *w, const float *keep, const float *pre, const float *alpha, uint32_t n,
                             uint32_t heads, uint32_t head_dim, float slope, float *dcoef, float *dz, float *dst,
                             float *dw) {
    int32_t rc = gat_check(off, nbr, n);
    if (rc < 0) return rc;
    uint32_t H = heads, D = heads * head_dim;
    for (uintptr_t p = 0; p < (uintptr_t)n * D; p++) dz[p] = 0.0f;
    for (uintptr_t p = 0; p < (uintptr_t)n * 2 * H; p++) dst[p] = 0.0f;
    if (dw)
        for (uint32_t p = 0; p < off[n]; p++) dw[p] = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t o = off[i], d = off[i + 1] - o;
        for (uint32_t hh = 0; hh < H; hh++) {
            uintptr_t row = (uintptr_t)H * o + (uintptr_t)hh * d;
            const float *g = dh + (uintptr_t)i * D + (uintptr_t)hh * head_dim;
            double dot = 0.0;   /* sum_j alpha_j dalpha_j, in neighbourhood order */
            for (uint32_t jj = 0; jj < d; jj++) {
                uint32_t j = nbr[o + jj];
                const float *zj = z + (uintptr_t)j * D + (uintptr_t)hh * head_dim;
                float dc = dot1(g, zj, head_dim);   /* dL/dc_ij = dh_i^h . z_j^h */
                dcoef[row + jj] = dc;
                float a = alpha[row + jj], kq = keep ? keep[row + jj] : 1.0f;
                if (dw) dw[o + jj] = dw[o + jj] + a * kq * dc;
                float da = (w ? dc * w[o + jj] : dc) * kq;   /* dL/dalpha_ij */
                dot += (double)a * (double)da;
                float c = gat_coef(a, w, keep, o + jj, (uint32_t)(row + jj));
                float *dzj = dz + (uintptr_t)j * D + (uintptr_t)hh * head_dim;
                for (uint32_t k = 0; k < head_dim; k++) dzj[k] = dzj[k] + c * g[k];
            }
            for (uint32_t jj = 0; jj < d; jj++) {
                float a = alpha[row + jj], kq = keep ? keep[row + jj] : 1.0f;
                float da = (w ? dcoef[row + jj] * w[o + jj] : dcoef[row + jj]) * kq;
                float de = (float)((double)a * ((double)da - dot));
                float du = pre[row + jj] > 0.0f ? de : de * slope;
                dst[(uintptr_t)i * 2 * H + hh] += du;
                dst[(uintptr_t)nbr[o + jj] * 2 * H + H + hh] += du;
            }
        }
    }
    return AGK_OK;
}

/* Per row of v = the layer norm's input (n x dim), in double: xhat = (v - mean) rstd,
 * dv = rstd (g gamma - mean(g gamma) - xhat mean(g gamma xhat)); gx = g xhat (its column sums are
 * dgamma). gamma 0 means ones. */
void agk_layer_norm_rows_backward_f32(const float *v, const float *g, const float *gamma, uint32_t n,
                                      uint32_t dim, float eps, float *dv, float *gx) {
    for (uint32_t i = 0; i < n; i++) {
        const float *a = v + (uintptr_t)i * dim, *gi = g + (uintptr_t)i * dim;
        double mu = 0.0, var = 0.0, mg = 0.0, mgx = 0.0;
        for (uint32_t p = 0; p < dim; p++) mu += a[p];
        mu /= dim;
        for (uint32_t p = 0; p < dim; p++) var += (a[p] - mu) * (a[p] - mu);
        var /= dim;
        double rstd = 1.0 / __builtin_sqrt(var + (double)eps);
        for (uint32_t p = 0; p < dim; p++) {
            double gg = (double)gi[p] * (gamma ? (double)gamma[p] : 1.0);
            mg += gg;
            mgx += gg * ((a[p] - mu) * rstd);
        }
        mg /= dim;
        mgx /= dim;
        for (uint32_t p = 0; p < dim; p++) {
            double xhat = (a[p] - mu) * rstd, gg = (double)gi[p] * (gamma ? (double)gamma[p] : 1.0);
            dv[(uintptr_t)i * dim + p] = (float)(rstd * (gg - mg - xhat * mgx));
            gx[(uintptr_t)i * dim + p] = (float)((double)gi[p] * xhat);
        }
    }
}

/* count dropout multipliers from agentdb.learn.rng's SplitMix64 (state = {low, high} words,
 * advanced in place): out = 0 where the draw's top 24 bits are below threshold, else scale. */
void agk_dropout_keep_f32(uint32_t *state, uint32_t count, uint32_t threshold, float scale, float *out) {
    uint64_t s = (uint64_t)state[0] | (uint64_t)state[1] << 32;
    for (uint32_t p = 0; p < count; p++) {
        s += 0x9E3779B97F4A7C15ull;
        uint64_t x = s;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        x ^= x >> 31;
        out[p] = (uint32_t)(x >> 40) < threshold ? 0.0f : scale;
    }
    state[0] = (uint32_t)s;
    state[1] = (uint32_t)(s >> 32);
}

/* Neighbourhoods from a CSR adjacency (offsets checked by the caller: n + 1 of them from 0, non-
 * decreasing): node i, then its targets in order, repeats and self loops dropped; src[p] is the
 * targets position nbr[p] came from, offsets[n] (one past the last) for the self term. mark holds
 * n words of scratch. nbr and src need offsets[n] + n slots. Returns the entries written (off[n]),
 * or AGK_E_RANGE for a target >= n. */
int32_t agk_gat_neighbourhoods(const uint32_t *offsets, const uint32_t *targets, uint32_t n, uint32_t *mark,
                               uint32_t *off, uint32_t *nbr, uint32_t *src) {
    uint32_t e = offsets[n], q = 0;
    for (uint32_t p = 0; p < e; p++)
        if (targets[p] >= n) return AGK_E_RANGE;
    for (uint32_t i = 0; i < n; i++) mark[i] = 0;
    off[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        mark[i] = i + 1;          /* stamp i + 1: "already in node i's neighbourhood" */
        nbr[q] = i;
        src[q++] = e;
        for (uint32_t p = offsets[i]; p < offsets[i + 1]; p++) {
            uint32_t j = targets[p];
            if (mark[j] == i + 1) continue;
            mark[j] = i + 1;
            nbr[q] = j;
            src[q++] = p;
        }
        off[i + 1] = q;
    }
    return (int32_t)q;
}
