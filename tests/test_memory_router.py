"""The semantic router: intents by example, routed by similarity, replaced in one commit and
kept in the .rvf so a reopened file routes the same without rebuilding."""
import pytest

import agentdb.memory
from agentdb import UnknownIdError
from agentdb.memory import MemoryInputError
from memory_support import new_memory

INTENTS = {
    "weather": ["what is the weather tomorrow", "will it rain today", "temperature forecast for the weekend"],
    "music": ["play some jazz", "next song please", "turn the music up"],
    "timer": ["set a timer for ten minutes", "wake me up at seven", "remind me in an hour"],
}
QUERIES = {"is it going to rain tomorrow": "weather", "play the next jazz song": "music",
           "set a ten minute timer": "timer"}


def test_routes_to_the_right_intent(kernel):
    mem, _ = new_memory(kernel)
    for name, utterances in INTENTS.items():
        assert mem.add_intent(name, utterances, metadata={"handler": name + "_handler"}) == 3
    for query, intent in QUERIES.items():
        best = mem.route(query, k=3)
        assert best[0]["intent"] == intent and best[0]["metadata"] == {"handler": intent + "_handler"}
        assert [r["score"] for r in best] == sorted((r["score"] for r in best), reverse=True)
        assert len({r["intent"] for r in best}) == len(best)
    assert mem.route("is it going to rain tomorrow", threshold=0.99) == []
    assert [i["intent"] for i in mem.intents()] == list(INTENTS)


def test_replace_and_remove_in_one_commit_each(tmp_path):
    path = tmp_path / "router.rvf"
    mem, _ = new_memory(path=path)
    mem.add_intent("music", INTENTS["music"])
    version = mem.store.version
    assert mem.add_intent("music", ["play a podcast"]) == 1                 # 3 utterances become 1
    assert mem.store.version == version + 1
    assert mem.intents() == [{"intent": "music", "utterances": ["play a podcast"], "metadata": {}}]
    assert mem.remove_intent("music") == 1 and mem.intents() == []
    with pytest.raises(UnknownIdError, match="no intent named 'music'"):
        mem.remove_intent("music")
    with pytest.raises(MemoryInputError, match="utterances must be a non-empty list"):
        mem.add_intent("x", "just one string")
    with pytest.raises(MemoryInputError, match=r"utterances\[1\] is empty"):
        mem.add_intent("x", ["fine", " "])
    mem.close()


def test_a_reopened_file_routes_the_same(tmp_path):
    path = tmp_path / "router.rvf"
    mem, _ = new_memory(path=path)
    for name, utterances in INTENTS.items():
        mem.add_intent(name, utterances)
    before = {q: mem.route(q, k=3) for q in QUERIES}
    mem.close()
    with agentdb.memory.open(path) as again:
        assert {q: again.route(q, k=3) for q in QUERIES} == before
        assert again.store.status()["embedder"]["name"] == "agentdb-hash-v1"
