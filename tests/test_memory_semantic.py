"""The agent memory's default embedder is all-MiniLM-L6-v2: memories are found by meaning,
by a paraphrase sharing no content word with them; a file reopens with the model it records."""
import re

import pytest

import agentdb.memory
from agentdb.embed import EmbedderMismatchError, HashEmbedder, MiniLM

NOTES = {
    "the car would not start this morning": "vehicle engine failure",
    "buy oat milk on the way home": "pick up groceries after work",
    "the quarterly report is due on friday": "deadline for the financial summary",
    "my daughter scored a goal at football practice": "child did well in a soccer game",
    "the flight to tokyo was delayed by three hours": "plane trip to japan ran late",
}
STOP = {"the", "a", "on", "to", "by", "at", "in", "for", "of", "was", "is", "my", "after", "did", "well", "ran"}


def content_words(text):
    return set(re.findall(r"[a-z]+", text)) - STOP


def test_paraphrases_share_no_content_word():
    for note, paraphrase in NOTES.items():
        assert not content_words(note) & content_words(paraphrase), (note, paraphrase)


def test_each_memory_is_found_by_a_paraphrase(tmp_path):
    path = tmp_path / "notes.rvf"
    with agentdb.memory.open(path) as mem:
        assert mem.stats()["embedder"] == {"name": "all-MiniLM-L6-v2", "dim": 384, "semantic": True}
        for note in NOTES:
            mem.remember(note)
        for note, paraphrase in NOTES.items():
            assert mem.recall(paraphrase, k=1)[0]["text"] == note, paraphrase
    with agentdb.memory.open(path, readonly=True) as again:       # the recorded model is used again
        assert isinstance(again.embedder, MiniLM) and not again.embedder.quantized
        assert [again.recall(p, k=1)[0]["text"] for p in NOTES.values()] == list(NOTES)


def test_word_hashing_misses_what_the_model_finds():
    """Why the default changed: the hashing embedder matches words, so paraphrases fail."""
    mem = agentdb.memory.open(embedder=HashEmbedder())
    for note in NOTES:
        mem.remember(note)
    found = sum(mem.recall(p, k=1)[0]["text"] == n for n, p in NOTES.items())
    assert found < len(NOTES)


def test_the_int8_model_is_recorded_and_chosen_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "int8.rvf"
    with agentdb.memory.open(path, embedder=MiniLM(quantized=True)) as mem:
        for note in NOTES:
            mem.remember(note)
    with agentdb.memory.open(path) as again:
        assert again.embedder.identity["name"] == "all-MiniLM-L6-v2-int8"
        assert [again.recall(p, k=1)[0]["text"] for p in NOTES.values()] == list(NOTES)
    with pytest.raises(EmbedderMismatchError):
        agentdb.memory.open(path, embedder=MiniLM())        # f32 vectors differ: never mixed silently
