/* agentdb kernel ABI: the only place it is written down.
 *
 * build/ derives the cffi cdef and the wasm export list from this file, so every
 * exported function is declared here on one line, and only plain #define integer
 * constants appear besides them (cffi parses both).
 *
 * Conventions (see csrc/kernel.c for the determinism rules):
 *  - the caller owns every buffer; the kernel keeps no state between calls;
 *  - counts, dimensions, indices and lengths are uint32_t (wasm32 pointers are 32-bit);
 *  - a pointer argument that is optional may be 0 (NULL);
 *  - calls that can fail return an int32_t: >= 0 is a count, < 0 is an AGK_E_* code;
 *  - scores are float; a row excluded by a bitmap gets a NaN score, which top-k never selects.
 */
#ifndef AGENTDB_KERNEL_H
#define AGENTDB_KERNEL_H

#include <stdint.h>

#define AGK_ABI_VERSION 5

#define AGK_OK 0
#define AGK_E_ARG -1
#define AGK_E_DIM -2
#define AGK_E_K -3
#define AGK_E_RANGE -4
#define AGK_E_NONFINITE -5

#define AGK_F_SIMD128 1
#define AGK_F_SSE2 2
#define AGK_F_AVX2 4
#define AGK_F_AVX512 8
#define AGK_F_CRC32_HW 16

#define AGK_METRIC_DOT 0
#define AGK_METRIC_L2 1
#define AGK_METRIC_COS 2

#define AGK_HNSW_NONE 4294967295
#define AGK_HNSW_MAX_LEVEL 31
#define AGK_HNSW_MAX_M 1024

/* info */
uint32_t agk_abi_version(void);
uint32_t agk_features(void);

/* f32 distance scans: one query against rows (or against rows[subset[j]] when subset != 0).
 * out[j] gets the score; bitmap (1 bit per row index, LSB first) excludes rows whose bit is 0. */
int32_t agk_scan_dot_f32(const float *q, const float *rows, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);
int32_t agk_scan_l2_f32(const float *q, const float *rows, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);
int32_t agk_scan_cos_f32(const float *q, const float *rows, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);

/* batch scans: m queries (row-major, m x dim) against the same rows; out is m x n_out. */
int32_t agk_scan_batch_dot_f32(const float *qs, uint32_t m, const float *rows, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);
int32_t agk_scan_batch_l2_f32(const float *qs, uint32_t m, const float *rows, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);
int32_t agk_scan_batch_cos_f32(const float *qs, uint32_t m, const float *rows, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);

/* top-k of scores[0..n): largest (largest != 0) or smallest first, ties to the lower index,
 * NaN scores skipped. Writes up to k (index, score) pairs best first; returns the count. */
int32_t agk_topk_f32(const float *scores, uint32_t n, uint32_t k, uint32_t largest, uint32_t *out_idx, float *out_scores);

/* int8 scalar quantization, per dimension: x[d] ~= lo[d] + step[d] * (code + 127), code in [-127, 127]. */
void agk_sq8_train_f32(const float *x, uint32_t n, uint32_t dim, float *lo, float *step);
void agk_sq8_encode_f32(const float *x, uint32_t n, uint32_t dim, const float *lo, const float *step, int8_t *codes);
void agk_sq8_decode_f32(const int8_t *codes, uint32_t n, uint32_t dim, const float *lo, const float *step, float *x);
/* f32 query against int8 codes: out = bias + sum_d w[d] * code[d] (w, bias prepared by the caller). */
int32_t agk_scan_dot_i8f32(const float *w, float bias, const int8_t *codes, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);
/* int8 query against int8 codes, exact integer sums (dim <= 32768): out = alpha * sum_d qc[d] * code[d] + bias. */
int32_t agk_scan_dot_i8(const int8_t *qc, float alpha, float bias, const int8_t *codes, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);
/* int8 query against int8 codes: out = alpha * sum_d (qc[d] - code[d])^2 + bias. */
int32_t agk_scan_l2_i8(const int8_t *qc, float alpha, float bias, const int8_t *codes, uint32_t n_rows, uint32_t dim, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);

/* binary quantization: bit d of a row is 1 when x[d] > 0; rows are ceil(dim / 8) bytes, LSB first. */
void agk_b1_encode_f32(const float *x, uint32_t n, uint32_t dim, uint8_t *bits);
int32_t agk_scan_hamming_b1(const uint8_t *qbits, const uint8_t *codes, uint32_t n_rows, uint32_t n_bytes, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);

/* k-means / product quantization. x rows are `stride` floats apart and `dim` floats are used. */
int32_t agk_kmeans_assign_f32(const float *x, uint32_t n, uint32_t dim, uint32_t stride, const float *centroids, uint32_t k, uint32_t *assign, float *dist);
int32_t agk_kmeans_update_f32(const float *x, uint32_t n, uint32_t dim, uint32_t stride, const uint32_t *assign, uint32_t k, float *centroids, uint32_t *counts);
/* codebooks: m x ksub x (dim / m) floats; codes: n x m bytes; 1 <= ksub <= 256.
 * The distance table is always m x 256 floats; entries for codes >= ksub are NaN, so a
 * corrupt code can never read outside the table and never ranks. */
int32_t agk_pq_encode_f32(const float *x, uint32_t n, uint32_t dim, uint32_t m, uint32_t ksub, const float *codebooks, uint8_t *codes);
int32_t agk_pq_table_f32(const float *q, uint32_t dim, uint32_t m, uint32_t ksub, const float *codebooks, uint32_t metric, float *table);
int32_t agk_scan_pq(const float *table, uint32_t m, const uint8_t *codes, uint32_t n_rows, const uint32_t *subset, uint32_t n_subset, const uint8_t *bitmap, float *out);

/* metadata filters -> bitmaps (bit i for row i, LSB first; bits past n are cleared).
 * range: bounds = {lo, hi}; flags bit 0 = lo inclusive, bit 1 = hi inclusive; NaN (a missing
 * value) never matches. codes: bit i = code_set has bit col[i] (codes >= n_codes: 0). */
