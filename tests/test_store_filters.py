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
