"""BufferLog: commits kept as byte chunks for a host to store (the browser worker puts each
in IndexedDB, one transaction per commit).

take() hands over what was committed since the last call: ("append", offset, bytes) chunks, or
("replace", 0, bytes) after a rewrite. The host stores them before answering the request, so
a commit is durable when the caller's promise resolves; a closed tab leaves the previous
commit, because an IndexedDB transaction is all or nothing.
"""
from ..rvf import read as read_rvf
from ..rvf import segments as seg
from ..rvf.meta import encode_options
from ..rvf.writer import BytesSink, RvfWriter
from .log import CommitLog


class BufferLog(CommitLog):
    def __init__(self, kernel):
        self.k = kernel
        self.sink = BytesSink()
        self.pending = []

    @classmethod
    def create(cls, kernel, *, dim, metric, options, identity, signing_key=None, profile=0):
        log = cls(kernel)
        log.signing_key = signing_key
        log.writer = RvfWriter(kernel, log.sink, dim=dim, metric=metric, identity=identity, signing_key=signing_key,
                               profile=profile)
        log._commit(lambda w: w.commit([(seg.META, encode_options(options))]))
        return log

    @classmethod
    def resume(cls, kernel, data, contents, *, signing_key=None, store_whole=False):
        """Continues stored bytes (valid up to the manifest in use). store_whole: the bytes are
        not stored yet (an imported .rvf): the first take() hands them over as one "replace"."""
        log = cls(kernel)
        log.signing_key = signing_key
        size = contents.segments[-1].end
        log.sink.data += data[:size]
        log._continue(log.sink, contents, size)
        if store_whole or size < len(data):   # a torn tail cannot happen in IndexedDB, but never keep one
            log.pending.append(("replace", 0, bytes(log.sink.data)))
        return log

    def _commit(self, write):
        state = self._snapshot()
        try:
            write(self.writer)
        except BaseException:
            del self.sink.data[state[-1]:]
            self._restore(state)
            raise
        if not self.in_transaction:       # a transaction's bytes go to the host once committed
            start = self.pending_from if self.pending_from is not None else state[-1]
            if len(self.sink.data) > start:
                self.pending.append(("append", start, bytes(self.sink.data[start:])))
            self.pending_from = None
        elif self.pending_from is None:
            self.pending_from = state[-1]

    pending_from = None           # where a transaction's staged bytes start (None outside one)

    def _cut(self, offset):
        del self.sink.data[offset:]
        self.pending_from = None

    def committed_bytes(self):
        return bytes(self.sink.data)

    def rewrite(self, data):
        self.sink.data = bytearray(data)
        self._continue(self.sink, read_rvf(self.k, data), len(data))
        self.pending = [("replace", 0, bytes(data))]

    def take(self):
        pending, self.pending = self.pending, []
        return pending

    def close(self):
        pass
