"""VectorStore.transaction(): every write inside it (vectors, deletes, adapters, the graph) is
one commit, or nothing. The log stages the writes' segments and finish() writes the one seal,
witness and manifest that commit them all: until then a crash reopens at the commit before
the transaction (the staged bytes are an unfinished tail, cut off as any torn write). An
exception inside rolls the store back by rebuilding it from the committed bytes: the file
(or, in the browser, the log's copy of the stored bytes) as it was at begin, or for a store
in memory only, a snapshot taken at begin (its one cost: O(store size))."""
import contextlib

from ..errors import TransactionError
from . import codec

# state a rebuild must not replace: the store's identity as an open handle
_KEPT = frozenset({"path", "_log", "readonly", "_lock", "_signing_key", "_public_key", "_final_commits",
                   "_transaction", "version", "_graph_subscribers"})


def refuse_inside(db, what):
    """A write that rewrites the whole file cannot be part of a transaction's one commit."""
    if db._transaction is not None:
        raise TransactionError(f"{what} rewrites the store and cannot run inside a transaction; "
                               f"call it before or after")


@contextlib.contextmanager
def transaction(db):
    """VectorStore.transaction()."""
    db._writable()
    with db._lock:
        if db._transaction is not None:          # nested: part of the outer one
            yield db
            return
        snapshot = codec.to_bytes(db) if db._log is None else None
        state = db._log.begin() if db._log is not None else None
        transaction = db._transaction = {"log_state": state}      # not None while the transaction runs
        try:
            yield db
            if db._log is not None:
                db._log.finish()
        except BaseException:
            db._transaction = None
            committed = db._log.abort(state) if db._log is not None else snapshot
            _rebuild(db, committed)
            raise
        db._transaction = None
        db._after_commit()
        if "graph_changes" in transaction:     # subscribers hear of a committed transaction
            from ..graph.model import flush_pending

            flush_pending(db, transaction)


def _rebuild(db, data):
    """Puts the store back to the state `data` (its committed .rvf bytes) holds."""
    from .opening import _open_contents       # opening imports the store: imported when used

    fresh, _ = _open_contents(data, kernel=db.kernel, graph_saved_when_idle=True)
    for name, value in vars(fresh).items():
        if name not in _KEPT:
            setattr(db, name, value)
    db.version += 1                           # answers cached during the transaction are stale
