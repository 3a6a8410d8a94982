"""The native backend: the cffi build of csrc/kernel.c (agentdb.kernel._native).

Python buffers are passed in place (ffi.from_buffer, zero copies); KBuffers are Blocks below.
"""
import ctypes
import functools
import mmap
import sys

from ..errors import BufferFormatError
from .buffers import FORMATS
from .core import KBuffer, Ptr

ALIGN = 64
HUGE_PAGE = 2 << 20
LARGE = 4 << 20     # bytes from which a block is its own mapping
COPY_PIECE = 8 << 20
MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)   # Linux 5.14+
MAP_NORESERVE = 0x4000 if sys.platform.startswith("linux") else 0


def _libc():
    if not _LIBC:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        _LIBC.append(libc)
    return _LIBC[0]


_LIBC = []


class Block:
    """Native memory for a KBuffer and its cffi pointers (made once per element type instead
    of once per call). The memory never moves and starts on a cache line, like the wasm
    heap's blocks (rows read across cache lines made the graph walk 40% slower).

    Large blocks are anonymous mappings asking for transparent huge pages: a graph walk
    touches rows all over the vectors, and with 4 KiB pages nearly every row visited was a
    TLB miss (100k x 384: 25% faster with huge pages, measured). Their pages are zero until
    first written, so unused capacity costs address space, not memory; a large write first
    has the kernel populate its pages in one call (page faults one by one made copying
    460 MB in take 0.4-1.2 s instead of 0.1-0.25 s)."""

    __slots__ = ("data", "pointers", "address", "_mapping", "_start")

    def __init__(self, ffi, nbytes):
        self._mapping = None
        if nbytes >= LARGE:
            # private (shared memory gets no huge pages); no swap reserved for untouched capacity
            raw = self._mapping = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=mmap.MAP_PRIVATE | MAP_NORESERVE)
            if hasattr(mmap, "MADV_HUGEPAGE"):
                raw.madvise(mmap.MADV_HUGEPAGE)
            align = HUGE_PAGE
        else:
            raw, align = bytearray(nbytes + ALIGN), ALIGN
        base = int(ffi.cast("uintptr_t", ffi.from_buffer(raw)))
        self._start = -base % align
        self.address = base + self._start
        self.data = memoryview(raw)[self._start:self._start + nbytes]
        self.pointers = {}

    def populate(self, offset, nbytes):
        """Backs [offset, offset + nbytes) with memory now, before a large write into it."""
        if self._mapping is None:
            return
        first = (self.address + offset) // mmap.PAGESIZE * mmap.PAGESIZE
        # through ctypes, which lets go of the GIL (mmap.madvise holds it): other threads run
        # meanwhile; a failure (Linux < 5.14) only means the write faults its pages in instead
        _libc().madvise(first, self.address + offset + nbytes - first, MADV_POPULATE_WRITE)


class NativeBackend:
    name = "native"
    @staticmethod
    def lazy(nbytes):           # a large block's pages exist only once written (see Block)
        return nbytes >= LARGE

    def __init__(self, ffi=None, lib=None):
        """The built extension by default; tests pass a (ffi, lib) of another build."""
        if lib is None:
            from . import _native  # ImportError when the extension was not built

            ffi, lib = _native.ffi, _native.lib
        self._ffi, self._lib = ffi, lib
        self._ctypes = {fmt: (f"{ctype}[]", size) for fmt, (ctype, size) in FORMATS.items()}

    def alloc(self, nbytes, filled_soon=False):
        block = Block(self._ffi, nbytes)
        if filled_soon:
            block.populate(0, nbytes)
        return block

    def view(self, handle, nbytes):
        return memoryview(handle.data)

    def write(self, handle, offset, src):
        if len(src) < LARGE:
            memoryview(handle.data)[offset:offset + len(src)] = src
            return
        # a large copy lets go of the GIL (ctypes does), so a file commit can run beside it, and
        # goes piece by piece: populating holds the process's memory-map lock, which another
        # thread's allocations wait for
        source = int(self._ffi.cast("uintptr_t", self._ffi.from_buffer(src)))
        for at in range(0, len(src), COPY_PIECE):
            n = min(COPY_PIECE, len(src) - at)
            handle.populate(offset + at, n)
            ctypes.memmove(handle.address + offset + at, source + at, n)

    def read(self, handle, offset, dst):
        dst[:] = memoryview(handle.data)[offset:offset + len(dst)]

    def copy(self, dst, src, nbytes):
        dst.populate(0, nbytes)
        memoryview(dst.data)[:nbytes] = memoryview(src.data)[:nbytes]

    def _pointer(self, p):
        if p.obj is None:
            return self._ffi.NULL
        ctype, size = self._ctypes[p.fmt]
        if isinstance(p.obj, KBuffer):
            block = p.obj.handle
            c = block.pointers.get(p.fmt)
            if c is None:
                c = block.pointers[p.fmt] = self._ffi.from_buffer(ctype, block.data)
            return c + p.offset if p.offset else c
        c = self._ffi.from_buffer(ctype, p.obj, require_writable=p.out)
        # The kernel reads caller buffers in place, so their elements must be aligned.
        if size > 1 and p.obj.nbytes and int(self._ffi.cast("uintptr_t", c)) % size:
            raise BufferFormatError(f"buffer address is not aligned to its {size}-byte elements; "
                                    "pass a copy (e.g. bytes(buffer)) instead of an odd slice")
        return c + p.offset if p.offset else c

    def invoke(self, fname, args):
        return getattr(self._lib, fname)(*[self._pointer(a) if isinstance(a, Ptr) else a for a in args])

    def bind(self, fname, static, *, scalars_only=False):
        """A call of fname with its leading arguments converted once (KBuffers and scalars).
        scalars_only: the remaining arguments are plain numbers, so the call is cffi's own
        function with the leading ones applied (no Python frame per call)."""
        fn, pointer = getattr(self._lib, fname), self._pointer
        call = functools.partial(fn, *[pointer(a) if isinstance(a, Ptr) else a for a in static])
        if scalars_only:
            return call
        return lambda *args: call(*[pointer(a) if isinstance(a, Ptr) else a for a in args])
