"""agentdb.cluster on a local Ray cluster (one Ray session for the module, small data): exact
sharded answers equal one store's (ids, score bits and metadata) over several metrics, with
filters, upserts, deletes, ties and compaction; HNSW recall@10 within a point of one store's;
a batch one shard refuses is rolled back on every shard; a killed shard restarts from its file
with every acknowledged write; reads see one committed batch; writers in several processes
lose and duplicate nothing; a shard file opens alone with agentdb.open; a restarted coordinator
finishes the batch its predecessor left staged (commit where any shard committed, else roll back);
a shard killed while a large batch is in flight leaves all of it or none."""
import array
import doctest
import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import agentdb  # noqa: E402
import agentdb.cluster  # noqa: E402
from agentdb.cluster import merge, routing  # noqa: E402
from agentdb.errors import (DimensionError, LockHeldError, MetadataError, NonFiniteError, ShardUnavailableError,  # noqa: E402
                            UnknownIdError)

from store_data import dataset  # noqa: E402

SEED = int(os.environ.get("AGENTDB_TEST_SEED", "23"))


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole run (its start-up is most of this module's time)."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    if started:
        ray.shutdown()


def both(tmp_path, name, shards, dim, metric, **options):
    """A cluster and one in-memory store with the same options, to feed the same batches."""
    coll = agentdb.cluster.open(tmp_path / name, shards=shards, dim=dim, metric=metric, timeout=20, **options)
    return coll, agentdb.open(dim=dim, metric=metric, **options)


def write_both(coll, single, ids, vectors, md=None):
    assert coll.ingest(ids, vectors, md)["accepted"] == single.ingest(ids, vectors, md)["accepted"]


def assert_same(a, b):
    assert a.ids == b.ids
    assert a.scores.tobytes() == b.scores.tobytes()
    assert a.metadata == b.metadata
    assert a.exact == b.exact


def test_docstring_examples():
    for module in (routing, merge):
        assert doctest.testmod(module).failed == 0


def test_routing_is_stable_across_processes():
    """String ids route by BLAKE2b, not Python's salted hash(): another process agrees."""
    ids = [f"note-{i}" for i in range(50)] + list(range(50))
    here = [routing.shard_of(i, 7) for i in ids]
    code = (f"from agentdb.cluster.routing import shard_of; "
            f"print([shard_of(i, 7) for i in {ids!r}])")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    there = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert eval(there.stdout) == here
    assert len(set(here)) == 7                      # every shard gets ids


@pytest.mark.parametrize("metric,ids_kind", [("cosine", "str"), ("dot", "int"), ("l2", "int")])
def test_exact_sharded_equals_one_store(ray_session, tmp_path, metric, ids_kind):
    dim, n = 17, 400
    x, queries, md = dataset(SEED, n, dim, 12, clusters=8, spread=0.4)
    x[50:60] = x[40]                       # ten ties, spread over the shards by their ids
    ident = (lambda i: f"doc-{i}") if ids_kind == "str" else (lambda i: i * 7919 + 3)
    ids = [ident(i) for i in range(n)]
    coll, single = both(tmp_path, metric, 2, dim, metric)
    try:
        for lo in range(0, 300, 100):                 # three batches
            write_both(coll, single, ids[lo:lo + 100], x[lo:lo + 100], md[lo:lo + 100])
        # upserts move ids to the end of the write order; new ids join them
        upsert = [ids[i] for i in range(0, 300, 9)] + ids[300:]
        rows = np.concatenate([x[0:300:9][::-1], x[300:]])
        write_both(coll, single, upsert, rows, [{"kind": "note", "year": 2030}] * len(upsert))
        assert coll.delete(ids[100:130]) == single.delete(ids[100:130])
        assert coll.delete(where={"kind": "todo", "year": {"lt": 2005}}) == \
            single.delete(where={"kind": "todo", "year": {"lt": 2005}})
        filters = [None, {"kind": "note"}, {"year": {"gt": 2015}, "kind": {"in": ["idea", "log"]}}]
        tie_query = x[40]
        for phase in ("before compact", "after compact"):
            for where in filters:
                for q in [*queries, tie_query]:
                    assert_same(coll.query(q, k=10, where=where, exact=True), single.query(q, k=10, where=where,
                                                                                          exact=True))
                got = coll.query_batch(queries, k=7, where=where, exact=True)
                for a, b in zip(got, single.query_batch(queries, k=7, where=where, exact=True)):
                    assert_same(a, b)
            assert coll.find({"kind": "note"}) == single.find({"kind": "note"})
            assert coll.ids() == single.ids()
            if phase == "before compact":
                assert coll.compact()["removed"] == single.compact()["removed"]
        tied = coll.query(tie_query, k=12, exact=True)
        assert (np.frombuffer(tied.scores, np.float32) == tied.scores[0]).sum() >= 3     # the ties are there
        rec, ref = coll.get(ids[5]), single.get(ids[5])
        assert (rec.id, rec.vector.tobytes(), rec.metadata) == (ref.id, ref.vector.tobytes(), ref.metadata)
        with pytest.raises(UnknownIdError):
            coll.get(ids[101])
        assert len(coll) == len(single)
        total = coll.status()["total"]
        assert total["count"] == len(single) and total["deleted"] == 0
    finally:
        coll.close()


def test_hnsw_recall_within_one_point_of_one_store(ray_session, tmp_path):
    dim, n, k = 24, 4000, 10
    x, queries, _ = dataset(SEED + 1, n, dim, 100, clusters=30, spread=0.5)
    coll, single = both(tmp_path, "recall", 2, dim, "cosine", ef_search=32)
    try:
        ids = list(range(n))
        for lo in range(0, n, 1000):
            write_both(coll, single, ids[lo:lo + 1000], x[lo:lo + 1000])
        truth = [set(single.query(q, k=k, exact=True).ids) for q in queries]
        sharded = [coll.query_batch(queries, k=k)[i].ids for i in range(len(queries))]
        alone = [single.query(q, k=k).ids for q in queries]
        recall_sharded = sum(len(truth[i] & set(sharded[i])) for i in range(len(queries))) / (k * len(queries))
        recall_single = sum(len(truth[i] & set(alone[i])) for i in range(len(queries))) / (k * len(queries))
        assert recall_sharded >= recall_single - 0.01, (recall_sharded, recall_single)
        assert not coll.query(queries[0], k=k).exact           # the graphs answered
    finally:
        coll.close()


def shard_counts(coll):
    return [s["count"] for s in coll.status()["shards"]]


def test_a_batch_one_shard_refuses_is_rolled_back_everywhere(ray_session, tmp_path):
    dim = 5
    coll = agentdb.cluster.open(tmp_path / "atomic", shards=2, dim=dim, metric="l2", timeout=20)
    rng = np.random.default_rng(SEED)
    try:
        coll.ingest(list(range(60)), rng.standard_normal((60, dim)), [{"n": i} for i in range(60)])
        before, epoch = shard_counts(coll), coll.status()["epoch"]
        # a NaN row only its shard sees: every shard stages, that one refuses, all roll back
        ids = list(range(100, 130))
        bad = rng.standard_normal((30, dim))
        bad[17, 2] = np.nan
        with pytest.raises(NonFiniteError):
            coll.ingest(ids, bad)
        # metadata only one shard's store refuses (a non-finite number)
        with pytest.raises(MetadataError):
            coll.ingest(ids, rng.standard_normal((30, dim)), [{"n": 1}] * 29 + [{"n": float("inf")}])
        # a delete naming an id one shard does not hold deletes nothing anywhere
        with pytest.raises(UnknownIdError):
            coll.delete([1, 2, 3, 4, 5, 6, 999])
        assert shard_counts(coll) == before and coll.status()["epoch"] == epoch
        assert all(i not in coll.ids() for i in ids)
        coll.ingest(ids, rng.standard_normal((30, dim)))        # the cluster still writes
        counts = shard_counts(coll)
        assert sum(counts) == 90
    finally:
        coll.close()
    # on disk too: each shard file, an ordinary .rvf, opens alone and holds exactly its rows
    for i, expected in enumerate(counts):
        with agentdb.open(coll.shard_path(i)) as db:
            assert len(db) == expected and db.verify()["ok"]
            assert all(routing.shard_of(ident, 2) == i for ident in db.ids())
            assert db.query(rng.standard_normal(dim), k=1, exact=True).ids[0] in db.ids()
    with agentdb.open(coll.shard_path(0)):              # a shard file another writer holds: its typed error
        with pytest.raises(LockHeldError):
            agentdb.cluster.open(tmp_path / "atomic", timeout=20)
    again = agentdb.cluster.open(tmp_path / "atomic", timeout=20)        # and the cluster reopens from them
    try:
        assert len(again) == 90 and again.get(7).metadata == {"n": 7}
        with pytest.raises(DimensionError):
            agentdb.cluster.open(tmp_path / "atomic", dim=9)
    finally:
        again.close()


def test_a_killed_shard_restarts_from_its_file_with_every_acknowledged_write(ray_session, tmp_path):
    dim = 6
    coll = agentdb.cluster.open(tmp_path / "kill", shards=2, dim=dim, metric="dot", timeout=30)
    rng = np.random.default_rng(SEED)
    acknowledged = set()
    try:
        pids = [ray.get(a.state.remote())["pid"] for a in coll.shard_actors]
        for batch in range(8):
            ids = list(range(batch * 25, batch * 25 + 25))
            if batch in (3, 6):
                ray.kill(coll.shard_actors[batch % 2], no_restart=False)      # Ray restarts it from its file
            try:
                coll.ingest(ids, rng.standard_normal((25, dim)))
                acknowledged.update(ids)
            except ShardUnavailableError:
                pass                                    # not acknowledged: must not be there either
        # queries during or after the restart wait for it; every acknowledged write is there
        everything = coll.query(rng.standard_normal(dim), k=1000, exact=True)
        assert set(everything.ids) == acknowledged and len(everything.ids) == len(acknowledged)
        assert everything.missing == [] and everything.shards == [0, 1]
        assert len(acknowledged) >= 150
        assert all(ray.get(a.state.remote())["pid"] != pid for a, pid in zip(coll.shard_actors, pids))   # restarted
    finally:
        coll.close()


def test_a_dead_shard_fails_queries_loudly_or_reports_partial(ray_session, tmp_path):
    dim = 4
    x = np.random.default_rng(SEED).standard_normal((120, dim)).astype(np.float32)
    coll = agentdb.cluster.open(tmp_path / "dead", shards=2, dim=dim, metric="l2", timeout=20)
    try:
        coll.ingest(list(range(120)), x)
        ray.kill(coll.shard_actors[1], no_restart=True)
        with pytest.raises(ShardUnavailableError) as err:
            coll.query(x[0], k=5, exact=True, timeout=1.5)
        assert err.value.shards == [1]
        partial = coll.query(x[0], k=5, exact=True, allow_partial=True, timeout=1.5)
        assert partial.missing == [1] and partial.shards == [0]
        others = [i for i in range(120) if routing.shard_of(i, 2) != 1]
        ref = agentdb.open(dim=dim, metric="l2")
        ref.ingest(others, x[others])
        assert_same(partial, ref.query(x[0], k=5, exact=True))
    finally:
        coll.close()
    again = agentdb.cluster.open(tmp_path / "dead", timeout=20)        # a new actor from the file
    try:
        assert len(again) == 120
    finally:
        again.close()


def test_reads_see_one_committed_batch(ray_session, tmp_path):
    """A writer adds 7 rows a batch over 2 shards while queries run: every answer holds whole
    batches only, as many as its epoch says."""
    dim = 3
    coll = agentdb.cluster.open(tmp_path / "epochs", shards=2, dim=dim, metric="l2", timeout=20)
    rng = np.random.default_rng(SEED)
    done = threading.Event()

    def writer():
        for b in range(25):
            coll.ingest(list(range(b * 7, b * 7 + 7)), rng.standard_normal((7, dim)))
        done.set()

    try:
        thread = threading.Thread(target=writer)
        thread.start()
        seen = 0
        while not done.is_set() or seen < 3:
            res = coll.query([0, 0, 0], k=1000, exact=True)
            assert len(res.ids) == 7 * res.epoch, (len(res.ids), res.epoch)
            seen += 1
        thread.join()
        assert len(coll.query([0, 0, 0], k=1000, exact=True).ids) == 175
    finally:
        coll.close()


def _writer_process(address, root, worker, batches, queue):
    """A separate process on the same Ray cluster: its own ids and ids every writer upserts."""
    import ray as ray_child

    import agentdb.cluster as cluster

    ray_child.init(address=address, log_to_driver=False)
    coll = cluster.open(root, timeout=30)
    rng = np.random.default_rng(worker)
    written = []
    for b in range(batches):
        ids = [worker * 10_000 + b * 10 + j for j in range(10)] + [b * 3 + j for j in range(3)]
        coll.ingest(ids, rng.standard_normal((13, 4)), [{"w": worker, "b": b}] * 13)
        written.extend(ids)
    coll.close(stop=False)
    ray_child.shutdown()
    queue.put((worker, written))


def test_concurrent_writers_in_several_processes_lose_and_duplicate_nothing(ray_session, tmp_path):
    root = str(tmp_path / "writers")
    coll = agentdb.cluster.open(root, shards=2, dim=4, metric="cosine", timeout=30, detached=True)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer_process, args=(ray_session, root, w, 6, queue)) for w in range(1, 4)]
    try:
        for p in procs:
            p.start()
        results = dict(queue.get(timeout=240) for _ in procs)
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        expected = set().union(*results.values())
        listed = coll.ids()
        assert len(listed) == len(set(listed)) == len(expected) == 3 * 60 + 18
        assert set(listed) == expected
        assert len(coll) == len(expected)
        assert coll.status()["epoch"] == 18                   # 3 writers x 6 batches, each once
        assert len(coll.query([1, 0, 0, 0], k=1000, exact=True).ids) == len(expected)
    finally:
        coll.close()


