"""The agent-memory layer: what an agent calls to remember and recall (AgentDB's surface),
as records of one store, so one .rvf carries an agent's whole memory between homes."""
from .agent import AgentMemory, open
from .cache import QueryCache
from .core import MemoryInputError

__all__ = ["AgentMemory", "MemoryInputError", "QueryCache", "open"]
