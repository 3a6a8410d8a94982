"""A native kernel of one x86-64 level as its own library, loaded through cffi's ABI mode:
the tests compare every level's bits with wasm; benchmarks use it for like-for-like ratios
(wasm's 128-bit SIMD against AVX2 rather than the AVX-512 level this CPU picks). Built
exactly as that level is built into agentdb.kernel._native (same compiler, same flags)."""
import pathlib
import sys

from cffi import FFI

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402
from build_native import LEVELS, compile_kernel, compiler_for  # noqa: E402


def cpu_has(level):
    """Whether this CPU can run code built for `level` (a LEVELS key)."""
    try:
        flags = set(pathlib.Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return all(f in flags for f in LEVELS[level][2])


def load_level(level, directory, *, cc=None):
    """A Kernel over csrc/kernel.c built for `level` into `directory` (with the compiler
    build_native uses for it, or `cc`)."""
    from agentdb.kernel.core import Kernel
    from agentdb.kernel.native import NativeBackend

    lib_path = pathlib.Path(directory) / f"libagk-{level}-{cc or compiler_for(level)}.so"
    compile_kernel(level, lib_path, extra=("-shared",), cc=cc)
    ffi = FFI()
    ffi.cdef(abi.cdef())
    return Kernel(NativeBackend(ffi, ffi.dlopen(str(lib_path))))
