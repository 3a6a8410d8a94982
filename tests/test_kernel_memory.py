"""KBuffers: zero-copy views, reads and writes, survival across wasm memory growth, and the
heap allocator that backs them in the wasm backends."""
import gc

import numpy as np
import pytest

from agentdb import DimensionError
from agentdb.kernel.heap import ALIGN, PAGE, WasmHeap
from support import f32


def test_alloc_is_zeroed_and_views_write_through(kernel):
    buf = kernel.alloc(100)
    assert buf.read().tolist() == [0.0] * 100
    view = buf.view()
    view[3] = 2.5
    assert buf.read(3, 4).tolist() == [2.5]
    buf.write([1, 2], start=98)
    assert buf.read(97).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(DimensionError):
        buf.write([1, 2], start=99)


def test_data_survives_memory_growth(kernel, rng):
    rows = f32(rng.standard_normal((1000, 32)))
    q = f32(rng.standard_normal(32))
    krows = kernel.from_buffer(rows)
    before = kernel.scan(q, krows, dim=32)
    big = kernel.alloc(40_000_000, "B")  # forces wasm memory to grow by ~40 MB
    assert np.array_equal(np.frombuffer(krows.view(), np.float32), rows.ravel())
    assert kernel.scan(q, krows, dim=32) == before
    big.view()[-1] = 7
    assert big.read(len(big) - 1)[0] == 7


def test_freed_kbuffers_are_reused(wasmhost):
    heap = wasmhost._b._heap
    gc.collect()
    start = heap.live_bytes
    for _ in range(50):
        wasmhost.alloc(1_000_000)
    gc.collect()
    assert heap.live_bytes == start


def test_kbuffer_of_the_wrong_type(kernel):
    ints = kernel.alloc(4, "I")
    with pytest.raises(TypeError, match="holds 'I' elements, expected 'f'"):
        kernel.dot(ints, ints)


def test_heap_first_fit_coalesces_and_grows():
    size = [PAGE]

    def grow(pages):
        size[0] += pages * PAGE
        return size[0]

    heap = WasmHeap(100, PAGE, grow)
    a = heap.alloc(10)
    b = heap.alloc(1000)
    c = heap.alloc(10)
    assert a % ALIGN == 0 and b % ALIGN == 0 and a < b < c
    heap.free(b)
    assert heap.alloc(900) == b  # first fit reuses the hole
    heap.free(a)
    heap.free(b)
    heap.free(c)
    assert heap.alloc(PAGE - 128) == a  # all coalesced back into one block
    d = heap.alloc(3 * PAGE)  # nothing fits: grows
    assert size[0] >= 4 * PAGE and d + 3 * PAGE <= size[0]


def test_native_large_buffers_are_aligned_lazy_and_grow_within_the_kernels_sizes(rng):
    """Natively a large KBuffer is a huge-page-aligned mapping whose untouched capacity costs
    no memory, so a growing array takes 16x room at once, never past 4 GiB (the kernel's
    sizes are 32-bit); small buffers start on a cache line."""
    from agentdb.kernel import load
    from agentdb.kernel.native import HUGE_PAGE
    from agentdb.kernel.core import U32_MAX
    from agentdb.store.arrays import GrowableArray

    kernel = load("native")
    small, large = kernel.alloc(1000, "f"), kernel.alloc(3_000_000, "f")
    assert kernel.lazy_memory(large.nbytes) and not kernel.lazy_memory(small.nbytes)
    assert small.view().tobytes() == bytes(4000)
    ffi = kernel._b._ffi
    assert int(ffi.cast("uintptr_t", ffi.from_buffer(small.handle.data))) % 64 == 0
    assert int(ffi.cast("uintptr_t", ffi.from_buffer(large.handle.data))) % HUGE_PAGE == 0
    rows = f32(rng.standard_normal(2_000_000))
    grown = GrowableArray(kernel, "f")
    grown.append(rows, len(rows))                   # 8 MB: a mapping
    grown.reserve(len(rows) + 1)
    assert grown.capacity == 16 * len(rows) and grown.read().tobytes() == rows.tobytes()
    grown.reserve(grown.capacity + 1)               # 128 MB -> 2 GB of address space
    grown.reserve(grown.capacity + 1)               # 16x of 2 GB would pass the 32-bit limit
    assert grown.capacity == U32_MAX // 4 and grown.read(1_999_990).tobytes() == rows[-10:].tobytes()
