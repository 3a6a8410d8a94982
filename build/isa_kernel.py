"""A native kernel pinned to one x86-64 level (no target clones), loaded through cffi's ABI
mode: the tests compare every level's bits with wasm; benchmarks use it for like-for-like
ratios (wasm's 128-bit SIMD against AVX2 rather than the AVX-512 clone this CPU picks)."""
import pathlib
import subprocess
import sys

from cffi import FFI

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402

LEVELS = {"x86-64": "sse2", "x86-64-v3": "avx2", "x86-64-v4": "avx512"}
CPU_FLAGS = {"x86-64": (), "x86-64-v3": ("avx2", "fma", "bmi2"),
             "x86-64-v4": ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")}


def cpu_has(level):
    """Whether this CPU can run code built for `level`."""
    try:
        flags = set(pathlib.Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return all(f in flags for f in CPU_FLAGS[level])


def load_level(level, directory):
    """A Kernel over csrc/kernel.c built with -march=level into `directory`."""
    from agentdb.kernel.core import Kernel
    from agentdb.kernel.native import NativeBackend

    lib_path = pathlib.Path(directory) / f"libagk-{level}.so"
    subprocess.run(["gcc", "-O3", "-shared", "-fPIC", "-ffp-contract=off", "-fno-math-errno", "-Wno-psabi",
                    f"-march={level}", "-DAGK_NO_CLONES", str(abi.CSRC / "kernel.c"), "-o", str(lib_path)],
                   check=True)
    ffi = FFI()
    ffi.cdef(abi.cdef())
    return Kernel(NativeBackend(ffi, ffi.dlopen(str(lib_path))))