void agk_mask_range_f64(const double *col, uint32_t n, const double *bounds, uint32_t flags, uint8_t *out);
void agk_mask_codes_u32(const uint32_t *col, uint32_t n, const uint8_t *code_set, uint32_t n_codes, uint8_t *out);
/* bitmap algebra over n_bytes: and, or, a and not b; count of set bits. Outputs may alias inputs. */
void agk_bitmap_and(const uint8_t *a, const uint8_t *b, uint32_t n_bytes, uint8_t *out);
void agk_bitmap_or(const uint8_t *a, const uint8_t *b, uint32_t n_bytes, uint8_t *out);
void agk_bitmap_andnot(const uint8_t *a, const uint8_t *b, uint32_t n_bytes, uint8_t *out);
uint32_t agk_bitmap_count(const uint8_t *a, uint32_t n_bytes);
/* row indices of the set bits among the first n, ascending; returns how many were written. */
uint32_t agk_bitmap_rows(const uint8_t *a, uint32_t n, uint32_t *rows);
/* dst row i = src row rows[i] for rows of row_bytes bytes (compaction, selection by filter);
 * every rows[i] must be < n_src (checked before anything is copied). */
int32_t agk_gather_rows(const uint8_t *src, uint32_t row_bytes, uint32_t n_src, const uint32_t *rows, uint32_t n, uint8_t *dst);
/* n blocks of width bytes: dst[i * dst_stride ...] = src[i * src_stride ...] (interleaving ids
 * and vectors into a VEC payload, or splitting them out of one); bounds checked by the caller. */
void agk_copy_strided(const uint8_t *src, uint32_t src_stride, uint8_t *dst, uint32_t dst_stride, uint32_t width, uint32_t n);

/* HNSW over caller-owned arrays (capacity = the most nodes the arrays hold):
 *   hdr[8]            entry node (AGK_HNSW_NONE when empty), max level, m, m0 (level-0 links), node count
 *   levels[cap]       each node's top level
 *   links0[cap*(m0+1)] level-0 lists: count, then up to m0 neighbours
 *   upper_off[cap]    where a node's level-1 list starts in `upper`; level l is (l-1)*(m+1) further
 *   upper[]           lists of levels >= 1: count, then up to m neighbours
 * scratch (agk_hnsw_scratch_bytes, set up by agk_hnsw_scratch_init) holds the visited set and heaps.
 * metric is AGK_METRIC_DOT (distance = -dot; cosine on normalised rows) or AGK_METRIC_L2.
 * Everything is deterministic: the same inserts in the same order build the same graph. */
/* scratch bytes for a capacity, ef and m, computed in 64 bits: 0 when over 4 GiB or m > AGK_HNSW_MAX_M */
uint32_t agk_hnsw_scratch_bytes(uint32_t capacity, uint32_t ef, uint32_t m);
/* AGK_E_ARG unless 1 <= ef <= capacity and 2 <= m <= AGK_HNSW_MAX_M; AGK_E_RANGE when
 * scratch_bytes (the buffer's size) is less than agk_hnsw_scratch_bytes asks */
int32_t agk_hnsw_scratch_init(uint8_t *scratch, uint32_t scratch_bytes, uint32_t capacity, uint32_t ef, uint32_t m);
/* draws levels for `count` new nodes (geometric, P(level >= l) = m^-l) from the xoshiro128**
 * state, lays out their upper lists from pool_used on; returns the new pool size in words. */
uint32_t agk_hnsw_assign_levels(uint32_t *rng_state, uint32_t m, uint32_t count, uint32_t pool_used, uint32_t *levels, uint32_t *upper_off);
/* inserts nodes first .. first+count-1 (first must equal the node count), in order; an
 * ef_construction above the scratch's capacity is searched as the capacity (the same graph). */
int32_t agk_hnsw_insert(uint32_t *hdr, const uint32_t *levels, uint32_t *links0, const uint32_t *upper_off, uint32_t *upper, const float *vectors, uint32_t dim, uint32_t metric, uint32_t first, uint32_t count, uint32_t ef_construction, uint8_t *scratch);
/* k nearest nodes whose `allowed` bit is set (allowed 0 = all), closest first, ties to the
 * lower node; out_score holds the scan's score (dot for AGK_METRIC_DOT, squared L2 for L2),
 * bit-identical to agk_scan_*_f32. The query q_in is first prepared into q as
 * agk_prepare_query_f32 does (AGK_METRIC_COS: the rows are unit length, q is normalised and
 * scored by dot), so a query is one call; AGK_E_NONFINITE when |q_in|^2 is not finite.
 * ef is raised to k and lowered to the node count (a wider beam finds the same nodes).
 * Returns the count written (<= k). The arguments that stay the same from query to query come
 * first (allowed too, for unfiltered searches), so a caller binds them once. */
int32_t agk_hnsw_search(const uint32_t *hdr, const uint32_t *levels, const uint32_t *links0, const uint32_t *upper_off, const uint32_t *upper, const float *vectors, uint32_t dim, uint32_t metric, uint8_t *scratch, const float *q_in, float *q, uint32_t *out_idx, float *out_score, const uint8_t *allowed, uint32_t k, uint32_t ef);
/* agk_hnsw_search for m queries in one call (q_in: m x dim; q: one prepared query's room):
 * query i's nodes in out_idx[i*k...], scores in out_score[i*k...], count in out_count[i].
 * Returns m, or the first AGK_E_* code (its query's count is not written). */
int32_t agk_hnsw_search_batch(const uint32_t *hdr, const uint32_t *levels, const uint32_t *links0, const uint32_t *upper_off, const uint32_t *upper, const float *vectors, uint32_t dim, uint32_t metric, uint8_t *scratch, const float *q_in, float *q, uint32_t *out_idx, float *out_score, uint32_t *out_count, const uint8_t *allowed, uint32_t k, uint32_t ef, uint32_t m);

/* validates a graph read from a file before any search trusts it: header fields, levels,
 * upper-list offsets inside pool_words, list counts within m / m0, every neighbour < the node
 * count. Returns AGK_OK or AGK_E_RANGE. */
