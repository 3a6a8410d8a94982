"""The client side of a cluster: a Collection routes a batch's rows to their shards and hands
the batch to the coordinator, and scatters reads to every shard and merges their answers.
Every process that opens the same folder on the same Ray cluster shares the same actors."""
import array
import hashlib
import os
import secrets
import time

import ray

from .. import metrics
from ..errors import ArgumentError, MetadataError, ShardUnavailableError
from ..kernel import load
from ..kernel.buffers import as_view
from ..store.ids import IdMap
from ..store.inputs import vector_view
from ..store.options import check_ef, check_k
from ..store.results import Results
from ..store.store import Record
from . import layout as layouts
from .coordinator import Coordinator
from .faults import call_retrying, gather
from .merge import SEQ_KEY, merge, merge_listing
from .routing import shard_of, split
from .shard import Shard

NAMESPACE = "agentdb"
_ShardActor = ray.remote(Shard)
_CoordinatorActor = ray.remote(Coordinator)


class ClusterResults(Results):
    """Results of a sharded query, plus `shards` (the shards that answered), `missing` (those
    that did not: only ever non-empty with allow_partial=True) and `epoch` (the committed batch
    number every answering shard was at)."""

    __slots__ = ("shards", "missing", "epoch")

    def __init__(self, ids, scores, stored, metric, exact, *, shards, missing, epoch):
        super().__init__(ids, scores, stored, metric, exact)
        self.shards, self.missing, self.epoch = shards, missing, epoch


class _Shape:
    """What vector_view needs of a store: its dimension and a kernel."""

    def __init__(self, dim, kernel):
        self.dim, self.kernel = dim, kernel


def open(root, *, shards=None, dim=None, metric=None, ray_address=None, timeout=30.0, detached=False, **options):
    """agentdb.cluster.open(): see the package docstring."""
    if not ray.is_initialized():
        ray.init(address=ray_address, include_dashboard=False)
    root = os.path.abspath(root)
    lay = layouts.load_or_create(root, shards, dim, metric, options)
    key = hashlib.sha256(root.encode()).hexdigest()[:16]
    names = [f"agentdb-cluster-{key}-shard-{i}" for i in range(lay["shards"])]
    store_options = dict(lay["options"], metric=lay["metric"])
    lifetime = "detached" if detached else None     # None: the actors live as long as the process that made them
    actors = [_ShardActor.options(name=name, namespace=NAMESPACE, get_if_exists=True, lifetime=lifetime,
                                  max_restarts=-1, max_task_retries=0, max_concurrency=8, num_cpus=0)
              .remote(i, layouts.shard_path(root, i), lay["dim"], store_options) for i, name in enumerate(names)]
    for i, actor in enumerate(actors):         # a shard whose file does not open raises its typed error
        try:
            call_retrying(actor.state.remote, timeout, f"shard {i}")
        except BaseException:
            # the cluster cannot serve without it: stop every shard (Ray would stop them anyway once
            # these handles are dropped, but a reopen must not be handed the dying ones)
            for other, name in zip(actors, names):
                ray.kill(other, no_restart=True)
                _wait_gone(name, timeout)
            raise
    names.append(f"agentdb-cluster-{key}-coordinator")
    coordinator = _CoordinatorActor.options(name=names[-1], namespace=NAMESPACE, lifetime=lifetime,
                                            get_if_exists=True, max_restarts=-1, max_task_retries=0,
                                            max_concurrency=16, num_cpus=0).remote(names[:-1], NAMESPACE, timeout)
    coll = Collection(root, lay, actors, coordinator, timeout, names)
    coll._ask("status", timeout=timeout * 2)        # the shards are open and agree
    return coll


