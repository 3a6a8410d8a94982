"""RetrievalController: retrieval over an agent memory (ruvllm's RlmController, which cannot
even be imported, done as a library): decompose a question, retrieve per sub-query, follow
its entities through the memory graph for more hops (ranked by personalised PageRank), de-
duplicate, assemble a cited context within a token budget, optionally reflect through an LLM
callable, cache answers until the store changes, and stream the steps as they finish.

No LLM is needed: decomposition, entity links and ranking are deterministic heuristics, so
the default path is useful offline; llm(prompt) -> str, when given, decomposes and reflects
(its output parsed strictly; anything malformed is an LLMOutputWarning and the default path).

>>> import agentdb.memory
>>> from agentdb.embed import HashEmbedder
>>> rag = RetrievalController(agentdb.memory.open(embedder=HashEmbedder(dim=64)))
>>> rag.index_many(["Alice Moreau works for Vantex.", "Vantex is based in Lyon.", "Bruno Petrov lives in Graz."])
['note:1', 'note:2', 'note:3']
>>> result = rag.query("In which city is the company that Alice Moreau works for located?", k=2)
>>> sorted(result.ids)
['note:1', 'note:2']
>>> print(result.context)
[1] Alice Moreau works for Vantex. (note:1)
[2] Vantex is based in Lyon. (note:2)
"""
import dataclasses
import json

from ..errors import ArgumentError
from . import llm as llm_calls
from .config import RagConfig
from .context import assemble, check_budget
from .decompose import check_question, decompose
from .index import index_existing, index_texts, unlink
from .multihop import Retrieval, allowed_ids
from ..memory.cache import QueryCache
from ..memory.core import both, metadata_filter, tag_filter
from .result import Evidence, RagResult

REFLECT_PROMPT = ("Question: {q}\nContext:\n{c}\n\nIs the context enough to answer the question? Reply with JSON "
                  "only: {{\"sufficient\": true}} or {{\"sufficient\": false, \"follow_up\": [\"a search query for "
                  "what is missing\", ...]}}.")


