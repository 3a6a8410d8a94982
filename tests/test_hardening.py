"""No input may crash the process or allocate what a file merely claims (issue 14).

Inputs that used to kill the process run in a child process, so a regression fails one
test instead of taking pytest down with it; file sizes are measured by the child's peak RSS.
"""
import json
import math
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentdb
from agentdb import rvf
from agentdb.errors import (AgentDBError, CorruptFileError, DimensionError, FilterError, KernelError, MetadataError,
                            OptionError, ReadOnlyError)
from agentdb.kernel import load
from agentdb.rvf import meta as rvf_meta
from agentdb.rvf import segments as seg
from agentdb.rvf.payloads import Manifest
from agentdb.store.options import MAX_EF, MAX_K

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_child(code, timeout=120):
    """Runs code in a fresh interpreter; (returncode, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests"))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr


def store_600(**options):
    rng = np.random.default_rng(14)
    db = agentdb.open(None, dim=8, brute_force_rows=100, **options)
    vectors = rng.standard_normal((600, 8)).astype(np.float32)
    db.ingest(range(600), vectors)
    return db, vectors


# ---- values a caller passes ------------------------------------------------------------------

def test_huge_ef_and_k_never_kill_the_process():
    code = """
    import numpy as np, agentdb
    rng = np.random.default_rng(14)
    db = agentdb.open(None, dim=8, brute_force_rows=100)
    vs = rng.standard_normal((600, 8)).astype(np.float32)
    db.ingest(range(600), vs)
    v = vs[0]
    for call in (lambda: db.query(v, k=5, ef=10**9), lambda: db.query(v, k=300_000_000),
                 lambda: db.query_batch(vs[:3], k=3, ef=10**9)):
        try:
            call()
            print("accepted")
        except agentdb.OptionError as exc:
            print("refused:", exc)
    print("alive")
    """
    rc, out, err = run_child(code)
    assert rc == 0, f"the process died ({rc}): {err[-2000:]}"
    lines = out.splitlines()
    assert lines[-1] == "alive"
    assert lines[0] == f"refused: ef must be a positive integer at most {MAX_EF}, got 1000000000"
    assert lines[1] == f"refused: k must be a positive integer at most {MAX_K}, got 300000000"
    assert lines[2].startswith("refused: ef must be")


def test_the_largest_allowed_ef_and_k_answer_as_the_whole_graph_does():
    db, vectors = store_600()
    wide = db.query(vectors[3], k=5, ef=MAX_EF)
    assert wide.ids == db.query(vectors[3], k=5, ef=600).ids
    assert list(wide.scores) == list(db.query(vectors[3], k=5, ef=600).scores)
    everything = db.query(vectors[3], k=MAX_K)
    assert sorted(everything.ids) == list(range(600))
    assert db.query(vectors[3], k=MAX_K, exact=True).ids == everything.ids
    batch = db.query_batch(vectors[:4], k=3, ef=MAX_EF)
    assert [r.ids for r in batch] == [db.query(v, k=3, ef=600).ids for v in vectors[:4]]


@pytest.mark.parametrize("ef", [0, -10, 1.5, True, "64", MAX_EF + 1])
def test_bad_ef_is_refused(ef):
    db, vectors = store_600()
    with pytest.raises(OptionError, match="ef must be a positive integer"):
        db.query(vectors[0], k=3, ef=ef)
    with pytest.raises(OptionError, match="ef must be a positive integer"):
        db.query_batch(vectors[:2], k=3, ef=ef)


def test_the_kernel_clamps_ef_itself(kernel):
    """Python clamps too, but the kernel never trusts a caller: an ef of 2^32 - 1 handed
    straight to the graph search is searched as the node count."""
    db = agentdb.open(dim=8, brute_force_rows=0, kernel=kernel)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 8)).astype(np.float32)
    db.ingest(range(300), vectors)
    index = db._index

    def search(ef):
        db._take_query(vectors[5])
        searcher = kernel.hnsw_searcher(index.graph, db._vectors.buf, dim=8, metric=2, scratch=index.scratch,
                                        q_in=db._query_in, q=db._query_slot, k=16)
        return searcher(10, ef, None)[0]

    with pytest.raises(KernelError, match="bad argument"):   # scratch for ef 200 < 300 nodes: refused
        search(0xFFFFFFFF)
    expected = db.query(vectors[5], k=10, ef=300).ids        # widens the scratch to the node count
    assert search(0xFFFFFFFF) == expected
    with pytest.raises(DimensionError, match="4 GiB"):
        kernel.hnsw_scratch_bytes(0xFFFFFFFF, 0xFFFFFFFF, 16)
    with pytest.raises(DimensionError):
        kernel.hnsw_scratch_bytes(10, 10, 5000)
    small = kernel.alloc(64, "B")
    with pytest.raises(KernelError, match="out of range"):
        kernel.hnsw_scratch_init(small, 1000, 100, 16)       # the buffer is smaller than it needs
    with pytest.raises(KernelError, match="bad argument"):
        kernel.hnsw_scratch_init(small, 10, 100, 16)         # ef above the capacity


def test_huge_ef_construction_and_ef_search_build_and_reopen(tmp_path):
    path = tmp_path / "wide.rvf"
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    db = agentdb.open(path, dim=8, ef_construction=MAX_EF, ef_search=MAX_EF, brute_force_rows=0)
    db.ingest(range(50), vectors)
    narrow = agentdb.open(dim=8, ef_construction=50, ef_search=50, brute_force_rows=0)
    narrow.ingest(range(50), vectors)
    expected = narrow.query(vectors[7], k=5)
    assert db.query(vectors[7], k=5).ids == expected.ids
    db.close()
    again = agentdb.open(path)                               # the file holds ef_search = 2^24: no crash
    assert again.status()["index"]["ef_search"] == MAX_EF
    assert again.query(vectors[7], k=5).ids == expected.ids
    assert list(again.query(vectors[7], k=5).scores) == list(expected.scores)
    again.close()


@pytest.mark.parametrize("options,message", [
    (dict(ef_construction=10**9), "ef_construction must be a positive integer at most"),
    (dict(ef_search=10**9), "ef_search must be a positive integer at most"),
    (dict(ef_search=0), "ef_search must be a positive integer"),
    (dict(brute_force_rows="many"), "brute_force_rows must be a non-negative integer"),
    (dict(brute_force_rows=-1), "brute_force_rows must be a non-negative integer"),
    (dict(m=5000), "m must be >= 2 and at most 1024"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(keep_vectors="no"), "keep_vectors must be True or False"),
    (dict(pq_m=3), "pq_m = 3 must divide the dimension 8"),
    (dict(M=16), "unknown option 'M': the options are metric, index"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, options, message):
    path = tmp_path / "never.rvf"
    with pytest.raises(OptionError, match=message):
        agentdb.open(path, dim=8, **options)
    assert not path.exists() and not (tmp_path / "never.rvf.lock").exists()
    with pytest.raises(OptionError, match=message):
        agentdb.open(dim=8, **options)


def test_dim_is_capped_where_the_file_format_caps_it():
    with pytest.raises(DimensionError, match=r"dim must be an integer in 1\.\.65535, got 65536"):
        agentdb.open(dim=65536)


def test_numpy_and_other_integral_ids_are_accepted():
    db = agentdb.open(dim=3)
    vectors = np.eye(3, dtype=np.float32)
    assert db.ingest(np.arange(3), vectors)["accepted"] == 3
    assert db.ids() == [0, 1, 2] and all(type(i) is int for i in db.ids())
    db.ingest(np.array([7], dtype=np.uint64), vectors[:1], delete=np.array([2], dtype=np.int32))
    assert db.ids() == [0, 1, 7]
    assert db.get(np.int16(1)).id == 1
    assert db.delete(np.array([0])) == 1
    copy = agentdb.open_bytes(db.to_bytes())
    assert copy.ids() == [1, 7]
    with pytest.raises(TypeError, match="ids are unsigned 64-bit integers or strings"):
        db.ingest([True], vectors[:1])


# ---- metadata and filters -------------------------------------------------------------------

def nested(levels, key="x"):
    value = {}
    for _ in range(levels):
        value = {key: value}
    return value


@pytest.mark.parametrize("metadata,message", [
    ({"a": 10**400}, r"\['a'\] is an integer of 1329 bits: integers must fit in 64 bits"),
    ({"a": -(2**63) - 1}, "integers must fit in 64 bits"),
    ({"a": [float("-inf")]}, r"\['a'\]\[0\] = -inf: numbers must be finite"),
    ({"a": {"b": math.nan}}, r"\['a'\]\['b'\] = nan: numbers must be finite"),
    ({"a": math.inf}, "numbers must be finite"),
    (nested(10_000), "nests deeper than 64 levels"),
    ({"a": [[[1]]] * 2, "b": {1: 2}}, "keys must be strings"),
    ({"text": "x" * (1 << 20)}, "bytes of JSON, more than the 1048576 a row may hold"),
    ({"when": object()}, "not a JSON value"),
])
def test_unstorable_metadata_is_refused_with_a_typed_error(tmp_path, metadata, message):
    db = agentdb.open(tmp_path / "m.rvf", dim=2)
    db.ingest([1], [[1, 0]], metadata=[{"ok": True}])
    before = tmp_path.joinpath("m.rvf").read_bytes()
    with pytest.raises(MetadataError, match=message):
        db.ingest([2], [[0, 1]], metadata=[metadata])
    assert db.ids() == [1] and tmp_path.joinpath("m.rvf").read_bytes() == before
    db.close()


def test_the_deepest_allowed_metadata_round_trips(tmp_path):
    deep = nested(62)               # 64 dicts with the row's own: the limit
    with pytest.raises(MetadataError, match="nests deeper than 64 levels"):
        agentdb.open(dim=2).ingest([1], [[1, 0]], metadata=[{"deep": nested(63)}])
    db = agentdb.open(tmp_path / "d.rvf", dim=2)
    db.ingest([1], [[1, 0]], metadata=[{"big": 2**64 - 1, "small": -2**63, "deep": deep}])
    db.close()
    again = agentdb.open(tmp_path / "d.rvf")
    assert again.get(1).metadata == {"big": 2**64 - 1, "small": -2**63, "deep": deep}
    again.close()


def test_deep_or_huge_filters_are_refused_with_a_typed_error():
    db, vectors = store_600()
    for where in (nested(10_000, "not"), {"or": [nested(100, "not")]}, {"a": {"eq": 10**400}},
                  {"a": {"in": [1, 2, 10**30]}}, {"a": {"gt": math.inf}}):
        with pytest.raises(FilterError):
            db.query(vectors[0], k=3, where=where)
        with pytest.raises(FilterError):
            db.find(where)


def reference_in(metadata, field, values):
    wanted = set()
    for v in values:
        wanted.add((type(v) is bool, v if not isinstance(v, (int, float)) or isinstance(v, bool) else float(v)))
    out = []
    for i, md in enumerate(metadata):
        if field not in md:
            if None in values:
                out.append(i)
            continue
        v = md[field]
        key = (type(v) is bool, float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
        if key in wanted:
            out.append(i)
    return out


@pytest.mark.parametrize("spread", [1, 3, 1000])
def test_in_filters_of_many_values_match_the_reference(spread):
    """A large `in` is evaluated over the column's distinct values (ranges of consecutive
    matches, or one pass past RUNS of them), with the same rows as value-by-value."""
    rng = np.random.default_rng(spread)
    metadata = []
    for i in range(3000):
        md = {}
        if i % 7:
            md["n"] = int(rng.integers(0, 5000)) if i % 5 else float(rng.integers(0, 5000)) + 0.5
        if i % 3 == 0:
            md["n"] = ["s%d" % (i % 50), True, False][i % 3 and 0 or int(rng.integers(0, 3))]
        metadata.append(md)
    db = agentdb.open(dim=2, brute_force_rows=10)
    db.ingest(range(3000), rng.standard_normal((3000, 2)).astype(np.float32), metadata=metadata)
    values = list(range(0, 200_000, spread)) + [0.5, 10.5, "s3", "s7", True]
    got = [i for i, _ in db.find({"n": {"in": values}})]
    assert got == reference_in(metadata, "n", values)
    assert got, "the filter should match something"
    with_none = [i for i, _ in db.find({"n": {"in": [None, 1, "s3"]}})]
    assert with_none == reference_in(metadata, "n", [None, 1, "s3"])


# ---- crafted files ----------------------------------------------------------------------------

def rehash(data):
    """Recomputes every walkable segment's content hash (so a crafted field passes the CRC
    check and must be caught by the reader's own bounds)."""
    k = load()
    data = bytearray(data)
    at = 0
    while at + seg.HEADER_SIZE <= len(data):
        length = struct.unpack_from("<Q", data, at + 16)[0]
        if data[at:at + 4] != seg.MAGIC_BYTES or at + seg.HEADER_SIZE + length > len(data):
            break
        seg_type, seg_id = data[at + 5], struct.unpack_from("<Q", data, at + 8)[0]
        flags = struct.unpack_from("<H", data, at + 6)[0]
        payload = bytes(data[at + seg.HEADER_SIZE:at + seg.HEADER_SIZE + length])
        data[at:at + seg.HEADER_SIZE] = seg.header(k, seg_type, seg_id, payload, flags=flags)
        at += seg.HEADER_SIZE + length
    return bytes(data)


