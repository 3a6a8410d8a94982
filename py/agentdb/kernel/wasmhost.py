"""The wasmhost backend: the very same kernel.wasm the browser runs, under wasmtime.

Used to prove the native and wasm builds agree bit for bit, and as a fallback where no C
compiler built the native extension. Memory is reached through a ctypes view of wasmtime's
linear memory (~20 GB/s copies), re-made whenever the memory grows and may have moved.
"""
import ctypes
import pathlib

from .wasm import WasmBackend

WASM_PATH = pathlib.Path(__file__).with_name("kernel.wasm")


class WasmtimeBackend(WasmBackend):
    name = "wasmhost"

    def __init__(self, path=WASM_PATH):
        import wasmtime  # ImportError when wasmtime is not installed

        if not pathlib.Path(path).exists():
            raise FileNotFoundError(f"{path} is missing: install clang and lld, then reinstall agentdb")
        self._store = wasmtime.Store(wasmtime.Engine())
        instance = wasmtime.Instance(self._store, wasmtime.Module.from_file(self._store.engine, str(path)), [])
        exports = instance.exports(self._store)
        self._exports = exports
        self._memory = exports["memory"]
        self._funcs = {}
        self._mem_key = self._mem_view = None
        self._start_heap(exports["__heap_base"].value(self._store), self._memory.data_len(self._store))

    def _grow_pages(self, pages):
        self._memory.grow(self._store, pages)
        return self._memory.data_len(self._store)

    def _memory_view(self):
        ptr = ctypes.addressof(self._memory.data_ptr(self._store).contents)
        key = (ptr, self._memory.data_len(self._store))
        if key != self._mem_key:
            self._mem_key = key
            self._mem_view = memoryview((ctypes.c_ubyte * key[1]).from_address(ptr)).cast("B")
        return self._mem_view

    def view(self, handle, nbytes):
        return self._memory_view()[handle.addr:handle.addr + nbytes]

    def _write_at(self, addr, src):
        self._memory_view()[addr:addr + len(src)] = src

    def _read_at(self, addr, dst):
        dst[:] = self._memory_view()[addr:addr + len(dst)]

    def _zero_at(self, addr, nbytes):
        ctypes.memset(ctypes.addressof(self._memory.data_ptr(self._store).contents) + addr, 0, nbytes)

    def _call_raw(self, fname, args):
        fn = self._funcs.get(fname)
        if fn is None:
            fn = self._funcs[fname] = self._exports[fname]
        return fn(self._store, *args)
