"""RvfWriter: appends commits in the real tools' layout to a sink (a bytearray, or a file).

A commit is some data segments, a seal (agentdb's SHA-256 chain, see seal.py), a WITNESS
chained to the previous one, then a MANIFEST whose directory lists every segment before it.
The writer remembers what the manifest needs (the directory, epoch, deleted ids, totals,
identity, the last witness) and the seal chain, so a file can be reopened and continued;
unlike the real tools, both chains continue across reopen.
"""
from .. import metrics
from . import meta
from . import seal as sealing
from . import segments as seg
from .hashes import toy_hash
from .payloads import Identity, Manifest, encode_witness

MANIFEST_LIMIT = 48 * 1024   # rewrite before a manifest could leave the real tools' 64 KiB tail scan


class BytesSink:
    def __init__(self):
        self.data = bytearray()

    def write(self, chunk):
        self.data += chunk

    def write_segment(self, head, payload, digest):
        """Writes a segment; returns digest(head, payload) when digest is given."""
        self.write(head)
        self.write(payload)
        return digest(head, payload) if digest else None


class RvfWriter:
    def __init__(self, kernel, sink, *, dim, metric, identity=None, profile=0, offset=0, directory=(), epoch=0,
                 deleted=(), total=0, prev_witness=bytes(32), next_id=1, sealed=True, signing_key=None,
                 chain=bytes(32), unsealed=()):
        self.k, self.sink = kernel, sink
        self.dim, self.metric_code, self.profile = dim, metrics.get(metric).manifest_code, profile
        self.identity = identity or Identity()
        self.offset, self.directory = offset, list(directory)
        self.epoch, self.deleted, self.total = epoch, set(deleted), total
        self.prev_witness, self.next_id = prev_witness, next_id
        # sealed=False writes exactly the real tools' bytes (no seal segments)
        self.sealed, self.signing_key, self.chain, self.unsealed = sealed, signing_key, chain, list(unsealed)
        # inside a transaction: commits append their data segments only; finish() writes the
        # one seal, witness and manifest that commit them all (None: not in a transaction)
        self.staged = None

    @classmethod
    def resume(cls, kernel, sink, contents, size, *, signing_key=None):
        """A writer continuing a file read into `contents` whose valid part is `size` bytes."""
        last = [s for s in contents.segments if s.seg_type == seg.WITNESS]
        prev = b"\0" * 32
        if last:
            prev = toy_hash(sink_bytes(sink, last[-1]))
        # the chain goes on from the last seal; what came after it is sealed by the next commit
        after = contents.seals[-1][0].offset if contents.seals else -1
        unsealed = [(s.seg_id, s.offset, s.seg_type, sealing.segment_digest(sink_block(sink, s)))
                    for s in contents.segments if s.offset >= after]
        return cls(kernel, sink, dim=contents.dim, metric=contents.metric, identity=contents.identity,
                   profile=contents.profile, offset=size,
                   directory=[(s.seg_id, s.offset, s.payload_length, s.seg_type) for s in contents.segments],
                   epoch=contents.epoch, deleted=contents.deleted, total=contents.total,
                   prev_witness=prev, next_id=max((s.seg_id for s in contents.segments), default=0) + 1,
                   signing_key=signing_key, chain=contents.seals[-1][1].chain if contents.seals else bytes(32),
                   unsealed=unsealed)

    def _append(self, seg_type, payload):
        # header and payload go out apart: a large VEC payload is never copied to join them
        head = seg.header(self.k, seg_type, self.next_id, payload)
        self.directory.append((self.next_id, self.offset, len(payload), seg_type))
        digest = self.sink.write_segment(head, payload, sealing.segment_digest if self.sealed else None)
        if self.sealed:
            self.unsealed.append((self.next_id, self.offset, seg_type, digest))
        self.offset += len(head) + len(payload)
        self.next_id += 1

    def _seal(self):
        """Appends a seal over every segment since the last one (signed with the key, if any)."""
        s = sealing.make(self.unsealed, self.chain, self.signing_key)
        self.unsealed, self.chain = [], s.chain
        self._append(seg.META, meta.encode_seal(sealing.encode(s)))

    def manifest_size(self, extra_segments=0, extra_deleted=0):
        """Payload bytes of the next manifest after a commit of this size."""
        return 22 + 25 * (len(self.directory) + extra_segments) + 4 + 8 * (len(self.deleted) + extra_deleted) + 72

    def commit(self, segments=(), *, action=None, witness_type=1, added=0, deleted=(), revived=(),
               before_manifest=None):
        """Appends segments [(type, payload)], a witness for `action` (no witness when None,
        as for create) and the manifest of the new epoch. before_manifest() runs just before
        the manifest is written: what raises there leaves the commit unfinished (cut off).
        Inside a transaction (begin_transaction) only the data segments go out now."""
        if self.staged is not None:
            for seg_type, payload in segments:
                self._append(seg_type, payload)
            self.total += added
            self.deleted.update(deleted)
            self.deleted.difference_update(revived)
            if before_manifest is not None:
                before_manifest()
            if action is not None:
                self.staged.append(action)
            return
        if action is not None:
            self.epoch += 1
        for seg_type, payload in segments:
            self._append(seg_type, payload)
        if action is not None and self.sealed:
            self._seal()
        self.total += added
        self.deleted.update(deleted)
        self.deleted.difference_update(revived)
        if action is not None:
            witness = encode_witness(witness_type, f"{action},epoch={self.epoch}", self.prev_witness)
            self._append(seg.WITNESS, witness)
            self.prev_witness = toy_hash(witness)
        if before_manifest is not None:
            before_manifest()
        manifest = Manifest(self.epoch, self.dim, self.total, self.profile, self.metric_code, list(self.directory),
                            sorted(self.deleted), self.identity)
        self._append(seg.MANIFEST, manifest.encode())

    def begin_transaction(self):
        """From now on commits stage their data segments; the journals they write name the
        epoch finish_transaction() will commit (this one + 1), as one commit's do."""
        self.staged = []

    def finish_transaction(self):
        """One seal, witness and manifest for everything staged since begin_transaction (no
        commit at all when nothing was staged); returns the staged actions."""
        staged, self.staged = self.staged, None
        if staged:
            shown = ";".join(staged)
            action = f"transaction:commits={len(staged)}," + (shown if len(shown) <= 200 else shown[:197] + "...")
            self.commit([], action=action)
        return staged


def sink_block(sink, segment):
    """A whole segment (header and payload) from a sink that can read back."""
    if isinstance(sink, BytesSink):
        return bytes(sink.data[segment.offset:segment.end])
    return sink.read_at(segment.offset, segment.end - segment.offset)


def sink_bytes(sink, segment):
    """A segment's payload from a sink that can read back (a file sink or BytesSink)."""
    if isinstance(sink, BytesSink):
        return bytes(sink.data[segment.payload_offset:segment.end])
    return sink.read_at(segment.payload_offset, segment.payload_length)
