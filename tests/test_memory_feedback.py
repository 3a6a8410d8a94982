"""Recall that learns: every recall-type answer carries a recall id; mem.feedback() records
which memories were useful (records of the store, kept in the .rvf, never recalled) and
mem.learn() trains the store's query adapter on them, so held-out paraphrases that missed
their memory find it. Measured on notes whose queries use other words (as users phrase
things differently from what they wrote): the hashing embedder shares nothing between a note
and its paraphrase, and what the adapter learns about the words carries over to notes it was
never told about."""
import itertools
import json
import random

import pytest

import agentdb
import agentdb.memory
from agentdb.errors import OptionError, UnknownIdError
from agentdb.learn import LoRA
from agentdb.memory import MemoryInputError
from agentdb.persist import ReadOnlyError
from memory_support import new_memory

# what a note says -> how a query says it; no word, and no trigram of " word ", in common
WORDS = [("car", "vehicle"), ("broken", "faulty"), ("meeting", "assembly"), ("invoice", "bill"),
         ("doctor", "physician"), ("garden", "lawn"), ("laptop", "notebook"), ("flight", "plane"),
         ("dinner", "meal"), ("school", "academy"), ("bank", "lender"), ("phone", "handset")]
NOTES, TRAIN = 80, 50               # notes 0..49 get feedback, 50..79 are held out
DIM = 128


def corpus():
    """NOTES notes naming three things each (distinct triples) and each note's paraphrase."""
    triples = random.Random(0).sample(list(itertools.combinations(range(len(WORDS)), 3)), NOTES)
    notes = ["the " + ", the ".join(WORDS[j][0] for j in t) for t in triples]
    queries = [" and ".join(WORDS[j][1] for j in reversed(t)) for t in triples]
    return notes, queries


def trigrams(word):
    padded = f" {word} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def noted(kernel=None, path=None):
    mem, clock = new_memory(kernel, path=path, dim=DIM)
    notes, queries = corpus()
    return mem, clock, [mem.remember(n) for n in notes], queries


def ranks(mem, ids, queries, which, **options):
    """Where each query's own note ranks among all notes (1: first)."""
    out = []
    for i in which:
        found = [h["id"] for h in mem.recall(queries[i], k=NOTES, **options)]
        out.append(found.index(ids[i]) + 1)
    return out


def mrr(found):
    return sum(1 / r for r in found) / len(found)


def give_feedback(mem, ids, queries):
    for i in range(TRAIN):
        hits = mem.recall(queries[i], k=5)
        mem.feedback(hits.recall_id, useful=[ids[i]])      # named even when the answer missed it


def test_note_and_paraphrase_share_no_word():
    for note, query in WORDS:
        assert not trigrams(note) & trigrams(query), (note, query)


def test_feedback_lifts_held_out_paraphrases(kernel):
    mem, _, ids, queries = noted(kernel)
    held = range(TRAIN, NOTES)
    before = ranks(mem, ids, queries, held)
    assert sum(r > 5 for r in before) > len(before) / 2          # most of them miss their note in a top 5
    give_feedback(mem, ids, queries)
    report = mem.learn(epochs=30, rank=12)
    assert (report["feedback"], report["queries"], report["pairs"], report["forgotten"]) == (TRAIN, TRAIN, TRAIN, 0)
    assert report["adapter"] == "query" and mem.store.adapters() == ["query"]
    assert report["training"]["loss_history"][-1] < report["training"]["loss_history"][0]
    after = ranks(mem, ids, queries, held)
    assert mrr(after) >= mrr(before) + 0.4, (mrr(before), mrr(after))
    assert sum(r == 1 for r in after) >= len(after) / 2 > sum(r == 1 for r in before)
    assert ranks(mem, ids, queries, held, adapt=False) == before           # the stored vectors are untouched
    assert mem.stats()["memories"] == {"note": NOTES, "feedback": TRAIN}
    everything = mem.recall(queries[0], k=500)                             # feedback is never recalled
    assert len(everything) == NOTES and all(h["kind"] == "note" for h in everything)