def _int(value, name, low=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ArgumentError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


class RetrievalController:
    """Retrieval over `memory` (an AgentMemory). llm: an optional callable prompt -> str;
    config: a RagConfig (or its fields as keywords); clock: for the cache's TTL (default the
    memory's clock).

    >>> rag = RetrievalController(mem, depth=3, token_budget=500)          # doctest: +SKIP
    """

    def __init__(self, memory, *, llm=None, config=None, clock=None, **settings):
        if not hasattr(memory, "recall") or not hasattr(memory, "graph"):
            raise ArgumentError(f"RetrievalController needs an AgentMemory, got {type(memory).__name__}")
        if llm is not None and not callable(llm):
            raise ArgumentError(f"llm must be a callable prompt -> str, got {type(llm).__name__}")
        if config is not None and not isinstance(config, RagConfig):
            raise ArgumentError(f"config must be a RagConfig, got {type(config).__name__}")
        self.memory, self.llm = memory, llm
        self.config = dataclasses.replace(config or RagConfig(), **self._settings(settings))
        self._clock = clock or memory.clock
        self.cache = QueryCache(max_size=self.config.cache_size, ttl=self.config.cache_ttl, clock=self._clock)
        self._allowed_cache = {}

    @staticmethod
    def _settings(settings):
        unknown = sorted(set(settings) - set(RagConfig.names()))
        if unknown:
            raise ArgumentError(f"unknown setting {unknown[0]!r}: the settings are {', '.join(RagConfig.names())}")
        return settings

    # ---- configuration and cache --------------------------------------------------------------

    def get_config(self):
        """The settings as a dict (RlmController.getConfig).

        >>> rag.get_config()["depth"]                                          # doctest: +SKIP
        2
        """
        return self.config.to_dict()

    def update_config(self, **changes):
        """Changes settings (checked: OptionError); the cache is emptied (and resized).

        >>> rag.update_config(depth=3, token_budget=300)                       # doctest: +SKIP
        """
        self.config = dataclasses.replace(self.config, **self._settings(changes))
        self.cache = QueryCache(max_size=self.config.cache_size, ttl=self.config.cache_ttl, clock=self._clock)

    def clear_cache(self):
        """Empties the answer cache (hit and miss counts stay).

        >>> rag.clear_cache()                                                  # doctest: +SKIP
        """
        self.cache.clear()

    def cache_stats(self):
        """{"size", "max_size", "ttl", "hits", "misses"} of the answer cache. Any write to the
        store (a note, the graph, an adapter) makes every cached answer stale.

        >>> rag.cache_stats()["hits"]                                          # doctest: +SKIP
        0
        """
        return self.cache.stats()

    # ---- writing ------------------------------------------------------------------------------

    def index(self, text, *, tags=(), metadata=None):
        """Remembers `text` as a note with its entities linked in mem.graph (one commit);
        returns its id (RlmController.addMemory).

        >>> rag.index("Vantex is based in Lyon.", tags=["org"])               # doctest: +SKIP
        'note:4'
        """
        if not isinstance(text, str):
            raise ArgumentError(f"index() takes one text (a string), got {type(text).__name__}; index_many() "
                                f"takes a list")
        return index_texts(self.memory, [text], tags=tags, metadata=metadata)[0]

    def index_many(self, texts, *, tags=(), metadata=None, batch=256, progress=None):
        """index() for many texts, one embedder call and one commit per batch; progress(event)
        hears {"stage": "index", "done", "total"} after each. Returns the ids in order.

        >>> rag.index_many(corpus, progress=print)                             # doctest: +SKIP
        {'stage': 'index', 'done': 256, 'total': 360}
        """
        return index_texts(self.memory, texts, tags=tags, metadata=metadata, batch=batch, progress=progress)

    def index_existing(self, *, batch=256, progress=None):
        """Links the notes remembered without index() (mem.remember) into the graph; returns
        how many were linked.

        >>> rag.index_existing()                                               # doctest: +SKIP
        12
        """
        return index_existing(self.memory, batch=batch, progress=progress)

    def forget(self, ident):
        """Deletes a note, its graph node and entities no other note mentions (one commit).

        >>> rag.forget("note:4")                                               # doctest: +SKIP
        1
        """
        return unlink(self.memory, ident)

    # ---- reading ------------------------------------------------------------------------------

    def search_memory(self, query, *, k=5, tags=(), where=None):
        """One dense recall (mem.recall): what a single query finds (RlmController.searchMemory).

        >>> rag.search_memory("Lyon", k=1)[0]["text"]                          # doctest: +SKIP
        'Vantex is based in Lyon.'
        """
        return self.memory.recall(query, k=k, tags=tags, where=where)

    def decompose(self, question):
        """The sub-queries of a question (the LLM's when one is given, else the heuristic's).

        >>> rag.decompose("Who founded Vantex and where is it based?")        # doctest: +SKIP
        ['Who founded Vantex and where is it based?', 'Who founded Vantex', 'where is it based']
        """
        return decompose(question, llm=self.llm, max_sub_queries=self.config.max_sub_queries)

    def query(self, question, *, k=None, tags=(), where=None, depth=None, token_budget=None):
        """The RagResult of a question: the k best memories (default config.k) over sub-queries
        and depth - 1 follow-up hops, with tags / where passed to every recall, and the context
        assembled from them within token_budget (RlmController.query).

        >>> rag.query("Where is Alice Moreau's employer based?").sources       # doctest: +SKIP
        ['note:2', 'note:1']
        """
        result = None
        for event in self.stream(question, k=k, tags=tags, where=where, depth=depth, token_budget=token_budget):
            if event["type"] == "result":
                result = event["result"]
        return result

    def stream(self, question, *, k=None, tags=(), where=None, depth=None, token_budget=None):
        """query() as a generator of events, each a dict: {"type": "sub_query", "index", "query",
        "hits"} as each sub-query is answered, {"type": "hop", "depth", "bridges", "hits"} per
        follow-up hop, {"type": "reflection", "round", "sufficient", "follow_up"} per reflection
        round, and last {"type": "result", "result": RagResult}. A cached answer replays its
        events (the result marked cached). (RlmController.queryStream)

        >>> [e["type"] for e in rag.stream("Who founded Vantex?")]             # doctest: +SKIP
        ['sub_query', 'sub_query', 'hop', 'result']
        """
        question = check_question(question)
        cfg = self.config
        k = cfg.k if k is None else _int(k, "k")
        depth = cfg.depth if depth is None else _int(depth, "depth")
        budget = cfg.token_budget if token_budget is None else check_budget(token_budget)
        if isinstance(tags, str):
            raise ArgumentError("tags must be a list of strings, not one string")
        both(tag_filter(tags), metadata_filter(where))          # typed errors now, not mid-stream
        key = {"q": question, "k": k, "tags": list(tags or ()), "where": where, "depth": depth, "budget": budget,
               "config": cfg.to_dict(), "llm": self.llm is not None}
        version = self.memory.store.version
        if cfg.cache:
            found, events = self.cache.lookup("rag", key, version)
            if found:
                for event in events[:-1]:
                    yield event
                yield {"type": "result", "result": _result_of(events[-1]["result"]).marked_cached()}
                return
        events = []
        for event in self._run(question, k, tags, where, depth, budget):
            events.append(event)
            yield event
        if cfg.cache and self.memory.store.version == version:
            self.cache.put("rag", key, version, events[:-1] + [{"type": "result",
                                                                "result": events[-1]["result"].to_dict()}])

    def _run(self, question, k, tags, where, depth, budget):
        cfg = self.config
        sub_queries = self.decompose(question)
        run = Retrieval(self, question, sub_queries, k=k, tags=tags, where=where, depth=depth)
        yield from run.run()
        reflections = []
        result = self._result(question, run, k, budget, reflections)
        if self.llm is not None and cfg.reflect:
            for round_ in range(cfg.max_reflections):
                verdict = llm_calls.ask(self.llm, REFLECT_PROMPT.format(q=question, c=result.context),
                                        llm_calls.reflection, "reflection", fallback="no reflection")
                if verdict is None:
                    break
                reflections.append(verdict)
                yield {"type": "reflection", "round": round_, **verdict}
                if verdict["sufficient"]:
                    break
                yield from run.more(verdict["follow_up"][:cfg.max_sub_queries])
                result = self._result(question, run, k, budget, reflections)
        yield {"type": "result", "result": result}

    @staticmethod
    def _result(question, run, k, budget, reflections):
        evidence = run.ranked()[:k]
        context, sources, tokens = assemble([(e.id, e.text) for e in evidence], budget)
        return RagResult(question, list(run.sub_queries), evidence, context, sources, tokens, False,
                         [dict(r) for r in reflections])

    def _allowed(self, tags, where):
        """The note ids tags / where admit (None: all), kept per store version and filter."""
        key = json.dumps([list(tags or ()), where], sort_keys=True, default=repr)
        version = self.memory.store.version
        hit = self._allowed_cache.get(key)
        if hit is None or hit[0] != version:
            if len(self._allowed_cache) > 32:
                self._allowed_cache.clear()
            hit = self._allowed_cache[key] = (version, allowed_ids(self.memory, tags, where))
        return hit[1]


def _result_of(d):
    """A RagResult from its to_dict()."""
    return RagResult(**{**d, "evidence": [Evidence(**e) for e in d["evidence"]]})
