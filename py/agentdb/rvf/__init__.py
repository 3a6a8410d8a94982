"""The .rvf format: segments byte-compatible with the real @ruvector tools (see docs/FORMAT.md)."""
from ..errors import CorruptFileError
from .file import RvfContents, read, write
from .verify import verify

__all__ = ["CorruptFileError", "RvfContents", "read", "verify", "write"]
