"""File-backed stores (native): an .rvf file that every committed write is appended to.

Protocol, the real tools' layout throughout:
- create: META (store options), MANIFEST (epoch 0), written to `<path>.create.tmp`, fsynced and
  renamed into place, so a crash mid-create leaves no empty or torn file at the path.
- ingest: VEC, META (records, when there is metadata or string ids), WITNESS, MANIFEST.
- delete: JOURNAL, WITNESS, MANIFEST (the ids join the manifest's deleted list).
- every commit is one write followed by fsync; a failed write is cut back off the file, so
  the file and the store never disagree;
- a commit (or close) saves the HNSW graph as an INDEX commit when the last INDEX covers
  under 80% of the rows;
- compact (and any commit that would push the manifest towards the end of the real tools'
  64 KiB tail scan) rewrites the file through `<path>.compact.tmp`, fsync and an atomic rename;
- one writer at a time: `<path>.lock`, created exclusively (the real tools use the same path,
  so neither opens a file the other is writing); readonly=True takes no lock.
On open, a torn final write (crash, power loss) is cut off and reported with RecoveryWarning:
the store reopens at the last complete commit, never silently.
"""
import os
import socket
import warnings
from concurrent.futures import ThreadPoolExecutor, wait

from ..errors import LockHeldError, RecoveryWarning
from ..rvf import read as read_rvf
from ..rvf.file import tail_state
from ..rvf import segments as seg
from ..rvf.meta import encode_options
from ..rvf.writer import RvfWriter
from .log import CommitLog


LOCK_MAGIC = b"FLVR"   # the real tools' lock files start with these bytes too


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_fields(lock):
    """(written by agentdb?, its key=value fields) of a lock file."""
    with open(lock, "rb") as fh:
        held = fh.read(256)
    fields = dict(part.split("=", 1) for part in held[4:].decode("ascii", "replace").split() if "=" in part)
    return held.startswith(LOCK_MAGIC) and fields.get("agentdb") == "1", fields


def _left_by_the_dead(fields):
    pid = fields.get("pid", "0")
    return fields.get("host") == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


def writer_active(path):
    """Whether another writer (agentdb's or the real tools') holds path's lock now: a reader
    then expects a commit in progress after the file's last complete one."""
    try:
        mine, fields = _lock_fields(path + ".lock")
    except FileNotFoundError:
        return False
    return not (mine and _left_by_the_dead(fields))


def take_lock(path):
    lock = path + ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            mine, fields = _lock_fields(lock)
            if mine and _left_by_the_dead(fields):
                os.unlink(lock)  # left by a process that died: take it over
                continue
            who = f"process {fields.get('pid')} on {fields.get('host')}" if mine else "another program"
            raise LockHeldError(f"{path} is being written by {who} (lock file {lock}); open it with readonly=True, "
                                f"or remove the lock file if that writer is gone") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(LOCK_MAGIC + f" agentdb=1 pid={os.getpid()} host={socket.gethostname()}\n".encode())
        return lock
    raise LockHeldError(f"could not take {lock}")


def release_lock(lock):
    """Gives up a lock take_lock() returned."""
    try:
        os.unlink(lock)
    except FileNotFoundError:
        pass


WRITE_PIECE = 1 << 24
PARALLEL_DIGEST = 1 << 20     # payload bytes from which the seal's hash runs beside the write
VEC_SCRATCH_MAX = 256 << 20   # VEC payloads up to this size are encoded into one kept buffer
_HELPERS = {}                  # pid -> executor


def _helpers():
    """Threads for work that runs beside a commit's file writes (made on first use): a large
    segment's hash, and the store's copy of the batch into memory. One pool per process: a
    forked child must not wait on its parent's threads, which it does not have."""
    pool = _HELPERS.get(os.getpid())
    if pool is None:
        _HELPERS.clear()
        pool = _HELPERS[os.getpid()] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="agentdb-commit")
    return pool


def _replace_durably(tmp, path):
    """Renames the fsynced file tmp over path, then fsyncs the directory so the rename lasts."""
    os.replace(tmp, path)
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileSink:
    def __init__(self, fh):
        self.fh = fh

    def write_segment(self, head, payload, digest):
        """Writes a segment; returns digest(head, payload) when digest is given. A large
        payload's SHA-256 runs on a second thread while the file takes it (both release the
        GIL): the seal costs no time of its own (1.3 s of 7 s writing 1.5 GB, measured)."""
        if not digest or len(payload) < PARALLEL_DIGEST:
            self.write(head)
            self.write(payload)
            return digest(head, payload) if digest else None
        pending = _helpers().submit(digest, head, payload)
        try:
            self.write(head)
            self.write(payload)
        finally:
            wait([pending])       # never leave the hash running; a write error is the one raised
        return pending.result()

    def write(self, chunk):
        # an unbuffered file (buffered "+" files wrote large payloads ~10x slower, measured)
        # takes what it can per call: loop until all of it is out
        view = memoryview(chunk).cast("B")
        while len(view):
            view = view[self.fh.write(view[:WRITE_PIECE]):]

    def read_at(self, offset, n):
        self.fh.seek(offset)
        data = self.fh.read(n)
        self.fh.seek(0, os.SEEK_END)
        return data


