"""The real layout, proved against the real tools: @ruvector/rvf-node 0.1.7 and 0.2.3 (npm,
pinned in tests/interop, installed by build/setup.sh) write files we read with the same live
ids and vectors, and open files we write with the same nearest neighbours."""
import array
import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import agentdb
from agentdb import CorruptFileError
from agentdb.rvf import read, write
from agentdb.rvf import segments as seg
from agentdb.rvf.hashes import toy_hash
from agentdb.rvf.payloads import Identity

INTEROP = Path(__file__).resolve().parent / "interop"
PACKAGES = ("rvf-node-017", "rvf-node-023")


def real(package, steps):
    if shutil.which("node") is None or not (INTEROP / "node_modules" / package).exists():
        pytest.fail(f"{package} is not installed: run build/setup.sh (needs node and npm)")
    done = subprocess.run(["node", str(INTEROP / "driver.js"), package, json.dumps(steps)], cwd=INTEROP,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def vectors(n, dim, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


@pytest.fixture(params=PACKAGES)
def package(request):
    return request.param


def test_files_the_real_tools_write_read_the_same(kernel, package, tmp_path):
    path = str(tmp_path / "real.rvf")
    x = vectors(40, 7)
    real(package, [
        {"op": "create", "path": path, "dim": 7},
        {"op": "ingest", "vectors": x[:30].ravel().tolist(), "ids": list(range(100, 130))},
        {"op": "ingest", "vectors": x[30:].ravel().tolist(), "ids": list(range(120, 130))},   # overwrite 10
        {"op": "delete", "ids": [100, 101, 125]},
    ])
    got = read(kernel, Path(path).read_bytes())
    want = {i: x[i - 100] for i in range(100, 120)} | {i: x[i - 100 + 10] for i in range(120, 130)}
    for gone in (100, 101, 125):
        del want[gone]
    assert got.dim == 7 and got.epoch == 3 and got.deleted == [100, 101, 125]
    assert sorted(got.ids) == sorted(want)
    rows = np.frombuffer(got.rows, np.float32).reshape(-1, 7)
    for ident, row in zip(got.ids, rows):
        assert np.array_equal(row, want[ident])
    assert [s.name for s in got.segments][:4] == ["manifest", "vec", "witness", "manifest"]


def test_compacted_real_files_read_the_same(kernel, package, tmp_path):
    path = str(tmp_path / "compacted.rvf")
    x = vectors(25, 5, seed=1)
    real(package, [
        {"op": "create", "path": path, "dim": 5},
        {"op": "ingest", "vectors": x.ravel().tolist(), "ids": list(range(25))},
        {"op": "delete", "ids": list(range(0, 25, 2))},
        {"op": "compact"},
    ])
    got = read(kernel, Path(path).read_bytes())
    assert sorted(got.ids) == list(range(1, 25, 2)) and got.deleted == []
    rows = dict(zip(got.ids, np.frombuffer(got.rows, np.float32).reshape(-1, 5)))
    assert all(np.array_equal(rows[i], x[i]) for i in got.ids)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_files_we_write_open_in_the_real_tools_with_the_same_neighbours(kernel, package, tmp_path, metric):
    dim, n = 16, 300
    x = vectors(n, dim, seed=2)
    ids = [7 * i + 3 for i in range(n)]
    path = tmp_path / "ours.rvf"
    path.write_bytes(write(kernel, dim=dim, metric=metric, ids=ids, rows=x.tobytes(), deleted=ids[:10]))
    q = vectors(1, dim, seed=3)[0]
    status, hits = real(package, [{"op": "openReadonly", "path": str(path)}, {"op": "status"},
                                  {"op": "query", "vector": q.tolist(), "k": 10}])[1:]
    assert status["totalVectors"] == n - 10 and status["currentEpoch"] == 2   # live vectors
    # 0.1.x ignores the manifest's metric byte, so it answers a cosine file by L2 (RVF record 1.6)
    seen_as = "l2" if package == "rvf-node-017" else metric
    db = agentdb.open(dim=dim, metric=seen_as, index="flat", kernel=kernel)
    db.ingest(ids[10:], x[10:])
    ours = db.query(q, k=10)
    assert [h["id"] for h in hits] == ours.ids
    assert np.allclose([h["distance"] for h in hits], [h.distance for h in ours], atol=1e-5)


def _zero_witness_time(kernel, data):
    """The real tools stamp the time into WITNESS payloads; ours write 0. Zero theirs, carry
    that through the chain (prev_hash is the toy hash of the previous witness payload) and
    re-hash, so everything else can be compared byte for byte."""
    data = bytearray(data)
    at, prev = 0, bytes(32)
    while at < len(data):
        s = seg.read_header(bytes(data), at)
        if s.seg_type == seg.WITNESS:
            data[s.payload_offset + 1:s.payload_offset + 9] = bytes(8)
            data[s.end - 32:s.end] = prev
            prev = toy_hash(bytes(data[s.payload_offset:s.end]))
            data[at:s.end] = seg.pack(kernel, seg.WITNESS, s.seg_id, bytes(data[s.payload_offset:s.end]))
        at = s.end
    return bytes(data)


def test_our_bytes_are_the_real_tools_bytes(kernel, package, tmp_path):
    path = str(tmp_path / "real.rvf")
    x = vectors(12, 4, seed=4)
    real(package, [{"op": "create", "path": path, "dim": 4},
                   {"op": "ingest", "vectors": x.ravel().tolist(), "ids": list(range(1, 13))},
                   {"op": "delete", "ids": [3, 9]}])
    theirs = Path(path).read_bytes()
    contents = read(kernel, theirs)
    witnesses = [theirs[s.payload_offset:s.end] for s in contents.segments if s.name == "witness"]
    assert len(witnesses) == 2 and witnesses[1][-32:] == toy_hash(witnesses[0])   # their chain, our hash
    identity = contents.identity          # their file_id comes from path and time
    ours = write(kernel, dim=4, metric="l2", ids=list(range(1, 13)), rows=x.tobytes(), deleted=[3, 9],
                 identity=identity, sealed=False)
    assert ours == _zero_witness_time(kernel, theirs)


def test_identity_and_metric_round_trip(kernel):
    ident = Identity(file_id=bytes(range(16)), parent_id=bytes(range(16, 32)), parent_hash=bytes(32), depth=3)
    got = read(kernel, write(kernel, dim=3, metric="cosine", ids=[1], rows=array.array("f", [1, 2, 3]).tobytes(),
                             identity=ident))
    assert got.identity == ident and got.metric == "cosine" and got.ids == [1]


def test_torn_final_manifest_falls_back_to_the_previous_commit(kernel):
    data = write(kernel, dim=2, metric="l2", ids=[1, 2], rows=array.array("f", [1, 2, 3, 4]).tobytes(), deleted=[2])
    last = seg.scan_manifests(data)[0]
    for cut in (last + 64, last + 100, len(data) - 1):
        got = read(kernel, data[:cut])
        assert got.epoch == 1 and sorted(got.ids) == [1, 2] and got.skipped_manifests == 1


def test_flipped_vector_byte_is_refused(kernel):
    data = bytearray(write(kernel, dim=2, metric="l2", ids=[1], rows=array.array("f", [1, 2]).tobytes()))
    vec = [s for s in read(kernel, bytes(data)).segments if s.name == "vec"][0]
    data[vec.payload_offset + 10] ^= 1
    with pytest.raises(CorruptFileError, match="fails its content hash") as err:
        read(kernel, bytes(data))
    assert err.value.offset == vec.offset


@pytest.mark.parametrize("blob,message", [
    (b"", "shorter than one segment header"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "no manifest segment"),
    (b"SQLite format 3\x00" + bytes(4080), "no manifest segment"),
    (struct.pack("<IBB", seg.MAGIC, 1, seg.MANIFEST) + bytes(58) + b"\xff" * 10, "no manifest segment in the file decodes"),
])
def test_foreign_bytes_are_refused(kernel, blob, message):
    with pytest.raises(CorruptFileError, match=message):
        read(kernel, blob)


def test_absurd_counts_do_not_allocate(kernel):
    data = bytearray(write(kernel, dim=2, metric="l2", ids=[1], rows=array.array("f", [1, 2]).tobytes()))
    vec = [s for s in read(kernel, bytes(data)).segments if s.name == "vec"][0]
    data[vec.payload_offset + 2:vec.payload_offset + 6] = struct.pack("<I", 0xFFFFFFFF)   # count
    data[vec.offset:vec.end] = seg.pack(kernel, seg.VEC, vec.seg_id, bytes(data[vec.payload_offset:vec.end]))
    with pytest.raises(CorruptFileError, match="VEC body of 4294967295 vectors"):
        read(kernel, bytes(data))


def test_a_manifest_pointing_past_eof_is_refused(kernel):
    from agentdb.rvf.payloads import Manifest

    data = bytearray(write(kernel, dim=2, metric="l2", ids=[1], rows=array.array("f", [1, 2]).tobytes()))
    mseg = read(kernel, bytes(data)).segments[-1]
    manifest = Manifest.decode(bytes(data[mseg.payload_offset:mseg.end]))
    seg_id, _, length, seg_type = manifest.directory[1]
    past = len(data) + 4096
    manifest.directory[1] = (seg_id, past, length, seg_type)                     # the VEC, moved past EOF
    data[mseg.offset:] = seg.pack(kernel, seg.MANIFEST, mseg.seg_id, manifest.encode())
    with pytest.raises(CorruptFileError, match="truncated segment header") as err:
        read(kernel, bytes(data))
    assert err.value.offset == past
