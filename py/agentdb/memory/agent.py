"""AgentMemory: episodes, skills, reasoning patterns, causal memory, the semantic router,
SONA trajectories and plain notes, all records of one VectorStore (see agentdb.memory.core)."""
import time

from .. import open as open_store
from .causal import Causal
from .core import MemoryCore, both, metadata_filter, public, tag_fields, tag_filter, text
from .episodes import Episodes
from .feedback import Feedback
from .graph import MemoryGraph
from ..graph.model import HYPER_KIND, NODE_KIND
from .patterns import Patterns
from .router import Router
from .skills import Skills
from .trajectories import Trajectories
from ..errors import OptionError


class AgentMemory(Episodes, Skills, Patterns, Causal, Router, Feedback, Trajectories, MemoryCore):
    """An agent's memory over a store (string ids; its embedder recorded in it).

    >>> mem = agentdb.memory.open("agent.rvf")                      # doctest: +SKIP
    >>> mem.store_episode("s1", "fix the flaky test", critique="wait for the server",
    ...                   reward=0.2, success=False)
    'episode:1'
    >>> mem.retrieve_episodes("flaky test", only_failures=True)[0]["critique"]
    'wait for the server'
    """

    def __init__(self, store, *, embedder=None, force=False, clock=time.time, cache_size=1000, cache_ttl=300.0,
                 causal_weights=None):
        super().__init__(store, embedder=embedder, force=force, clock=clock, cache_size=cache_size,
                         cache_ttl=cache_ttl)
        if causal_weights is not None:
            self.causal_weights = tuple(float(w) for w in causal_weights)
            if len(self.causal_weights) != 3:
                raise OptionError(f"causal_weights is (alpha, beta, gamma), got {causal_weights!r}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the store (a file store saves its graph first)."""
        self.store.close()

    @property
    def graph(self):
        """The memory's property graph (agentdb.memory.graph.MemoryGraph): the store's graph, in
        the same .rvf as the memories, where a text may stand for an embedding (embedded with
        this memory's embedder). Writes to both commit together inside mem.store.transaction().

        >>> mem.graph.add_node("ada", labels="Person", embedding="Ada Lovelace")  # doctest: +SKIP
        >>> mem.graph.search("the first programmer", k=1)[0].id                   # doctest: +SKIP
        'ada'
        """
        return MemoryGraph(self)

    # ---- notes: plain text memories ----------------------------------------------------------

    def remember(self, note, *, tags=(), metadata=None, embedding=None):
        """Stores a text note; returns its id ("note:<n>")."""
        fields = {"kind": "note", "text": text(note, "note"), **tag_fields(tags)}
        if metadata:
            fields["metadata"] = dict(metadata)
        [ident] = self._new_ids("note")
        self._put([(ident, self._vector(note, "note", embedding), fields)])
        return ident

    def recall(self, query, *, k=5, tags=(), where=None, embedding=None, adapt=None):
        """The k notes most similar to query that carry every tag in `tags` and whose own
        metadata= matches the filter `where` (a store filter over its fields; it runs inside
        the search, so there are k hits whenever k notes match). The answer is a list of hits
        with a `recall_id` for feedback(); adapt: see learn() (None: the adapter when trained).

        >>> mem.remember("ship on friday", metadata={"project": "web", "prio": 2})  # doctest: +SKIP
        >>> mem.recall("release day", where={"project": "web", "prio": {"ge": 2}})  # doctest: +SKIP
        """
        matching = both(tag_filter(tags), metadata_filter(where))
        return self._recall("recall", "note", query, k, matching, {"q": query, "k": k, "where": matching},
                            embedding=embedding, adapt=adapt)

    def forget_memory(self, ident):
        """Deletes any memory by id, with the causal edges and observations referring to it."""
        return self._forget([self._existing(ident, "memory")])

    def get_memory(self, ident):
        """Any memory's fields by id."""
        return public(ident, self.store.get(self._existing(ident, "memory")).metadata)

    def stats(self):
        """How many memories of each kind, the graph's nodes, edges and hyperedges (its
        embeddings are rows of the store, not memories), the embedder, the query cache and the
        store's bytes."""
        kinds = {}
        for _, md in self.store.find():
            kind = md.get("kind", "other")
            if kind not in (NODE_KIND, HYPER_KIND):
                kinds[kind] = kinds.get(kind, 0) + 1
        status = self.store.status()
        graph = self.graph.stats()
        return {"memories": kinds, "graph": {k: graph[k] for k in ("nodes", "edges", "hyperedges")},
                "embedder": status["embedder"], "cache": self.cache.stats(),
                "store": {"count": status["count"], "deleted": status["deleted"], "bytes": status["bytes"]}}


# what the browser's JS client may call (web/agentdb.js: db.memory.<camelCase name>)
REMOTE_METHODS = frozenset(name for name in dir(AgentMemory) if not name.startswith("_") and name != "close"
                           and callable(getattr(AgentMemory, name)))


def open(path=None, *, embedder=None, dim=None, force=False, clock=time.time, cache_size=1000, cache_ttl=300.0,
         causal_weights=None, **store_options):
    """An AgentMemory over a new or existing store: in memory (path=None) or an .rvf file.
    embedder: default the one the file records, else MiniLM (all-MiniLM-L6-v2, 384 dimensions;
    ModelMissingError with the install command when its weights are missing); HashEmbedder
    only when passed. store_options go to agentdb.open (metric is cosine).

    >>> with agentdb.memory.open("agent.rvf") as mem:                # doctest: +SKIP
    ...     mem.add_intent("greet", ["hello there", "good morning"])
    """
    import os

    from ..embed import embedder_for, identity_of

    kernel = store_options.get("kernel")
    exists = path is not None and os.path.exists(os.fspath(path))
    if embedder is None and not exists:
        embedder = embedder_for(None, dim=dim, kernel=kernel)
    if embedder is not None and dim is None:
        dim = identity_of(embedder)["dim"]
    store = open_store(path, dim=dim, metric="cosine", embedder=embedder, force=force, **store_options)
    try:
        if embedder is None:
            embedder = embedder_for(store.embedder, dim=store.dim, kernel=store.kernel)
        return AgentMemory(store, embedder=embedder, force=force, clock=clock, cache_size=cache_size,
                           cache_ttl=cache_ttl, causal_weights=causal_weights)
    except BaseException:
        store.close()
        raise
