"""Typed errors. Every class derives from AgentDBError and from the builtin it refines, so
callers can catch either; messages name the expected and the actual value."""


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
