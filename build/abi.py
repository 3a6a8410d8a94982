"""Reads csrc/agentdb_kernel.h, the one place the kernel ABI is written down.

Both builds derive from it: the cffi cdef (build_native.py) and the wasm export list
(build_wasm.py). The header keeps each declaration on one line, so a line-based parse is
exact; anything it does not recognise is an error rather than a silent omission.
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
HEADER = CSRC / "agentdb_kernel.h"

_DEFINE = re.compile(r"^#define (AGK_\w+) (-?\d+)$")
_FUNC = re.compile(r"^(?:u?int32_t|float|void) (agk_\w+)\(.*\);$")


def _lines():
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def constants():
    return {m.group(1): int(m.group(2)) for m in map(_DEFINE.match, _lines()) if m}


def functions():
    """The declarations, in header order, exactly as written."""
    return [ln for ln in _lines() if _FUNC.match(ln)]


def function_name(declaration):
    return _FUNC.match(declaration).group(1)


def function_names():
    return [function_name(ln) for ln in functions()]


def cdef():
    """The cffi cdef: integer constants and every declaration."""
    defs = [f"#define {k} {v}" for k, v in constants().items()]
    return "\n".join(defs + functions()) + "\n"
