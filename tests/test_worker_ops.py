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
from agentdb.errors import (ArgumentError, DimensionError, OptionError, StoreClosedError, StoreExistsError,
                            UnknownIdError)

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
JS_OWN = {"runPython"}            # served by the worker itself (Pyodide's runPythonAsync), not by Python
PAGE_ONLY = {"constructor", "onProgress", "memory", "learn", "graph", "io", "rag", "subscribe"}   # no request of their own
# (memory: a proxy over "memory"; learn, graph, io, rag: objects whose methods send; subscribe: the page's listeners)
PAGE_ONLY |= {"configure"}         # AgentDB.configure: where the worker starts from (before any request)
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
    model = run("exportModel", name="ops", format="binary")
    assert model[:8] == b"AGDBMODL"
    assert run("removeAdapter", name="ops", adapter="query") is None and call("adapters", name="ops") == []
    assert run("importModel", model, name="ops") == {"adapters": 1, "patterns": 0}
    assert call("removeAdapter", name="ops", adapter="query") is None
    assert run("exportDataset", name="ops", format="jsonl") == b""           # no episodes or feedback yet
    assert run("importDataset", b"", name="ops", format="jsonl") == {"value": {"stored": 0, "skipped": 0}}
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
    assert run("graphWrite", name="ops", method="add_node", args={"id": "n1", "labels": ["P"]}) == "n1"
    assert run("graph", name="ops", method="get_node", args={"id": "n1"})["labels"] == ["P"]
    assert run("transaction", f32(*[1.0] * 8), name="ops", steps=[
        {"op": "ingest", "args": {"ids": ["t"]}, "vectors": [0, 8]},
        {"op": "graph", "args": {"method": "add_edge", "args": {"src": "n1", "dst": "n1", "type": "SELF"}}},
        {"op": "delete", "args": {"ids": ["t"]}}]) == [{"accepted": 1, "replaced": 0, "deleted": 0}, 0, {"deleted": 1}]
    note = run("ragWrite", name="ops", method="index", args={"text": "Alice Moreau works for Vantex."})["value"]
    assert run("rag", name="ops", method="query", args={"question": "Who works for Vantex?", "k": 1})["value"]["sources"]
    assert call("ragWrite", name="ops", method="forget", args={"ident": note}) is not None
    assert run("ragSession", name="ops", method="list")["value"] == []
    assert run("nn", module="hyperbolic", function="mobius_add",
               args={"x": [0.5, 0.0], "y": [0.5, 0.0], "dim": 2})["value"] == {"f32": "cdcc4c3f00000000"}
    assert run("hnsw", name="ops", method="levels")["value"]["levels"][0]["ids"][0] == "c"
    assert run("close", name="ops") is None and run("close", name="ops-copy") is None
    worker_api.take_events()
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
    """{method name: ops it requests} of the AgentDB class in web/agentdb.js (and the classes
    after it: db.learn's; db.graph's methods send through #call, see test_every_graph_method_...)."""
    source = (WEB / "agentdb.js").read_text()
    body = source[source.index("export class AgentDB"):source.index("class GraphClient")]
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


# ---- the graph ---------------------------------------------------------------------------------

def graph_table():
    """web/agentdb.js's GRAPH table: {JS method: (Python method, op)}, and GraphClient's methods."""
    source = (WEB / "agentdb.js").read_text()
    table = dict((m, (py, op)) for m, py, op in re.findall(r'^  (\w+): \["(\w+)", "(graph|graphWrite)"', source, re.M))
    body = source[source.index("class GraphClient"):]
    methods = {m.group(1): m.group(2) for m in re.finditer(r'^  (\w+)\(.*?\{ return this\.#call\("(\w+)"', body, re.M)}
    return table, methods