def crafted_vec_file(count, length):
    """A valid 3-row store whose VEC header claims `count` rows and whose manifest directory
    says the VEC segment is `length` bytes, checksums recomputed."""
    k = load()
    db = agentdb.open(dim=4)
    db.ingest([1, 2, 3], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], metadata=[{"a": 1}, {}, {"b": "x"}])
    data = bytearray(db.to_bytes())
    mo = seg.scan_manifests(bytes(data))[0]
    mh = seg.read_header(bytes(data), mo)
    manifest = Manifest.decode(bytes(data[mh.payload_offset:mh.end]))
    for i, (sid, off, ln, st) in enumerate(manifest.directory):
        if st == seg.VEC:
            struct.pack_into("<I", data, off + seg.HEADER_SIZE + 2, count)
            manifest.directory[i] = (sid, off, length, st)
    payload = manifest.encode()
    data[mo:mo + seg.HEADER_SIZE + len(payload)] = seg.pack(k, seg.MANIFEST, mh.seg_id, payload)
    return rehash(data)


@pytest.mark.parametrize("count,length,message", [
    (240_000_000, 1 << 40, r"directory says segment \d+ \(vec\) holds 1099511627776 bytes, past the end"),
    (0xFFFFFFFF, 1 << 40, "past the end of the"),
    (0xFFFFFFFF, 78, "VEC body of 4294967295 vectors of dimension 4 needs"),
    (0xFFFFFFFF, None, "VEC body of 4294967295 vectors"),
])
def test_crafted_sizes_are_refused_with_the_offset(tmp_path, count, length, message):
    if length is None:                      # the directory's length stays the real one
        data = crafted_vec_file(count, 78)
    else:
        data = crafted_vec_file(count, length)
    path = tmp_path / "crafted.rvf"
    path.write_bytes(data)
    for opener in (lambda: agentdb.open(path), lambda: agentdb.open(path, readonly=True),
                   lambda: agentdb.open_bytes(data)):
        with pytest.raises(CorruptFileError, match=message) as info:
            opener()
        assert info.value.offset is not None and 0 < info.value.offset < len(data)


