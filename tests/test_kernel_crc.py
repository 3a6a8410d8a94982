"""CRC32C and CRC-32/IEEE: check values, a bitwise reference, zlib, every alignment, chaining
(lengths around the carry-less multiplication path's 64-byte blocks and 16-byte folds)."""
import sys
import zlib
from pathlib import Path

import pytest

import reference as ref

ROOT = Path(__file__).resolve().parent.parent


def test_check_values(kernel):
    assert kernel.crc32c(b"123456789") == 0xE3069283
    assert kernel.crc32_ieee(b"123456789") == 0xCBF43926
    assert kernel.crc32c(b"") == 0 and kernel.crc32_ieee(b"") == 0


@pytest.mark.parametrize("length", (1, 7, 8, 9, 63, 64, 65, 79, 80, 127, 128, 129, 143, 1000))
def test_against_references_at_every_alignment(kernel, rng, length):
    blob = rng.integers(0, 256, length + 8, dtype="u1").tobytes()
    for start in range(8):
        data = bytearray(blob[start:start + length])
        assert kernel.crc32c(data) == ref.crc32c(data)
        assert kernel.crc32_ieee(data) == zlib.crc32(data)


def test_chaining_equals_one_pass(kernel, rng):
    data = rng.integers(0, 256, 100_003, dtype="u1").tobytes()
    whole = kernel.crc32c(data)
    assert kernel.crc32c(data[40_001:], kernel.crc32c(data[:40_001])) == whole
    assert kernel.crc32_ieee(data[5:], kernel.crc32_ieee(data[:5])) == zlib.crc32(data)


def test_large_buffer_matches_zlib(kernel, rng):
    data = rng.integers(0, 256, 3_000_000, dtype="u1")
    assert kernel.crc32_ieee(data) == zlib.crc32(data.tobytes())


def test_committed_tables_are_what_the_generator_writes():
    sys.path.insert(0, str(ROOT / "build"))
    import gen_crc_tables

    assert gen_crc_tables.render() == (ROOT / "csrc" / "crc_tables.h").read_text()
