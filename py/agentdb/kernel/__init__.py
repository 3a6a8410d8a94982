"""The kernel seam: one Kernel interface over three backends.

    native    the cffi build of csrc/ (desktop and server default)
    wasmhost  kernel.wasm under wasmtime (parity tests, fallback without a C compiler)
    browser   kernel.wasm in the page's JS engine, called from Pyodide

`load()` picks native, else wasmhost (or browser inside Pyodide); AGENTDB_KERNEL=name
forces one. Every backend returns the same bits for the same inputs.

>>> from agentdb.kernel import load
>>> k = load()
>>> hex(k.crc32c(b"123456789"))
'0xe3069283'
"""
import os
import sys

from ..errors import BackendUnavailableError, OptionError
from .core import Kernel, KBuffer

__all__ = ["Kernel", "KBuffer", "load", "available_backends", "BACKENDS"]

BACKENDS = ("native", "wasmhost", "browser")
_loaded = {}


def _make(name):
    if name == "native":
        from .native import NativeBackend

        return NativeBackend()
    if name == "wasmhost":
        from .wasmhost import WasmtimeBackend

        return WasmtimeBackend()
    if name == "browser":
        from .browser import BrowserBackend

        return BrowserBackend()
    raise OptionError(f"unknown kernel backend {name!r}: expected one of {BACKENDS}")


def load(backend=None):
    """The Kernel for `backend` (default: AGENTDB_KERNEL, else the best available), cached."""
    name = backend or os.environ.get("AGENTDB_KERNEL")
    if name:
        if name not in _loaded:
            try:
                _loaded[name] = Kernel(_make(name))
            except (ImportError, OSError) as exc:
                raise BackendUnavailableError(f"kernel backend {name!r} is unavailable: {exc}") from exc
        return _loaded[name]
    order = ("browser",) if sys.platform == "emscripten" else ("native", "wasmhost")
    errors = []
    for candidate in order:
        try:
            return load(candidate)
        except BackendUnavailableError as exc:
            errors.append(str(exc))
    raise BackendUnavailableError(
        "no agentdb kernel can run here. Install a C compiler (apt-get install -y gcc python3-dev) and "
        "reinstall with `pip install .` for the native kernel, or `pip install wasmtime` and build "
        "kernel.wasm (apt-get install -y clang lld). Details: " + "; ".join(errors))


def available_backends():
    """Names of the backends that load here."""
    names = []
    for name in BACKENDS:
        try:
            load(name)
            names.append(name)
        except BackendUnavailableError:
            pass
    return names
