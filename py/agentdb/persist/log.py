"""CommitLog: how a store persists its commits, whatever the bytes' home (a file natively,
IndexedDB in the browser): the commit kinds, the INDEX checkpoint, and when to rewrite.
Subclasses provide _commit (write, or undo on failure), rewrite(data) and close()."""
import struct

from ..rvf import segments as seg
from ..rvf.payloads import encode_journal_delete, encode_vec
from ..rvf.writer import MANIFEST_LIMIT, RvfWriter


def index_nodes(contents):
    """Nodes in the file's INDEX segment (the u32 at byte 24 of its header), 0 without one."""
    return struct.unpack_from("<I", contents.index, 24)[0] if contents.index else 0



class CommitLog:

    writer = None
    index_nodes = 0               # nodes covered by the home's last INDEX segment
    signing_key = None            # Ed25519 private key that signs every commit's seal, if any

    def _vec_scratch(self, nbytes):
        """A buffer the next VEC payload may be encoded into, or None for a fresh one."""
        return None

    def beside(self, fn, *args):
        """Starts fn(*args) to run while this log's next commit is written, where the home can
        (a file natively); returns the wait for it (which re-raises its error), or None when
        fn has to be run by the caller instead."""
        return None

    def ingest(self, labels, rows, dim, records, deleted=(), quant=None, before_manifest=None):
        """Appends one ingest commit: VEC, the META records (or None), the QUANT parameters
        trained on this batch (if any), a JOURNAL of the labels deleted in the same commit (if
        any), seal, WITNESS, MANIFEST; before_manifest() runs before the MANIFEST goes out."""
        vec = encode_vec(self.k, labels, rows, dim, self._vec_scratch)
        data = [(seg.VEC, vec)] + ([(seg.META, records)] if records else []) + \
            ([(seg.QUANT, quant)] if quant else [])

        def commit(w):
            journal = [(seg.JOURNAL, encode_journal_delete(sorted(deleted), w.epoch + 1))] if deleted else []
            w.commit(data + journal, action=f"ingest:count={len(labels)}", added=len(labels), revived=labels,
                     deleted=deleted, before_manifest=before_manifest)
        self._commit(commit)

    def delete(self, labels):
        self._commit(lambda w: w.commit([(seg.JOURNAL, encode_journal_delete(sorted(labels), w.epoch + 1))],
                                        action=f"delete:count={len(labels)}", witness_type=0, deleted=labels))

    def segments(self, segments, action):
        """Appends a commit of other segments (a kernel image, new options) for `action`;
        returns the first one's segment id."""
        first = self.writer.next_id
        self._commit(lambda w: w.commit(list(segments), action=action))
        return first

    def index(self, payload, nodes):
        """Appends an INDEX commit: the graph, so a reopen does not rebuild it."""
        self._commit(lambda w: w.commit([(seg.INDEX, payload)], action=f"index:nodes={nodes}"))
        self.index_nodes = nodes

    def _continue(self, sink, contents, size):
        """Appends after existing bytes: a writer resumed at `size`, and the INDEX coverage."""
        self.writer = RvfWriter.resume(self.k, sink, contents, size, signing_key=self.signing_key)
        self.index_nodes = index_nodes(contents)

    def needs_rewrite(self):
        return self.writer.manifest_size(extra_segments=3) > MANIFEST_LIMIT

    # ---- transactions: several commits' segments, committed by one manifest -------------------

    @property
    def in_transaction(self):
        return self.writer.staged is not None

    def begin(self):
        """Starts staging commits (VectorStore.transaction); returns what abort() needs."""
        state = self._snapshot()
        self.writer.begin_transaction()
        return state

    def finish(self):
        """Commits everything staged since begin() as one commit (the home's durability: fsync
        natively, one IndexedDB transaction in the browser)."""
        self._commit(lambda w: w.finish_transaction())

    def abort(self, state):
        """Drops what was staged since begin(state): the home is as it was before it; returns
        the committed bytes, to rebuild the store from."""
        self.writer.staged = None
        self._cut(state[-1])
        self._restore(state)
        return self.committed_bytes()

    def _snapshot(self):
        """The writer's state before a commit (the offset last: callers cut the bytes there).
        The seal chain and the segments waiting for a seal are part of it: a failed commit's
        segments must not be sealed by the next one."""
        w = self.writer
        return (w.epoch, set(w.deleted), w.total, list(w.directory), w.prev_witness, w.next_id, w.chain,
                list(w.unsealed), w.offset)

    def _restore(self, state):
        w = self.writer
        (w.epoch, w.deleted, w.total, w.directory, w.prev_witness, w.next_id, w.chain, w.unsealed,
         w.offset) = state
