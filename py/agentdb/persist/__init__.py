"""Where a store's bytes live: .rvf files natively, byte chunks for IndexedDB in the browser;
both through the same CommitLog and the same .rvf commits."""
from ..errors import LockHeldError, ReadOnlyError, RecoveryWarning  # noqa: F401  (where callers have found them)
from .buffer import BufferLog
from .files import FileLog
from .log import CommitLog

__all__ = ["BufferLog", "CommitLog", "FileLog", "LockHeldError", "ReadOnlyError", "RecoveryWarning"]