MEMORY_PROBE = """
import gc, json, os, resource, sys, warnings
import agentdb
from agentdb.errors import AgentDBError
warnings.simplefilter("ignore")
paths = json.load(open(sys.argv[1]))
# warm up every code path on a valid file first, so the baseline holds the imports and the kernel
agentdb.open(paths[0], readonly=True).close()
agentdb.open_bytes(open(paths[0], "rb").read())
gc.collect()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcomes = {}
for p in paths[1:]:
    data = open(p, "rb").read()
    for how in ("open", "readonly", "bytes"):
        try:
            db = agentdb.open(p) if how == "open" else agentdb.open(p, readonly=True) if how == "readonly" \\
                else agentdb.open_bytes(data)
            db.query([1.0, 0.0, 0.0, 0.0], k=2)
            db.close()
            outcomes[type(None).__name__] = outcomes.get("NoneType", 0) + 1
        except AgentDBError as exc:
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_kb": peak - base, "outcomes": outcomes}))
"""


def probe_memory(paths):
    """Opens paths[1:] in a child process (paths[0]: a valid file, to warm up); its outcomes by
    error class and how far its peak RSS grew past the warmed-up baseline."""
    folder = os.path.dirname(paths[0])
    script, listing = os.path.join(folder, "probe.py"), os.path.join(folder, "paths.json")
    with open(script, "w") as fh:
        fh.write(MEMORY_PROBE)
    with open(listing, "w") as fh:
        json.dump([str(p) for p in paths], fh)
    proc = subprocess.run([sys.executable, script, listing], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, f"the process died ({proc.returncode}): {proc.stderr[-3000:]}"
    return json.loads(proc.stdout.splitlines()[-1])


def test_crafted_files_never_allocate_what_they_claim(tmp_path):
    valid = tmp_path / "valid.rvf"
    db = agentdb.open(dim=4)
    db.ingest([1, 2, 3], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    valid.write_bytes(db.to_bytes())
    paths = [valid]
    for i, (count, length) in enumerate([(240_000_000, 1 << 40), (0xFFFFFFFF, 1 << 40), (0xFFFFFFFF, 78),
                                         (1 << 31, (1 << 63) - 1)]):
        p = tmp_path / f"crafted{i}.rvf"
        p.write_bytes(crafted_vec_file(count, length))
        paths.append(p)
    report = probe_memory(paths)
    assert report["outcomes"] == {"CorruptFileError": 12}, report
    assert report["grew_kb"] < 8 * 1024, f"opening 3 KB files grew the process by {report['grew_kb']} KB"


def rich_file():
    """A small valid file with every segment kind a store writes: VEC, META (options and
    records), INDEX, QUANT, JOURNAL, seals."""
    rng = np.random.default_rng(9)
    db = agentdb.open(dim=4, compression="scalar", brute_force_rows=0)
    db.ingest(["a", "b", "c", "d", "e"], rng.standard_normal((5, 4)).astype(np.float32),
              metadata=[{"k": i, "t": "x" * i} for i in range(5)])
    db.delete(["b"])
    return db.to_bytes()


def test_every_crafted_word_in_a_file_is_survived_within_its_size(tmp_path):
    """Every aligned 32-bit word of a file set to huge values, checksums recomputed: each
    open either works or raises an AgentDBError, and none grows the process by more than a
    few MB."""
    data = rich_file()
    (tmp_path / "valid.rvf").write_bytes(data)
    paths = [tmp_path / "valid.rvf"]
    for at in range(0, len(data) - 4, 4):
        for value in (0xFFFFFFFF, 0x7FFFFFFF):
            crafted = bytearray(data)
            struct.pack_into("<I", crafted, at, value)
            p = tmp_path / f"w{at}_{value:x}.rvf"
            p.write_bytes(rehash(crafted))
            paths.append(p)
    report = probe_memory(paths)
    assert sum(report["outcomes"].values()) == 3 * (len(paths) - 1)
    assert set(report["outcomes"]) <= {"NoneType", "CorruptFileError", "DimensionError", "EmbedderError",
                                       "FilterError", "MetadataError", "NonFiniteError"}, report
    assert report["grew_kb"] < 8 * 1024, report


@pytest.mark.parametrize("options,message", [
    ({"ef_search": 10**9}, "ef_search must be a positive integer at most"),
    ({"ef_construction": 10**9, "m": 16}, "ef_construction must be a positive integer at most"),
    ({"brute_force_rows": "many"}, "brute_force_rows must be a non-negative integer"),
    ({"m": 0}, "m must be >= 2"),
    ({"M": 16}, "unknown option 'M'"),
    ({"metric": "hamming"}, "unknown metric 'hamming'"),
    ({"metric": [0]}, r"unknown metric \[0\]"),                   # unhashable: no TypeError
    ({"index": {"kind": "hnsw"}}, "unknown index"),
    ({"embedder": {"name": "x", "dim": "many", "semantic": True}}, "store options"),
])
def test_crafted_options_records_are_corrupt_files(tmp_path, options, message):
    k = load()
    stored = {"metric": "cosine", "index": "hnsw", "compression": "none", "keep_vectors": True, **options}
    data = rvf.write(k, dim=4, metric="cosine", ids=[1, 2], rows=np.eye(4, dtype=np.float32)[:2].tobytes(),
                     extra=[(seg.META, rvf_meta.encode_options(stored))])
    path = tmp_path / "opts.rvf"
    path.write_bytes(data)
    for opener in (lambda: agentdb.open(path), lambda: agentdb.open(path, readonly=True),
                   lambda: agentdb.open_bytes(data)):
        with pytest.raises(CorruptFileError, match=message):
            opener()
    with pytest.raises(CorruptFileError, match="holds invalid store options"):
        agentdb.open_bytes(data)


def test_deeply_nested_json_in_a_file_is_a_corrupt_file():
    k = load()
    deep = b'{"meta":' * 5000 + b"1" + b"}" * 5000
    record = struct.pack("<QI", 1, len(deep)) + deep
    payload = struct.pack("<4sHH", b"AGMD", 1, 1) + struct.pack("<I", 1) + record
    data = rvf.write(k, dim=4, metric="cosine", ids=[1], rows=np.eye(4, dtype=np.float32)[:1].tobytes(),
                     extra=[(seg.META, payload)])
    with pytest.raises(CorruptFileError, match="META record"):
        agentdb.open_bytes(data)


# ---- crashes and concurrency ------------------------------------------------------------------

def test_an_empty_file_counts_as_absent_when_creating(tmp_path):
    path = tmp_path / "empty.rvf"
    path.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="0 bytes"):
        agentdb.open(path, readonly=True)
    db = agentdb.open(path, dim=16)
    db.ingest([1], [[1.0] * 16])
    db.close()
    assert agentdb.open(path, readonly=True).ids() == [1]


def test_a_kill_during_create_never_leaves_an_unopenable_file(tmp_path):
    """A child creates stores in a loop and is killed at random moments: every path it
    reached is absent or a valid store, never an empty or torn file."""
    code = f"""
    import agentdb, itertools
    for i in itertools.count():
        db = agentdb.open({str(tmp_path)!r} + f"/s{{i}}.rvf", dim=16)
        db.close()
    """
    rng = np.random.default_rng(21)
    for round_ in range(12):
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=str(tmp_path))
        time.sleep(0.35 + float(rng.uniform(0, 0.3)))
        child.send_signal(signal.SIGKILL)
        child.wait()
        for name in sorted(os.listdir(tmp_path)):
            if name.endswith(".rvf"):
                path = tmp_path / name
                assert path.stat().st_size > 0, f"{name} was left empty"
                agentdb.open(path, readonly=True).close()
            elif name.endswith(".lock") or name.endswith(".create.tmp"):
                os.unlink(tmp_path / name)   # the killed writer's: the next round's paths differ
        for name in os.listdir(tmp_path):
            if name.endswith(".rvf"):
                os.rename(tmp_path / name, tmp_path / f"r{round_}_{name}.done")


