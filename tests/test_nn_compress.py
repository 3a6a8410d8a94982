"""agentdb.nn.compress: the five levels' round trips and error bounds, the f16 conversion bit
for bit against numpy, exact bytes, determinism, backend parity and the typed errors."""
import doctest
import struct

import numpy as np
import pytest

from agentdb import errors
from agentdb.nn import compress as C
from agentdb.nn.compress import CompressedTensor, batch_compress, compress, compression_errors, decompress
from support import f32

# measured (n = 600, dim = 96, 2 floats a PQ subspace): bounds with headroom, on both data sets
BOUNDS = {"gaussian": {"none": 0.0, "half": 5e-4, "pq8": 0.12, "pq4": 0.40, "binary": 0.62},
          "clustered": {"none": 0.0, "half": 5e-4, "pq8": 0.03, "pq4": 0.12, "binary": 0.66}}


def dataset(rng, kind, n=600, dim=96):
    if kind == "gaussian":
        return f32(rng.standard_normal((n, dim)))
    centers = rng.standard_normal((8, dim)) * 3
    return f32(centers[rng.integers(0, 8, n)] + 0.1 * rng.standard_normal((n, dim)))


def measured(x, y):
    d = np.asarray(y, np.float64) - np.asarray(x, np.float64).reshape(-1)
    return np.linalg.norm(d) / np.linalg.norm(x), np.abs(d).max()


@pytest.mark.parametrize("kind", ["gaussian", "clustered"])
@pytest.mark.parametrize("level", C.LEVELS)
def test_round_trip_within_bounds(kernel, rng, kind, level):
    x = dataset(rng, kind)
    c = compress(x, level, kernel=kernel)
    y = decompress(c, kernel=kernel)
    assert len(y) == x.size and (c.n, c.dim) == x.shape
    rel, top = measured(x, y)
    assert rel <= BOUNDS[kind][level]
    assert c.rel_l2 == pytest.approx(rel, rel=1e-4, abs=1e-7) and c.max_abs == pytest.approx(top, rel=1e-5)
    if level == "half":     # every element within half an f16 ulp
        assert np.all(np.abs(np.asarray(y) - x.reshape(-1)) <= np.abs(x.reshape(-1)) * 2.0 ** -11 + 2.0 ** -25)
    assert c.ratio == pytest.approx({"none": 1, "half": 2, "pq8": 4 * 600 * 96 / (4 * 256 * 96 + 600 * 48),
                                     "pq4": 4 * 600 * 96 / (4 * 16 * 96 + 300 * 48), "binary": 4 * 96 / 16}[level])


def test_levels_order_their_errors(rng):
    x = dataset(rng, "gaussian")
    errs = compression_errors(x)
    rels = [errs[level]["rel_l2"] for level in C.LEVELS]
    assert rels == sorted(rels) and rels[0] == 0.0
    assert errs["binary"]["ratio"] > errs["pq4"]["ratio"] > errs["pq8"]["ratio"] and errs["half"]["ratio"] == 2.0


def test_binary_is_scaled_signs(kernel, rng):
    x = f32(rng.standard_normal((5, 13)))      # 13 bits: a padded second byte
    y = np.reshape(decompress(compress(x, "binary", kernel=kernel), kernel=kernel), x.shape)
    scale = np.abs(x).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(y, np.where(x > 0, scale, -scale), rtol=1e-6)


def test_pq_reconstructs_exactly_when_rows_fit_the_codebook(kernel, rng):
    x = f32(rng.standard_normal((10, 6)))
    for level in ("pq8", "pq4"):
        c = compress(x, level, subvectors=3, kernel=kernel)
        assert (c.m, c.ksub) == (3, 10)
        np.testing.assert_array_equal(decompress(c, kernel=kernel), x.reshape(-1))


def test_pq4_odd_code_count_and_subvectors(kernel, rng):
    x = f32(rng.standard_normal((41, 15)))       # 41 x 5 codes: an odd count of nibbles
    c = compress(x, "pq4", subvectors=5, kernel=kernel)
    assert len(c.payload) == 4 * 16 * 15 + (41 * 5 + 1) // 2
    assert measured(x, decompress(c, kernel=kernel))[0] < 0.7
    assert compress(f32(rng.standard_normal((30, 97))), "pq8", kernel=kernel).m == 97   # odd dim: 1 float each


def test_batch_compress_trains_one_codebook(kernel, rng):
    rows = [list(map(float, r)) for r in rng.standard_normal((50, 8))]
    c = batch_compress(rows, "pq8", kernel=kernel)
    assert (c.n, c.dim, c.m, c.ksub) == (50, 8, 4, 50)
    flat = f32(rows).reshape(-1)
    assert batch_compress(flat, "pq8", dim=8, kernel=kernel) == c
    with pytest.raises(errors.DimensionError):
        batch_compress(list(flat), "pq8")
    with pytest.raises(errors.DimensionError):
        batch_compress([[1.0, 2.0], [1.0]], "half")


# ---- the f16 conversion, bit for bit against numpy.float16 -----------------------------------------

def f16_bits(values):
    return np.frombuffer(C.to_half(f32(values)), dtype=np.uint16)


