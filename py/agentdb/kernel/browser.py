"""The browser backend: kernel.wasm instantiated through the page's (or worker's) JavaScript
WebAssembly API, called from Pyodide.

No JS glue is needed: the module's bytes ship inside the package, and a Web Worker may compile
them synchronously. Python's own memory and the kernel's are separate wasm memories, so
buffers are copied across (JsBuffer.assign / assign_to: one memcpy each way, ~0.5 ms for
15 MB); a KBuffer stays in kernel memory and costs nothing per call. A call with small
buffer arguments costs ~20-35 us in Chromium (the JS crossing plus a heap slot and a copy per
buffer; ~5 us natively); the kernel's result bits are the same as natively.
"""
import pathlib

from ..errors import BufferFormatError
from .wasm import WasmBackend

WASM_PATH = pathlib.Path(__file__).with_name("kernel.wasm")
SUBARRAYS = 64        # cached typed-array views of kernel memory (see _bytes)


class BrowserBackend(WasmBackend):
    name = "browser"

    def __init__(self, path=WASM_PATH):
        import js                                   # only inside Pyodide
        from pyodide.ffi import to_js

        self._js = js
        module = js.WebAssembly.Module.new(to_js(pathlib.Path(path).read_bytes()))
        self._exports = js.WebAssembly.Instance.new(module, js.Object.new()).exports
        self._memory = self._exports.memory
        self._funcs = {}
        self._view = js.Uint8Array.new(self._memory.buffer)
        self._subarrays = {}
        self._start_heap(getattr(self._exports, "__heap_base").value, self._memory.buffer.byteLength)

    def _grow_pages(self, pages):
        self._memory.grow(pages)
        # growing detaches the old ArrayBuffer (the kernel never grows memory itself: only here)
        self._view = self._js.Uint8Array.new(self._memory.buffer)
        self._subarrays = {}                 # views of the detached buffer
        return self._memory.buffer.byteLength

    def _bytes(self, addr, nbytes):
        # subarrays of one cached view, themselves kept for the ranges copied again and again
        # (a query's slot, a search's outputs): a copy is then one JS call, not two
        key = (addr, nbytes)
        sub = self._subarrays.get(key)
        if sub is None:
            if len(self._subarrays) >= SUBARRAYS:
                self._subarrays.clear()
            sub = self._subarrays[key] = self._view.subarray(addr, addr + nbytes)
        return sub

    def view(self, handle, nbytes):
        raise BufferFormatError("zero-copy views of kernel memory do not exist in Pyodide (Python and the kernel "
                                "have separate wasm memories); use KBuffer.read() and write()")

    def _write_at(self, addr, src):
        if len(src):
            self._bytes(addr, len(src)).assign(src)

    def _read_at(self, addr, dst):
        if len(dst):
            self._bytes(addr, len(dst)).assign_to(dst)

    def _zero_at(self, addr, nbytes):
        self._bytes(addr, nbytes).fill(0)

    def copy(self, dst, src, nbytes):
        self._view.copyWithin(dst.addr, src.addr, src.addr + nbytes)

    def _func(self, fname):
        fn = self._funcs.get(fname)
        if fn is None:
            fn = self._funcs[fname] = getattr(self._exports, fname)
        return fn

    def _call_raw(self, fname, args):
        return self._func(fname)(*args)

    def _bind_raw(self, fname, prefix):
        # bound on the JS side: a call then converts only its own few numbers (a search: 2 of 16)
        return self._func(fname).bind(None, *prefix)
