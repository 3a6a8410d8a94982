"""The controller around the retrieval: the context stays within its token budget and cites
its sources; the cache hits, misses, expires (TTL), stays bounded and is dropped by any write
(a note, a graph edge, a transaction); streaming yields every sub-query, then the hops, then
the result, the same as query(); filters hold through the graph hops; indexing links entities
in the same commit and reports progress; reflection through the LLM callable adds sub-queries
and survives malformed answers; bad input gets typed errors."""
import json

import pytest

import agentdb.memory
from agentdb.embed import HashEmbedder
from agentdb.errors import ArgumentError, LLMOutputWarning, MemoryInputError, OptionError
from agentdb.rag import ENTITY_LABEL, MENTIONS, RagConfig, RetrievalController, assemble, estimate_tokens

from rag_support import hash_controller

FACTS = ["Alice Moreau works for Vantex.", "Vantex is based in Lyon.", "Bruno Petrov works for Corvia.",
         "Corvia is based in Porto.", "Lyon lies in France.", "Vantex makes the Zentro phone."]
Q = "In which city is the company that Alice Moreau works for located?"


def loaded(**settings):
    rag, mem, clock = hash_controller(**settings)
    ids = rag.index_many(FACTS)
    return rag, mem, clock, ids


@pytest.mark.parametrize("budget", [1, 12, 25, 40, 1000])
def test_the_context_stays_within_its_token_budget(budget):
    rag, *_ = loaded()
    result = rag.query(Q, token_budget=budget)
    assert result.tokens <= budget
    lines = result.context.splitlines()
    assert len(lines) == len(result.sources) and all(f"({s})" in line for s, line in zip(result.sources, lines))
    assert sum(estimate_tokens(line) for line in lines) == result.tokens
    assert set(result.sources) <= set(result.ids)


def test_assemble_skips_what_does_not_fit_and_keeps_order():
    items = [("a", "x " * 40), ("b", "short one"), ("c", "another short")]
    text, sources, used = assemble(items, 12)
    assert sources == ["b", "c"] and used <= 12 and text.startswith("[1] short one (b)")
    assert estimate_tokens("") == 0 and estimate_tokens("one two three") == 4
    with pytest.raises(ArgumentError):
        assemble(items, 0)


def test_the_cache_hits_misses_and_is_dropped_by_any_write():
    rag, mem, clock, ids = loaded()
    first = rag.query(Q)
    assert not first.cached and rag.cache_stats()["misses"] == 1
    again = rag.query(Q)
    assert again.cached and again.ids == first.ids and rag.cache_stats()["hits"] == 1
    assert rag.query(Q, k=2).cached is False                   # another key
    mem.remember("Alice Moreau moved to Graz.")                 # a note written past the controller
    assert not rag.query(Q).cached
    assert rag.query(Q).cached
    mem.graph.add_edge(ids[0], "entity:lyon", MENTIONS)         # a graph write
    assert not rag.query(Q).cached
    rag.index("Vantex opened an office in Porto.")
    assert not rag.query(Q).cached
    with mem.store.transaction():
        mem.remember("one more")
    assert not rag.query(Q).cached
    stats = rag.cache_stats()
    assert stats["hits"] == 2 and stats["misses"] == 6


def test_the_cache_expires_and_stays_bounded():
    rag, mem, clock, _ = loaded(cache_ttl=10.0, cache_size=2)
    rag.query(Q)
    clock.t += 9.0
    assert rag.query(Q).cached
    clock.t += 2.0
    assert not rag.query(Q).cached
    for q in ("Where is Corvia based?", "Who works for Vantex?", "What does Vantex make?"):
        rag.query(q)
    assert rag.cache_stats()["size"] == 2
    assert not rag.query(Q).cached                              # evicted, least recently used first
    rag.clear_cache()
    assert rag.cache_stats()["size"] == 0
    off, *_ = loaded(cache=False)
    off.query(Q)
    assert not off.query(Q).cached and off.cache_stats()["size"] == 0


def test_a_cached_result_is_a_copy():
    rag, *_ = loaded()
    first = rag.query(Q)
    first.evidence.clear()
    assert rag.query(Q).evidence


def test_streaming_yields_each_sub_query_then_the_hops_then_the_result():
    rag, *_ = loaded()
    events = list(rag.stream(Q))
    kinds = [e["type"] for e in events]
    subs = rag.decompose(Q)
    assert kinds == ["sub_query"] * len(subs) + ["hop"] * (rag.config.depth - 1) + ["result"]
    assert [e["query"] for e in events if e["type"] == "sub_query"] == subs
    assert [e["index"] for e in events if e["type"] == "sub_query"] == list(range(len(subs)))
    result = events[-1]["result"]
    streamed = {h["id"] for e in events[:-1] for h in e["hits"]}
    assert set(result.ids) <= streamed                          # nothing in the result that was not streamed
    json.dumps(events[:-1])                                     # events are JSON for the browser
    json.dumps(result.to_dict())
    assert rag.query(Q, depth=2).ids == result.ids
    replay = list(rag.stream(Q))                                # a cached answer replays its events
    assert [e["type"] for e in replay] == kinds and replay[-1]["result"].cached


def test_a_stream_is_lazy():
    rag, *_ = loaded(cache=False)
    stream = rag.stream(Q)
    first = next(stream)
    assert first["type"] == "sub_query" and first["index"] == 0
    stream.close()


