"""Every native ISA level gives the bits wasm gives.

The installed extension only runs the level this CPU picks, so this test builds the kernel
once per level (as build_native builds it: the level_kernel fixture in conftest.py), loads
each through cffi's ABI mode, and compares every float op with wasmhost. Levels the CPU cannot
run are skipped with the reason.
"""
import numpy as np

from support import assert_same_dense_bits, bits


def test_every_float_op_matches_wasm(level_kernel, wasmhost):
    rng = np.random.default_rng(5)
    for dim in (1, 15, 17, 100, 384):
        rows = rng.standard_normal((67, dim)).astype(np.float32)
        q = rng.standard_normal(dim).astype(np.float32)
        for metric in ("dot", "l2", "cos"):
            assert np.array_equal(bits(level_kernel.scan(q, rows, dim=dim, metric=metric)),
                                  bits(wasmhost.scan(q, rows, dim=dim, metric=metric)))
            assert np.array_equal(bits(level_kernel.scan_batch(rows[:5], rows, dim=dim, metric=metric)),
                                  bits(wasmhost.scan_batch(rows[:5], rows, dim=dim, metric=metric)))
        lo, step = level_kernel.sq8_train(rows, dim=dim)
        codes = level_kernel.sq8_encode(rows, lo, step, dim=dim)
        assert codes == wasmhost.sq8_encode(rows, lo, step, dim=dim)
        assert np.array_equal(bits(level_kernel.scan_dot_i8f32(q, 0.5, codes, dim=dim)),
                              bits(wasmhost.scan_dot_i8f32(q, 0.5, codes, dim=dim)))
        assert level_kernel.scan_l2_i8(codes[:dim], codes, dim=dim) == wasmhost.scan_l2_i8(codes[:dim], codes, dim=dim)
        for op in ("normalize", "gelu", "sigmoid", "exp", "softmax", "layer_norm"):
            assert np.array_equal(bits(getattr(level_kernel, op)(q)), bits(getattr(wasmhost, op)(q))), op
        if dim % 4 == 0:
            cb = rng.standard_normal((4, 16, dim // 4)).astype(np.float32)
            pc = level_kernel.pq_encode(rows, cb, dim=dim, m=4, ksub=16)
            table = level_kernel.pq_table(q, cb, dim=dim, m=4, ksub=16)
            assert np.array_equal(bits(table), bits(wasmhost.pq_table(q, cb, dim=dim, m=4, ksub=16)))
            assert np.array_equal(bits(level_kernel.scan_pq(table, pc, m=4)), bits(wasmhost.scan_pq(table, pc, m=4)))
    assert level_kernel.crc32c(b"123456789") == 0xE3069283


def test_every_dense_op_matches_wasm(level_kernel, wasmhost):
    assert_same_dense_bits(level_kernel, wasmhost, 3)
