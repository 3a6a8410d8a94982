"""agentdb.io models: SafeTensors (aligned or not), JSON, binary and the Hugging Face bundle
round-trip bit for bit; the real `safetensors` package reads ours and we read its; malformed
inputs are refused with typed errors (a Hypothesis fuzz of the binary and JSON readers);
the same bytes in Pyodide as natively."""
import json
import struct
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import io_support
from agentdb import io as aio
from agentdb import safetensors as ours
from agentdb.errors import ArgumentError, CorruptFileError, FormatError, SafeTensorsError


def bits(t):
    t = ours.Tensor(*t) if isinstance(t, tuple) else t
    return t.dtype, t.shape, bytes(t.data)


def same(a, b):
    """Two Models equal bit for bit (weights as bytes, so NaN payloads count)."""
    assert a.metadata == b.metadata
    assert list(a.adapters) == list(b.adapters)
    for name, x in a.adapters.items():
        y = b.adapters[name]
        assert (x.in_dim, x.out_dim, x.rank, x.alpha, x.seed, x.frozen) == (y.in_dim, y.out_dim, y.rank, y.alpha,
                                                                            y.seed, y.frozen)
        assert x.a.tobytes() == y.a.tobytes() and x.b.tobytes() == y.b.tobytes()
    for name, x in a.ewc.items():
        y = b.ewc[name]
        assert (x.lam, x.decay, x.tasks, x.samples) == (y.lam, y.decay, y.tasks, y.samples)
        assert [f.tobytes() for f in x.fisher + x.anchor] == [f.tobytes() for f in y.fisher + y.anchor]
    assert [(p.id, p.fields, p.vector and p.vector.tobytes()) for p in a.patterns] == \
        [(p.id, p.fields, p.vector and p.vector.tobytes()) for p in b.patterns]
    assert {n: bits(t) for n, t in a.tensors.items()} == {n: bits(t) for n, t in b.tensors.items()}
    assert list(a.tensors) == list(b.tensors)


@pytest.fixture
def model():
    return io_support.model()


@pytest.mark.parametrize("write,read", [
    (aio.to_safetensors, aio.from_safetensors),
    (lambda m: aio.to_safetensors(m, align=64), aio.from_safetensors),
    (aio.to_json, aio.from_json),
    (lambda m: aio.to_json(m, indent=1), aio.from_json),
    (aio.to_binary, aio.from_binary),
    (aio.to_huggingface, aio.load_huggingface),
])
def test_round_trips_bit_for_bit(model, write, read):
    back = read(write(model))
    same(model, back)
    assert write(back) == write(model)             # and writes the same bytes again


def test_files_and_bundles_round_trip(model, tmp_path):
    aio.save_safetensors(model, tmp_path / "m.safetensors", align=64)
    same(model, aio.from_safetensors(tmp_path / "m.safetensors"))
    folder = aio.save_huggingface(model, tmp_path / "hf")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    card = (folder / "README.md").read_text()
    assert "library_name: agentdb" in card and "load_huggingface" in card and "`query`" in card
    same(model, aio.load_huggingface(folder))
    zipped = aio.save_huggingface(model, tmp_path / "m.zip", zip=True)
    assert zipfile.ZipFile(zipped).namelist() == ["model.safetensors", "config.json", "README.md"]
    same(model, aio.load_huggingface(zipped))
    assert aio.load_huggingface(zipped.read_bytes()).metadata == model.metadata


def test_json_is_readable_and_keeps_nan_bits(model):
    doc = json.loads(aio.to_json(model))
    assert doc["data"]["adapter.query.a"]["shape"] == [17, 3]
    assert isinstance(doc["data"]["adapter.query.a"]["values"][0], float)
    assert "base64" in doc["data"]["tensor.odd"]            # a NaN has no JSON number
    assert doc["data"]["tensor.ids"]["values"] == [-1, 0, 2 ** 62]