def test_every_graph_method_of_the_client_is_in_the_table_with_its_kind():
    table, methods = graph_table()
    assert all(js == sent for js, sent in methods.items()), methods          # each method sends its own entry
    assert set(methods) == set(table)
    reads = {py for py, op in table.values() if op == "graph"}
    writes = {py for py, op in table.values() if op == "graphWrite"}
    assert reads == set(worker_api.GRAPH_READS) and writes == set(worker_api.GRAPH_WRITES) - {"cypher"}
    assert json.loads(worker_api.operations())["graph"] == "read"
    assert {json.loads(worker_api.operations())[op] for op in ("graphWrite", "transaction")} == {"write"}
    source = (WEB / "agentdb.js").read_text()
    assert f"const CYPHER_UPDATING = /{worker_api.CYPHER_UPDATING.pattern}/i;" in source     # the same rule


def _graph(op, name, method, **args):
    return call(op, name=name, method=method, args=args)


def _build_graph(name):
    """The same graph through the worker's requests: nodes with labels, properties, an embedding."""
    return _graph("graphWrite", name, "batch_insert",
                  nodes=[{"id": "ada", "labels": ["Person"], "properties": {"born": 1815, "my_key": [1, 2]},
                          "embedding": [1, 0, 0]},
                         {"id": "bab", "labels": ["Person"], "properties": {"born": 1791}, "embedding": [0, 1, 0]},
                         {"id": "eng", "labels": ["Machine"]}],
                  edges=[["ada", "bab", "KNOWS", {"since": 1833}],
                         {"src": "bab", "dst": "eng", "type": "BUILT", "weight": 2.5, "valid_from": 1822}])


QUERY = "MATCH (a:Person)-[r]->(b) RETURN a, r, b.born AS born, properties(a) AS p ORDER BY a.born"


def test_graph_reads_and_writes_answer_as_the_native_graph():
    call("open", name="g1", options={"dim": 3})
    assert _build_graph("g1") == {"nodes": ["ada", "bab", "eng"], "edges": [0, 1], "hyperedges": []}
    native = agentdb.open(dim=3)
    native.graph.batch_insert(nodes=[{"id": "ada", "labels": ["Person"], "properties": {"born": 1815, "my_key": [1, 2]},
                                      "embedding": [1, 0, 0]},
                                     {"id": "bab", "labels": ["Person"], "properties": {"born": 1791},
                                      "embedding": [0, 1, 0]}, {"id": "eng", "labels": ["Machine"]}],
                              edges=[("ada", "bab", "KNOWS", {"since": 1833}),
                                     {"src": "bab", "dst": "eng", "type": "BUILT", "weight": 2.5, "valid_from": 1822}])
    g = native.graph
    got = _graph("graph", "g1", "cypher", query=QUERY)
    assert got == worker_api.graph_json(g.cypher(QUERY))
    assert got["columns"] == ["a", "r", "born", "p"] and got["rows"][0][0]["properties"] == {"born": 1791}
    assert got["rows"][1][1] == {"id": 0, "src": "ada", "dst": "bab", "type": "KNOWS", "properties": {"since": 1833},
                                 "weight": 1.0, "validFrom": None, "validTo": None}
    assert _graph("graph", "g1", "k_hop", node="ada", k=2) == g.k_hop("ada", 2) == ["bab", "eng"]
    assert _graph("graph", "g1", "get_node", id="ada") == {"id": "ada", "labels": ["Person"], "embedded": True,
                                                          "properties": {"born": 1815, "my_key": [1, 2]},
                                                          "embedding": [1.0, 0.0, 0.0]}
    assert _graph("graph", "g1", "shortest_path", a="ada", b="eng", weighted=True) == {
        "nodes": ["ada", "bab", "eng"], "edges": [0, 1], "weight": 3.5}
    assert _graph("graph", "g1", "shortest_path", a="eng", b="ada") is None
    assert _graph("graph", "g1", "edges", as_of=1800) == [worker_api.graph_json(g.get_edge(0))]
    hits = _graph("graph", "g1", "search", vector=[0.1, 1, 0], k=1)
    assert [h["id"] for h in hits] == ["bab"] and hits[0]["score"] == g.search([0.1, 1, 0], k=1)[0].score
    stats = _graph("graph", "g1", "stats")
    assert (stats["edgeTypes"], stats["embeddedNodes"], stats["labels"]) == ({"BUILT": 1, "KNOWS": 1}, 2,
                                                                             {"Machine": 1, "Person": 2})
    assert _graph("graphWrite", "g1", "update_node", id="eng", properties={"n": 1}, add_labels="X")["labels"] == \
        ["Machine", "X"]
    assert _graph("graphWrite", "g1", "add_hyperedge", nodes=["ada", "bab"], type="PAIR", valid_to=5) == 0
    assert _graph("graph", "g1", "hyperedges_of", node="bab")[0]["validTo"] == 5
    assert _graph("graphWrite", "g1", "delete_node", id="eng", detach=True) == {"nodes": 1, "edges": 1,
                                                                              "hyperedges": 0}
    call("close", name="g1")
    worker_api.take_events()