def test_every_public_collection_method_is_documented():
    from agentdb.cluster import ClusterResults, Collection

    for cls in (Collection, ClusterResults):
        bare = [name for name, obj in vars(cls).items() if not name.startswith("_") and callable(obj)
                and not (obj.__doc__ or "").strip()]
        assert not bare, (cls.__name__, bare)


def _stage_everywhere(coll, ids, epoch, seq0):
    """Phase one of a batch, driven on the shard actors directly: what a coordinator that dies
    before phase two leaves behind."""
    x = array.array("f", [float(i) for i in ids for _ in range(coll.dim)])
    calls = []
    for shard, positions in enumerate(routing.split(ids, coll.n_shards)):
        rows = array.array("f", [v for p in positions for v in x[p * coll.dim:(p + 1) * coll.dim]])
        part = ([ids[p] for p in positions], rows, None, positions)
        calls.append(coll.shard_actors[shard].prepare.remote(epoch, (seq0, seq0 + len(ids)),
                                                             "ingest" if positions else "none", part))
    ray.get(calls)


def kill_coordinator(coll):
    """ray.kill the coordinator (Ray restarts it); the cluster's status once the new
    incarnation has recovered (ray.kill returns before the old one is gone)."""
    before = coll._ask("status")["pid"]
    ray.kill(coll._coordinator, no_restart=False)
    deadline = time.monotonic() + 30
    while coll._ask("status")["pid"] == before:
        assert time.monotonic() < deadline, "the coordinator did not restart"
        time.sleep(0.1)
    return coll.status()


