"""The filter algebra against a plain-Python reference evaluator, the RVF expression form,
and malformed filters that must name their bad part."""
import numpy as np
import pytest

import agentdb
import reference as ref
from agentdb import FilterError
from store_data import metadata

FILTERS = [
    {}, {"kind": "note"}, {"kind": {"ne": "note"}}, {"year": 2015}, {"year": "2015"}, {"pinned": True},
    {"pinned": False}, {"year": {"lt": 2005}}, {"year": {"le": 2005}}, {"year": {"gt": 2020}},
    {"year": {"ge": 2020, "lt": 2023}}, {"year": {"range": [2001, 2003]}}, {"kind": {"in": ["idea", "log"]}},
    {"kind": {"in": []}}, {"year": {"in": [2001, 2002, "2003"]}}, {"score": None}, {"score": {"ne": None}},
    {"kind": {"lt": "nb"}}, {"kind": {"range": ["idea", "note"]}}, {"missing_field": 1},
    {"missing_field": {"ne": 1}}, {"and": [{"kind": "note"}, {"year": {"gt": 2010}}]},
    {"or": [{"kind": "note"}, {"score": {"gt": 0.5}}, {"pinned": True}]},
    {"not": {"or": [{"kind": "note"}, {"year": {"lt": 2010}}]}}, {"kind": "todo", "not": {"pinned": True}},
    {"$and": [{"kind": {"$eq": "idea"}}, {"year": {"$ge": 2012}}]},
    {"tags": "a"}, {"score": {"gt": 0.25, "le": 0.75}}, {"year": {"ne": 2011}},
]


@pytest.fixture(scope="module")
def rows():
    return metadata(np.random.default_rng(3), 700)


@pytest.mark.parametrize("where", FILTERS, ids=[str(f) for f in FILTERS])
def test_filter_matches_reference(kernel, rows, where):
    db = agentdb.open(dim=2, index="flat", kernel=kernel)
    db.ingest(range(len(rows)), np.ones((len(rows), 2), np.float32), metadata=rows)
    db.delete(range(0, len(rows), 10))
    want = {i for i, md in enumerate(rows) if i % 10 and ref.matches(md, where)}
    got = db.query([1, 1], k=len(rows), where=where)
    assert set(got.ids) == want
    assert db.delete(where=where) == len(want)
    assert len(db) == len(rows) - len(range(0, len(rows), 10)) - len(want)


def test_rvf_expressions_equal_plain_filters(kernel, rows):
    db = agentdb.open(dim=2, index="flat", kernel=kernel)
    db.ingest(range(len(rows)), np.ones((len(rows), 2), np.float32), metadata=rows)
    pairs = [
        ({"op": "eq", "fieldId": "kind", "value": "note"}, {"kind": "note"}),
        ({"op": "in", "fieldId": "kind", "values": ["idea", "log"]}, {"kind": {"in": ["idea", "log"]}}),
        ({"op": "range", "fieldId": "year", "low": 2003, "high": 2008}, {"year": {"range": [2003, 2008]}}),
        ({"op": "and", "exprs": [{"op": "ge", "fieldId": "year", "value": 2010},
                                 {"op": "not", "expr": {"op": "eq", "fieldId": "kind", "value": "todo"}}]},
         {"year": {"ge": 2010}, "not": {"kind": "todo"}}),
        # the native JSON form: children / child, string values with a valueType
        ({"op": "or", "children": [{"op": "eq", "fieldId": "year", "valueType": "u64", "value": "2004"},
                                   {"op": "not", "child": {"op": "lt", "fieldId": "score", "valueType": "f64",
                                                           "value": "0.9"}}]},
         {"or": [{"year": 2004}, {"not": {"score": {"lt": 0.9}}}]}),
    ]
    for expr, plain in pairs:
        assert sorted(db.query([1, 1], k=1000, where=expr).ids) == sorted(db.query([1, 1], k=1000, where=plain).ids)


def test_numeric_field_ids_name_fields(kernel):
    db = agentdb.open(dim=1, kernel=kernel)
    db.ingest([1, 2], [[1], [1]], metadata=[{"0": "x"}, {"0": "y"}])
    assert db.query([1], where={"op": "eq", "fieldId": 0, "value": "y"}).ids == [2]