def test_graph_requests_refuse_what_their_kind_does_not_do_and_errors_are_typed():
    from agentdb.errors import ArgumentError, CypherSyntaxError, IdError, NodeHasEdgesError

    call("open", name="g2", options={"dim": 3})
    _build_graph("g2")
    with pytest.raises(ArgumentError, match="add_node is a graphWrite request, not graph"):
        _graph("graph", "g2", "add_node", id="x")
    with pytest.raises(ArgumentError, match="k_hop is a graph request, not graphWrite"):
        _graph("graphWrite", "g2", "k_hop", node="ada", k=1)
    with pytest.raises(AttributeError, match="no method 'subscribe'"):
        _graph("graph", "g2", "subscribe", callback=None)
    with pytest.raises(ArgumentError, match="CREATE, MERGE.*graphWrite"):
        _graph("graph", "g2", "cypher", query="CREATE (n:P)")
    with pytest.raises(UnknownIdError):
        _graph("graph", "g2", "get_node", id="nobody")
    with pytest.raises(CypherSyntaxError):
        _graph("graph", "g2", "cypher", query="MATCH (n RETURN n")
    with pytest.raises(IdError):
        _graph("graphWrite", "g2", "add_node", id="ada")
    with pytest.raises(NodeHasEdgesError):
        _graph("graphWrite", "g2", "delete_node", id="bab")
    assert _graph("graph", "g2", "stats")["nodes"] == 3
    call("close", name="g2")
    worker_api.take_events()


def test_a_transaction_is_one_commit_or_nothing():
    call("open", name="tx", options={"dim": 2, "persist": True})
    call("ingest", f32(1, 0), name="tx", ids=["v0"])
    _graph("graphWrite", "tx", "add_node", id="n0")
    before = _stored_bytes("tx")
    json.loads(worker_api.take_events())
    epoch = worker_api._stores["tx"]._log.writer.epoch
    good = [{"op": "ingest", "args": {"ids": ["v1", "v2"], "metadata": [{"k": 1}, None]}, "vectors": [0, 4]},
            {"op": "graph", "args": {"method": "add_node", "args": {"id": "n1", "embedding": [0, 1]}}},
            {"op": "graph", "args": {"method": "add_edge", "args": {"src": "n0", "dst": "n1", "type": "R"}}},
            {"op": "graph", "args": {"method": "k_hop", "args": {"node": "n0", "k": 1}}},
            {"op": "delete", "args": {"ids": ["v0"]}},
            {"op": "ingest", "args": {"ids": ["v3"]}, "vectors": [4, 6]}]
    assert call("transaction", f32(1, 1, 0, 1, 0.5, 0.5), name="tx", steps=good) == [
        {"accepted": 2, "replaced": 0, "deleted": 0}, "n1", 0, ["n1"], {"deleted": 1},
        {"accepted": 1, "replaced": 0, "deleted": 0}]
    commit = _stored_bytes("tx")
    assert worker_api._stores["tx"]._log.writer.epoch == epoch + 1          # one commit
    reopened = agentdb.open_bytes(before + commit)
    assert sorted(map(str, reopened.ids())) == ["graph-node:1", "v1", "v2", "v3"]
    assert reopened.graph.k_hop("n0", 1) == ["n1"] and reopened.get("v2").vector.tolist() == [0, 1]
    [event] = json.loads(worker_api.take_events())
    assert event["store"] == "tx" and [c["op"] for c in event["changes"]] == ["add_node", "add_edge"]
    # a failing step: nothing changes, vectors nor graph, nothing is stored, nobody is told
    status = call("status", name="tx")
    bad = [{"op": "ingest", "args": {"ids": ["w"]}, "vectors": [0, 2]},
           {"op": "graph", "args": {"method": "add_node", "args": {"id": "n9"}}},
           {"op": "delete", "args": {"ids": ["v1"]}},
           {"op": "graph", "args": {"method": "add_edge", "args": {"src": "n9", "dst": "nobody", "type": "R"}}}]
    with pytest.raises(UnknownIdError):
        call("transaction", f32(1, 0), name="tx", steps=bad)
    with pytest.raises(ArgumentError, match="step 0: its vectors"):
        call("transaction", f32(1, 0), name="tx", steps=[{"op": "ingest", "args": {"ids": ["w"]}, "vectors": [0, 4]}])
    with pytest.raises(ArgumentError, match="unknown op 'compact'"):
        call("transaction", name="tx", steps=[{"op": "compact"}])
    assert call("status", name="tx") == status and _stored_bytes("tx") == b""
    assert _graph("graph", "tx", "has_node", id="n9") is False and call("get", name="tx", id="v1")
    assert json.loads(worker_api.take_events()) == []
    call("close", name="tx")
    worker_api.take_commits("tx")


