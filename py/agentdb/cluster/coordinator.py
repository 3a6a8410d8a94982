"""The cluster's one writer, a Ray actor every client's writes go through: it numbers the
batches (the epoch a read is pinned to) and the rows (the write sequence that orders ties) and
runs each batch's two phases: every shard stages its part (a shard without a part stages only
the new batch number), and only when every shard has staged are they told to commit; when one
fails the others roll back and its error is raised: all or nothing.

A shard that dies after the commit was decided is redone when it is back (Ray restarts it from
its file): it is sent its part again and applies it unless its file already holds the batch.
A coordinator restarted by Ray reads the batch numbers from the shards and finishes what the
last one left staged: committed where any shard committed it, rolled back otherwise."""
import collections
import os
import threading
import time

import ray

from ..errors import ShardUnavailableError
from .faults import first_error, gather, gather_retrying


class Coordinator:
    """The actor body (agentdb.cluster wraps it with ray.remote) over the named shard actors."""

    def __init__(self, names, namespace, timeout):
        self._shards = [ray.get_actor(name, namespace=namespace) for name in names]
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pending = {}        # shard -> (epoch, seqs, op, part, batch): a committed batch it must still apply
        self._done = collections.OrderedDict()     # batch id -> its answer: a retried write is not applied twice
        self._recover()

    def _all(self, method, *args):
        return {i: getattr(s, method).remote(*args) for i, s in enumerate(self._shards)}

    def _recover(self):
        states, errors = gather_retrying(lambda i: self._shards[i].state.remote(), range(len(self._shards)),
                                         self._timeout)
        if errors:
            raise first_error(errors)
        top = max(st["epoch"] for st in states.values())
        finish = {}
        for i, st in states.items():
            if st["staged"] is not None:
                finish[i] = (self._shards[i].commit if st["staged"] <= top else self._shards[i].abort).remote(
                    st["staged"])
        _, errors = gather(finish, self._timeout)
        if errors:
            raise first_error(errors)
        states, _ = gather(self._all("state"), self._timeout)
        self._epoch = max(st["epoch"] for st in states.values())
        self._next_seq = max(st["next_seq"] for st in states.values())
        self._behind = sorted(i for i, st in states.items() if st["epoch"] < self._epoch)
        if not self._behind and states[0]["batch"] is not None:     # the batch a writer may be retrying
            self._done[states[0]["batch"]] = {"epoch": self._epoch,
                                              "shards": [states[i]["answer"] for i in range(len(states))]}

    def status(self):
        """{"epoch": the last committed batch, "next_seq", "pending": shards still to redo a
        committed batch, "behind": shards found behind at start (their file lost a batch), "pid"}."""
        return {"epoch": self._epoch, "next_seq": self._next_seq, "pending": sorted(self._pending),
                "behind": self._behind, "pid": os.getpid()}

    def write(self, op, parts, rows, batch):
        """One batch: parts[i] is [shard i's payload] or None (nothing for it); rows: how many
        rows the batch writes (sequence numbers); batch: the writer's id for it (a write
        retried after this actor restarted gets the first one's answer, not a second batch).
        Returns {"epoch", "shards": [answers]}."""
        with self._lock:
            if batch in self._done:
                return self._done[batch]
            self._redo()
            epoch, seqs = self._epoch + 1, (self._next_seq, self._next_seq + rows)
            # a shard Ray is restarting refuses calls at once: its prepare is sent again
            answers, errors = gather_retrying(
                lambda i: self._shards[i].prepare.remote(epoch, seqs, op if parts[i] is not None else "none",
                                                         parts[i][0] if parts[i] is not None else None, batch),
                range(len(self._shards)), self._timeout)
            if errors:
                aborts = {i: self._shards[i].abort.remote(epoch) for i in range(len(self._shards))}
                gather(aborts, self._timeout)       # a dead shard's staged tail is cut off when it reopens
                raise first_error(errors)
            _, errors = gather(self._all("commit", epoch), self._timeout)
            self._epoch, self._next_seq = epoch, seqs[1]
            for i in errors:
                self._pending[i] = (epoch, seqs, op if parts[i] is not None else "none",
                                    parts[i][0] if parts[i] is not None else None, batch)
            if errors:
                self._redo(wait=True)
            if self._pending:
                raise ShardUnavailableError(
                    f"batch {epoch} is committed on every shard but {sorted(self._pending)}, which will apply it "
                    f"when it is back (before any other write); reads wait for it", sorted(self._pending))
            done = self._done[batch] = {"epoch": epoch, "shards": [answers[i] for i in range(len(self._shards))]}
            while len(self._done) > 10_000:
                self._done.popitem(last=False)
            return done

    def _redo(self, wait=False):
        """Applies the committed batches restarted shards missed (waiting up to the timeout
        for them to come back when `wait`)."""
        deadline = time.monotonic() + (self._timeout if wait else 0)
        while self._pending:
            for i, (epoch, seqs, op, part, batch) in sorted(self._pending.items()):
                shard = self._shards[i]
                done, errors = gather({i: shard.prepare.remote(epoch, seqs, op, part, batch)}, self._timeout)
                if not errors and not done[i].get("already"):
                    _, errors = gather({i: shard.commit.remote(epoch)}, self._timeout)
                if not errors:
                    del self._pending[i]
            if not self._pending or time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def compact(self):
        """Each shard's compact(), one shard at a time (the others keep answering)."""
        with self._lock:
            out = []
            for i, shard in enumerate(self._shards):
                done, errors = gather({i: shard.compact.remote()}, self._timeout * 10)
                if errors:
                    raise first_error(errors)
                out.append(done[i])
            return out

    def close(self):
        """Closes every shard's store (no batch runs meanwhile); a shard that is gone has
        released its file with its process. Returns the shards that were gone."""
        with self._lock:
            _, errors = gather(self._all("close"), self._timeout)
            own = {i: e for i, e in errors.items() if not isinstance(e, ShardUnavailableError)}
            if own:
                raise first_error(own)
            return sorted(errors)