int32_t agk_hnsw_check(const uint32_t *hdr, const uint32_t *levels, const uint32_t *links0, const uint32_t *upper_off, const uint32_t *upper, uint32_t pool_words);

/* the offline text embedder: UTF-8 text -> dim floats, L2-normalised (zero for no tokens).
 * Tokens are maximal runs of ASCII letters and digits (lower-cased) and non-ASCII bytes.
 * Features: each token (weight 1), each pair of adjacent tokens (1), each character trigram of
 * a token padded with spaces (0.5); FNV-1a 32-bit hashing with a per-kind seed picks the bucket
 * (h mod dim) and the sign (the top bit). Not semantic: similar words, not similar meanings.
 * Returns the number of features. */
int32_t agk_embed_hash(const uint8_t *text, uint32_t len, uint32_t dim, float *out);

/* checksums: continue from `crc` (0 to start). CRC32C (Castagnoli) and CRC-32/IEEE (zlib). */
uint32_t agk_crc32c(uint32_t crc, const uint8_t *data, uint32_t len);
uint32_t agk_crc32_ieee(uint32_t crc, const uint8_t *data, uint32_t len);

/* SIMD math (SimdOps). Element-wise ops may write out == a. */
float agk_dot_f32(const float *a, const float *b, uint32_t n);
float agk_cos_f32(const float *a, const float *b, uint32_t n);
float agk_l2_f32(const float *a, const float *b, uint32_t n);
void agk_matvec_f32(const float *mat, uint32_t rows, uint32_t cols, const float *v, float *out);
void agk_add_f32(const float *a, const float *b, uint32_t n, float *out);
void agk_mul_f32(const float *a, const float *b, uint32_t n, float *out);
void agk_scale_f32(const float *a, float s, uint32_t n, float *out);
/* normalize returns |a|^2 (NaN or infinity there also tells the caller the input was not finite). */
float agk_normalize_f32(const float *a, uint32_t n, float *out);
void agk_normalize_rows_f32(float *x, uint32_t n, uint32_t dim);
/* a query as searches read it: in copied to out (out == in allowed), normalised when
 * `normalize` is set (as agk_normalize_f32); returns |in|^2, which is finite exactly when every
 * element is, barring overflow of huge values. */
float agk_prepare_query_f32(const float *in, uint32_t n, uint32_t normalize, float *out);
/* out[i] = |row i|^2, in the scans' reduction order. */
void agk_norms_sq_f32(const float *x, uint32_t n, uint32_t dim, float *out);
void agk_relu_f32(const float *a, uint32_t n, float *out);
void agk_gelu_f32(const float *a, uint32_t n, float *out);
void agk_sigmoid_f32(const float *a, uint32_t n, float *out);
void agk_exp_f32(const float *a, uint32_t n, float *out);
void agk_softmax_f32(const float *a, uint32_t n, float *out);
void agk_layernorm_f32(const float *a, uint32_t n, const float *gamma, const float *beta, float eps, float *out);
/* finite check: returns the index of the first NaN or infinity, or n when all are finite. */
uint32_t agk_find_nonfinite_f32(const float *a, uint32_t n);

/* ---- dense layers (MiniLM and other BERT encoders) ----
 * Packed GEMM weights: the k x n matrix W in panels of 16 columns, panel q holding rows
 * p = 0..k-1 of columns 16q..16q+15 one after the other, zero-padded past column n:
 * packed[(q * k + p) * 16 + l] = W[p, 16q + l], k * ceil(n / 16) * 16 elements in all.
 * A sequence batch is packed without padding: sequence s is rows offsets[s] .. offsets[s+1]-1
 * of a token matrix (offsets: n_seqs + 1 nondecreasing values, the last <= the row count). */
#define AGK_ACT_NONE 0
#define AGK_ACT_GELU 1
/* W as k x n row-major (w_is_nk = 0), or n x k (w_is_nk = 1: a torch Linear weight [out, in]), into packed. */
void agk_pack_gemm_f32(const float *w, uint32_t k, uint32_t n, uint32_t w_is_nk, float *packed);
void agk_pack_gemm_i8(const int8_t *w, uint32_t k, uint32_t n, uint32_t w_is_nk, int8_t *packed);
/* out (m x n) = act(a (m x k) . W + bias), each element as: acc = 0; for p = 0..k-1 in order:
 * acc = acc + a[i,p] * W[p,j] (a multiply, then an add, never fused); out[i,j] = act(acc + bias[j]).
 * w packed as above; bias may be 0 (zeros); act: AGK_ACT_NONE or AGK_ACT_GELU (agk_gelu_erf_f32's GELU). */
void agk_gemm_f32(const float *a, const float *w, const float *bias, float *out, uint32_t m, uint32_t k, uint32_t n, uint32_t act);
/* int8 weights with per-column scales: acc = 0; for p in order: acc = acc + a[i,p] * (float)wq[p,j];
 * out[i,j] = act(acc * scale[j] + bias[j]). wq packed by agk_pack_gemm_i8; bias may be 0. */
void agk_gemm_i8f32(const float *a, const int8_t *w, const float *scale, const float *bias, float *out, uint32_t m, uint32_t k, uint32_t n, uint32_t act);
/* GELU, exact form: x/2 (1 + erf(x / sqrt 2)) (BERT's "gelu"; agk_gelu_f32 is the tanh form), within ~5 ulp. */
void agk_gelu_erf_f32(const float *a, uint32_t n, float *out);
/* per row of dim values: r = x + residual (residual may be 0), then agk_layernorm_f32's
 * (r - mean) / sqrt(var + eps) * gamma + beta in its order; out may be x or residual. */
