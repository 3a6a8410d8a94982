"""Helpers for the agent-memory tests: a hand-moved clock and a memory over a chosen kernel."""
import agentdb.memory
from agentdb.embed import HashEmbedder
from memory_scenario import Clock


def new_memory(kernel=None, path=None, dim=96, **options):
    """A memory with the hashing embedder (fast, and what these tests' expectations are made
    of; the default model's behaviour is tested in test_memory_semantic.py)."""
    clock = Clock()
    options.setdefault("embedder", HashEmbedder(dim=dim, kernel=kernel))
    mem = agentdb.memory.open(path, dim=dim, kernel=kernel, clock=clock, **options)
    return mem, clock
