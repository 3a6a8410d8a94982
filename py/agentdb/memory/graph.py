"""MemoryGraph: an agent memory's property graph (mem.graph). It is the store's own graph
(agentdb.graph.Graph, the same nodes and edges as mem.store.graph, in the same .rvf), with one
addition: wherever the graph takes an embedding (a node's or hyperedge's, search()'s query, a
Cypher SEARCH ... FOR $q) a text may stand for it, embedded with the memory's embedder, so a
graph of people, projects and facts is searched by meaning like the notes beside it.

>>> import agentdb.memory
>>> from agentdb.embed import HashEmbedder
>>> mem = agentdb.memory.open(embedder=HashEmbedder(dim=64))
>>> _ = mem.graph.batch_insert(nodes=[{"id": "ada", "labels": "Person", "embedding": "Ada wrote programs"},
...                                   {"id": "kew", "labels": "Place", "embedding": "gardens in London"}])
>>> [h.id for h in mem.graph.search("who wrote programs", k=1)]
['ada']
>>> mem.graph.cypher("MATCH (n:Person) SEARCH n IN (VECTOR FOR $q LIMIT 1) RETURN id(n)", {"q": "Ada"}).rows
[('ada',)]
"""
from ..graph.model import Graph
from .core import text


class MemoryGraph(Graph):
    """The graph of `memory`'s store, taking texts for embeddings."""

    def __init__(self, memory):
        super().__init__(memory.store)
        self._memory = memory

    def _embeddings(self, values):
        """Texts embedded (all in one embedder call), vectors as given."""
        at = [i for i, v in enumerate(values) if isinstance(v, str)]
        if not at:
            return values
        dim = self._db.dim
        flat = self._memory.embedder.embed([text(values[i], "embedding") for i in at])
        out = list(values)
        for j, i in enumerate(at):
            out[i] = flat[j * dim:(j + 1) * dim]
        return out