void agk_layer_norm_rows_f32(const float *x, const float *residual, const float *gamma, const float *beta, float eps, uint32_t rows, uint32_t dim, float *out);
/* floats of scratch agk_attention_f32 needs for sequences of up to max_len tokens (0 when over 2^32). */
uint32_t agk_attention_scratch_len(uint32_t max_len, uint32_t head_dim);
/* multi-head self-attention within each sequence: token t's query for head h is
 * q[t * stride + h * head_dim ...] (k, v likewise); out[t * out_stride + h * head_dim + d] =
 * sum_j e_j v[j, h, d] / sum_j e_j over the sequence's tokens j in order, e_j = exp(s_j - max s),
 * s_j = scale * (q_t . k_j) (the dot over d in order, from 0), exp as agk_exp_f32's; the weighted sum
 * runs over j in order from 0, sum_j e_j in agk_softmax_f32's lane order, and the output is a
 * division by it (not a reciprocal). Returns n_seqs; AGK_E_RANGE for bad offsets, AGK_E_ARG when
 * scratch_len is short of agk_attention_scratch_len for the longest sequence. */
int32_t agk_attention_f32(const float *q, const float *k, const float *v, uint32_t stride, const uint32_t *offsets, uint32_t n_seqs, uint32_t n_tokens, uint32_t heads, uint32_t head_dim, float scale, float *scratch, uint32_t scratch_len, float *out, uint32_t out_stride);
/* out row s = the mean of rows offsets[s] .. offsets[s+1]-1 of x (summed in row order; zeros for
 * an empty sequence), then normalised as agk_normalize_f32 when `normalize`. Returns n_seqs or AGK_E_RANGE. */
int32_t agk_mean_pool_rows_f32(const float *x, uint32_t n_rows, uint32_t dim, const uint32_t *offsets, uint32_t n_seqs, uint32_t normalize, float *out);

/* ---- learning (agentdb.learn): matrix plumbing, log, cross-entropy, optimizer steps ----
 * Element-wise ops may write out == an input; the others need out apart from their inputs. */
/* out (cols x rows) = x^T for x rows x cols, row-major: out[j * rows + i] = x[i * cols + j]. */
void agk_transpose_f32(const float *x, uint32_t rows, uint32_t cols, float *out);
/* out[i] = y[i] + alpha * x[i] (a multiply, then an add); out may be x or y. */
void agk_axpy_f32(float alpha, const float *x, const float *y, uint32_t n, float *out);
/* out[i] = dot(a row i, b row i) for n paired rows of dim, agk_dot_f32's reduction order. */
void agk_row_dots_f32(const float *a, const float *b, uint32_t n, uint32_t dim, float *out);
/* out row i = x row i * s[i]; out may be x. */
void agk_scale_rows_f32(const float *x, const float *s, uint32_t n, uint32_t dim, float *out);
/* out[d] = column sum of x (n x dim): acc = 0; for i = 0..n-1 in order: acc = acc + x[i, d]. */
void agk_sum_rows_f32(const float *x, uint32_t n, uint32_t dim, float *out);
/* natural log, within 2 ulp (own polynomial): log(0) = -inf, log(inf) = inf, x < 0 or NaN: NaN. */
void agk_log_f32(const float *a, uint32_t n, float *out);
/* unit rows: inv[i] = 1 / sqrt(|x_i|^2) computed in double from the float32 squared norm (agk_dot_f32's
 * order) and rounded to float32, 0 for a zero row; out row i = x row i * inv[i] (agk_scale_rows_f32's bits); out may be x. */
void agk_unit_rows_f32(const float *x, uint32_t n, uint32_t dim, float *inv, float *out);
/* the backward step through u = x / |x|: out row i = (du_i + (-1) * (u_i * dot(u_i, du_i))) * inv[i],
 * the bits of row_dots, scale_rows, axpy(-1) and scale_rows in turn; out may be du. */
void agk_unit_backward_f32(const float *u, const float *du, const float *inv, uint32_t n, uint32_t dim, float *out);
/* out (m x n) = op(a) @ op(b): op(a) is a (m x k) or, with AGK_MATMUL_TRANS_A, the transpose of a k x m a;
 * op(b) is b (k x n) or, with AGK_MATMUL_TRANS_B, the transpose of an n x k b. The bits of
 * agk_transpose_f32, agk_pack_gemm_f32 and agk_gemm_f32 (bias 0) in turn: each element summed over p in
 * order from 0. scratch: k * ceil(n / 16) * 16 floats (op(b) packed), plus m * k with AGK_MATMUL_TRANS_A;
 * out apart from scratch, and from a unless AGK_MATMUL_TRANS_A. */
#define AGK_MATMUL_TRANS_A 1
#define AGK_MATMUL_TRANS_B 2
void agk_matmul_f32(const float *a, const float *b, uint32_t m, uint32_t k, uint32_t n, uint32_t flags, float *scratch, float *out);
/* agk_softmax_f32 on each row of dim values (the same bits); out may be x. */
void agk_softmax_rows_f32(const float *x, uint32_t rows, uint32_t dim, float *out);
/* softmax cross-entropy per row r with target t = targets[r] < dim: with mx = max_j x[r, j],
 * s = sum_j exp(x[r, j] - mx) (agk_softmax_f32's exp and lane order), loss_r = log(s) - (x[r, t] - mx)
 * (agk_log_f32's log); *loss = the mean of loss_r (summed in row order in double, then rounded);
 * grad row r = (p - onehot(t)) / rows, p = agk_softmax_f32(row r), the 1 subtracted before the
 * division. Returns rows, or AGK_E_RANGE (nothing written) when a target is >= dim. */
int32_t agk_softmax_xent_rows_f32(const float *logits, const uint32_t *targets, uint32_t rows, uint32_t dim, float *grad, float *loss);
/* floats of scratch agk_info_nce_f32 needs for n anchors, m extra negatives of dim (0 when over 2^32). */
uint32_t agk_info_nce_scratch_len(uint32_t n, uint32_t m, uint32_t dim);
/* InfoNCE with in-batch negatives, forward and backward in one call, as agentdb.learn.losses composes it:
 * u = agk_unit_rows_f32 of the anchors (n x dim), c = of [positives (n x dim); negatives (m x dim)];
 * logits = agk_matmul_f32(u, c, trans_b) then agk_scale_f32 by inv_t (n x (n + m)); *loss and
 * g = agk_softmax_xent_rows_f32 with target i for row i, then g scaled by inv_t; d_anchors =
 * agk_unit_backward_f32 of u over g @ c, d_positives and d_negatives (m rows; unused when m = 0) of c over
 * g^T @ u, each step with those ops' bits. scratch: agk_info_nce_scratch_len floats, apart from every other
 * buffer; the outputs apart from the inputs. */
