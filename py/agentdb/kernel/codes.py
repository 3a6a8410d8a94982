"""Constants of csrc/agentdb_kernel.h the Python side needs: error codes, feature bits, limits."""

# AGK_E_* return codes
CODES = {-1: "bad argument", -2: "bad dimension", -3: "bad k", -4: "index out of range", -5: "not finite"}
E_NONFINITE = -5
# agk_features() bits
FEATURES = {1: "simd128", 2: "sse2", 4: "avx2", 8: "avx512", 16: "crc32-hw"}
PQ_TABLE_WIDTH = 256      # a PQ distance table has 256 entries per subspace
I8_MAX_DIM = 32768        # int8 scans accumulate in 32 bits: 127 * 127 * 32768 < 2^31
