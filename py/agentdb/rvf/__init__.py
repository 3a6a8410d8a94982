"""The .rvf format: segments byte-compatible with the real @ruvector tools (see docs/FORMAT.md)."""
from ..errors import CorruptFileError
from .file import RvfContents, read, write
from .source import BytesSource, FileSource
from .verify import verify

__all__ = ["BytesSource", "CorruptFileError", "FileSource", "RvfContents", "read", "verify", "write"]
