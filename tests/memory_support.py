"""Helpers for the agent-memory tests: a hand-moved clock and a memory over a chosen kernel."""
import agentdb.memory
from memory_scenario import Clock


def new_memory(kernel=None, path=None, dim=96, **options):
    clock = Clock()
    mem = agentdb.memory.open(path, dim=dim, kernel=kernel, clock=clock, **options)
    return mem, clock
