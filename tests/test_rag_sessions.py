"""Sessions: history, system messages and added context make the prompt; history is bounded;
chat retrieves (following the conversation's entities), asks the LLM and records the turn;
export / import round-trips exactly and refuses malformed JSON with typed errors."""
import json

import pytest

from agentdb.errors import ArgumentError, IdError, LLMOutputWarning, UnknownIdError
from agentdb.rag import SessionManager

from rag_support import hash_controller


def manager(**options):
    rag, mem, clock = hash_controller()
    rag.index_many(["Vantex is based in Lyon.", "Vantex was founded by Rosa Novak.", "Corvia is based in Porto."])
    return SessionManager(rag, clock=clock, **options), rag


def test_a_chat_turn_retrieves_builds_the_prompt_and_records_the_reply():
    prompts = []

    def llm(prompt):
        prompts.append(prompt)
        return "Lyon."
    sessions, _ = manager(llm=llm)
    s = sessions.create(system="Answer from the memories.")
    sessions.add_context(s.id, "Vantex renamed itself in 2020.", source="news")
    turn = sessions.chat(s.id, "Where is Vantex based?")
    assert turn["reply"] == "Lyon." and "note:1" in turn["result"].sources
    system = turn["messages"][0]
    assert system["role"] == "system" and "Answer from the memories." in system["content"]
    assert "Vantex renamed itself in 2020. (news)" in system["content"] and "Vantex is based in Lyon." in system["content"]
    assert turn["messages"][-1] == {"role": "user", "content": "Where is Vantex based?"}
    history = sessions.get_history(s.id)
    assert [m["role"] for m in history] == ["user", "assistant"] and history[1]["sources"] == turn["result"].sources
    follow = sessions.chat(s.id, "And who founded it?")       # no entity: asked with the last turn's
    assert "note:2" in follow["result"].ids
    assert [m["content"] for m in follow["messages"][1:3]] == ["Where is Vantex based?", "Lyon."]


def test_without_an_llm_chat_gives_the_prompt_and_the_retrieval():
    sessions, _ = manager()
    s = sessions.create()
    turn = sessions.chat(s.id, "Where is Corvia based?")
    assert turn["reply"] is None and "note:3" in turn["result"].ids
    assert [m["role"] for m in sessions.get_history(s.id)] == ["user"]
    bare = SessionManager()
    t = bare.create()
    assert bare.chat(t.id, "hello")["result"] is None


def test_a_failing_llm_gives_no_reply_and_a_warning():
    def llm(prompt):
        raise TimeoutError("slow")
    sessions, _ = manager(llm=llm)
    s = sessions.create()
    with pytest.warns(LLMOutputWarning, match="no reply"):
        assert sessions.chat(s.id, "Where is Vantex based?")["reply"] is None


def test_history_is_bounded_and_system_messages_stay():
    sessions, _ = manager(max_history=4)
    s = sessions.create(system="first")
    for i in range(7):
        sessions.add_message(s.id, "user" if i % 2 == 0 else "assistant", f"m{i}")
    sessions.add_system_message(s.id, "second")
    assert [m["content"] for m in sessions.get_history(s.id)] == ["m3", "m4", "m5", "m6"]
    assert [m["content"] for m in sessions.get_history(s.id, limit=2)] == ["m5", "m6"]
    assert sessions.get_history(s.id, limit=0) == []
    assert sessions.messages(s.id)[0] == {"role": "system", "content": "first\n\nsecond"}


def test_export_and_import_round_trip():
    sessions, rag = manager()
    a = sessions.create("a", system="Be brief.", metadata={"user": "u1"})
    sessions.add_context("a", "ctx", source=None)
    sessions.chat("a", "Where is Vantex based?")
    sessions.create()
    text = sessions.export()
    again = SessionManager(rag)
    assert again.import_json(text) == ["a", "session:1"]
    assert again.export() == text
    assert again.get("a").to_dict() == a.to_dict()
    one = json.loads(sessions.export("a"))
    assert [s["id"] for s in one["sessions"]] == ["a"]
    with pytest.raises(IdError, match="exists already"):
        again.import_json(text)
    assert again.import_json(text, replace=True) == ["a", "session:1"]
    assert again.create().id == "session:2"


@pytest.mark.parametrize("text,message", [
    ("not json", "not session JSON"),
    ('{"format": "other", "version": 1, "sessions": []}', "expected"),
    ('{"format": "agentdb-rag-sessions", "version": 1, "sessions": {}}', "must be a list"),
    ('{"format": "agentdb-rag-sessions", "version": 1, "sessions": [{"id": ""}]}', "sessions\\[0\\].id"),
    ('{"format": "agentdb-rag-sessions", "version": 1, "sessions": [{"id": "x", "history": [{"role": "bot", '
     '"content": "hi"}]}]}', "history\\[0\\]"),
    ('{"format": "agentdb-rag-sessions", "version": 1, "sessions": [{"id": "x", "system": [3]}]}', "system\\[0\\]"),
])
def test_malformed_imports_are_refused_and_add_nothing(text, message):
    sessions, _ = manager()
    with pytest.raises(ArgumentError, match=message):
        sessions.import_json(text)
    assert sessions.list() == []


def test_bad_calls_get_typed_errors():
    sessions, _ = manager()
    s = sessions.create("x")
    with pytest.raises(IdError):
        sessions.create("x")
    with pytest.raises(UnknownIdError):
        sessions.get("nope")
    for call in (lambda: sessions.add_message("x", "robot", "hi"), lambda: sessions.add_message("x", "user", ""),
                 lambda: sessions.chat("x", ""), lambda: sessions.import_json(3),
                 lambda: SessionManager(max_history=1), lambda: SessionManager(llm=3)):
        with pytest.raises(ArgumentError):
            call()
    sessions.delete(s.id)
    assert sessions.list() == []
