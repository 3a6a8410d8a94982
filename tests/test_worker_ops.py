"""The worker boundary has one table of operations (worker_api.OPERATIONS): every op in it is
served by handle(), the worker (web/worker.js) keeps no list of op names of its own, and every
method of the JS client (web/agentdb.js) sends an op of the table."""
import array
import dataclasses
import json
import re
from pathlib import Path

import pytest
from test_learn_feedback import DOCS, TRAIN, corpus

import agentdb
from agentdb import worker_api
from agentdb.embed import HashEmbedder
from agentdb.errors import DimensionError, OptionError, StoreClosedError, StoreExistsError, UnknownIdError

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
JS_OWN = {"runPython"}            # served by the worker itself (Pyodide's runPythonAsync), not by Python
PAGE_ONLY = {"constructor", "onProgress", "memory", "learn"}   # no request of their own (memory: a proxy
#                                                               over "memory"; learn: an object whose methods send)
HASHING = {"name": HashEmbedder.name, "dim": 8, "semantic": False}


def call(op, buffer=None, **args):
    out = worker_api.handle(op, json.dumps(args), buffer)
    return out if isinstance(out, bytes) else json.loads(out)


def f32(*values):
    return memoryview(array.array("f", values)).cast("B").cast("f")


def test_every_op_in_the_table_is_handled():
    seen = set()
    run = lambda op, *a, **kw: (seen.add(op), call(op, *a, **kw))[1]   # noqa: E731
    assert run("open", name="ops", options={"dim": 8, "embedder": HASHING, "persist": True})["count"] == 0
    assert run("ingest", f32(*[1.0] * 8, *[0.5, 1, 0, 0, 0, 0, 0, 1]), name="ops", ids=["a", "b"],
               metadata=[{"kind": "a"}, {"kind": "b"}])["accepted"] == 2
    assert run("query", f32(*[1.0] * 8), name="ops", k=1)["ids"] == ["a"]
    assert [a["ids"] for a in run("queryBatch", f32(*[1.0] * 8, *[0.5, 1, 0, 0, 0, 0, 0, 1]), name="ops",
                                  k=1)] == [["a"], ["b"]]
    assert run("ingestTexts", name="ops", ids=["c"], texts=["the kettle is broken"])["accepted"] == 1
    assert run("queryText", name="ops", text="the kettle is broken", k=1)["ids"] == ["c"]
    report = run("learn", f32(*[0.5, 1, 0, 0, 0, 0, 0, 1]), name="ops", positives=["b"],
                 options={"epochs": 2, "hard_negatives": 1})
    assert (report["adapter"], report["pairs"], report["training"]["steps"]) == ("query", 1, 2)
    assert run("adapters", name="ops") == ["query"]
    assert len(run("query", f32(*[1.0] * 8), name="ops", k=1, adapt=True)["ids"]) == 1
    assert len(run("queryBatch", f32(*[1.0] * 16), name="ops", k=1, adapt="query")) == 2
    assert len(run("queryText", name="ops", text="the kettle is broken", k=1, adapt=True)["ids"]) == 1
    assert run("removeAdapter", name="ops", adapter="query") is None and call("adapters", name="ops") == []
    assert len(run("embed", name="ops", texts=["a", "b"])) == 2 * 8 * 4
    with pytest.raises(worker_api.ModelNotLoadedError):        # natively nobody handed the model over
        run("embed", texts=["a"])
    assert run("get", name="ops", id="b")["metadata"] == {"kind": "b"}
    assert run("memory", name="ops", method="stats")["value"]["embedder"]["name"] == HashEmbedder.name
    assert "recallId" not in run("memory", name="ops", method="stats")
    recalled = run("memory", name="ops", method="recall", args={"query": "kettle"})
    assert recalled["recallId"].startswith("recall:") and isinstance(recalled["value"], list)
    assert run("delete", name="ops", ids=["a"])["deleted"] == 1
    assert run("deleteByFilter", name="ops", where={"kind": "b"})["deleted"] == 1
    assert run("maintain", name="ops") == {"saved": False}
    assert "removed" in run("compact", name="ops")
    assert run("status", name="ops")["count"] == 1
    stored = b"".join(bytes(chunk) for _, _, chunk in worker_api.take_commits("ops"))   # a rewrite: one file
    assert run("reload", stored, name="ops") is None and call("status", name="ops")["count"] == 1
    rvf = run("exportRvf", name="ops")
    assert run("importRvf", rvf, name="ops-copy")["count"] == 1
    assert run("close", name="ops") is None and run("close", name="ops-copy") is None
    assert seen == set(worker_api.OPERATIONS)


def test_the_table_is_what_the_worker_reads():
    table = json.loads(worker_api.operations())
    assert table == {name: op.kind for name, op in worker_api.OPERATIONS.items()}
    assert set(table.values()) <= {"read", "write", "manage"}
    with pytest.raises(ValueError, match="unknown operation 'nope'"):
        worker_api.handle("nope", "{}")


