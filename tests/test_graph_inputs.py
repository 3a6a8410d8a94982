"""agentdb.graph.inputs: the fast forms of batch_insert (node columns, numpy and array.array
edge columns) build the graph the record forms build, byte for byte, and refuse what those
refuse; the one-pass checks behind them (jsonvalues.flat_size_bound, check_labels' memory)
agree with the full checks."""
import array
import json
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import agentdb
from agentdb import ArgumentError, IdError, MetadataError, UnknownIdError
from agentdb.graph.tables import check_labels
from agentdb.store import jsonvalues


def built(nodes, edges=()):
    db = agentdb.open(dim=2)
    db.graph.batch_insert(nodes=nodes, edges=edges)
    db.identity.file_id = bytes(16)
    return db.to_bytes()


def sample(seed=4, n=300, m=2000):
    r = random.Random(seed)
    labels = [r.choice([["P"], ["Q", "P"], None]) for _ in range(n)]
    nid = list(range(n))
    score = [r.choice([None, r.random(), r.randrange(-5, 5), "s", True]) for _ in range(n)]
    src = [r.randrange(n) for _ in range(m)]
    dst = [r.randrange(n) for _ in range(m)]
    return labels, nid, score, src, dst


def test_node_columns_build_what_node_records_build():
    labels, nid, score, src, dst = sample()
    records = [{"id": i, "labels": ls, "properties": {"nid": i, **({"score": s} if s is not None else {})}}
               for i, ls, s in zip(nid, labels, score)]
    edges = {"src": src, "dst": dst, "type": "R"}
    want = built(records, edges)
    assert built({"id": nid, "labels": labels, "properties": {"nid": nid, "score": score}}, edges) == want
    assert built({"id": np.arange(300), "labels": labels, "properties": {"nid": array.array("q", nid),
                                                                         "score": score}}, edges) == want
    one = built([{"id": i, "labels": "P"} for i in nid])
    assert built({"id": range(300), "labels": "P"}) == one


def test_numpy_and_array_edge_columns_build_what_lists_build():
    _, nid, _, src, dst = sample()
    want = built(nid, {"src": src, "dst": dst, "type": "R", "weight": [0.5] * len(src)})
    for kind in (np.asarray, lambda v: np.asarray(v, dtype=np.uint32), lambda v: array.array("q", v)):
        assert built(nid, {"src": kind(src), "dst": kind(dst), "type": "R",
                           "weight": np.full(len(src), 0.5)}) == want
    shifted = [i + 1000 for i in nid]                 # a block that starts past 0
    want = built(shifted, {"src": [s + 1000 for s in src], "dst": [d + 1000 for d in dst], "type": "R"})
    assert built(shifted, {"src": np.asarray(src) + 1000, "dst": np.asarray(dst) + 1000, "type": "R"}) == want


def test_numpy_edges_naming_nodes_outside_the_batch_take_the_general_path():
    db = agentdb.open(dim=2)
    g = db.graph
    g.batch_insert(nodes=[10, 11])
    g.batch_insert(nodes=[0, 1], edges={"src": np.array([0, 1, 10]), "dst": np.array([11, 0, 1]), "type": "R"})
    assert sorted((e.src, e.dst) for e in g.edges()) == [(0, 11), (1, 0), (10, 1)]
    with pytest.raises(UnknownIdError):
        g.batch_insert(nodes=[2], edges={"src": np.array([2]), "dst": np.array([99]), "type": "R"})
    with pytest.raises(IdError, match="src"):
        g.batch_insert(nodes=[3], edges={"src": np.array([-1]), "dst": np.array([3]), "type": "R"})
    assert len(g) == 4


@pytest.mark.parametrize("nodes, error, match", [
    ({"id": [1, 2], "colour": ["r", "g"]}, ArgumentError, "unknown"),
    ({"id": [1, 2], "labels": ["P"]}, ArgumentError, "labels has 1 values"),
    ({"labels": "P"}, ArgumentError, "how many nodes"),
    ({"id": [1, 2], "properties": {"a": [1]}}, ArgumentError, "has 1 values"),
    ({"id": [1, 2], "properties": [1, 2]}, ArgumentError, "dict of columns"),
    ({"id": [1, 2], "properties": {"a": [1, float("nan")]}}, MetadataError, "finite"),
    ({"id": [1, 2], "properties": {"a": [1, 2 ** 70]}}, MetadataError, "64 bits"),
    ({"id": [1, 2], "properties": {"a": [1, object()]}}, MetadataError, "not a JSON value"),
    ({"id": [1, 1]}, IdError, None),
    ({"id": [1, 2], "labels": ["P", ""]}, ArgumentError, None),
])
def test_node_columns_refuse_what_records_refuse(nodes, error, match):
    g = agentdb.open(dim=2).graph
    with pytest.raises(error, match=match):
        g.batch_insert(nodes=nodes)
    assert len(g) == 0