void agk_info_nce_f32(const float *anchors, const float *positives, const float *negatives, uint32_t n, uint32_t m, uint32_t dim, float inv_t, float *scratch, float *loss, float *d_anchors, float *d_positives, float *d_negatives);
/* torch.optim.SGD's update of n parameters in place, in its order:
 *   g = grad + weight_decay * param (when weight_decay != 0);
 *   when momentum != 0: b = g on the first step (flags & AGK_SGD_FIRST), else b = b * momentum + keep * g
 *   (keep = 1 - dampening), velocity = b, g = g + momentum * b (AGK_SGD_NESTEROV) or b;
 *   param = param - lr * g. velocity may be 0 when momentum is 0. */
#define AGK_SGD_NESTEROV 1
#define AGK_SGD_FIRST 2
void agk_sgd_step_f32(float *param, const float *grad, float *velocity, uint32_t n, float lr, float momentum, float keep, float weight_decay, uint32_t flags);
/* torch.optim.Adam / AdamW's update of n parameters in place, in its order (scalars from the caller:
 * w1 = 1 - beta1, w2 = 1 - beta2, step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t),
 * decay = 1 - lr * weight_decay for AdamW, else 1; weight_decay here is Adam's L2 term, else 0):
 *   param = param * decay (when decay != 1); g = grad + weight_decay * param (when != 0);
 *   m = m + w1 * (g - m) when w1 < 0.5, else g - (g - m) * (1 - w1) (torch's lerp);
 *   v = v * beta2 + (w2 * g) * g; denom = sqrt(v) / bc2_sqrt + eps; param = param + (-step_size * m) / denom. */
void agk_adam_step_f32(float *param, const float *grad, float *m, float *v, uint32_t n, float w1, float beta2, float w2, float step_size, float bc2_sqrt, float eps, float weight_decay, float decay);

/* ---- hyperbolic math (agentdb.nn.hyperbolic): the Poincare ball of curvature -c (c > 0, radius 1 / sqrt(c)) ----
 * n paired rows of dim floats; each row is read as float32, computed in double and rounded to float32 once
 * (csrc/hyperbolic.c gives the order), so a row alone or in a batch, on any backend, has the same bits.
 * geoopt's formulas and clamps (k = -c): |.| and 1 - c|x|^2 clamped below at 1e-15, artanh's argument
 * clamped to 1 - 1e-15. A point argument x that is optional may be 0: the origin. The outputs are apart
 * from the inputs, except agk_project_to_ball_f32's (out may be x). Python checks the rows first. */
/* the first row i with 1 - c|x_i|^2 <= 0 or NaN (|x_i|^2 summed in double), or n when every row is inside the ball. */
uint32_t agk_ball_check_f32(const float *x, uint32_t n, uint32_t dim, float c);
/* x (+) y = ((1 + 2c<x,y> + c|y|^2) x + (1 - c|x|^2) y) / max(1 + 2c<x,y> + c^2 |x|^2 |y|^2, 1e-15), evaluated
 * as ((1 - c|x|^2) u + c|u|^2 x) / ((1 - c|x|^2 + c<x,u>)^2 + c^2 (|x|^2|u|^2 - <x,u>^2)) with u = x + y. */
void agk_mobius_add_f32(const float *x, const float *y, uint32_t n, uint32_t dim, float c, float *out);
/* exp_x(v) = x (+) tanh(sqrt(c) lam_x |v| / 2) v / (sqrt(c) |v|), lam_x = 2 / (1 - c|x|^2); x 0: exp_0. */
void agk_exp_map_f32(const float *x, const float *v, uint32_t n, uint32_t dim, float c, float *out);
/* log_x(y) = (2 / (sqrt(c) lam_x)) artanh(sqrt(c) |w|) w / |w|, w = (-x) (+) y; x 0: log_0. */
void agk_log_map_f32(const float *x, const float *y, uint32_t n, uint32_t dim, float c, float *out);
/* out[i] = d(x_i, y_i) = (2 / sqrt(c)) artanh(sqrt(c) |(-x_i) (+) y_i|), evaluated in its closed form
 * arcosh(1 + 2c|x - y|^2 / ((1 - c|x|^2)(1 - c|y|^2))) / sqrt(c) (no clamp on artanh's argument). */
void agk_poincare_distance_f32(const float *x, const float *y, uint32_t n, uint32_t dim, float c, float *out);
/* geoopt's project: a row with |x| > (1 - eps) / sqrt(c) becomes x / |x| * (1 - eps) / sqrt(c); others are copied. */
void agk_project_to_ball_f32(const float *x, uint32_t n, uint32_t dim, float c, float eps, float *out);
/* vector-Jacobian products: g is dL/d(the op's output) (n x dim; n scalars for the distance), dx and dy
 * (dv) get dL/d(each input); dx may be 0 (not wanted) for the maps, and must be with x 0. */
void agk_mobius_add_backward_f32(const float *x, const float *y, const float *g, uint32_t n, uint32_t dim, float c, float *dx, float *dy);
void agk_exp_map_backward_f32(const float *x, const float *v, const float *g, uint32_t n, uint32_t dim, float c, float *dx, float *dv);
void agk_log_map_backward_f32(const float *x, const float *y, const float *g, uint32_t n, uint32_t dim, float c, float *dx, float *dy);
void agk_poincare_distance_backward_f32(const float *x, const float *y, const float *g, uint32_t n, uint32_t dim, float c, float *dx, float *dy);

/* ---- property graph (agentdb.graph): adjacency as CSR plus a delta, traversal ----
 * An adjacency's entries are (key -> val, id): out-edges key = src, val = dst, id = the edge's
 * slot; with AGK_GRAPH_BOTH each entry also counts as val -> key (the graph without direction).
 * CSR: row r's entries are off[r] .. off[r+1]-1 of tgt (their vals) and eid (their ids).
 * The filter of a walk: an entry id e passes when edge_mask bit e is set (edge_mask 0: all),
 * type_set has bit etype[e] (type_set 0: any type; etype[e] >= n_types fails) and, with window
 * = {t0, t1} (0: always), vfrom[e] <= t1 and vto[e] > t0 (a validity [vfrom, vto) meeting
 * [t0, t1]; as of t is {t, t}). */