def test_filters_hold_through_the_graph():
    rag, mem, _ = hash_controller()
    a = rag.index("Alice Moreau works for Vantex.", tags=["hr"], metadata={"year": 2024})
    b = rag.index("Vantex is based in Lyon.", tags=["hr"], metadata={"year": 2020})
    c = rag.index("Vantex was founded by Rosa Novak.", metadata={"year": 2024})
    assert {a, b} <= set(rag.query(Q, tags=["hr"]).ids) and c not in rag.query(Q, tags=["hr"]).ids
    only = rag.query(Q, where={"year": {"ge": 2023}})
    assert b not in only.ids and a in only.ids
    assert all(e.id in (a, b) for e in rag.query("Who founded Vantex?", tags=["hr"]).evidence)
    with pytest.raises(ArgumentError, match="not one string"):
        rag.query(Q, tags="hr")
    with pytest.raises(MemoryInputError):
        rag.query(Q, tags=[""])


def test_indexing_links_entities_in_one_commit_and_reports_progress(tmp_path):
    mem = agentdb.memory.open(tmp_path / "notes.rvf", embedder=HashEmbedder(dim=32))
    rag = RetrievalController(mem)
    epoch = mem.store._log.writer.epoch
    seen = []
    ids = rag.index_many(FACTS, batch=4, progress=seen.append)
    assert seen == [{"stage": "index", "done": 4, "total": 6}, {"stage": "index", "done": 6, "total": 6}]
    assert mem.store._log.writer.epoch == epoch + 2             # one commit per batch: notes and graph
    g = mem.graph
    assert g.get_node("entity:vantex").labels == (ENTITY_LABEL,)
    assert g.get_node("entity:vantex").properties == {"name": "Vantex"}
    assert sorted(g.neighbors("entity:vantex", types=MENTIONS, direction="in")) == sorted([ids[0], ids[1], ids[5]])
    assert mem.get_memory(ids[1])["text"] == FACTS[1]
    mem.close()
    with agentdb.memory.open(tmp_path / "notes.rvf", readonly=True) as again:   # both in the file
        assert again.graph.neighbors(ids[1], types=MENTIONS) == ["entity:vantex", "entity:lyon"]


def test_notes_remembered_without_the_controller_are_linked_later_and_forgotten_cleanly():
    rag, mem, _ = hash_controller()
    plain = mem.remember("Greta Brandt lives in Graz.")
    assert not mem.graph.has_node(plain)
    assert rag.index_existing() == 1 and rag.index_existing() == 0
    assert mem.graph.neighbors(plain, types=MENTIONS) == ["entity:greta brandt", "entity:graz"]
    kept = rag.index("Graz lies in Austria.")
    assert rag.forget(plain) == 1
    assert not mem.graph.has_node(plain) and not mem.graph.has_node("entity:greta brandt")
    assert mem.graph.has_node("entity:graz") and mem.graph.has_node(kept)


def test_a_failed_index_leaves_nothing_behind():
    rag, mem, _ = hash_controller()
    before = (len(mem.store), mem.graph.stats()["nodes"])

    def explode(text):
        raise RuntimeError("extractor crashed")
    with pytest.raises(RuntimeError):
        from agentdb.rag.index import index_texts
        index_texts(mem, FACTS, extract=explode)
    assert (len(mem.store), mem.graph.stats()["nodes"]) == before


def test_reflection_adds_the_llms_follow_up_queries():
    prompts = []

    def llm(prompt):
        prompts.append(prompt)
        if prompt.startswith("Split"):
            return '{"sub_queries": ["Alice Moreau employer"]}'
        return '{"sufficient": false, "follow_up": ["Lyon country"]}'
    rag, mem, _, ids = loaded(llm=None)
    rag.llm = llm
    events = list(rag.stream(Q))
    kinds = [e["type"] for e in events]
    assert kinds == ["sub_query", "sub_query", "hop", "reflection", "sub_query", "result"]
    result = events[-1]["result"]
    assert result.sub_queries[-1] == "Lyon country" and result.reflections == [{"sufficient": False,
                                                                                 "follow_up": ["Lyon country"]}]
    assert "Context:" in prompts[1] and "Alice Moreau works for Vantex." in prompts[1]
    rag.update_config(reflect=False)
    assert [e["type"] for e in rag.stream(Q)].count("reflection") == 0


def test_malformed_reflection_answers_end_reflection_with_a_warning():
    for answer in ("not json", '{"sufficient": "yes"}', '{"sufficient": false, "follow_up": [3]}', "[]"):
        def llm(prompt, answer=answer):
            return '["Alice Moreau employer"]' if prompt.startswith("Split") else answer
        rag, *_ = loaded(llm=llm)
        with pytest.warns(LLMOutputWarning, match="no reflection"):
            result = rag.query(Q)
        assert result.reflections == [] and result.ids


def test_settings_are_checked():
    rag, *_ = loaded()
    assert rag.get_config() == RagConfig().to_dict()
    rag.update_config(depth=3)
    assert rag.config.depth == 3
    for bad in ({"depth": 0}, {"k": "5"}, {"ppr_weight": 1.5}, {"damping": 1.0}, {"cache": 1}, {"cache_ttl": -1}):
        with pytest.raises(OptionError):
            rag.update_config(**bad)
    with pytest.raises(ArgumentError, match="unknown setting 'deep'"):
        rag.update_config(deep=2)
    for call in (lambda: rag.query(""), lambda: rag.query(None), lambda: rag.query(Q, k=0),
                 lambda: rag.query(Q, token_budget=0), lambda: rag.index(["a list"]),
                 lambda: rag.index_many("one string"), lambda: rag.index_many(["ok", ""]),
                 lambda: rag.index_many(["ok"], metadata=[{}, {}])):
        with pytest.raises(ArgumentError):
            call()
    with pytest.raises(ArgumentError):
        RetrievalController(object())
    with pytest.raises(ArgumentError):
        RetrievalController(rag.memory, llm="not callable")
