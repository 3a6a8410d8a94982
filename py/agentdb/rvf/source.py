"""Where the reader gets an .rvf's bytes: a buffer in memory, or an open file read piece by
piece, so a large file is never held whole (its rows stream through one reused buffer into
kernel memory: reading 1.5 GB no longer takes 4.5 GB).

A file is read as it was when the source was made: a writer may append meanwhile (never
read), and a writer cutting off a failed commit only shortens what the reader never uses.
"""
import os

from ..errors import CorruptFileError

PIECE = 8 << 20     # bytes a streamed read holds at a time (stays in cache while checked and copied)


class BytesSource:
    """An .rvf in memory; reads are zero-copy views."""

    def __init__(self, data):
        self._view = memoryview(data).cast("B")
        self.size = len(self._view)

    def read(self, offset, n):
        return self._view[offset:offset + n]

    def pieces(self, offset, n, piece):
        """Consecutive views of [offset, offset + n), each at most `piece` bytes."""
        for start in range(offset, offset + n, piece):
            yield self._view[start:min(start + piece, offset + n)]


class FileSource:
    """An .rvf file open for reading (unbuffered), read with positioned reads."""

    def __init__(self, fh):
        self._fh = fh
        self.size = os.fstat(fh.fileno()).st_size

    def _read_into(self, view, offset):
        self._fh.seek(offset)
        done = 0
        while done < len(view):
            got = self._fh.readinto(view[done:])
            if not got:
                raise CorruptFileError(f"the file ends at byte {offset + done} while reading it (was it cut "
                                       f"short meanwhile?)", offset + done)
            done += got

    def read(self, offset, n):
        n = max(0, min(n, self.size - offset))
        out = bytearray(n)
        self._read_into(memoryview(out), offset)
        return memoryview(out)

    def pieces(self, offset, n, piece):
        """Consecutive views of [offset, offset + n), each at most `piece` bytes; each view is
        valid until the next one is made (one buffer is reused)."""
        buf = memoryview(bytearray(min(piece, n)))
        for start in range(offset, offset + n, piece):
            view = buf[:min(piece, offset + n - start)]
            self._read_into(view, start)
            yield view


def as_source(data):
    """A source for bytes-like data; sources pass through."""
    return data if isinstance(data, (BytesSource, FileSource)) else BytesSource(data)
