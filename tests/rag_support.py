"""Helpers for the agentdb.rag tests: a memory over the hashing embedder (fast), and the small
multi-hop corpus embedded by MiniLM once per test process."""
import functools

import agentdb.memory
from agentdb.embed import HashEmbedder
from agentdb.rag import RetrievalController
from memory_scenario import Clock

import multihop_corpus


def hash_controller(**settings):
    """(controller, memory, clock) over a fresh in-memory store with the hashing embedder."""
    clock = Clock()
    mem = agentdb.memory.open(embedder=HashEmbedder(dim=64), clock=clock)
    return RetrievalController(mem, **settings), mem, clock


@functools.lru_cache(maxsize=1)
def minilm_corpus():
    """(controller, memory, corpus, note ids by fact index): the seed-2 small corpus (150 facts,
    40 two-hop questions) remembered through the controller with the default embedder."""
    corpus = multihop_corpus.build(seed=2, people=30, orgs=12, products=16, limit=40)
    mem = agentdb.memory.open(cache_size=0)
    rag = RetrievalController(mem, cache=False)
    ids = rag.index_many(corpus.texts())
    return rag, mem, corpus, ids


def recall_at(found, needed, k=5):
    """The fraction of `needed` among the first k of `found`."""
    return len(set(needed) & set(found[:k])) / len(needed)
