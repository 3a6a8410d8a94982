"""agk_copy_strided: blocks moved between strided layouts (VEC payloads), on every backend."""
import pytest

from agentdb import DimensionError


@pytest.mark.parametrize("n, width, src_stride, out_stride, src_offset, out_offset",
                         [(0, 4, 4, 4, 0, 0), (1, 3, 3, 9, 0, 6), (37, 8, 1544, 8, 0, 0), (37, 1536, 1544, 1536, 8, 0),
                          (100, 5, 7, 11, 3, 1)])
def test_copy_strided_matches_slicing(kernel, rng, n, width, src_stride, out_stride, src_offset, out_offset):
    src = rng.bytes(src_offset + max(n, 1) * src_stride)
    out = bytearray(rng.bytes(out_offset + max(n, 1) * out_stride))
    want = bytearray(out)
    for i in range(n):
        a, b = src_offset + i * src_stride, out_offset + i * out_stride
        want[b:b + width] = src[a:a + width]
    kernel.copy_strided(src, out, n=n, width=width, src_stride=src_stride, out_stride=out_stride,
                        src_offset=src_offset, out_offset=out_offset)
    assert out == want


def test_copy_strided_checks_bounds(kernel):
    with pytest.raises(DimensionError, match="do not fit the source of 10 bytes"):
        kernel.copy_strided(bytes(10), bytearray(100), n=3, width=4, src_stride=4, out_stride=4)
    with pytest.raises(DimensionError, match="do not fit the out of 8 bytes"):
        kernel.copy_strided(bytes(100), bytearray(8), n=3, width=4, src_stride=4, out_stride=4)
    with pytest.raises(DimensionError, match="blocks of 5 bytes every 4"):
        kernel.copy_strided(bytes(100), bytearray(100), n=3, width=5, src_stride=4, out_stride=8)