class FileLog(CommitLog):
    """The commits of one writer to one .rvf file."""

    def __init__(self, kernel, path, lock):
        self.k, self.path, self.lock = kernel, path, lock
        self.fh = None
        self._scratch = bytearray()

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def create(cls, kernel, path, *, dim, metric, options, identity, signing_key=None, profile=0):
        lock = take_lock(path)
        log = cls(kernel, path, lock)
        log.signing_key = signing_key
        # the first commit goes into a temporary file renamed into place: a crash mid-create
        # leaves no empty or torn file at `path` (an empty one, from older versions, counts as
        # absent: agentdb.open creates over it)
        tmp = path + ".create.tmp"
        try:
            log.fh = open(tmp, "wb+", buffering=0)    # ours: we hold the lock
            log.writer = RvfWriter(kernel, FileSink(log.fh), dim=dim, metric=metric, identity=identity,
                                   signing_key=signing_key, profile=profile)
            log._commit(lambda w: w.commit([(seg.META, encode_options(options))]))
            if os.path.exists(path) and os.path.getsize(path) > 0:
                raise FileExistsError(f"{path} was created by another program meanwhile")
            _replace_durably(tmp, path)
        except BaseException:
            log.close()
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return log

    @classmethod
    def resume(cls, kernel, path, lock, data, contents, *, signing_key=None):
        """Continues the file after its last complete commit (a torn tail is cut off, with a
        RecoveryWarning). The caller took the lock (take_lock) before reading data (bytes or
        an agentdb.rvf source), so no other writer's commit can land in between."""
        log = cls(kernel, path, lock)
        log.signing_key = signing_key
        try:
            size, message = tail_state(kernel, data, contents)
            if message:
                warnings.warn(f"{path}: {message}", RecoveryWarning, stacklevel=3)
            log.fh = open(path, "rb+", buffering=0)
            log.fh.truncate(size)
            log.fh.seek(0, os.SEEK_END)
            log._continue(FileSink(log.fh), contents, size)
        except BaseException:
            log.close()
            raise
        return log

    # ---- commits ---------------------------------------------------------------------------

    def beside(self, fn, *args):
        return _helpers().submit(fn, *args).result

    def _vec_scratch(self, nbytes):
        # one buffer for every VEC payload up to 256 MB: a fresh 154 MB bytearray per 100k x 384
        # batch was zeroed page by page each time (0.65 s of writing 1M rows)
        if nbytes > VEC_SCRATCH_MAX:
            return None
        if len(self._scratch) < nbytes:
            self._scratch = bytearray(nbytes)
        return self._scratch

    def _commit(self, write):
        """Runs one commit; on any failure the file is cut back to where it was. A commit
        staged in a transaction is not fsynced: until the transaction's manifest, a reopen
        after a crash finds the commit before it (the staged bytes are an unfinished tail)."""
        state = self._snapshot()
        try:
            write(self.writer)
            if not self.in_transaction:
                self.fh.flush()
                os.fsync(self.fh.fileno())
        except BaseException:
            self._cut(state[-1])
            self._restore(state)
            raise

    def _cut(self, offset):
        self.fh.truncate(offset)
        self.fh.seek(0, os.SEEK_END)

    def committed_bytes(self):
        """The file as it is now (every committed byte)."""
        self.fh.seek(0)
        data = self.fh.read()
        self.fh.seek(0, os.SEEK_END)
        return data

    def rewrite(self, data):
        """Replaces the file with `data` atomically (temporary file, fsync, rename, fsync of
        the directory) and continues writing after it."""
        tmp = self.path + ".compact.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _replace_durably(tmp, self.path)
        self.fh.close()
        self.fh = open(self.path, "rb+", buffering=0)
        self.fh.seek(0, os.SEEK_END)
        self._continue(FileSink(self.fh), read_rvf(self.k, data), len(data))

    def close(self):
        self._scratch = bytearray()
        if self.fh is not None:
            self.fh.close()
            self.fh = None
        if self.lock is not None:
            release_lock(self.lock)
            self.lock = None
