"""One shard: the single writer of one .rvf, opened with agentdb.open, run as a Ray actor.

Writes are two-phase. prepare() stages a batch inside a store transaction (its segments are
written to the file without the seal and manifest that commit them, so a crash reopens at the
commit before) together with the cluster's batch number, kept as a graph node of the shard's
own store (CLUSTER_NODE) in the same commit; commit() finishes the transaction, abort() rolls
it back. A batch number the shard already holds is acknowledged again without being applied,
so the coordinator can redo a commit a restarted shard may or may not have made.

Reads never see a staged batch: they wait until it is committed or rolled back, and a read
pinned to batch number E waits until the shard has committed E. The store is touched by one
thread only (a store transaction holds its lock for the thread that began it, across the
actor calls from prepare to commit); the actor's other threads queue work for it, and
submitting reads under the same condition as staging keeps the order (FIFO) honest.
"""
import concurrent.futures
import threading
import time

from ..errors import ArgumentError, ShardUnavailableError, TransactionError
from .merge import SEQ_KEY

CLUSTER_NODE = "agentdb.cluster"       # the graph node of each shard file: {"epoch", "next_seq", "batch", "answer"}


def _without_seq(md):
    if md and SEQ_KEY in md:
        md = dict(md)
        del md[SEQ_KEY]
    return md or {}