@pytest.mark.parametrize("where,message", [
    ({"year": {"between": [1, 2]}}, r"where\.year\.between: unknown operator 'between'"),
    ({"year": {"gt": [1]}}, r"where\.year\.gt: expected a number or a string"),
    ({"kind": {"in": "note"}}, r"where\.kind\.in: 'in' needs a list"),
    ({"year": {"range": [1]}}, r"where\.year\.range: 'range' needs \[low, high\]"),
    ({"year": {"range": [1, "z"]}}, r"both be numbers or both strings"),
    ({"and": {"kind": "x"}}, r"where\.and: 'and' needs a list of filters"),
    ({"or": [{"kind": "x"}, 5]}, r"where\.or\[1\]: a filter is a dict"),
    ({"kind": ["a", "b"]}, r"write \{'in': \['a', 'b'\]\}"),
    ({"kind": {}}, r"where\.kind: empty condition"),
    ({"x": float("nan")}, r"where\.x: expected a string, number"),
    ({"op": "eq", "value": 1}, r"lacks 'fieldId'"),
    ({"op": "and", "exprs": [{"op": "bogus"}]}, r"where\.and\[0\]: expected an expression"),
    ({"op": "eq", "fieldId": "y", "valueType": "u64", "value": "abc"}, r"does not match valueType 'u64'"),
    ("kind", r"a filter is a dict, got str"),
])
def test_malformed_filters_name_the_bad_part(kernel, where, message):
    db = agentdb.open(dim=1, kernel=kernel)
    db.ingest([1], [[1]], metadata=[{"year": 1}])
    with pytest.raises(FilterError, match=message):
        db.query([1], where=where)
    with pytest.raises(ValueError):  # FilterError is a ValueError too
        db.delete(where=where)
    assert len(db) == 1


# ---- dotted paths into nested metadata -----------------------------------------------------

LANGS = ["en", "de", "fr"]


def nested_rows(rng, n):
    """metadata() rows, most with a nested dict "doc" (two levels: doc.page.n), some where
    doc or doc.page is not a dict, and a top-level key "a.b" beside the path a -> b."""
    rows = metadata(rng, n)
    for md in rows:
        r = rng.random()
        if r < 0.6:
            doc = md["doc"] = {"lang": LANGS[rng.integers(0, 3)]}
            if rng.random() < 0.7:
                page = int(rng.integers(0, 8))
                doc["page"] = {"n": page if rng.random() < 0.9 else str(page)}
            elif rng.random() < 0.3:
                doc["page"] = "front"
            if rng.random() < 0.3:
                doc["draft"] = bool(rng.random() < 0.5)
        elif r < 0.7:
            md["doc"] = "plain"
        if rng.random() < 0.3:
            md["a"] = {"b": int(rng.integers(0, 3)), "c.d": 1}
        if rng.random() < 0.1:
            md["a.b"] = int(rng.integers(0, 3))
    return rows


NESTED_FILTERS = [
    {"doc.lang": "en"}, {"doc.lang": {"ne": "en"}}, {"doc.lang": {"lt": "en"}}, {"doc.lang": {"in": ["de", "fr"]}},
    {"doc.page.n": 3}, {"doc.page.n": "3"}, {"doc.page.n": {"gt": 4}}, {"doc.page.n": {"le": 2}},
    {"doc.page.n": {"range": [2, 5]}}, {"doc.page.n": {"in": [1, 6, "6"]}}, {"doc.draft": True},
    {"doc.draft": False}, {"not": {"doc.lang": "en"}}, {"doc.lang": None}, {"doc.page.n": None},
    {"doc.page.n": {"ne": None}}, {"doc.page": "front"}, {"doc.page": None}, {"doc": "plain"},
    {"doc.missing": 1}, {"doc.lang.x": "en"}, {"a.b": 1}, {"a.b": {"ge": 1}}, {"a.c.d": 1},
    {"doc.lang": "de", "doc.page.n": {"ge": 3}, "kind": "note"},
    {"or": [{"doc.lang": "fr"}, {"year": {"lt": 2003}}]},
]