def test_half_matches_numpy_bit_for_bit(rng):
    parts = [rng.standard_normal(20000) * s for s in (1e-9, 1e-7, 6e-5, 1e-3, 1, 300, 6e4)]
    specials = [0.0, -0.0, np.inf, -np.inf, 65504, 65519.99, 65520, -65520, 1e6, -3e38, 2.0 ** -24, 2.0 ** -25,
                -(2.0 ** -25), 2.0 ** -25 * 1.0000001, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -24, 3 * 2.0 ** -26]
    x = f32(np.concatenate([*parts, specials]))
    all_bits = np.arange(2 ** 32, step=4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([x, all_bits[np.isfinite(all_bits)]])
    with np.errstate(over="ignore"):
        ref = x.astype(np.float16).view(np.uint16)
    np.testing.assert_array_equal(f16_bits(x), ref)


def test_half_rounding_ties_go_to_even():
    # 1 + 2^-11 is halfway between 1 and 1 + 2^-10: to even (1); 1 + 3 * 2^-11 up to 1 + 2^-9
    assert f16_bits([1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11]).tolist() == [0x3C00, 0x3C02]
    # the subnormal tie 2^-25 (half of the smallest subnormal) goes to 0, 3 * 2^-25 to 2 * 2^-24
    assert f16_bits([2.0 ** -25, 3 * 2.0 ** -25]).tolist() == [0x0000, 0x0002]
    assert f16_bits([65504, 65519, 65520, np.inf, -1e9]).tolist() == [0x7BFF, 0x7BFF, 0x7C00, 0x7C00, 0xFC00]
    assert np.isnan(C.from_half(C.to_half(f32([np.nan])))[0])
    assert C.from_half(struct.pack("<3e", 2.0 ** -24, -0.0, 65504)).tolist() == [2.0 ** -24, -0.0, 65504.0]


def test_half_overflow_reports_an_infinite_error(kernel):
    c = compress([1.0, 1e5], "half", kernel=kernel)
    assert decompress(c, kernel=kernel).tolist() == [1.0, float("inf")] and c.max_abs == float("inf")


# ---- bytes, determinism, parity ------------------------------------------------------------------

@pytest.mark.parametrize("level", C.LEVELS)
def test_bytes_round_trip_exactly(kernel, rng, level):
    c = compress(f32(rng.standard_normal((37, 17))), level, subvectors=17 if "pq" in level else None, kernel=kernel)
    data = c.to_bytes(kernel=kernel)
    back = CompressedTensor.from_bytes(data, kernel=kernel)
    assert back == c and back.to_bytes(kernel=kernel) == data
    assert decompress(data, kernel=kernel) == decompress(c, kernel=kernel)


@pytest.mark.parametrize("level", ["pq8", "pq4", "binary", "half"])
def test_same_seed_same_bytes_and_backends_agree(native, wasmhost, rng, level):
    x = dataset(rng, "gaussian", n=300, dim=33)
    runs = [compress(x, level, seed=7, kernel=kern).to_bytes(kernel=kern) for kern in (native, native, wasmhost)]
    assert runs[0] == runs[1] == runs[2]
    assert decompress(runs[0], kernel=native) == decompress(runs[0], kernel=wasmhost)
    if level in ("pq8", "pq4"):
        assert compress(x, level, seed=8, kernel=native).to_bytes() != runs[0]


def test_corrupt_bytes_raise_and_never_crash(kernel, rng):
    data = compress(f32(rng.standard_normal((9, 12))), "pq4", subvectors=6, kernel=kernel).to_bytes(kernel=kernel)
    for cut in range(len(data)):       # every truncation
        with pytest.raises(errors.CorruptFileError):
            CompressedTensor.from_bytes(data[:cut], kernel=kernel)
    for i in range(len(data)):         # every single-byte flip
        flipped = bytearray(data)
        flipped[i] ^= 0x41
        with pytest.raises(errors.CorruptFileError):
            CompressedTensor.from_bytes(bytes(flipped), kernel=kernel)
    with pytest.raises(errors.CorruptFileError):
        decompress(data + b"\0", kernel=kernel)
    with pytest.raises(errors.CorruptFileError, match="magic"):
        CompressedTensor.from_bytes(b"XXXX" + data[4:], kernel=kernel)


def test_crafted_codes_beyond_the_codebook_are_refused(kernel):
    c = compress([[1.0, 2.0], [3.0, 4.0]], "pq8", subvectors=1, kernel=kernel)
    bad = CompressedTensor(c.level, c.n, c.dim, c.m, c.ksub, c.payload[:-1] + b"\x05", c.rel_l2, c.max_abs)
    with pytest.raises(errors.CorruptFileError, match="PQ code"):
        CompressedTensor.from_bytes(bad.to_bytes(kernel=kernel), kernel=kernel)


# ---- errors ------------------------------------------------------------------------------------------

def test_errors(kernel):
    with pytest.raises(errors.OptionError):
        compress([1.0, 2.0], "pq2", kernel=kernel)
    with pytest.raises(errors.DimensionError):
        compress([[1.0, 2.0, 3.0]], "pq8", subvectors=2, kernel=kernel)
    with pytest.raises(errors.DimensionError):
        compress([1.0, 2.0], "pq4", subvectors=0, kernel=kernel)
    with pytest.raises(errors.OptionError):
        compress([1.0, 2.0], "half", subvectors=1, kernel=kernel)
    with pytest.raises(errors.NonFiniteError, match="row 1, element 0"):
        compress([[1.0, 2.0], [float("nan"), 0.0]], "binary", kernel=kernel)
    with pytest.raises(errors.DimensionError):
        compress([], "none", kernel=kernel)
    with pytest.raises(errors.DimensionError):
        compress([1.0, 2.0, 3.0], "none", dim=2, kernel=kernel)
    with pytest.raises(errors.DimensionError):
        C.from_half(b"\0\0\0")


def test_docstring_examples():
    assert doctest.testmod(C).failed == 0