def test_graph_changes_are_events_once_taken_and_dropped_with_a_reload():
    call("open", name="ev", options={"dim": 2, "persist": True})
    _graph("graphWrite", "ev", "batch_insert", nodes=["a", "b"], edges=[["a", "b", "R"]])
    _graph("graphWrite", "ev", "delete_edge", id=0)
    _graph("graph", "ev", "k_hop", node="a", k=1)                       # reads tell nobody
    [event] = json.loads(worker_api.take_events())
    assert event["type"] == "graph" and event["store"] == "ev"
    assert [(c["op"], c["id"], c["nodes"], c["edges"]) for c in event["changes"]] == [
        ("batch_insert", None, 2, 1), ("delete_edge", 0, 0, -1)]
    assert all(isinstance(c["epoch"], int) for c in event["changes"])
    stored = _stored_bytes("ev")
    _graph("graphWrite", "ev", "add_node", id="c")      # its commit is refused by IndexedDB: the worker reloads
    call("reload", stored, name="ev")
    assert json.loads(worker_api.take_events()) == []
    assert _graph("graph", "ev", "has_node", id="c") is False
    _graph("graphWrite", "ev", "add_node", id="d")          # the reloaded store is watched too
    assert [c["id"] for e in json.loads(worker_api.take_events()) for c in e["changes"]] == ["d"]
    call("close", name="ev")
    worker_api.take_commits("ev")


def test_model_and_dataset_exports_are_the_native_bytes_and_import_back():
    from agentdb.io import export_dataset, from_memory
    from agentdb.io.transfer import MODEL_FORMATS, model_bytes
    import io as stdio
    import agentdb.learn

    call("open", name="io", options={"dim": 8, "embedder": HASHING, "metric": "cosine"})
    db = worker_api._store("io")
    db.set_adapter("query", agentdb.learn.LoRA(8, 8, rank=2, seed=4))
    mem = worker_api._memory("io")
    mem.store_episode("s1", "parse a date", output="strptime", reward=0.9, success=True)
    for fmt in MODEL_FORMATS:
        assert call("exportModel", name="io", format=fmt) == model_bytes(from_memory(mem), fmt)
    native = stdio.BytesIO()
    export_dataset(mem, native, format="csv")
    data = call("exportDataset", name="io", format="csv")
    assert data == native.getvalue() and b"parse a date" in data
    call("open", name="io2", options={"dim": 8, "embedder": HASHING, "metric": "cosine"})
    assert call("importModel", call("exportModel", name="io", format="peft"), name="io2") == {"adapters": 1,
                                                                                              "patterns": 0}
    assert worker_api._store("io2").adapter("query").a == db.adapter("query").a
    assert call("importDataset", data, name="io2", format="csv") == {"value": {"stored": 1, "skipped": 0}}
    assert worker_api._memory("io2").get_episode("episode:1") == mem.get_episode("episode:1")
    with pytest.raises(ArgumentError, match="already"):
        call("importModel", call("exportModel", name="io", format="json"), name="io2")
    with pytest.raises(agentdb.errors.FormatError):
        call("importModel", b"PK\x03\x04 not a zip", name="io2")
    with pytest.raises(ArgumentError, match="format"):
        call("exportModel", name="io", format="onnx")
    call("close", name="io")
    call("close", name="io2")