@pytest.fixture(scope="module")
def nested():
    return nested_rows(np.random.default_rng(5), 600)


def nested_store(kernel, rows, path=None):
    """rows in two batches (the second brings values the first lacked), every 10th deleted."""
    db = agentdb.open(path, dim=2, index="flat", kernel=kernel)
    half = len(rows) // 2
    db.ingest(range(half), np.ones((half, 2), np.float32), metadata=rows[:half])
    db.ingest(range(half, len(rows)), np.ones((len(rows) - half, 2), np.float32), metadata=rows[half:])
    db.delete(range(0, len(rows), 10))
    return db


def reopened(kernel, rows, how, tmp_path):
    if how == "bytes":
        return agentdb.open_bytes(nested_store(kernel, rows).to_bytes(), kernel=kernel)
    nested_store(kernel, rows, tmp_path / "nested.rvf").close()
    return agentdb.open(tmp_path / "nested.rvf", kernel=kernel)


@pytest.mark.parametrize("stage", ["ingested", "compacted", "bytes", "file"])
def test_dotted_paths_filter_nested_metadata_like_the_reference(kernel, nested, stage, tmp_path):
    db = nested_store(kernel, nested) if stage in ("ingested", "compacted") else \
        reopened(kernel, nested, stage, tmp_path)
    if stage == "compacted":
        db.compact()
    for where in NESTED_FILTERS:
        want = {i for i, md in enumerate(nested) if i % 10 and ref.matches(md, where)}
        assert set(db.query([1, 1], k=len(nested), where=where).ids) == want, where
    assert db.query([1, 1], k=1000, where={"doc.page.n": 3}).ids, "the data must exercise the filters"
    rvf = {"op": "and", "exprs": [{"op": "gt", "fieldId": "doc.page.n", "value": 2},
                                  {"op": "not", "expr": {"op": "eq", "fieldId": "doc.lang", "value": "en"}}]}
    assert sorted(db.query([1, 1], k=1000, where=rvf).ids) == \
        sorted(db.query([1, 1], k=1000, where={"doc.page.n": {"gt": 2}, "not": {"doc.lang": "en"}}).ids)
    db.close()


def test_compact_keeps_the_columns_of_nested_fields(kernel):
    db = agentdb.open(dim=1, kernel=kernel)
    db.ingest([1, 2, 3], [[1]] * 3, metadata=[{"doc": {"n": 1}}, {"doc": {"n": 2, "deep": {"x": "y"}}}, {"z": 1}])
    db.delete([1])
    db.compact()
    assert db.query([1], where={"doc.n": 2}).ids == [2]
    assert db.query([1], where={"doc.deep.x": "y"}).ids == [2]
    assert db.query([1], where={"doc.n": None}).ids == [3]
    db.delete([2])
    db.compact()                     # no row holds doc.n now: a later one starts it afresh
    db.ingest([4], [[1]], metadata=[{"doc": {"n": 4}}])
    assert db.query([1], k=5, where={"doc.n": {"ge": 1}}).ids == [4]


def test_the_top_level_key_wins_over_the_path_spelled_the_same(kernel):
    db = agentdb.open(dim=1, kernel=kernel)
    db.ingest([1, 2, 3], [[1]] * 3, metadata=[{"a.b": 1, "a": {"b": 2}}, {"a": {"b": 1}}, {"a.b": [1], "a": {"b": 1}}])
    db.ingest([4], [[1]], metadata=[{"a": {"b": 1}}])          # a batch without the top-level key
    assert sorted(db.query([1], k=5, where={"a.b": 1}).ids) == [1, 2, 4]
    assert db.query([1], k=5, where={"a.b": 2}).ids == []


def test_a_file_written_before_dotted_paths_filters_by_them():
    """The committed memory fixture predates dotted paths: its columns are rebuilt on open."""
    from pathlib import Path
    path = Path(__file__).resolve().parent / "fixtures" / "memory_hash64.rvf"
    db = agentdb.open(path, readonly=True)
    assert [i for i, _ in db.find({"metadata.ci": "github"})] == ["episode:13"]
    assert [i for i, _ in db.find({"metadata.team": {"in": ["ops"]}})] != []
    db.close()