def test_verify_checks_the_last_complete_commit_while_another_process_commits(tmp_path):
    path = tmp_path / "busy.rvf"
    db = agentdb.open(path, dim=64)
    db.ingest(range(10), np.ones((10, 64), dtype=np.float32))
    db.close()
    code = f"""
    import numpy as np, agentdb, time
    db = agentdb.open({str(path)!r})
    rng = np.random.default_rng(1)
    end = time.time() + 20
    i = 10
    while time.time() < end:
        db.ingest(range(i, i + 300), rng.standard_normal((300, 64)).astype(np.float32),
                  metadata=[{{"n": j}} for j in range(300)])
        i += 300
    """
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    try:
        deadline = time.time() + 15
        while not os.path.exists(str(path) + ".lock") and time.time() < deadline:
            time.sleep(0.01)
        reports = []
        while len(reports) < 60 and writer.poll() is None:
            reader = agentdb.open(path, readonly=True)
            reports.append(reader.verify())
            reader.close()
        assert len(reports) >= 20, "the writer stopped too soon to test anything"
        bad = [r["problems"] for r in reports if not r["ok"]]
        assert not bad, bad[:2]
    finally:
        writer.kill()
        writer.wait()


# ---- fuzz over query and option arguments -----------------------------------------------------

ODD = st.one_of(st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=True), st.booleans(),
                st.none(), st.text(max_size=4), st.just(2**32 - 1), st.just(2**31), st.just(2**28 + 1),
                st.lists(st.integers(), max_size=2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=ODD, ef=ODD, exact=st.booleans(), batch=st.booleans())
