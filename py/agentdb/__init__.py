"""agentdb: a vector memory database for AI agents, in the browser (Pyodide) and natively.

The same Python package runs in both homes over one C/SIMD kernel (see agentdb.kernel).
"""
from .errors import (AgentDBError, BackendUnavailableError, BufferFormatError, CorruptFileError, DimensionError,
                     FilterError, KernelError, MetadataError, NonFiniteError, OptionError, UnknownIdError)
from .store import Hit, Results, VectorStore, open, open_bytes

__version__ = "0.1.0"
__all__ = ["AgentDBError", "BackendUnavailableError", "BufferFormatError", "CorruptFileError", "DimensionError",
           "FilterError", "MetadataError", "OptionError",
           "Hit", "KernelError", "NonFiniteError", "Results", "UnknownIdError", "VectorStore", "open", "open_bytes",
           "__version__"]