def test_a_page_embedder_is_asked_for_every_episode_of_a_batch_in_one_round():
    page = {"name": "page-model", "dim": 8, "semantic": False}
    call("open", name="rounds", options={"dim": 8, "embedder": page})
    episodes = [{"session": "s", "task": t, "reward": 0.5, "success": True} for t in ("one", "two", "one")]
    asked = call("memory", name="rounds", method="store_episodes", args={"episodes": episodes})
    assert asked == {"needEmbeddings": ["one", "two"]}
    vectors = {"one": [1.0] + [0.0] * 7, "two": [0.0, 1.0] + [0.0] * 6}
    done = call("memory", name="rounds", method="store_episodes", args={"episodes": episodes}, embeddings=vectors)
    assert done["value"] == ["episode:1", "episode:2", "episode:3"]
    call("close", name="rounds")


def test_sessions_in_the_worker_chat_over_the_stores_retrieval_and_export():
    call("open", name="talk", options={"dim": 64, "embedder": {**HASHING, "dim": 64}})
    call("ragWrite", name="talk", method="index_many", args={"texts": ["Vantex is based in Lyon.",
                                                                       "Alice Moreau works for Vantex."]})
    s = call("ragSession", name="talk", method="create", args={"system": "Answer from the context."})["value"]
    turn = call("ragSession", name="talk", method="chat", args={"session_id": s["id"], "message": "Where is Vantex based?"})
    assert turn["value"]["reply"] is None and "note:1" in turn["value"]["result"]["sources"]
    assert [m["role"] for m in turn["value"]["messages"]] == ["system", "user"]
    exported = call("ragSession", name="talk", method="export", args={"session_id": s["id"]})["value"]
    assert call("ragSession", name="talk", method="get_history", args={"session_id": s["id"]})["value"][0]["content"] \
        == "Where is Vantex based?"
    call("ragSession", name="talk", method="delete", args={"session_id": s["id"]})
    assert call("ragSession", name="talk", method="import_json", args={"text": exported})["value"] == [s["id"]]
    with pytest.raises(AttributeError, match="sessions have no method"):
        call("ragSession", name="talk", method="_sessions")
    call("close", name="talk")


def test_nn_calls_answer_the_native_bits_and_refuse_what_is_not_public():
    from agentdb.nn import attention, search

    q, k, v = [0.1, -0.3, 0.7, 0.2], [0.5, 0.1, -0.2, 0.9, 0.3, 0.3], [1.0, 2.0, 3.0, -1.0, 0.5, 0.25]
    got = call("nn", module="attention", function="scaled_dot_product_attention",
               args={"q": q, "k": k, "v": v, "dim": 2, "causal": True})["value"]
    assert bytes.fromhex(got["f32"]) == attention.scaled_dot_product_attention(q, k, v, dim=2, causal=True).tobytes()
    soft = call("nn", module="search", function="differentiable_search",
                args={"query": [1, 0], "keys": [[1, 0], [0, 1], [-1, 0]], "k": 2})["value"]
    want = search.differentiable_search([1, 0], [[1, 0], [0, 1], [-1, 0]], k=2)
    assert soft["indices"] == [0, 1] and bytes.fromhex(soft["weights"]["f32"]) == want.weights.tobytes()
    for module, function in (("os", "system"), ("hyperbolic", "_setup"), ("attention", "MultiHeadAttention"),
                             ("hyperbolic", "nope")):
        with pytest.raises(AttributeError):
            call("nn", module=module, function=function, args={})
