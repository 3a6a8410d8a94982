"""Bad input gets a clear, typed Python exception on every backend: never a crash, never
silent garbage."""
import array

import numpy as np
import pytest

from agentdb import AgentDBError, BufferFormatError, DimensionError, KernelError, NonFiniteError
from support import f32


def test_dimension_zero(kernel):
    with pytest.raises(DimensionError, match="dimension must be >= 1"):
        kernel.scan([], [], dim=0)


def test_query_of_the_wrong_length(kernel):
    with pytest.raises(DimensionError, match="query has 3 values, dimension is 4"):
        kernel.scan([1, 2, 3], f32(np.zeros((2, 4))), dim=4)


def test_rows_not_a_multiple_of_dim(kernel):
    with pytest.raises(DimensionError, match="not a multiple of dimension 4"):
        kernel.scan([1, 2, 3, 4], f32(np.zeros(10)), dim=4)


def test_mismatched_vector_lengths(kernel):
    with pytest.raises(DimensionError, match="differ in length: 3 and 2"):
        kernel.dot([1, 2, 3], [1, 2])
    with pytest.raises(DimensionError):
        kernel.add(f32([1, 2]), f32([1]))


@pytest.mark.parametrize("k", (0, -1, 2.5, None))
def test_bad_k(kernel, k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        kernel.topk(f32([1, 2]), k)


def test_unknown_metric(kernel):
    with pytest.raises(ValueError, match="unknown metric 'euclid'"):
        kernel.scan([1.0], [1.0], dim=1, metric="euclid")


def test_subset_index_out_of_range_is_refused_before_writing(kernel):
    out = array.array("f", [7.0] * 2)
    with pytest.raises(KernelError, match="index out of range"):
        kernel.scan([1.0], [1.0, 2.0, 3.0], dim=1, subset=np.array([0, 3], np.uint32), out=out)
    assert out.tolist() == [7.0, 7.0]


def test_short_bitmap(kernel):
    with pytest.raises(DimensionError, match="bitmap holds 8 bits, 9 rows"):
        kernel.scan([1.0], f32(np.zeros(9)), dim=1, bitmap=b"\xff")


def test_wrong_element_type_is_not_reinterpreted(kernel):
    with pytest.raises(BufferFormatError, match="expected float32 elements, got format 'd'"):
        kernel.dot(np.zeros(4), np.zeros(4))
    with pytest.raises(BufferFormatError, match="expected float32"):
        kernel.scan(array.array("i", [1]), [1.0], dim=1)


def test_byte_buffers_must_hold_whole_elements(kernel):
    with pytest.raises(BufferFormatError, match="7 bytes is not a whole number of float32"):
        kernel.dot(b"\0" * 7, b"\0" * 7)
    assert kernel.dot(f32([2, 3]).tobytes(), bytearray(f32([4, 5]).tobytes())) == 23.0


def test_read_only_output(kernel):
    with pytest.raises(BufferFormatError, match="read-only"):
        kernel.scan([1.0], [1.0], dim=1, out=bytes(4))


def test_output_too_small(kernel):
    with pytest.raises(DimensionError, match="out holds 1 elements, 2 needed"):
        kernel.scan([1.0], [1.0, 2.0], dim=1, out=array.array("f", [0.0]))


def test_non_contiguous_buffer(kernel):
    with pytest.raises(BufferFormatError, match="C-contiguous"):
        kernel.dot(f32(np.arange(8))[::2], f32(np.arange(4)))


def test_not_a_buffer(kernel):
    with pytest.raises(BufferFormatError, match="got str"):
        kernel.dot("abc", "abc")
    with pytest.raises(BufferFormatError, match="cannot convert list"):
        kernel.dot(["a"], [1.0])


def test_misaligned_buffer_is_refused_or_copied(kernel):
    raw = bytearray(f32([0, 1, 2, 3, 4]).tobytes()) + b"\0"
    odd = memoryview(raw)[1:17]
    if kernel.is_native:
        # read in place, so the kernel would see a misaligned pointer
        with pytest.raises(BufferFormatError, match="not aligned"):
            kernel.dot(odd, odd)
    else:
        # copied into aligned wasm memory: the value is what the bytes say
        want = f32(np.frombuffer(bytes(odd), np.float32))
        assert kernel.dot(odd, odd) == kernel.dot(want, want)


def test_nonfinite_check_names_the_element(kernel):
    x = f32(np.zeros(12))
    x[7] = np.nan
    with pytest.raises(NonFiniteError, match="row 1, element 3 is nan"):
        kernel.check_finite(x, name="vectors", dim=4)


def test_pq_arguments(kernel):
    with pytest.raises(DimensionError, match="must split into m = 3"):
        kernel.pq_encode(f32(np.zeros(8)), f32(np.zeros(8)), dim=8, m=3, ksub=1)
    with pytest.raises(ValueError, match="ksub must be in 1..256"):
        kernel.pq_encode(f32(np.zeros(8)), f32(np.zeros(8)), dim=8, m=2, ksub=257)
    with pytest.raises(ValueError, match="normalise vectors"):
        kernel.pq_table(f32(np.zeros(8)), f32(np.zeros(8)), dim=8, m=2, ksub=1, metric="cos")


def test_int8_dimension_limit(kernel):
    with pytest.raises(DimensionError, match="<= 32768"):
        kernel.scan_dot_i8(np.zeros(40000, np.int8), np.zeros(40000, np.int8), dim=40000)


def test_every_error_is_an_agentdb_error():
    for cls in (BufferFormatError, DimensionError, KernelError, NonFiniteError):
        assert issubclass(cls, AgentDBError)
