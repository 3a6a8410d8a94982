"""cffi build of csrc/kernel.c as agentdb.kernel._native (API mode).

Used by setup.py (cffi_modules) during `pip install .`; the cdef comes from the header.
-ffp-contract=off keeps the native bits identical to the wasm build (no FMA contraction).
"""
import pathlib
import sys

from cffi import FFI

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402

ffibuilder = FFI()
ffibuilder.cdef(abi.cdef())
ffibuilder.set_source(
    "agentdb.kernel._native",
    '#include "kernel.c"',
    include_dirs=[str(abi.CSRC)],
    depends=[str(p) for p in sorted(abi.CSRC.glob("*.[ch]"))],
    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-strict-aliasing", "-Wno-psabi"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