class Collection:
    """A sharded store (made by agentdb.cluster.open): the VectorStore's API over N shards.

    >>> coll = agentdb.cluster.open("mem", shards=2, dim=3)              # doctest: +SKIP
    >>> coll.ingest([1, 2], [[1, 0, 0], [0, 1, 0]], metadata=[{"k": "a"}, {"k": "b"}])
    >>> coll.query([1, 0.1, 0], k=1, exact=True).ids
    [1]
    """

    def __init__(self, root, lay, actors, coordinator, timeout, names):
        self.root, self.layout, self.timeout, self._names = root, lay, timeout, names
        self.dim, self.n_shards = lay["dim"], lay["shards"]
        self.metric = lay["metric"]
        self._metric = metrics.get(self.metric)
        self._actors, self._coordinator = actors, coordinator
        self._kernel = load()

    @property
    def shard_actors(self):
        """The shard actors, by shard number (for ray.kill in fault drills, and Ray tooling)."""
        return list(self._actors)

    def shard_path(self, index):
        """The .rvf file of shard `index` (an ordinary store file: agentdb.open reads it alone)."""
        return layouts.shard_path(self.root, index)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        return self.status()["total"]["count"]

    def _ask(self, method, *args, timeout=None):
        """A coordinator call, sent again while Ray restarts the coordinator."""
        return call_retrying(lambda: getattr(self._coordinator, method).remote(*args), timeout or self.timeout,
                             "the coordinator")

    # ---- writes --------------------------------------------------------------------------------

    def _write(self, op, parts, rows):
        # the batch's id makes a resend after a coordinator restart safe: applied once; a write
        # waits for its two phases on every shard, each up to the coordinator's timeout
        return self._ask("write", op, parts, rows, secrets.token_hex(16), timeout=self.timeout * 4)

    def ingest(self, ids, vectors, metadata=None):
        """Adds (or replaces) vectors under ids, split by shard and committed on every shard
        as one batch: acknowledged once every shard's commit is durable; a batch one shard
        refuses (a bad vector, id or metadata entry) is rolled back on all of them and that
        shard's error raised. Returns {"accepted", "replaced", "deleted", "epoch"}."""
        ids = IdMap.normalize(ids)
        n = len(ids)
        flat = vector_view(_Shape(self.dim, self._kernel), vectors, n, check_finite=False)
        if metadata is not None:
            if isinstance(metadata, dict) or not hasattr(metadata, "__len__") or len(metadata) != n:
                raise MetadataError(f"metadata must be a list of {n} dicts (one per id)")
            metadata = list(metadata)
            if any(isinstance(md, dict) and SEQ_KEY in md for md in metadata):
                raise MetadataError(f"the metadata key {SEQ_KEY!r} is the cluster's own (the write order)")
        parts = []
        for positions in split(ids, self.n_shards):
            if not positions:
                parts.append(None)
                continue
            rows = self._kernel.gather_rows(flat, array.array("I", positions), row_bytes=4 * self.dim, fmt="f")
            part = ([ids[p] for p in positions], rows,
                    [metadata[p] for p in positions] if metadata is not None else None, positions)
            parts.append([ray.put(part)])
        done = self._write("ingest", parts, n)
        answers = [a for a in done["shards"] if a]
        return {**{key: sum(a.get(key, 0) for a in answers) for key in ("accepted", "replaced", "deleted")},
                "epoch": done["epoch"]}

    def delete(self, ids=None, *, where=None, missing_ok=False):
        """Deletes by ids, or every row matching `where` on every shard, as one batch (all or
        nothing: an unknown id raises UnknownIdError and deletes nothing, unless missing_ok).
        Returns how many were deleted."""
        if (ids is None) == (where is None):
            raise ArgumentError("delete() takes ids or where=..., exactly one of them")
        if ids is not None:
            ids = IdMap.normalize(ids)
            parts = [[([ids[p] for p in positions], missing_ok)] if positions else None
                     for positions in split(ids, self.n_shards)]
            done = self._write("delete", parts, 0)
        else:
            done = self._write("delete_where", [[where]] * self.n_shards, 0)
        return sum(a.get("deleted", 0) for a in done["shards"] if a)

    def compact(self):
        """Compacts each shard in turn (queries keep their answers: ties follow the write order,
        which compaction keeps). Returns {"shards": [each store's compact()], "removed",
        "bytes_reclaimed"}."""
        out = self._ask("compact", timeout=self.timeout * 20)
        return {"shards": out, "removed": sum(o["removed"] for o in out),
                "bytes_reclaimed": sum(o["bytes_reclaimed"] for o in out)}

    # ---- reads ---------------------------------------------------------------------------------

    def _scatter(self, method, args, allow_partial, timeout):
        """{shard: value} of method(*args, pinned, timeout) on every shard, all at one committed
        batch number; and the shards that did not answer in time (only with allow_partial)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        got, pending, pinned, unavailable = {}, set(range(self.n_shards)), None, {}
        while True:
            left = max(deadline - time.monotonic(), 0.001)
            calls = {i: getattr(self._actors[i], method).remote(*args, pinned, left) for i in pending}
            values, errors = gather(calls, left)
            for i, exc in errors.items():
                if not isinstance(exc, ShardUnavailableError):
                    raise exc
                unavailable[i] = exc
            got.update(values)
            if got:          # one batch number for all: a shard behind the newest is asked again
                pinned = max(epoch for epoch, _ in got.values())
                got = {i: v for i, v in got.items() if v[0] == pinned}
            pending = set(range(self.n_shards)) - set(got)
            if not pending:
                return got, [], pinned
            if time.monotonic() >= deadline:
                break
            if errors:
                time.sleep(0.02)           # a restarting actor: do not spin
        if not allow_partial:
            raise ShardUnavailableError(f"shards {sorted(pending)} did not answer within {timeout:g}s "
                                        f"(allow_partial=True returns the others' hits)", sorted(pending))
        return got, sorted(pending), pinned

    def _per_shard_k(self, k, k_per_shard, exact):
        if k_per_shard is None:
            return k
        check_k(k_per_shard)
        if exact and k_per_shard < k:
            raise ArgumentError(f"exact=True needs k_per_shard >= k ({k}), got {k_per_shard}")
        return k_per_shard

    def query(self, vector, k=10, *, where=None, ef=None, exact=False, k_per_shard=None, allow_partial=False,
              timeout=None):
        """The k best matches over every shard, best first, as ClusterResults. Each shard
        answers its top k_per_shard (default k) at the same committed batch; the hits are
        merged by score in the metric's direction, ties in write order, so exact=True returns
        exactly the ids and score bits one store holding every row returns. A shard that does
        not answer within `timeout` (default the cluster's) raises ShardUnavailableError, or
        with allow_partial=True is named in .missing and the others' hits are returned."""
        check_k(k), check_ef(ef)
        kk = self._per_shard_k(k, k_per_shard, exact)
        q = array.array("f", vector_view(_Shape(self.dim, self._kernel), vector, 1, "query", check_finite=False))
        got, missing, epoch = self._scatter("query", (q, kk, where, ef, exact), allow_partial, timeout)
        return self._results([v for _, v in got.values()], k, sorted(got), missing, epoch)

    def _results(self, answers, k, shards, missing, epoch):
        ids, scores, md = merge(answers, k, self._metric.larger_is_closer)
        return ClusterResults(ids, scores, md, self.metric, all(a["exact"] for a in answers),
                              shards=shards, missing=missing, epoch=epoch)

    def query_batch(self, vectors, k=10, *, where=None, ef=None, exact=False, k_per_shard=None,
                    allow_partial=False, timeout=None):
        """query() for each of m vectors (m x dim), one round trip to each shard for all m."""
        check_k(k), check_ef(ef)
        kk = self._per_shard_k(k, k_per_shard, exact)
        n = len(vectors) if isinstance(vectors, (list, tuple)) else \
            len(as_view(vectors, "f", name="vectors")) // self.dim           # as VectorStore.query_batch counts
        flat = array.array("f", vector_view(_Shape(self.dim, self._kernel), vectors, n, check_finite=False))
        got, missing, epoch = self._scatter("query_batch", (flat, kk, where, ef, exact), allow_partial, timeout)
        per_shard = [v for _, v in got.values()]
        return [self._results([answers[i] for answers in per_shard], k, sorted(got), missing, epoch)
                for i in range(n)]

    def get(self, ident):
        """The Record of an id, from its shard (UnknownIdError if absent)."""
        shard = shard_of(ident, self.n_shards)
        ident = IdMap.normalize([ident])[0]
        vector, md = call_retrying(lambda: self._actors[shard].get.remote(ident, None, self.timeout), self.timeout,
                                   f"shard {shard}")
        return Record(ident, _floats(vector), md)

    def find(self, where=None, *, limit=None):
        """[(id, metadata)] of the live rows matching `where` over every shard, in write order
        (what one store's find() lists), the first `limit`."""
        got, _, _ = self._scatter("find", (where, limit), False, None)
        return merge_listing([got[i][1] for i in sorted(got)], limit)

    def ids(self):
        """The live ids, in write order."""
        return [ident for ident, _ in self.find()]

    def status(self):
        """{"epoch", "coordinator": its status, "shards": [each shard's store status plus
        "shard", "path", "epoch"], "total": {"count", "deleted", "rows"}}."""
        coordinator = self._ask("status")
        got, _, epoch = self._scatter("status", (), False, None)
        shards = [got[i][1] for i in range(self.n_shards)]
        total = {key: sum(s[key] for s in shards) for key in ("count", "deleted", "rows")}
        return {"epoch": epoch, "coordinator": coordinator, "shards": shards, "total": total}

    def close(self, *, stop=True):
        """Closes every shard's file and stops the actors (stop=False: only this handle lets
        go, the actors keep serving the other processes that use them)."""
        if stop and self._actors:
            try:
                self._ask("close")
            finally:
                for actor in [*self._actors, self._coordinator]:
                    ray.kill(actor, no_restart=True)
                for name in self._names:       # gone for good before a reopen asks for them by name
                    _wait_gone(name, self.timeout)
        self._actors = []


def _wait_gone(name, timeout):
    """Waits until Ray no longer knows a killed actor's name (ray.kill returns before)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            return
        time.sleep(0.05)


def _floats(data):
    out = array.array("f")
    out.frombytes(data)
    return out