def test_feedback_from_every_recall_type_call():
    mem, _ = new_memory()
    ep = mem.store_episode("s", "parse the log dates", reward=0.9, success=True)
    skill = mem.create_skill("binary search", "halve a sorted range")
    pattern = mem.store_pattern("parsing", "tokenize first")
    note = mem.remember("ship on friday")
    calls = [(mem.retrieve_episodes("dates", current_state="in utc"), ep, "episode", "dates\nin utc"),
             (mem.search_skills("find in a sorted list"), skill, "skill", "find in a sorted list"),
             (mem.find_patterns("parse json"), pattern, "pattern", "parse json"),
             (mem.recall("release day"), note, "note", "release day")]
    for hits, useful, kind, query in calls:
        assert hits.recall_id.startswith("recall:")
        record = mem.get_memory(mem.feedback(hits.recall_id, useful=useful))
        assert record["useful"] == [useful] and record["searched"] == [kind] and record["query"] == query
        assert record["recall"] == hits.recall_id and record["answered"] == [h["id"] for h in hits]
        other = next(i for i in (ep, skill, pattern, note) if i != useful)
        with pytest.raises(MemoryInputError, match=r"useful\[0\].*that recall searched " + kind):
            mem.feedback(hits.recall_id, useful=[other])
    by_text = mem.get_memory(mem.feedback(query="when do we ship", useful=[note, ep]))
    assert by_text["searched"] == ["episode", "note"] and "recall" not in by_text
    assert mem.learn(epochs=2)["pairs"] == 6


def test_answers_stay_lists_and_recall_ids_are_stable():
    mem, _ = new_memory()
    mem.remember("the printer on floor two is broken")
    first, again = mem.recall("printer broken"), mem.recall("printer broken")
    assert mem.cache.stats()["hits"] == 1 and first == again == [dict(h) for h in first]
    assert json.loads(json.dumps(first)) == list(first)               # JSON sees the hits only
    assert first.recall_id == again.recall_id != mem.recall("printer broken", k=2).recall_id
    mem.remember("another note")                                          # a write: a new answer, same question
    assert mem.recall("printer broken").recall_id == first.recall_id


def test_the_cache_never_serves_answers_from_before_the_adapter():
    mem, _, ids, queries = noted()
    held = range(TRAIN, NOTES)
    before = [mem.recall(queries[i], k=3) for i in held]                  # cached
    give_feedback(mem, ids, queries)
    mem.learn(epochs=30, rank=12)
    adapted = [mem.recall(queries[i], k=3) for i in held]
    assert adapted != before
    mem.cache.clear()
    assert [mem.recall(queries[i], k=3) for i in held] == adapted          # what a fresh search answers
    assert [mem.recall(queries[i], k=3, adapt=False) for i in held] == before
    # an adapter set directly (an in-memory store commits nothing) still counts as a write
    version = mem.store.version
    mem.store.set_adapter("query", LoRA(DIM, DIM, rank=2, seed=3))
    assert mem.store.version == version + 1
    assert [mem.recall(queries[i], k=3) for i in held] != adapted
    mem.store.remove_adapter("query")
    assert [mem.recall(queries[i], k=3) for i in held] == before


def test_feedback_survives_reopen_and_travels_in_the_rvf(tmp_path):
    path = tmp_path / "agent.rvf"
    mem, clock, ids, queries = noted(path=path)
    give_feedback(mem, ids, queries)
    asked = mem.recall(queries[0], k=5).recall_id
    mem.close()
    with agentdb.memory.open(path, clock=clock) as mem:               # the file records the hashing embedder
        assert mem.stats()["memories"] == {"note": NOTES, "feedback": TRAIN}
        with pytest.raises(UnknownIdError, match="give query= instead"):
            mem.feedback(asked, useful=[ids[0]])                         # recall ids live until close
        assert mem.recall(queries[0], k=5).recall_id == asked            # the same question, the same id
        report = mem.learn(epochs=30, rank=12)                           # from the feedback in the file
        assert report["feedback"] == TRAIN
        want = [mem.recall(queries[i], k=5) for i in range(TRAIN, NOTES)]
    with agentdb.memory.open(path, clock=clock, readonly=True) as again:
        assert again.store.adapters() == ["query"]
        assert [again.recall(queries[i], k=5) for i in range(TRAIN, NOTES)] == want
        with pytest.raises(ReadOnlyError):
            again.feedback(query=queries[0], useful=[ids[0]])
        with pytest.raises(ReadOnlyError):
            again.learn()                                                # refused before any training
    moved = agentdb.memory.AgentMemory(agentdb.open_bytes(path.read_bytes()), clock=clock)
    assert [moved.recall(queries[i], k=5) for i in range(TRAIN, NOTES)] == want


