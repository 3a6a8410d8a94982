"""Compiles csrc/kernel.c to kernel.wasm (wasm32 + simd128) with clang and wasm-ld.

Usage: python build/build_wasm.py [OUT]   (default: py/agentdb/kernel/kernel.wasm)
Exports every function of csrc/agentdb_kernel.h, the linear memory and __heap_base
(where the Python-side heap starts).
"""
import pathlib
import shutil
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402

DEFAULT_OUT = abi.ROOT / "py" / "agentdb" / "kernel" / "kernel.wasm"
FLAGS = [
    "--target=wasm32", "-O3", "-msimd128", "-mbulk-memory", "-ffreestanding", "-nostdlib",
    "-fno-builtin", "-Wall", "-Wextra", "-Werror",
    "-Wl,--no-entry", "-Wl,--export=__heap_base", "-Wl,--strip-all",
]


def find_clang():
    for name in ("clang", "clang-16", "clang-15", "clang-14"):
        if shutil.which(name):
            return name
    raise SystemExit("clang not found: apt-get install -y clang lld")


def build(out=DEFAULT_OUT):
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    exports = [f"-Wl,--export={name}" for name in abi.function_names()]
    cmd = [find_clang(), *FLAGS, *exports, str(abi.CSRC / "kernel.c"), "-o", str(out)]
    subprocess.run(cmd, check=True)
    return out


if __name__ == "__main__":
    print(build(*sys.argv[1:]))
