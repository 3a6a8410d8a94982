"""The .rvf format: segments byte-compatible with the real @ruvector tools (see docs/FORMAT.md)."""
from .file import RvfContents, read, write

__all__ = ["RvfContents", "read", "write"]