#define AGK_GRAPH_BOTH 1
/* counting sort of the n entries whose mask bit is set (mask 0: all), stable in index order:
 * off[0..n_rows] (off[r] = entries with key < r), tgt = vals, eid = ids[i] (ids 0: i), row by row.
 * Returns the entries written (2 per entry with AGK_GRAPH_BOTH), or AGK_E_RANGE (nothing written)
 * when a key is >= n_rows or a val >= n_vals (with BOTH either must be < both). */
int32_t agk_graph_csr_build(const uint32_t *key, const uint32_t *val, const uint32_t *ids, uint32_t n, uint32_t n_rows, uint32_t n_vals, const uint8_t *mask, uint32_t flags, uint32_t *off, uint32_t *tgt, uint32_t *eid);
/* one hop of a breadth-first walk: for each frontier node u in order, its CSR entries in order
 * (u >= n_rows: none), then the delta entries i in order whose d_key[i] is a frontier node
 * (and, with AGK_GRAPH_BOTH, whose d_val[i] is: then d_key[i] is the one reached), the entry id
 * being d_eid[i] (d_eid 0: d_first + i). Each entry passing the filter reaches v = its val:
 * with visited (n_targets bits), only when v's bit is clear, which is then set, parent_node[v]
 * = u and parent_edge[v] = the id (each optional); every reach is out[count] = v, out_edge[count]
 * = the id (optional), written while count < out_cap. frontier_bits: n_keys bits of zeros the
 * call uses and clears again (needed with a delta). Returns the reaches counted (more than
 * out_cap: call again with more room), AGK_E_RANGE when a frontier node, a delta entry or a CSR
 * entry is out of range (checked first for the caller's arrays), AGK_E_ARG for a delta without
 * frontier_bits. The arguments that stay the same from hop to hop come first, so a caller binds
 * them once (agentdb.kernel.graph_ops.Expander); the frontier and the out lists come last. */
int32_t agk_graph_expand(const uint32_t *off, const uint32_t *tgt, const uint32_t *eid, uint32_t n_rows, uint32_t n_entries, const uint32_t *d_key, const uint32_t *d_val, const uint32_t *d_eid, uint32_t d_first, uint32_t n_delta, uint32_t flags, const uint8_t *edge_mask, uint32_t n_edges, const uint32_t *etype, const uint8_t *type_set, uint32_t n_types, const double *vfrom, const double *vto, const double *window, uint8_t *frontier_bits, uint32_t n_keys, uint8_t *visited, uint32_t n_targets, uint32_t *parent_node, uint32_t *parent_edge, const uint32_t *frontier, uint32_t n_frontier, uint32_t *out, uint32_t *out_edge, uint32_t out_cap);
/* a whole breadth-first walk in one call, over the arguments agk_graph_expand takes first (the
 * same filter, delta and parents): out[0] = start, then hop by hop for up to `hops` hops
 * (4294967295: until nothing new) every node reached, each hop's frontier being the nodes the
 * previous one reached, in the order agk_graph_expand would reach them. The start is marked
 * visited first unless flags has AGK_GRAPH_OPEN_START (then a loop reaches it again, as
 * neighbours). The walk ends right after reaching `stop` (4294967295: none), which is then
 * out[count - 1]. visited (n_targets bits, all zeros) is all zeros again on return, errors
 * included; frontier_bits likewise. Needs visited, n_targets <= n_keys and out_cap >= n_targets
 * + 1 (room for every node and the start: AGK_E_ARG otherwise). Returns the nodes in out (the
 * start included), AGK_E_RANGE for a start, delta or CSR entry out of range, AGK_E_ARG as said.
 * The bound arguments come first (agentdb.kernel.graph_ops.Walker); start, hops and stop last. */
#define AGK_GRAPH_OPEN_START 2
int32_t agk_graph_bfs(const uint32_t *off, const uint32_t *tgt, const uint32_t *eid, uint32_t n_rows, uint32_t n_entries, const uint32_t *d_key, const uint32_t *d_val, const uint32_t *d_eid, uint32_t d_first, uint32_t n_delta, uint32_t flags, const uint8_t *edge_mask, uint32_t n_edges, const uint32_t *etype, const uint8_t *type_set, uint32_t n_types, const double *vfrom, const double *vto, const double *window, uint8_t *frontier_bits, uint32_t n_keys, uint8_t *visited, uint32_t n_targets, uint32_t *parent_node, uint32_t *parent_edge, uint32_t *out, uint32_t out_cap, uint32_t start, uint32_t hops, uint32_t stop);
/* Dijkstra from source over a CSR (entries passing the filter; weight[e] >= 0 per entry id):
 * dist[v] = the least sum of weights over a path (doubles, +inf unreached; each path's sum added
 * edge by edge from the source), parent_node[v] / parent_edge[v] the last step (4294967295 for
 * none). Nodes settle in (dist, node) order, so equal distances keep the first parent found in
 * that order. Stops once target is settled (target 4294967295: never). heap, pos: n_nodes
 * scratch each. Returns the nodes settled; AGK_E_ARG on a negative or NaN weight met,
 * AGK_E_RANGE when source, target or an entry is out of range. */
int32_t agk_graph_dijkstra(const uint32_t *off, const uint32_t *tgt, const uint32_t *eid, uint32_t n_rows, uint32_t n_entries, const uint8_t *edge_mask, uint32_t n_edges, const uint32_t *etype, const uint8_t *type_set, uint32_t n_types, const double *vfrom, const double *vto, const double *window, const double *weight, uint32_t source, uint32_t target, uint32_t n_nodes, double *dist, uint32_t *parent_node, uint32_t *parent_edge, uint32_t *heap, uint32_t *pos);
/* sets (value != 0) or clears bit rows[i] of bits for each i; returns n, or AGK_E_RANGE (nothing
 * changed) when a row is >= n_bits. */
