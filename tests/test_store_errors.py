"""Bad input gets typed errors naming the problem, and a failed batch changes nothing."""
import math

import numpy as np
import pytest

import agentdb
from agentdb import DimensionError, NonFiniteError, UnknownIdError


@pytest.fixture
def db(kernel):
    store = agentdb.open(dim=3, kernel=kernel)
    store.ingest([1, 2], [[1, 0, 0], [0, 1, 0]], metadata=[{"k": "a"}, {"k": "b"}])
    return store


def unchanged(db):
    assert len(db) == 2 and db.status()["rows"] == 2
    assert db.query([1, 0, 0], k=5).ids == [1, 2]
    assert db.query([1, 0, 0], k=5, where={"k": "a"}).ids == [1]


@pytest.mark.parametrize("ids,vectors,metadata,error,message", [
    ([3], [[1, 2]], None, DimensionError, r"vectors\[0\] has 2 values, the store's dimension is 3"),
    ([3, 4], [1.0, 2.0, 3.0], None, DimensionError, r"expected 2 vector\(s\) of dimension 3 \(6 values\), got 3"),
    ([3, 4], [[1, 2, 3], [4, math.nan, 6]], None, NonFiniteError, r"row 1, element 1 is nan"),
    ([3], [[math.inf, 0, 0]], None, NonFiniteError, r"row 0, element 0 is inf"),
    ([3, 3], [[1, 2, 3], [4, 5, 6]], None, ValueError, r"id 3 appears twice in one batch"),
    (["x"], [[1, 2, 3]], None, TypeError, r"this store's ids are ints"),
    ([-1], [[1, 2, 3]], None, ValueError, r"integer ids must be in 0 \.\. 2\*\*64 - 1"),
    ([2 ** 64], [[1, 2, 3]], None, ValueError, r"integer ids must be in"),
    ([1.5], [[1, 2, 3]], None, TypeError, r"ids are unsigned 64-bit integers or strings"),
    ([True], [[1, 2, 3]], None, TypeError, r"ids are unsigned 64-bit integers or strings"),
    ([3], [[1, 2, 3]], [{"a": 1}, {"b": 2}], ValueError, r"metadata must be a list of 1 dicts"),
    ([3], [[1, 2, 3]], ["x"], TypeError, r"metadata\[0\] must be a dict"),
    ([3], [[1, 2, 3]], [{1: "x"}], TypeError, r"keys must be strings"),
    ([3], [[1, 2, 3]], [{"x": math.nan}], ValueError, r"numbers must be finite"),
    ([3], np.zeros((1, 3), np.complex64), None, agentdb.BufferFormatError, r"expected float32"),
])
def test_bad_batches_are_refused_whole(db, ids, vectors, metadata, error, message):
    with pytest.raises(error, match=message):
        db.ingest(ids, vectors, metadata=metadata)
    unchanged(db)


def test_upsert_in_a_refused_batch_keeps_the_old_row(db):
    with pytest.raises(NonFiniteError):
        db.ingest([1, 9], [[0, 0, 1], [math.nan, 0, 0]])
    unchanged(db)
    assert db.get(1).metadata == {"k": "a"}


def test_query_errors(db):
    with pytest.raises(DimensionError, match="expected 1 vector"):
        db.query([1, 0])
    with pytest.raises(NonFiniteError, match="element 2 is nan"):
        db.query([1, 0, math.nan])
    with pytest.raises(NonFiniteError, match="overflows float32"):
        db.query([3e38, 3e38, 0])
    for k in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            db.query([1, 0, 0], k=k)


def test_unknown_ids(db):
    with pytest.raises(UnknownIdError, match=r"1 unknown id\(s\): 7"):
        db.get(7)
    with pytest.raises(KeyError):
        db.delete([1, 7])
    unchanged(db)
    assert db.delete([1, 7], missing_ok=True) == 1


def test_delete_needs_exactly_one_selector(db):
    with pytest.raises(ValueError, match="exactly one"):
        db.delete()
    with pytest.raises(ValueError, match="exactly one"):
        db.delete([1], where={"k": "a"})


@pytest.mark.parametrize("options,message", [
    (dict(dim=0), "dim must be an integer"), (dict(dim=3.0), "dim must be an integer"),
    (dict(dim=3, metric="hamming"), "unknown metric 'hamming'"),
    (dict(dim=3, index="ivf"), "unknown index 'ivf'"),
    (dict(dim=3, compression="zstd"), "unknown compression 'zstd'"),
    (dict(dim=3, m=1), "m must be >= 2"), (dict(dim=3, ef_search=0), "ef_search must be a positive integer"),
])
def test_bad_options(kernel, options, message):
    with pytest.raises((ValueError, TypeError), match=message):
        agentdb.open(kernel=kernel, **options)


def test_metric_aliases_of_the_rvf_tools(kernel):
    assert agentdb.open(dim=2, metric="dotproduct", kernel=kernel).metric == "dot"
    assert agentdb.open(dim=2, metric="inner_product", kernel=kernel).metric == "dot"
    assert agentdb.open(dim=2, metric="euclidean", kernel=kernel).metric == "l2"


def test_a_first_batch_cannot_mix_id_kinds(kernel):
    db = agentdb.open(dim=1, kernel=kernel)
    with pytest.raises(TypeError, match=r"ids\[1\] = 'x': this store's ids are ints"):
        db.ingest([1, "x"], [[1.0], [2.0]])
    assert len(db) == 0 and db.status()["id_kind"] is None


def test_bad_string_id_batches_are_refused_whole_naming_the_id():
    db = agentdb.open(dim=2)
    db.ingest(["a"], [[1, 0]])
    for ids, message in ((["b", "b"], r"id 'b' appears twice in one batch"),
                         (["c", ""], r"ids\[1\]: an id cannot be the empty string"),
                         (["d", 4], r"ids\[1\] = 4: this store's ids are strs")):
        with pytest.raises((ValueError, TypeError), match=message):
            db.ingest(ids, [[0, 1]] * 2)
        assert db.ids() == ["a"]