def test_a_call_on_a_closed_store_is_a_typed_error_with_a_plain_message():
    worker_api.handle("open", json.dumps({"name": "shut", "options": {"dim": 2}}))
    worker_api.handle("close", json.dumps({"name": "shut"}))
    with pytest.raises(StoreClosedError) as caught:
        worker_api.handle("status", json.dumps({"name": "shut"}))
    assert str(caught.value) == "no open store named shut: open it first (AgentDB.open)"


def test_the_worker_has_no_operation_list_of_its_own():
    source = (WEB / "worker.js").read_text()
    ops = set(worker_api.OPERATIONS) | JS_OWN
    # a list of names is two or more op names in one [...] or Set(...)
    for group in re.findall(r"\[[^\[\]]*\]|Set\([^()]*\)", source):
        named = [s for s in re.findall(r"[\"'](\w+)[\"']", group) if s in ops]
        assert len(named) < 2, f"web/worker.js lists operations {named}: read them from worker_api.OPERATIONS"
    assert "operations()" in source


def client_methods():
    """{method name: ops it requests} of the AgentDB class in web/agentdb.js."""
    source = (WEB / "agentdb.js").read_text()
    body = source[source.index("export class AgentDB"):]
    heads = list(re.finditer(r"^  (?:static )?(?:async )?(?:get )?(#?\w+)\(", body, re.M))
    return {m.group(1): set(re.findall(r"request\(\"(\w+)\"", body[m.end():nxt.start() if nxt else None]))
            for m, nxt in zip(heads, heads[1:] + [None])}


def test_every_client_method_sends_an_op_of_the_table():
    methods = client_methods()
    assert {"open", "query", "ingestTexts", "queryText", "close"} <= set(methods)
    assert "remember" not in methods and "recall" not in methods     # db.memory's, not the store's
    known = set(worker_api.OPERATIONS) | JS_OWN
    for method, ops in methods.items():
        if method.startswith("#") or method in PAGE_ONLY:
            continue
        assert ops, f"AgentDB.{method} sends no request"
        assert ops <= known, f"AgentDB.{method} sends {ops - known}, not in worker_api.OPERATIONS"
    assert methods["#memoryCall"] == {"memory"}
    assert (methods["train"], methods["adapters"], methods["remove"]) == ({"learn"}, {"adapters"}, {"removeAdapter"})


def _stored_bytes(name):
    """What the worker would have put in IndexedDB for `name` so far (all its chunks applied)."""
    data = bytearray()
    for kind, offset, chunk in worker_api.take_commits(name):
        if kind == "replace":
            data = bytearray()
        data[offset:offset + len(chunk)] = bytes(chunk)
    return bytes(data)


def test_an_import_never_hides_an_open_or_stored_store():
    call("open", name="kept", options={"dim": 2, "persist": True})
    call("ingest", f32(1, 0), name="kept", ids=["old"])
    stored = _stored_bytes("kept")
    source = agentdb.open(dim=2)
    source.ingest(["new"], f32(0, 1))
    rvf = source.to_bytes()
    for args in ({}, {"persist": True}, {"stored": True}, {"stored": True, "persist": True}):
        with pytest.raises(StoreExistsError, match="a store named kept is open.*replace: true"):
            call("importRvf", rvf, name="kept", **args)
    with pytest.raises(StoreExistsError, match="replacing it needs persist: true"):
        call("importRvf", rvf, name="kept", stored=True, replace=True)
    assert call("get", name="kept", id="old")["vector"] == [1, 0] and _stored_bytes("kept") == b""
    # closed here but still in IndexedDB (another tab's, or after a reload): stored says so
    call("close", name="kept")
    with pytest.raises(StoreExistsError, match="a store named kept is kept in IndexedDB: pass replace"):
        call("importRvf", rvf, name="kept", stored=True, persist=True)
    with pytest.raises(StoreClosedError):
        call("status", name="kept")
    assert stored


def test_a_persisted_import_hands_over_the_file_whole_as_one_commit():
    source = agentdb.open(dim=2)
    source.ingest(["a", "b"], f32(1, 0, 0, 1), metadata=[{"n": 1}, {"n": 2}])
    rvf = source.to_bytes()
    assert call("importRvf", rvf, name="restored", persist=True, replace=True, stored=True)["count"] == 2
    commits = worker_api.take_commits("restored")
    assert [(kind, offset) for kind, offset, _ in commits] == [("replace", 0)] and bytes(commits[0][2]) == rvf
    call("ingest", f32(1, 1), name="restored", ids=["c"])      # later writes append to the stored file
    [(kind, offset, chunk)] = worker_api.take_commits("restored")
    assert (kind, offset) == ("append", len(rvf))
    reopened = agentdb.open_bytes(rvf + bytes(chunk))
    assert reopened.ids() == ["a", "b", "c"] and reopened.get("b").metadata == {"n": 2}
    # after a reload the worker opens it from what it stored
    call("close", name="restored")
    worker_api.take_commits("restored")
    assert call("open", rvf + bytes(chunk), name="restored", options={"persist": True})["count"] == 3
    call("close", name="restored")