class Shard:
    """The actor body (agentdb.cluster wraps it with ray.remote): shard `index` over the .rvf
    at `path`, created with `dim` and store `options` when missing."""

    def __init__(self, index, path, dim, options):
        import agentdb                     # here, so the class pickles without a store

        self.index, self.path = index, path
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"shard-{index}")
        self._cond = threading.Condition()
        self._staged = None                # (epoch, transaction context) between prepare and commit
        self._started = time.time()
        try:
            self._db = self._call(agentdb.open, path, dim=dim, **options)
        except Exception as exc:           # kept for state() to raise typed: Ray keeps only the text of
            self._broken = exc             # an error raised here, and would restart the actor in vain
            return
        self._broken = None
        node = self._call(self._node)
        self._epoch = node["epoch"] if node else 0
        self._next_seq = node["next_seq"] if node else 0
        self._last = (node.get("batch"), node.get("answer")) if node else (None, None)   # the last batch's id, answer

    def _call(self, fn, *args, **kwargs):
        return self._thread.submit(fn, *args, **kwargs).result()

    def _node(self):
        g = self._db.graph
        return g.get_node(CLUSTER_NODE).properties if g.has_node(CLUSTER_NODE) else None

    # ---- writes: two-phase ---------------------------------------------------------------------

    def state(self):
        """{"index", "epoch" (the last committed batch), "next_seq", "batch" and "answer" (the
        last committed batch's id and this shard's answer to it), "staged" (a staged batch's
        number or None), "started" (when this incarnation started), "pid"}."""
        import os

        if self._broken is not None:       # the file did not open (LockHeldError, CorruptFileError, ...)
            raise self._broken
        with self._cond:
            return {"index": self.index, "epoch": self._epoch, "next_seq": self._next_seq,
                    "batch": self._last[0], "answer": self._last[1],
                    "staged": self._staged[0] if self._staged else None, "started": self._started,
                    "pid": os.getpid()}

    def prepare(self, epoch, seqs, op, args, batch=None):
        """Stages batch `epoch` (op: "ingest", "delete", "delete_where" or "none"); seqs: the
        (first, end) write sequence numbers of the whole batch's rows. Returns the store's
        answer (the shard's part of it); raises what the store raises (nothing stays staged
        then). Already holding `epoch`: {"already": True}, nothing applied. batch: the
        writer's id for the batch, kept with it (a retried write is recognised by it)."""
        with self._cond:
            while self._staged is not None:
                self._cond.wait()
            if epoch <= self._epoch:
                return {"already": True}
            context = self._db.transaction()
            self._staged = (epoch, context)
            future = self._thread.submit(self._stage, context, epoch, seqs, op, args, batch)
        try:
            return future.result()
        except BaseException:
            with self._cond:
                self._staged = None
                self._cond.notify_all()
            raise

    def _stage(self, context, epoch, seqs, op, args, batch):
        context.__enter__()
        try:
            db = self._db
            if op == "ingest":
                ids, vectors, metadata, positions = args
                seq = [seqs[0] + p for p in positions]
                metadata = [dict(md or (), **{SEQ_KEY: s}) for md, s in zip(metadata or [None] * len(ids), seq)]
                answer = db.ingest(ids, vectors, metadata) if ids else {"accepted": 0, "replaced": 0, "deleted": 0}
            elif op == "delete":
                ids, missing_ok = args
                answer = {"deleted": db.delete(ids, missing_ok=missing_ok) if ids else 0}
            elif op == "delete_where":
                answer = {"deleted": db.delete(where=args)}
            elif op != "none":
                raise ArgumentError(f"unknown shard write {op!r}")
            else:
                answer = {}
            props = {"epoch": epoch, "next_seq": seqs[1], "batch": batch, "answer": answer}
            if db.graph.has_node(CLUSTER_NODE):
                db.graph.update_node(CLUSTER_NODE, properties=props, replace=True)
            else:
                db.graph.add_node(CLUSTER_NODE, properties=props)
        except BaseException as exc:
            context.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._on_commit = (seqs[1], (batch, answer))     # what commit() makes current
        return answer

    def commit(self, epoch):
        """Commits staged batch `epoch` (durable when it returns). A batch already held: no-op."""
        with self._cond:
            if self._staged is None or self._staged[0] != epoch:
                if epoch <= self._epoch:
                    return self._epoch
                raise ArgumentError(f"shard {self.index} has no staged batch {epoch} (it holds {self._epoch})")
            try:       # a commit that fails (the disk) rolls the store back; the coordinator redoes it
                self._call(self._staged[1].__exit__, None, None, None)
                self._epoch, (self._next_seq, self._last) = epoch, self._on_commit
            finally:
                self._staged = None
                self._cond.notify_all()
            return epoch

    def abort(self, epoch):
        """Rolls staged batch `epoch` back (none staged: nothing to do)."""
        with self._cond:
            if self._staged is None or self._staged[0] != epoch:
                return False
            context = self._staged[1]
            exc = TransactionError(f"batch {epoch} failed on another shard")     # thrown in: the rollback
            try:
                self._call(context.__exit__, TransactionError, exc, None)
            finally:
                self._staged = None
                self._cond.notify_all()
            return True

    def compact(self):
        """The store's compact() (queries queue behind it on this shard: they stay correct)."""
        with self._cond:
            while self._staged is not None:
                self._cond.wait()
            future = self._thread.submit(self._db.compact)
        return future.result()

    def close(self):
        """Closes the store (its file lock is released); the actor is then killed."""
        with self._cond:
            while self._staged is not None:
                self._cond.wait()
            if self._db is not None:
                self._call(self._db.close)
                self._db = None
        return True

    # ---- reads: at a committed batch, never a staged one ------------------------------------------

    def _read(self, fn, pinned, timeout):
        """Runs fn on the store once nothing is staged and batch `pinned` (if given) is
        committed; returns (epoch, fn's value)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._staged is not None or (pinned is not None and self._epoch < pinned):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ShardUnavailableError(f"shard {self.index} did not reach batch {pinned} in {timeout}s "
                                                f"(it holds {self._epoch})", [self.index])
                self._cond.wait(left)
            epoch = self._epoch
            future = self._thread.submit(fn)
        return epoch, future.result()

    def _answer(self, res):
        stored = res._stored
        return {"ids": list(res.ids), "scores": res.scores.tobytes(), "exact": res.exact,
                "seqs": [md[SEQ_KEY] for md in stored], "metadata": [_without_seq(md) for md in stored]}

    def query(self, vector, k, where, ef, exact, pinned, timeout):
        """(epoch, this shard's top k as {"ids", "scores", "seqs", "metadata", "exact"})."""
        return self._read(lambda: self._answer(self._db.query(vector, k, where=where, ef=ef, exact=exact)),
                          pinned, timeout)

    def query_batch(self, vectors, k, where, ef, exact, pinned, timeout):
        """(epoch, [answer per query]) for m queries (m x dim float32)."""
        return self._read(lambda: [self._answer(r) for r in
                                   self._db.query_batch(vectors, k, where=where, ef=ef, exact=exact)],
                          pinned, timeout)

    def get(self, ident, pinned, timeout):
        """(vector bytes, metadata) of a live id (UnknownIdError if absent)."""
        def run():
            rec = self._db.get(ident)
            return rec.vector.tobytes(), _without_seq(rec.metadata)
        return self._read(run, pinned, timeout)[1]

    def find(self, where, limit, pinned, timeout):
        """(epoch, [(seq, id, metadata)]) of the live rows matching where, in write order."""
        def run():
            return [(md[SEQ_KEY], ident, _without_seq(md)) for ident, md in self._db.find(where, limit=limit)]
        return self._read(run, pinned, timeout)

    def status(self, pinned, timeout):
        """(epoch, the store's status() plus "shard", "path" and "epoch")."""
        def run():
            return dict(self._db.status(), shard=self.index, path=self.path, epoch=self._epoch)
        return self._read(run, pinned, timeout)