def test_feedback_errors():
    mem, _ = new_memory()
    note = mem.remember("ship on friday")
    ep = mem.store_episode("s", "deploy", reward=1.0, success=True)
    hits = mem.recall("release day")
    with pytest.raises(MemoryInputError, match="needs at least 1 feedback record"):
        mem.learn()                                                      # never a silent no-op
    with pytest.raises(UnknownIdError, match="no recall with id 'recall:nope'"):
        mem.feedback("recall:nope", useful=[note])
    with pytest.raises(UnknownIdError, match=r"useful\[1\]: no memory with id 'note:9'"):
        mem.feedback(hits.recall_id, useful=[note, "note:9"])
    with pytest.raises(MemoryInputError, match="'episode:1' is of kind 'episode'; that recall searched notes"):
        mem.feedback(hits.recall_id, useful=[ep])
    with pytest.raises(MemoryInputError, match="non-empty list"):
        mem.feedback(hits.recall_id, useful=[])
    with pytest.raises(MemoryInputError, match="not both"):
        mem.feedback(hits.recall_id, useful=[note], query="release day")
    with pytest.raises(MemoryInputError, match="needs a recall_id"):
        mem.feedback(useful=[note])
    with pytest.raises(MemoryInputError, match="'intent:greet:0' is of kind 'intent'"):
        mem.add_intent("greet", ["hello"])
        mem.feedback(query="hi", useful=["intent:greet:0"])
    with pytest.raises(UnknownIdError, match="mem.learn"):
        mem.recall("release day", adapt=True)
    with pytest.raises(MemoryInputError, match="adapt must be"):
        mem.recall("release day", adapt="yes")
    assert mem.feedback(hits.recall_id, useful=note) == "feedback:1"     # one id alone is fine
    with pytest.raises(MemoryInputError, match="at least 2 feedback record"):
        mem.learn(min_feedback=2)
    with pytest.raises(OptionError, match="adapter"):
        mem.learn(adapter="other")
    mem.forget_memory(note)
    with pytest.raises(MemoryInputError, match="still stored"):
        mem.learn()
    other = mem.remember("freeze deploys on friday")
    mem.feedback(query="release day", useful=[other])
    assert mem.learn(epochs=1)["forgotten"] == 1


def test_the_worker_memory_op_records_feedback_and_learns():
    """What db.memory.feedback / db.memory.learn send and get: JSON a browser parses."""
    from agentdb import worker_api

    hashing = {"name": "agentdb-hash-v1", "dim": DIM, "semantic": False}
    worker_api.handle("open", json.dumps({"name": "fb", "options": {"dim": DIM, "embedder": hashing}}))

    def call(method, **args):
        reply = worker_api.handle("memory", json.dumps({"name": "fb", "method": method, "args": args}))
        return json.loads(reply, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))["value"]

    try:
        notes, queries = corpus()
        ids = [call("remember", note=n) for n in notes]
        for i in range(TRAIN):
            call("recall", query=queries[i], k=5)
            assert call("feedback", query=queries[i], useful=[ids[i]]) == f"feedback:{i + 1}"
        report = call("learn", epochs=30, rank=12, min_feedback=TRAIN)
        assert report["pairs"] == TRAIN and report["training"]["best_val_loss"] is None
        assert all(k.isidentifier() and k == k.lower() for k in report)           # camelized by the client
        found = [[h["id"] for h in call("recall", query=queries[i], k=1)] for i in range(TRAIN, NOTES)]
        assert sum(f == [ids[i]] for f, i in zip(found, range(TRAIN, NOTES))) >= (NOTES - TRAIN) / 2
    finally:
        worker_api.handle("close", json.dumps({"name": "fb"}))