def test_opening_a_name_again_is_the_same_store_or_refused():
    call("open", name="mem", options={"dim": 2})
    call("ingest", f32(1, 0), name="mem", ids=["x"])
    assert call("open", name="mem", options={"dim": 2})["count"] == 1       # not a new empty store
    with pytest.raises(DimensionError):
        call("open", name="mem", options={"dim": 3})
    with pytest.raises(StoreExistsError, match="open and in memory only.*close it first"):
        call("open", name="mem", options={"dim": 2, "persist": True})
    call("importRvf", call("exportRvf", name="mem"), name="imported")
    with pytest.raises(StoreExistsError, match="open and in memory only"):
        call("open", name="imported", options={"persist": True})
    call("open", name="disk", options={"dim": 2, "persist": True})
    with pytest.raises(StoreExistsError, match="open and kept in IndexedDB: open it with persist"):
        call("open", name="disk", options={"dim": 2})
    for name in ("mem", "imported", "disk"):
        call("close", name=name)
    worker_api.take_commits("disk")


def _rows(x):
    return memoryview(x.ravel())          # float32 rows as the worker hands them over (to_memoryview)


def test_learning_in_the_worker_is_db_learn_and_is_stored():
    docs, queries, targets = corpus()
    options = {"epochs": 8, "lr": 0.01, "hard_negatives": 4}        # 200 steps
    native = agentdb.open(dim=32, metric="cosine")
    native.ingest(range(DOCS), docs)
    want = native.learn(queries[:TRAIN], targets[:TRAIN], **options)
    call("open", name="learner", options={"dim": 32, "metric": "cosine", "persist": True})
    call("ingest", _rows(docs), name="learner", ids=list(range(DOCS)))
    events = []
    worker_api.report_progress_to(events.append)
    try:
        got = call("learn", _rows(queries[:TRAIN]), name="learner", positives=targets[:TRAIN], options=options)
    finally:
        worker_api.report_progress_to(None)
    report = json.loads(json.dumps(dataclasses.asdict(want)))
    got["training"]["duration_s"] = report["training"]["duration_s"]         # the clock's
    assert got == report
    # progress: a "train" event every second step of 200 (about a hundred, not one per step), the last included
    events = [json.loads(e) for e in events]
    steps = want.training.steps
    assert len(events) == 100 and events[-1]["done"] == events[-1]["total"] == steps
    assert {e["stage"] for e in events} == {"train"} and {e["store"] for e in events} == {"learner"}
    by_step = {m["step"]: m for m in want.training.metrics}
    assert all(e["loss"] == by_step[e["done"]]["loss"] and e["gradNorm"] == by_step[e["done"]]["grad_norm"]
               for e in events)
    held = queries[TRAIN:]
    answers = call("queryBatch", _rows(held), name="learner", k=10, adapt=True)
    for answer, expected in zip(answers, native.query_batch(held, k=10, adapt=True)):
        assert answer["ids"] == expected.ids and answer["scoresHex"] == expected.scores.tobytes().hex()
    one = call("query", _rows(held[0]), name="learner", k=10, adapt=True)
    assert one == answers[0] and one["ids"] != call("query", _rows(held[0]), name="learner", k=10)["ids"]
    # the adapter was a commit: the stored bytes (IndexedDB's, after a reload) hold it
    stored = _stored_bytes("learner")
    assert agentdb.open_bytes(stored).adapter().to_json() == native.adapter().to_json()
    call("close", name="learner")
    worker_api.take_commits("learner")
    assert call("open", stored, name="learner", options={"persist": True})["count"] == DOCS
    assert call("adapters", name="learner") == ["query"]
    assert call("query", _rows(held[0]), name="learner", k=10, adapt=True) == one
    call("removeAdapter", name="learner", adapter="query")
    assert agentdb.open_bytes(stored + _stored_bytes("learner")).adapters() == []
    call("close", name="learner")
    worker_api.take_commits("learner")


def test_learning_errors_are_typed():
    call("open", name="plain", options={"dim": 2})
    call("ingest", f32(1, 0, 0, 1), name="plain", ids=["a", "b"])
    for op, buffer in (("query", f32(1, 0)), ("queryBatch", f32(1, 0, 0, 1))):
        with pytest.raises(UnknownIdError, match="no adapter 'query'"):
            call(op, buffer, name="plain", adapt=True)
    with pytest.raises(UnknownIdError, match="no adapter 'other'"):
        call("removeAdapter", name="plain", adapter="other")
    with pytest.raises(UnknownIdError):
        call("learn", f32(1, 0), name="plain", positives=["zzz"])
    with pytest.raises(OptionError, match="unknown training option"):
        call("learn", f32(1, 0), name="plain", positives=["b"], options={"epochz": 2})
    assert call("adapters", name="plain") == []
    call("close", name="plain")
