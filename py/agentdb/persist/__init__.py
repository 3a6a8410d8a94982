"""Where a store's bytes live: .rvf files natively (IndexedDB in the browser comes next)."""
from .files import FileLog, LockHeldError, ReadOnlyError, RecoveryWarning

__all__ = ["FileLog", "LockHeldError", "ReadOnlyError", "RecoveryWarning"]
