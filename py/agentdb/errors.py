"""Typed errors: every error a caller can cause is one of these, all defined here. Each class
derives from AgentDBError and from the builtin it refines, so callers can catch either;
messages name the bad value and what is allowed. The browser client throws a JS Error whose
`name` is the class name.
"""


class AgentDBError(Exception):
    """Base of every error agentdb raises on purpose."""


class DimensionError(AgentDBError, ValueError):
    """A vector or matrix has the wrong dimension or length."""


class NonFiniteError(AgentDBError, ValueError):
    """A vector holds NaN or infinity."""


class BufferFormatError(AgentDBError, TypeError):
    """A buffer has the wrong element type, layout or alignment, or is read-only where the
    kernel must write."""


class KernelError(AgentDBError, RuntimeError):
    """The kernel refused a call that passed Python-side validation (a code, not a crash)."""


class BackendUnavailableError(AgentDBError, ImportError):
    """No kernel backend can run here; the message says what to install."""


class FilterError(AgentDBError, ValueError):
    """A metadata filter is malformed; the message names the bad part."""


class OptionError(AgentDBError, ValueError):
    """A store option, or a query argument such as k or ef, is of the wrong type or outside
    its documented range (agentdb.store.options); the message names it and what is allowed."""


class MetadataError(AgentDBError, ValueError, TypeError):
    """Metadata that cannot be stored: not a dict of string keys, a non-finite number, an
    integer outside 64 bits, or nested or sized beyond the documented limits (both builtins,
    since some of these are type problems and some value problems)."""


class UnknownIdError(AgentDBError, KeyError):
    """An id is not in the store."""

    def __str__(self):  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CorruptFileError(AgentDBError, ValueError):
    """Bytes that are not a valid .rvf (or not what they claim): carries the byte offset."""

    def __init__(self, message, offset=None):
        super().__init__(message if offset is None else f"{message} (at byte {offset})")
        self.offset = offset


class CypherSyntaxError(AgentDBError, ValueError):
    """A Cypher query that does not parse, or is beyond the parser's limits (length, nesting):
    carries the 1-based `line` and `column` of the fault and what was `expected` there; the
    message reads "line 2, column 14: expected ')' after node pattern, found 'WHERE'"."""

    def __init__(self, message, line=None, column=None, *, expected=None):
        super().__init__(message if line is None else f"line {line}, column {column}: {message}")
        self.line, self.column, self.expected = line, column, expected


class CypherError(AgentDBError, ValueError):
    """A Cypher query that parses but cannot run: an unknown variable or parameter, a value of
    the wrong type (`'a' + 1`, a property of a number), an unsupported clause or function, or a
    query past the executor's limits (rows, expansion steps, variable-length hops)."""


class ArgumentError(AgentDBError, ValueError):
    """An argument outside what a call accepts (a limit, a choice, a combination of keywords)."""


class NodeHasEdgesError(AgentDBError, ValueError):
    """(graph) delete_node() of a node that still has edges or hyperedges: delete them first,
    or pass detach=True to delete them with it."""


class IdError(AgentDBError, ValueError, TypeError):
    """An id that cannot be stored: not an unsigned 64-bit integer or a non-empty string, of
    the other kind than the store's ids, or given twice where it must be unique."""


class StoreClosedError(AgentDBError, LookupError):
    """(browser) A call on a store name that is not open (never opened, or closed)."""


class StoreExistsError(AgentDBError, FileExistsError):
    """(browser) A store of that name is open or persisted already, and the call would replace
    it: importRvf needs replace: true for that (and persist: true over a persisted one)."""


class LockHeldError(AgentDBError, RuntimeError):
    """Another writer holds the file's lock."""


class ReadOnlyError(AgentDBError, PermissionError):
    """A write to a store opened with readonly=True (or frozen)."""


class TransactionError(AgentDBError, RuntimeError):
    """An operation that cannot be part of a transaction's one commit (compact, freeze, ...)."""


class ShardUnavailableError(AgentDBError, TimeoutError):
    """(agentdb.cluster) A shard did not answer in time (killed and restarting, or gone): a
    query raises it rather than return another shard's hits alone (allow_partial=True returns
    those and names the missing shards); a write raises it and is rolled back. `shards`: the
    shard numbers that did not answer."""

    def __init__(self, message, shards=()):
        super().__init__(message)
        self.shards = list(shards)


class OutOfMemoryError(AgentDBError, MemoryError):
    """The wasm memory cannot grow enough (wasm32 is limited to 4 GiB)."""


class SafeTensorsError(CorruptFileError):
    """Bytes that are not a valid SafeTensors file; `offset` is the byte at fault."""


class SafeTensorsWriteError(AgentDBError, ValueError):
    """Tensors that cannot be written (or built): a bad dtype, name or shape, or a buffer of
    the wrong size."""


class FormatError(CorruptFileError):
    """(agentdb.io) An export that cannot be imported: a model file, JSON document, PEFT or
    Hugging Face folder, or dataset that is truncated, corrupt, foreign, of an unknown format
    version, or lacks a key it needs; `offset` is the byte (or line) at fault when known."""


class EmbedderError(AgentDBError, ValueError):
    """Text that cannot be embedded, or vectors of the wrong shape from an embedder."""


class EmbedderMismatchError(EmbedderError):
    """A store built with one embedder opened with another (pass force=True to accept)."""


class ModelMissingError(EmbedderError):
    """The model's files are not installed (nothing is ever downloaded)."""


class ModelNotLoadedError(EmbedderError):
    """(browser protocol) Text that needs a model the worker has not loaded yet; its message is
    the model's name. The worker catches it, loads the model and repeats the request."""


class NeedEmbeddings(EmbedderError):
    """Raised by SuppliedEmbedder for texts whose vectors the caller has not given yet (the
    browser worker's protocol with a page embedder: the page embeds them and repeats)."""

    def __init__(self, texts):
        super().__init__(f"{len(texts)} text(s) need vectors from the page's embedder")
        self.texts = texts


class MemoryInputError(AgentDBError, ValueError):
    """A bad argument to the memory layer (empty text, a reward outside its range, ...)."""


class RecoveryWarning(UserWarning):
    """A file was reopened at an earlier commit than its last bytes (a torn final write)."""


class LLMOutputWarning(UserWarning):
    """(agentdb.rag) The caller's LLM callable raised, or answered something other than JSON of
    the expected shape; the step falls back to its deterministic path (the heuristic
    decomposition, no reflection), never failing the call."""


__all__ = [name for name, value in list(globals().items())
           if isinstance(value, type) and issubclass(value, (AgentDBError, Warning))]
