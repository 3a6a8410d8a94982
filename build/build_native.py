"""cffi build of the native kernel as agentdb.kernel._native (API mode).

On x86-64 the kernel is compiled once per ISA level (AVX-512, AVX2, baseline SSE2) into an
object whose exported names carry the level (agk_dot_f32__avx2, ...); the module's own C
code picks one level's functions by CPU when it loads and routes every agk_* call to them.
Each level uses the compiler that generates the better code for it; clang 14 for all three,
GCC 12 only where clang is missing (measured on AMD Zen 4, bench/bench_kernel.py --levels,
whose docstring has the table). At AVX2 GCC keeps a 16-lane vector in memory when the
hardware has fewer lanes: scans and GEMM 3-9x slower. At AVX-512 the two tie on f32 scans,
PQ, GEMM and HNSW search (within noise), GCC's int8 L2 scan is ~10% faster, but its
f32 x int8 scan is 1.35-1.8x slower (55 vs 41 ms per 1M x 384). At SSE2 GCC's int8 scans are
1.4-4.7x faster but its f32 scans 1.3-2x slower and its HNSW search ~14% slower; the f32
paths are the default, so clang. Elsewhere one build, as is.
-ffp-contract=off keeps the native bits identical to the wasm build (no FMA contraction).

Used by setup.py (cffi_modules) during `pip install .`; the cdef comes from the header.
"""
import os
import pathlib
import platform
import shutil
import subprocess
import sys

from cffi import FFI

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402

# both compilers: -ffp-contract=off (no FMA: wasm's bits), and no -ffast-math (float order as written)
FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-strict-aliasing", "-Wno-psabi"]
# level -> (-march, compilers in order of preference, CPU features it needs, as
# __builtin_cpu_supports and /proc/cpuinfo name them)
LEVELS = {
    "avx512": ("x86-64-v4", ("clang", "gcc"), ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
    "avx2": ("x86-64-v3", ("clang", "gcc"), ("avx2", "fma", "bmi2")),
    "sse2": ("x86-64", ("clang", "gcc"), ()),
}
OBJECTS = abi.ROOT / "build" / ".objects"


def multi_level():
    """Whether this host gets one build per x86-64 level."""
    return platform.machine() in ("x86_64", "AMD64") and sys.platform.startswith("linux")


def compiler_for(level):
    """The preferred compiler for a level that is installed here."""
    for cc in LEVELS[level][1]:
        if shutil.which(cc):
            return cc
    raise RuntimeError("no C compiler found: apt-get install -y clang gcc")


def compile_kernel(level, out, *, extra=(), cc=None):
    """Compiles csrc/kernel.c for one level into `out` (an object or, with -shared, a library),
    with the level's compiler or `cc` (benchmarks compare the two)."""
    march = LEVELS[level][0]
    subprocess.run([cc or compiler_for(level), *FLAGS, f"-march={march}", "-fPIC", *extra, str(abi.CSRC / "kernel.c"),
                    "-o", str(out)], check=True)


def _level_object(level):
    """The object of one level with its names suffixed; rebuilt only when a source is newer."""
    OBJECTS.mkdir(parents=True, exist_ok=True)
    obj, rename = OBJECTS / f"kernel-{level}.o", OBJECTS / f"rename-{level}.h"
    rename_text = "".join(f"#define {name} {name}__{level}\n" for name in abi.function_names())
    if not rename.exists() or rename.read_text() != rename_text:
        rename.write_text(rename_text)
    sources = [*abi.CSRC.glob("*.[ch]"), rename, pathlib.Path(__file__)]
    if not obj.exists() or obj.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        compile_kernel(level, obj, extra=("-c", "-fvisibility=hidden", "-include", str(rename)))
    return obj


def _dispatch_source():
    """C for the module: each level's declarations, a table of one level's functions chosen
    by CPU at load, and every agk_* name routed through the table (the generated cffi code
    then calls the chosen level)."""
    decls, table, macros, fills = [], [], [], {level: [] for level in LEVELS}
    for line in abi.functions():
        name = abi.function_name(line)
        for level in LEVELS:
            decls.append(line.replace(f"{name}(", f"{name}__{level}(", 1))
            fills[level].append(f"        agk_table.{name} = {name}__{level};")
        table.append(f"    __typeof__({name}__sse2) *{name};")
        macros.append(f"#define {name} (*agk_table.{name})")
    supports = {level: " && ".join(f'__builtin_cpu_supports("{f}")' for f in feats) or "1"
                for level, (_, _, feats) in LEVELS.items()}
    choose = "\n    else ".join(f"if ({supports[level]}) {{\n{chr(10).join(fills[level])}\n    }}" for level in LEVELS)
    return f"""#include "agentdb_kernel.h"
{chr(10).join(decls)}
static struct {{
{chr(10).join(table)}
}} agk_table;
__attribute__((constructor)) static void agk_choose_level(void) {{
    __builtin_cpu_init();
    {choose}
}}
{chr(10).join(macros)}
"""


ffibuilder = FFI()
ffibuilder.cdef(abi.cdef())
if multi_level():
    objects = [str(_level_object(level)) for level in LEVELS]
    ffibuilder.set_source("agentdb.kernel._native", _dispatch_source(), include_dirs=[str(abi.CSRC)],
                          extra_objects=objects, depends=objects, extra_compile_args=FLAGS)
else:
    ffibuilder.set_source("agentdb.kernel._native", '#include "kernel.c"', include_dirs=[str(abi.CSRC)],
                          depends=[str(p) for p in sorted(abi.CSRC.glob("*.[ch]"))], extra_compile_args=FLAGS)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
