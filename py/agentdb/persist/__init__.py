"""Where a store's bytes live: .rvf files natively, byte chunks for IndexedDB in the browser;
both through the same CommitLog and the same .rvf commits."""
from .buffer import BufferLog
from .files import FileLog, LockHeldError, ReadOnlyError, RecoveryWarning
from .log import CommitLog

__all__ = ["BufferLog", "CommitLog", "FileLog", "LockHeldError", "ReadOnlyError", "RecoveryWarning"]