int32_t agk_bitmap_mark_rows(const uint32_t *rows, uint32_t n, uint32_t value, uint8_t *bits, uint32_t n_bits);
/* rank[i] = the number of set bits before bit i when bit i is set, else 4294967295 (old row ->
 * new row when the set rows are kept in order); returns the set bits among the first n. */
uint32_t agk_bitmap_rank(const uint8_t *bits, uint32_t n, uint32_t *rank);
/* out[0] = the least and out[1] = the greatest of a[0..n-1] (n = 0: 4294967295 and 0), out[2] =
 * how many i in 1..n-1 have a[i] <= a[i-1] (0: strictly ascending): the checks of a column of
 * node indexes or ids in one pass. */
void agk_column_stats_u32(const uint32_t *a, uint32_t n, uint32_t *out);
/* out[2i], out[2i+1] = the low and high 32 bits of the 64-bit start + i, start = start_lo +
 * 2**32 * start_hi, for i < n (wrapping past 2**64 - 1): n ascending u64 sequence numbers as
 * little-endian word pairs. */
void agk_iota_u64(uint32_t start_lo, uint32_t start_hi, uint32_t n, uint32_t *out);

/* ---- attention (agentdb.nn.attention): scaled dot-product attention, forward and backward ----
 * batch x heads independent problems; problem (b, h)'s Q is n_q rows of d floats, row i at
 * q + b * layout[1] + h * layout[2] + i * layout[0]; K (n_k x d) likewise with layout[3..5], V
 * (n_k x dv) with layout[6..8], out (n_q x dv) with layout[9..11], and the optional additive mask
 * (float, may be -inf) and keep (uint8, 0 = masked) share layout[12..14] (row, batch, head strides;
 * element j of a row is key j). Scores s_ij = scale * (q_i . k_j) + mask_ij; AGK_ATTN_CAUSAL masks
 * key j > q_pos + i (a query chunk starting at absolute position q_pos). The softmax runs over keys
 * in tiles of 256 with an online max and sum, in one fixed order (csrc/attention.c gives it): plain
 * and AGK_ATTN_FLASH calls, any query chunking and any batch give the same bits; FLASH packs K and
 * V a tile at a time, so its scratch does not grow with n_k. A row with no unmasked key is zeros.
 * lse (optional): batch x heads x n_q log-sum-exps (the backward's input). Returns batch, or
 * AGK_E_ARG for d or dv 0 or scratch short of agk_sdpa_scratch_len. */
#define AGK_ATTN_CAUSAL 1
#define AGK_ATTN_FLASH 2
uint32_t agk_sdpa_scratch_len(uint32_t n_k, uint32_t d, uint32_t dv, uint32_t flags);
int32_t agk_sdpa_f32(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep, const uint32_t *layout, uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv, float scale, uint32_t q_pos, uint32_t flags, float *scratch, uint32_t scratch_len, float *out, float *lse);
/* gradients of agk_sdpa_f32 (the same arguments; o and lse from its call, dout in out's layout):
 * P from lse (p = exp(s - lse), 0 where masked), D_i = dout_i . o_i, dV = P^T dout, dS = (P * (dout V^T
 * - D)) * scale, dQ = dS K, dK = dS^T Q, each element summed over its inner index in order as
 * agk_matmul_f32 sums; dq, dk, dvv in q, k, v's layouts (overwritten). In blocks of queries x
 * keys, P recomputed per block, scratch (agk_sdpa_backward_scratch_len) fixed by d and dv;
 * AGK_ATTN_FLASH changes nothing. Returns batch, or AGK_E_ARG for short scratch. */
uint32_t agk_sdpa_backward_scratch_len(uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv, uint32_t flags);
int32_t agk_sdpa_backward_f32(const float *q, const float *k, const float *v, const float *mask, const uint8_t *keep, const uint32_t *layout, uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv, float scale, uint32_t q_pos, uint32_t flags, const float *o, const float *dout, const float *lse, float *scratch, uint32_t scratch_len, float *dq, float *dk, float *dvv);

/* ---- rotary position embeddings (agentdb.nn.rope), csrc/rope.c ----
 * s[i], c[i] = sin x[i], cos x[i]: our own (exact Payne-Hanek reduction for every float32, fdlibm's
 * double kernels, one rounding), the same bits everywhere; inf or NaN gives NaN. */
void agk_sincos_f32(const float *x, uint32_t n, float *s, float *c);
/* RoPE tables, n x dim/2 each (dim even, base >= 1): cos_out[r][i] = cos(pos[r] * theta_i) and
 * sin_out likewise, theta_i = 1 / fl32(base^fl32(2i / dim)) and the angle a float32 product
 * (HF's inv_freq and freqs). */
void agk_rope_table_f32(const float *pos, uint32_t n, uint32_t dim, float base, float *cos_out, float *sin_out);
/* Rotates the first dim (even) values of each of n rows of row_len by row t's angles (t =
 * tab_row[r], or r when tab_row is 0; tables n_tab x dim/2): pairs (i, i + dim/2) (HF's
 * rotate_half) or (2i, 2i + 1) with AGK_ROPE_INTERLEAVED: (a, b) -> (a c - b s, b c + a s), each a
 * product, a product and one add; AGK_ROPE_TRANSPOSE rotates by -theta (the backward). Values
 * past dim are copied. out may be x. Returns n, AGK_E_RANGE for a table row >= n_tab (nothing
 * written), AGK_E_ARG for an odd dim or dim > row_len. */
