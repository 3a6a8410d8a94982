"""Text streams for the dataset formats: a path (opened here, UTF-8, closed after) or a file
object the caller owns, written and read line by line (never one string of the whole set)."""
import contextlib
import io
import os

from ..errors import ArgumentError


@contextlib.contextmanager
def _utf8(binary, flush):
    """A UTF-8 text stream over a binary file object, detached (not closed) afterwards."""
    wrapper = io.TextIOWrapper(binary, encoding="utf-8", newline="")
    try:
        yield wrapper
    finally:
        if flush:
            wrapper.flush()
        wrapper.detach()


def _is_binary(fh):
    return isinstance(fh, (io.RawIOBase, io.BufferedIOBase))


@contextlib.contextmanager
def text_out(dest):
    """A text stream to write to: `dest` opened for writing if a path, else dest itself
    (a text file object; a binary one is wrapped as UTF-8).

    >>> buf = io.BytesIO()
    >>> with text_out(buf) as fh:
    ...     _ = fh.write("é")
    >>> buf.getvalue()
    b'\\xc3\\xa9'
    """
    if isinstance(dest, (str, os.PathLike)):
        with open(dest, "w", encoding="utf-8", newline="") as fh:
            yield fh
    elif _is_binary(dest):
        with _utf8(dest, True) as fh:
            yield fh
    elif hasattr(dest, "write"):
        yield dest
    else:
        raise ArgumentError(f"a destination is a path or a writable file object, got {type(dest).__name__}")


@contextlib.contextmanager
def text_in(source):
    """A text stream to read: `source` opened if a path, else source itself (a text or
    binary file object, or any iterable of lines).

    >>> with text_in(io.BytesIO(b"a\\nb\\n")) as lines:
    ...     list(lines)
    ['a\\n', 'b\\n']
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8", newline="") as fh:
            yield fh
    elif _is_binary(source):
        with _utf8(source, False) as fh:
            yield fh
    elif hasattr(source, "__iter__") and not isinstance(source, (bytes, bytearray, str)):
        yield source
    else:
        raise ArgumentError(f"a source is a path, a file object or an iterable of lines, got {type(source).__name__}")