def test_the_real_safetensors_reads_ours_aligned_or_not(model, tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors import safe_open
    from safetensors.torch import load as st_load

    for align in (None, 64):
        data = aio.to_safetensors(model, align=align)
        tensors = st_load(data)
        q = model.adapters["query"]
        assert torch.equal(tensors["adapter.query.a"].flatten(), torch.frombuffer(bytearray(q.a.tobytes()),
                                                                                    dtype=torch.float32))
        path = tmp_path / f"m{align}.safetensors"
        path.write_bytes(data)
        with safe_open(str(path), "pt") as f:
            assert f.metadata()["format"] == "agentdb.model"
            assert json.loads(f.metadata()["agentdb.model"])["adapters"]["query"]["rank"] == 3
        if align:
            (n,) = struct.unpack("<Q", data[:8])
            assert data[8 + n - 1:8 + n] == b" " and (8 + n) % 64 == 0
            header = json.loads(data[8:8 + n])
            starts = [v["data_offsets"][0] for k, v in header.items() if k != "__metadata__"
                      and not k.startswith(ours.PAD)]
            assert all(s % 64 == 0 for s in starts) and len(starts) > 12
            assert any(k.startswith(ours.PAD) for k in tensors)      # fillers, seen as small U8 tensors


def test_we_read_the_real_packages_files(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save, save_file

    w = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7
    data = save({"w": w, "h": w.to(torch.bfloat16), "i": torch.tensor([1, -2], dtype=torch.int64)}, {"k": "v"})
    st = ours.load(data)
    assert st.metadata == {"k": "v"} and st["w"].as_array().tobytes() == w.numpy().tobytes()
    assert st["i"].values() == [1, -2] and st["h"].dtype == "BF16"
    save_file({"w": w}, str(tmp_path / "w.safetensors"))
    assert ours.load(tmp_path / "w.safetensors")["w"].shape == (3, 4)
    with pytest.raises(FormatError, match="not an agentdb model"):
        aio.from_safetensors(data)


def nul_padded():
    header = b'{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
    header += b"\x00" * (-len(header) % 8)           # as ruvllm's SafeTensorsWriter pads
    return struct.pack("<Q", len(header)) + header + b"\x07"


def test_a_nul_padded_header_is_refused_clearly():
    data = nul_padded()
    with pytest.raises(SafeTensorsError, match="padded with NUL bytes") as err:
        ours.load(data)
    assert err.value.offset == 8 + data[8:].index(b"\x00")
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load
    with pytest.raises(SafetensorError, match="trailing characters"):      # the reference refuses it too
        st_load(data)
    with pytest.raises(SafeTensorsError, match="NUL"):
        aio.from_safetensors(data)


def corrupt(model):
    good_b, good_j = aio.to_binary(model), aio.to_json(model)
    doc = json.loads(good_j)
    wrong_shape = dict(doc, data={**doc["data"], "adapter.query.a": {"dtype": "F32", "shape": [3, 17],
                                                                     "values": doc["data"]["adapter.query.a"]["values"]}})
    no_key = {k: v for k, v in doc.items() if k != "adapters"}
    v2 = dict(doc, version=2)
    missing = dict(doc, data={k: v for k, v in doc["data"].items() if k != "adapter.query.b"})
    wrong_dtype = dict(doc, data={**doc["data"], "adapter.query.b": {"dtype": "F64", "shape": [3, 17],
                                                                     "values": [0.0] * 51}})
    flipped = bytearray(good_b)
    flipped[len(flipped) // 2] ^= 0x10
    v9 = bytearray(good_b)
    v9[8] = 9
    return [
        (aio.from_binary, good_b[:-9], "CRC32C"), (aio.from_binary, good_b[:10], "too few"),
        (aio.from_binary, bytes(flipped), "CRC32C"), (aio.from_binary, bytes(v9), "version 9"),
        (aio.from_binary, b"\x89PNG\r\n\x1a\n" + bytes(100), "not an agentdb binary model"),
        (aio.from_binary, aio.to_safetensors(model), "not an agentdb binary model"),
        (aio.from_json, good_j[:-40], "not a JSON document"), (aio.from_json, "[1, 2]", "is an object"),
        (aio.from_json, json.dumps(wrong_shape), r"expected F32\[17, 3\]"),
        (aio.from_json, json.dumps(wrong_dtype), "is F64"),
        (aio.from_json, json.dumps(no_key), "lacks the key 'adapters'"),
        (aio.from_json, json.dumps(v2), "version 2 is not one"),
        (aio.from_json, json.dumps(missing), "lacks the tensor 'adapter.query.b'"),
        (aio.from_json, json.dumps({"format": "other"}), "not an agentdb model export"),
        (aio.from_safetensors, aio.to_safetensors(model)[:-3], "data section"),
        (aio.load_huggingface, {"config.json": "{}", "model.safetensors": b""}, r"lacks \['format'"),
        (aio.load_huggingface, {"model.safetensors": b""}, "no config.json"),
        (aio.load_huggingface, b"not a zip", "not a bundle"),
    ]


def test_malformed_inputs_are_refused_with_typed_errors(model):
    for read, data, message in corrupt(model):
        with pytest.raises(CorruptFileError, match=message):
            read(data)
    with pytest.raises(ArgumentError):
        aio.to_json(aio.Model(metadata={"bad": float("nan")}))
    with pytest.raises(ArgumentError):
        aio.from_binary("a string")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_binary_and_json_never_crash(model, data):
    good = aio.to_binary(model) if data.draw(st.booleans()) else aio.to_json(model).encode()
    buf = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(buf) - 1))
        buf[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    blob = bytes(buf[:cut] if data.draw(st.booleans()) else buf)
    for read in (aio.from_binary, aio.from_json):
        try:
            read(blob)
        except (FormatError, ArgumentError):
            pass


def test_from_memory_and_back(tmp_path):
    import agentdb
    from agentdb.embed import HashEmbedder

    mem = io_support.memory()
    mem.store_pattern("parsing", "tokenize first", success_rate=0.8)
    t = mem.begin_trajectory("fix the test", route="debug")
    mem.add_trajectory_step(t, reward=0.9, text="waited")
    mem.end_trajectory(t, quality=0.9)
    mem.learn_trajectories()
    mem.store.set_adapter("query", agentdb.learn.LoRA(24, 24, rank=2, seed=4), ewc=agentdb.learn.EWC(lam=3.0))
    got = aio.from_memory(mem, metadata={"name": "mine"})
    assert list(got.adapters) == ["query"] and got.ewc["query"].lam == 3.0
    assert [p.id for p in got.patterns][0] == "pattern:1" and got.patterns[-1].id.startswith("sona:")
    back = aio.from_binary(aio.to_binary(got))
    twin = agentdb.memory.open(embedder=HashEmbedder(24))
    assert aio.to_memory(back, twin) == {"adapters": 1, "patterns": 1}
    assert twin.get_pattern("pattern:1") == mem.get_pattern("pattern:1")
    assert twin.store.get("pattern:1").vector.tobytes() == mem.store.get("pattern:1").vector.tobytes()
    assert twin.store.adapter("query").a == mem.store.adapter("query").a
    with pytest.raises(ArgumentError, match="replace=True"):
        aio.to_memory(back, twin)


def test_the_same_bytes_in_pyodide_as_natively(tmp_path):
    import agentdb.kernel
    from support import run_in_pyodide

    browser = run_in_pyodide(io_support.__file__, tmp_path)
    assert browser == io_support.scenario(agentdb.kernel.load("native"))


def test_one_byte_string_per_model_and_the_format_told_by_the_bytes():
    from agentdb.io.transfer import MODEL_FORMATS, model_bytes, model_from_bytes, sniff
    from agentdb.learn import LoRA

    model = aio.Model(adapters={"query": LoRA(8, 8, rank=2, seed=9)}, metadata={"name": "t"})
    for fmt in MODEL_FORMATS:
        data = model_bytes(model, fmt)
        assert sniff(data) == fmt
        back = model_from_bytes(data)
        assert back.adapters["query"].a == model.adapters["query"].a and back.adapters["query"].b == model.adapters["query"].b
    # a SafeTensors header 123 bytes long starts with "{" (0x7B): still SafeTensors, not JSON
    header = b'{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'.ljust(123)
    assert sniff(len(header).to_bytes(8, "little") + header + b"\x00") == "safetensors"
    with pytest.raises(FormatError):
        model_from_bytes(b"PK\x03\x04broken")
    with pytest.raises(ArgumentError):
        model_from_bytes("text")