@pytest.mark.parametrize("edges, error, match", [
    ({"src": [0, True], "dst": [1, 0], "type": "R"}, IdError, r"edges.src\[1\]"),
    ({"src": [0, 1], "dst": [False, 0], "type": "R"}, IdError, r"edges.dst\[0\]"),
    ({"src": [0, 1], "dst": [1, 7], "type": "R"}, UnknownIdError, "7"),
    ({"src": [0, -1], "dst": [1, 0], "type": "R"}, IdError, "src"),
    ({"src": [0, 1.0], "dst": [1, 0], "type": "R"}, IdError, "src"),
    ({"src": [0, 2 ** 40], "dst": [1, 0], "type": "R"}, UnknownIdError, str(2 ** 40)),
])
def test_edge_columns_over_an_id_run_refuse_what_the_general_path_refuses(edges, error, match):
    g = agentdb.open(dim=2).graph
    with pytest.raises(error, match=match):
        g.batch_insert(nodes={"id": [0, 1, 2]}, edges=edges)
    assert len(g) == 0
    g.batch_insert(nodes={"id": [0, 1, 2]})       # the same edges naming existing nodes: the same errors
    with pytest.raises(error, match=match):
        g.batch_insert(edges=edges)


@pytest.mark.parametrize("ids", [[True, 1, 2], [0, True, 2], [5, 6, 7], [0, 2, 1], [3, 4, 4], range(3, 6),
                                 array.array("q", [8, 9, 10]), np.arange(4, 7)])
def test_an_id_column_is_a_run_only_when_it_is_one(ids):
    g = agentdb.open(dim=2).graph
    records = agentdb.open(dim=2).graph
    try:
        want = records.batch_insert(nodes=[{"id": i} for i in ids])
    except IdError as exc:
        with pytest.raises(IdError, match="True" if "True" in str(exc) else "twice"):
            g.batch_insert(nodes={"id": ids})
        assert len(g) == 0
        return
    assert g.batch_insert(nodes={"id": ids}) == want
    assert [n.id for n in g.nodes()] == [n.id for n in records.nodes()]
    with pytest.raises(IdError, match="already has"):
        g.batch_insert(nodes={"id": ids})            # a run over live ids: refused whole
    with pytest.raises(IdError, match="already has"):
        g.batch_insert(nodes=list(ids))               # plain ids, the same
    assert len(g) == 3
    plain = agentdb.open(dim=2).graph
    assert plain.batch_insert(nodes=list(ids)) == want
    assert [n.id for n in plain.nodes()] == [n.id for n in records.nodes()]


def test_batch_insert_ids_equal_the_lists_of_them():
    from agentdb.graph.ids import Ids
    from agentdb.worker_api import graph_json

    g = agentdb.open(dim=2).graph
    got = g.batch_insert(nodes={"id": range(5, 9)}, edges={"src": [5, 6, 7], "dst": [6, 7, 8], "type": "R"})
    assert got == {"nodes": [5, 6, 7, 8], "edges": [0, 1, 2], "hyperedges": []}
    assert isinstance(got["edges"], Ids) and type(got["edges"]._ids) is range    # a run stays a range
    assert repr(got["nodes"]) == "[5, 6, 7, 8]" and got["nodes"][1:3] == [6, 7] and got["nodes"][-1] == 8
    assert list(got["edges"]) == got["edges"].tolist() == [0, 1, 2] and 2 in got["edges"] and 3 not in got["edges"]
    assert got["edges"] != [0, 1] and got["edges"] != (0, 1, 2) and len(got["edges"]) == 3
    assert json.dumps(graph_json(got)) == '{"nodes": [5, 6, 7, 8], "edges": [0, 1, 2], "hyperedges": []}'
    named = g.batch_insert(nodes=["a", "b"], edges=[("a", "b", "R")])
    assert named["nodes"] == ["a", "b"] and named["edges"] == [3] and named["nodes"] == Ids(["a", "b"])


scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
flat = st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 3)), scalars, max_size=6)


@given(flat)
@settings(max_examples=400, deadline=None)
def test_the_flat_size_bound_agrees_with_the_full_checks(md):
    bound = jsonvalues.flat_size_bound(md)
    if bound is not None:
        assert jsonvalues.problem(md) is None
        assert jsonvalues.encoded_size(md) <= bound
    else:
        bad = jsonvalues.problem(md)
        assert bad is not None or any(not isinstance(v, (str, int, float, bool, type(None))) for v in md.values())


def test_the_flat_size_bound_stays_an_upper_bound_for_escapes_and_wide_characters():
    for text in ("\x00" * 50, "é" * 50, "😀" * 50, '"\\' * 50):
        md = {text: text}
        assert len(json.dumps(md, separators=(",", ":"), ensure_ascii=False).encode()) <= \
            jsonvalues.flat_size_bound(md)


def test_remembered_labels_are_checked_labels_and_bad_ones_always_raise():
    assert check_labels(["b", "a", "b"]) == ("a", "b") == check_labels(("b", "a"))
    for _ in range(2):
        with pytest.raises(ArgumentError):
            check_labels(["ok", ""])
        with pytest.raises(ArgumentError):
            check_labels(["ok", 5])


keys = st.lists(st.text(max_size=6), min_size=1, max_size=4, unique=True)


@given(keys.flatmap(lambda ks: st.lists(st.fixed_dictionaries({k: scalars for k in ks}), min_size=1, max_size=8)))
@settings(max_examples=300, deadline=None)
def test_a_uniform_batch_is_refused_or_kept_as_row_by_row_checks_say(batch):
    """MetadataColumns.check takes a batch of same-keyed scalar dicts a column at a time: its
    answer must be the one the per-row rules give."""
    from agentdb.store.metadata import MetadataColumns
    ok = all(jsonvalues.problem(md) is None and jsonvalues.encoded_size(md) <= jsonvalues.MAX_METADATA_BYTES
             for md in batch)
    if ok:
        kept = MetadataColumns.check(batch, len(batch))
        assert kept == batch and all(a is not b for a, b in zip(kept, batch))
    else:
        with pytest.raises(MetadataError):
            MetadataColumns.check(batch, len(batch))


_meta_ops = st.lists(st.one_of(
    st.tuples(st.just("dicts"), st.lists(st.one_of(st.none(), st.fixed_dictionaries({"n": st.integers(0, 9)})),
                                         max_size=4)),
    st.tuples(st.just("none"), st.integers(0, 5)),
    st.tuples(st.just("columns"), st.lists(st.one_of(st.none(), st.sampled_from(["a", "b"])), min_size=1, max_size=4)),
    st.tuples(st.just("truncate"), st.integers(0, 12))), max_size=12)


@given(_meta_ops)
@settings(max_examples=200, deadline=None)
def test_metadata_rows_without_metadata_read_as_a_plain_list_of_rows(ops):
    """append_none keeps its rows as a count, not list entries: every read (row, stored_of,
    len, the filter columns' lengths) must answer as a list of the appended rows would, also
    after rows with metadata follow the run and after a rollback cuts into it."""
    from agentdb.store.metadata import MetadataColumns
    cols, model = MetadataColumns(), []
    for op, arg in ops:
        if op == "dicts":
            cols.append([dict(md) if md else None for md in arg])
            model += [md or None for md in arg]
        elif op == "none":
            cols.append_none(arg)
            model += [None] * arg
        elif op == "columns":
            cols.append_columns({"s": arg}, len(arg))
            model += [{"s": v} if v is not None else None for v in arg]
        else:
            cols.truncate(min(arg, len(model)))
            del model[arg:]
        assert len(cols) == len(model)
        assert [cols.row(r) for r in range(len(model))] == model
        assert cols.stored_of(list(range(len(model)))[::-1]) == model[::-1]
        for field in cols.fields.values():
            for col in (field.numeric, field.codes):
                assert col is None or len(col) == len(model)
    with pytest.raises(IndexError):
        cols.row(len(model))