#define AGK_ROPE_INTERLEAVED 1
#define AGK_ROPE_TRANSPOSE 2
int32_t agk_rope_apply_f32(const float *x, uint32_t n, uint32_t row_len, uint32_t dim, const float *cos_t, const float *sin_t, const uint32_t *tab_row, uint32_t n_tab, uint32_t flags, float *out);
/* ---- GNN (agentdb.nn.gnn, csrc/gnn.c): GAT message passing over ragged neighbourhoods ----
 * Neighbourhood i = nbr[off[i] .. off[i+1]) (n + 1 offsets from 0, each nbr < n, i first by
 * convention); per-(edge, head) arrays (pre, alpha, keep, dcoef) hold node i's block at
 * heads * off[i], head h's row at heads * off[i] + h * d_i. Forward: u = st[i][h] + st[j][H + h]
 * (st = n x 2H: s then t), pre = u, alpha = softmax over the row of LeakyReLU(u, slope)
 * (agk_softmax_f32), h_i^h = sum_j c_ij z_j^h in order from 0 with c = (alpha w_e) keep (w: one per
 * nbr entry, keep: alpha layout; 0 = ones). Backward (dh = dL/dh, n x D): dcoef = dh_i^h . z_j^h,
 * dz_j^h = sum c_ij dh_i^h, dalpha = dcoef w keep, de = alpha (dalpha - sum alpha dalpha) (sum in
 * double), du = de (pre > 0) or slope de, dst[i][h] += du, dst[j][H + h] += du, dw_e = sum_h alpha
 * keep dcoef (dw may be 0); dz, dst, dw overwritten, in node, head, neighbourhood order. Both
 * return AGK_OK, AGK_E_ARG for bad offsets, AGK_E_RANGE for a neighbour >= n. */
int32_t agk_gat_forward_f32(const float *st, const float *z, const uint32_t *off, const uint32_t *nbr, const float *w, const float *keep, uint32_t n, uint32_t heads, uint32_t head_dim, float slope, float *pre, float *alpha, float *h);
int32_t agk_gat_backward_f32(const float *dh, const float *z, const uint32_t *off, const uint32_t *nbr, const float *w, const float *keep, const float *pre, const float *alpha, uint32_t n, uint32_t heads, uint32_t head_dim, float slope, float *dcoef, float *dz, float *dst, float *dw);
/* neighbourhoods from a CSR adjacency (offsets: n + 1 from 0, non-decreasing, checked by the
 * caller): i, then its targets in order without repeats or self loops; src = the targets
 * position of each entry (offsets[n] for the self term); mark = n words of scratch; nbr and src
 * hold offsets[n] + n. Returns off[n], or AGK_E_RANGE for a target >= n. */
int32_t agk_gat_neighbourhoods(const uint32_t *offsets, const uint32_t *targets, uint32_t n, uint32_t *mark, uint32_t *off, uint32_t *nbr, uint32_t *src);
/* the layer norm's backward per row of its input v (n x dim), in double: dv = rstd (g gamma -
 * mean(g gamma) - xhat mean(g gamma xhat)), gx = g xhat (gamma 0 = ones). */
void agk_layer_norm_rows_backward_f32(const float *v, const float *g, const float *gamma, uint32_t n, uint32_t dim, float eps, float *dv, float *gx);
/* count dropout multipliers drawn from SplitMix64 (agentdb.learn.rng; state = {low, high} words,
 * advanced in place): 0 where a draw's top 24 bits are below threshold, else scale. */
void agk_dropout_keep_f32(uint32_t *state, uint32_t count, uint32_t threshold, float scale, float *out);
/* ---- sparse attention (agentdb.nn.local_global): each query attends a given set of keys ------
 * agk_sdpa_f32's problems and strides (layout: its first 12, q, k, v, out; no mask), query i of
 * every problem attending keys indices[indptr[i] .. indptr[i + 1]) (a CSR over n_q rows shared by
 * the problems, each row strictly increasing and < n_k): agk_sdpa_f32's bits with that pattern as
 * its keep mask (csrc/sparse_attention.c gives the order), in O(nnz * (d + dv)) instead of
 * O(n_q * n_k * (d + dv)). A row with no key gives zeros, lse -inf. Returns batch, AGK_E_RANGE for
 * a bad CSR (nothing written), AGK_E_ARG for d or dv 0 or scratch short of the _scratch_len. */
uint32_t agk_sparse_attn_scratch_len(uint32_t n_k, uint32_t d, uint32_t dv);
int32_t agk_sparse_attn_f32(const float *q, const float *k, const float *v, const uint32_t *layout, uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv, float scale, const uint32_t *indptr, const uint32_t *indices, float *scratch, uint32_t scratch_len, float *out, float *lse);
/* gradients of agk_sparse_attn_f32 (o and lse from its call; agk_sdpa_backward_f32's bits with the
 * pattern as keep mask); dq, dk, dvv in q, k, v's layouts (overwritten). Scratch depends on nnz. */
uint32_t agk_sparse_attn_backward_scratch_len(uint32_t n_k, uint32_t d, uint32_t dv, uint32_t nnz);
int32_t agk_sparse_attn_backward_f32(const float *q, const float *k, const float *v, const uint32_t *layout, uint32_t batch, uint32_t heads, uint32_t n_q, uint32_t n_k, uint32_t d, uint32_t dv, float scale, const uint32_t *indptr, const uint32_t *indices, const float *o, const float *dout, const float *lse, float *scratch, uint32_t scratch_len, float *dq, float *dk, float *dvv);
/* the first row of a CSR (n_rows + 1 offsets into nnz entries) that is bad (offsets not from 0,
 * decreasing or past nnz, the last not nnz, an entry >= n_cols or not above the one before it),
 * or n_rows when every row is fine */
int32_t agk_csr_check(const uint32_t *indptr, const uint32_t *indices, uint32_t n_rows, uint32_t n_cols, uint32_t nnz);
/* the local-global pattern as a CSR: query i attends keys |i - j| <= window and the first globals
 * keys, a global query (i < globals) every key; AGK_ATTN_CAUSAL keeps j <= i (nn.attention's
 * local_global_mask). _nnz counts its entries (saturating at 2^32 - 1); _csr writes indptr
 * (n_q + 1) and indices, returning nnz, or AGK_E_ARG when that exceeds cap. */
uint32_t agk_local_global_nnz(uint32_t n_q, uint32_t n_k, uint32_t window, uint32_t globals, uint32_t flags);
int32_t agk_local_global_csr(uint32_t n_q, uint32_t n_k, uint32_t window, uint32_t globals, uint32_t flags, uint32_t *indptr, uint32_t *indices, uint32_t cap);

#endif
