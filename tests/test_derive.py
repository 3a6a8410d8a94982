"""Lineage and derive: snapshot, filter, merge and transform children that record their
parent (file_id, parent_id, depth), which the real tools read back."""
import numpy as np
import pytest

import agentdb
from agentdb.rvf import read
from agentdb.rvf.hashes import toy_hash
from test_rvf_interop import PACKAGES, real


@pytest.fixture
def parent(kernel):
    x = np.random.default_rng(1).standard_normal((200, 6)).astype(np.float32)
    db = agentdb.open(dim=6, metric="l2", kernel=kernel)
    db.ingest(range(200), x, metadata=[{"kind": "a" if i % 2 else "b", "i": i} for i in range(200)])
    db.delete(range(0, 200, 10))
    return db, x


def test_snapshot_copies_live_rows_and_records_lineage(parent):
    db, x = parent
    child = db.derive()
    assert child.ids() == db.ids() and child.get(7).metadata == {"kind": "a", "i": 7}
    q = x[3] + 0.01
    assert child.query(q, k=5).ids == db.query(q, k=5).ids
    assert child.parent_id == db.file_id and child.lineage_depth == 1 and child.file_id != db.file_id
    assert child.identity.parent_hash == toy_hash(db.to_bytes()[-65536:])
    assert child.derive().lineage_depth == 2


def test_filter_keeps_matching_rows(parent):
    db, _ = parent
    child = db.derive(kind="filter", where={"kind": "a", "i": {"lt": 50}})
    assert child.ids() == [i for i in range(1, 50, 2) if i % 10]


def test_merge_unions_stores_and_refuses_colliding_ids(parent, kernel):
    db, x = parent
    other = agentdb.open(dim=6, metric="l2", kernel=kernel)
    other.ingest(["x", "y"], x[:2])
    with pytest.raises(TypeError):                 # int and string ids cannot share a store
        db.derive(kind="merge", parents=[other])
    more = agentdb.open(dim=6, metric="l2", kernel=kernel)
    more.ingest([500, 501], x[:2], metadata=[{"kind": "c"}, {"kind": "c"}])
    merged = db.derive(kind="merge", parents=[more])
    assert len(merged) == len(db) + 2 and merged.get(501).metadata == {"kind": "c"}
    with pytest.raises(ValueError, match=r"ids present in more than one store: \[500, 501\]"):
        merged.derive(kind="merge", parents=[more])


def test_transform_applies_a_function_to_the_vectors(parent):
    db, x = parent
    doubled = db.derive(kind="transform", transform=lambda rows: [2 * v for v in rows])
    assert doubled.get(5).vector.tolist() == (2 * x[5]).tolist()
    assert doubled.query(2 * x[5], k=1).ids == [5]


def test_bad_derive_arguments(parent):
    db, _ = parent
    with pytest.raises(ValueError, match="unknown derive kind 'copy'"):
        db.derive(kind="copy")
    with pytest.raises(ValueError, match="where= only for filter"):
        db.derive(kind="snapshot", where={"kind": "a"})
    with pytest.raises(ValueError, match="where= only for filter"):
        db.derive(kind="merge")


@pytest.mark.parametrize("package", PACKAGES)
def test_a_derived_file_carries_lineage_the_real_tools_read(tmp_path, package):
    db = agentdb.open(tmp_path / "parent.rvf", dim=3)
    db.ingest([1, 2], [[1, 0, 0], [0, 1, 0]])
    child = db.derive(tmp_path / "child.rvf", kind="snapshot")
    lineage = real(package, [{"op": "openReadonly", "path": str(tmp_path / "child.rvf")}, {"op": "lineage"}])[1]
    assert lineage == {"fileId": child.file_id, "parentId": db.file_id, "depth": 1}
    assert read(agentdb.kernel.load(), (tmp_path / "child.rvf").read_bytes()).identity.depth == 1
    assert [s["type"] for s in child.segments()][:2] == ["manifest", "vec"]
    with pytest.raises(FileExistsError):
        db.derive(tmp_path / "child.rvf")
    child.close()
    db.close()
