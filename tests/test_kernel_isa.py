"""Every native ISA level gives the bits wasm gives.

The installed extension only runs the clone this CPU dispatches to, so this test builds the
kernel once per level (-march, no clones), loads each through cffi's ABI mode, and compares
every float op with wasmhost. Levels the CPU cannot run are skipped with the reason.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cffi import FFI

from agentdb.kernel.core import Kernel
from agentdb.kernel.native import NativeBackend
from support import bits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build"))
import abi  # noqa: E402

LEVELS = {"x86-64": "sse2", "x86-64-v3": "avx2", "x86-64-v4": "avx512"}
CPU_FLAGS = {"x86-64": (), "x86-64-v3": ("avx2", "fma", "bmi2"),
             "x86-64-v4": ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")}


def cpu_has(level):
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return all(f in flags for f in CPU_FLAGS[level])


@pytest.fixture(scope="module", params=list(LEVELS))
def level_kernel(request, tmp_path_factory):
    level = request.param
    if not cpu_has(level):
        pytest.skip(f"this CPU cannot run {level}")
    lib_path = tmp_path_factory.mktemp(level) / "libagk.so"
    subprocess.run(["gcc", "-O3", "-shared", "-fPIC", "-ffp-contract=off", "-fno-math-errno", "-Wno-psabi",
                    f"-march={level}", "-DAGK_NO_CLONES", str(ROOT / "csrc" / "kernel.c"), "-o", str(lib_path)],
                   check=True)
    ffi = FFI()
    ffi.cdef(abi.cdef())
    kernel = Kernel(NativeBackend(ffi, ffi.dlopen(str(lib_path))))
    assert kernel.isa == LEVELS[level]
    return kernel


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
