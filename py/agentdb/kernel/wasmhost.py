"""The wasmhost backend: the very same kernel.wasm the browser runs, under wasmtime.

Used to prove the native and wasm builds agree bit for bit, and as a fallback where no C
compiler built the native extension. Memory is reached through a ctypes view of wasmtime's
linear memory (~20 GB/s copies), re-made whenever the memory grows and may have moved.
"""
import ctypes
import functools
import pathlib
import sys

from .wasm import WasmBackend

WASM_PATH = pathlib.Path(__file__).with_name("kernel.wasm")
MADV_HUGEPAGE = 14
WASM32_RESERVATION = 1 << 32


def advise_huge_pages(address, length):
    """Asks Linux to back a memory range with transparent huge pages (best effort): numpy does
    this for its large arrays, and large scans of wasm memory lose ~5% to TLB misses without."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.madvise(address, length, MADV_HUGEPAGE)


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
        # wasmtime reserves the whole 4 GiB address space of a wasm32 memory up front
        advise_huge_pages(ctypes.addressof(self._memory.data_ptr(self._store).contents), WASM32_RESERVATION)

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

    def copy(self, dst, src, nbytes):
        mem = self._memory_view()
        mem[dst.addr:dst.addr + nbytes] = mem[src.addr:src.addr + nbytes]

    def _zero_at(self, addr, nbytes):
        ctypes.memset(ctypes.addressof(self._memory.data_ptr(self._store).contents) + addr, 0, nbytes)

    def _func(self, fname):
        fn = self._funcs.get(fname)
        if fn is None:
            fn = self._funcs[fname] = self._exports[fname]
        return fn

    def _call_raw(self, fname, args):
        return self._func(fname)(self._store, *args)

    def _bind_raw(self, fname, prefix):
        return functools.partial(self._func(fname), self._store, *prefix)
