"""agentdb.io datasets: episodes, feedback and triplets to JSONL, CSV and pre-training text
and back into a memory (the same records, vector bits included), streamed, with progress;
malformed files refused with the line at fault."""
import io

import pytest

import agentdb.memory
import io_support
from agentdb import io as aio
from agentdb.embed import HashEmbedder
from agentdb.errors import ArgumentError, FormatError, IdError


def records(mem, kinds=("episode", "feedback")):
    return {i: (md, mem.store.get(i).vector.tobytes()) for k in kinds for i, md in mem.store.find({"kind": k})}


def empty():
    return agentdb.memory.open(embedder=HashEmbedder(24))


@pytest.fixture(scope="module")
def mem():
    return io_support.memory()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_records_round_trip_bit_for_bit(mem, fmt, tmp_path):
    seen = []
    counts = aio.export_dataset(mem, tmp_path / f"d.{fmt}", format=fmt, progress=lambda d, t: seen.append((d, t)))
    assert counts["episode"] == 8 and counts["feedback"] == 4 and counts["triplet"] > 0
    assert seen[-1] == (counts["rows"], counts["rows"]) and len(seen) == counts["rows"]
    twin = empty()
    report = aio.import_dataset(twin, tmp_path / f"d.{fmt}", format=fmt)
    assert report == {"stored": 12, "skipped": counts["triplet"]}
    assert records(twin) == records(mem)
    again = io.StringIO()
    aio.export_dataset(twin, again, format=fmt, kinds=("episode", "feedback"))
    first = io.StringIO()
    aio.export_dataset(mem, first, format=fmt, kinds=("episode", "feedback"))
    assert again.getvalue() == first.getvalue()
    assert twin.store_episode("s", "new", reward=1.0, success=True) == "episode:9"   # ids count on


def test_triplets_carry_anchor_positive_and_negative(mem):
    rows = list(aio.read_dataset(io.StringIO(_export(mem, "jsonl", ("triplet",)))))
    assert rows and all(r["type"] == "triplet" for r in rows)
    r = rows[0]
    fb = mem.store.get(r["metadata"]["feedback"])
    assert r["embedding"].tobytes() == fb.vector.tobytes() and r["text"] == fb.metadata["query"]
    assert r["metadata"]["positive"] in fb.metadata["useful"]
    assert r["negative_embedding"].tobytes() == mem.store.get(r["metadata"]["negative"]).vector.tobytes()
    csv_rows = list(aio.read_dataset(io.StringIO(_export(mem, "csv", ("triplet",))), format="csv"))
    assert [(c["positive_embedding"].tobytes(), c["negative"]) for c in csv_rows] == \
        [(j["positive_embedding"].tobytes(), j["negative"]) for j in rows]


def _export(mem, fmt, kinds=("episode", "feedback", "triplet")):
    out = io.StringIO()
    aio.export_dataset(mem, out, format=fmt, kinds=kinds)
    return out.getvalue()


def test_pretrain_text_reads_back_and_reimports_episodes(mem):
    text = _export(mem, "pretrain")
    assert text.startswith("<|episode|>\n### Session\ns1\n### Task\ntask 0\n") and "\n\\<|endoftext|> wait\n" in text
    docs = list(aio.read_dataset(io.StringIO(text), format="pretrain"))
    eps = [s for kind, s in docs if kind == "episode"]
    assert eps[1]["Input"] == "input\n### 1" and eps[0]["Critique"] == "<|endoftext|> wait"
    twin = empty()
    assert aio.import_dataset(twin, io.StringIO(text), format="pretrain")["stored"] == 8
    fields = ("session", "task", "input", "output", "critique", "reward", "success")
    got = sorted((tuple(md[f] for f in fields) for _, md in twin.store.find({"kind": "episode"})))
    assert got == sorted(tuple(md[f] for f in fields) for _, md in mem.store.find({"kind": "episode"}))


def test_binary_streams_and_replace(mem):
    raw = io.BytesIO()
    aio.export_dataset(mem, raw, kinds="episode")
    twin = empty()
    aio.import_dataset(twin, io.BytesIO(raw.getvalue()))
    with pytest.raises(IdError, match="replace=True"):
        aio.import_dataset(twin, io.BytesIO(raw.getvalue()))
    assert aio.import_dataset(twin, io.BytesIO(raw.getvalue()), replace=True)["stored"] == 8


@pytest.mark.parametrize("fmt,text,message", [
    ("jsonl", '{"type": "episode", "id": "e"}\n', "line 1: the row lacks 'metadata'"),
    ("jsonl", '\n{"type": "episode"\n', "line 2: not JSON"),
    ("jsonl", '{"type": "song", "id": "e"}\n', "type is one of"),
    ("jsonl", '{"type": "episode", "id": "e", "metadata": {}, "embedding": ["x"]}\n', "list of numbers"),
    ("jsonl", '{"type": "episode", "id": "e", "metadata": {"kind": "note"}, "embedding": [1]}\n', "kind 'episode'"),
    ("csv", "a,b\n", "line 1: the header"),
    ("csv", ",".join(aio.dataset_rows.COLUMNS) + "\nepisode,e\n", "line 2: a row has 10 cells"),
    ("csv", ",".join(aio.dataset_rows.COLUMNS) + '\nepisode,e,,,,,{},1 x,,\n', "numbers separated"),
    ("csv", ",".join(aio.dataset_rows.COLUMNS) + '\nepisode,e,"open\n', "not CSV"),
    ("pretrain", "<|episode|>\n### Task\nt\n", "no <|endoftext|>"),
    ("pretrain", "hello\n", "line 1: a document starts"),
    ("pretrain", "<|episode|>\n### Mood\n", "sections"),
    ("pretrain", "<|episode|>\n### Task\nt\n### Reward\nlots\n<|endoftext|>\n", "Reward must be a number"),
])
def test_malformed_datasets_are_refused(fmt, text, message):
    with pytest.raises(FormatError, match=message):
        aio.import_dataset(empty(), io.StringIO(text), format=fmt)


def test_bad_arguments():
    with pytest.raises(ArgumentError, match="format is one of"):
        aio.export_dataset(empty(), io.StringIO(), format="xml")
    with pytest.raises(ArgumentError, match="kinds are some of"):
        aio.export_dataset(empty(), io.StringIO(), kinds=["notes"])
    with pytest.raises(ArgumentError, match="destination"):
        aio.export_dataset(empty(), 42)
