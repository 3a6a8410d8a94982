"""agentdb: a vector memory database for AI agents, in the browser (Pyodide) and natively.

The same Python package runs in both homes over one C/SIMD kernel (see agentdb.kernel).
Every error class (agentdb.errors) is also importable from here.
"""
from . import errors
from .errors import *  # noqa: F401,F403  (the error classes, listed in errors.__all__)
from .store import Hit, Results, VectorStore, open, open_bytes

__version__ = "0.1.0"
__all__ = [*errors.__all__, "Hit", "Results", "VectorStore", "open", "open_bytes", "__version__"]