def test_fuzzed_query_arguments_never_kill_the_process(k, ef, exact, batch):
    db, vectors = FUZZ_STORE
    try:
        if batch:
            results = db.query_batch(vectors[:3], k=k, ef=ef, exact=exact)
            assert all(len(r.ids) <= 600 for r in results)
        else:
            assert len(db.query(vectors[0], k=k, ef=ef, exact=exact).ids) <= 600
    except AgentDBError:
        pass


OPTION_NAMES = ("m", "ef_construction", "ef_search", "seed", "brute_force_rows", "pq_m", "profile", "keep_vectors",
                "metric", "index", "compression", "frozen")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(options=st.dictionaries(st.sampled_from(OPTION_NAMES), ODD, max_size=3), dim=ODD)
def test_fuzzed_options_never_kill_the_process(options, dim):
    try:
        db = agentdb.open(dim=dim, **options)
    except (AgentDBError, TypeError, ValueError) as exc:
        assert isinstance(exc, AgentDBError), f"{type(exc).__name__}: {exc}"
        return
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((40, db.dim)).astype(np.float32)
    if db.frozen:                                  # frozen=True is a valid option: writes are refused
        with pytest.raises(ReadOnlyError, match="frozen"):
            db.ingest(range(40), rows)
        return
    db.ingest(range(40), rows)
    assert len(db.query(rng.standard_normal(db.dim).astype(np.float32), k=3).ids) == 3
    copy = agentdb.open_bytes(db.to_bytes())
    assert copy.status()["count"] == 40


FUZZ_STORE = store_600()