def test_a_restarted_coordinator_finishes_what_its_predecessor_left_staged(ray_session, tmp_path):
    coll = agentdb.cluster.open(tmp_path / "recover", shards=2, dim=3, metric="l2", timeout=20)
    try:
        coll.ingest([1, 2, 3, 4], [[i, 0, 0] for i in range(4)])
        # batch 2 staged on both shards and committed on one: the decision was commit
        _stage_everywhere(coll, [10, 11, 12, 13], 2, 4)
        ray.get(coll.shard_actors[0].commit.remote(2))
        status = kill_coordinator(coll)
        assert status["epoch"] == 2 and status["coordinator"]["next_seq"] == 8
        assert sorted(coll.ids()) == [1, 2, 3, 4, 10, 11, 12, 13]
        # batch 3 staged everywhere, committed nowhere: rolled back
        _stage_everywhere(coll, [20, 21, 22, 23], 3, 8)
        assert kill_coordinator(coll)["epoch"] == 2 and len(coll) == 8
        coll.ingest([30], [[1, 1, 1]])                # the cluster writes on from batch 3
        assert coll.status()["epoch"] == 3 and coll.ids()[-1] == 30
    finally:
        coll.close()


def test_a_shard_killed_mid_batch_leaves_all_of_it_or_none(ray_session, tmp_path):
    """A batch large enough to be in flight when one shard is killed: after the restart every
    shard holds the whole batch (acknowledged) or none of it (ShardUnavailableError)."""
    dim = 32
    coll = agentdb.cluster.open(tmp_path / "midway", shards=2, dim=dim, metric="l2", timeout=30)
    rng = np.random.default_rng(SEED)
    try:
        coll.ingest(list(range(100)), rng.standard_normal((100, dim)))
        outcome = {}

        def big_batch():
            try:
                outcome["answer"] = coll.ingest(list(range(1000, 9000)), rng.standard_normal((8000, dim)))
            except ShardUnavailableError as exc:
                outcome["error"] = exc

        writer = threading.Thread(target=big_batch)
        writer.start()
        time.sleep(0.3)
        ray.kill(coll.shard_actors[1], no_restart=False)
        writer.join(timeout=120)
        ids = set(coll.ids())
        batch = ids - set(range(100))
        assert set(range(100)) <= ids
        assert batch == (set(range(1000, 9000)) if "answer" in outcome else set()), outcome
        coll.ingest([50_000], rng.standard_normal((1, dim)))        # and it writes on
        assert 50_000 in coll.ids()
    finally:
        coll.close()
