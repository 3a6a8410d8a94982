"""Retrieval in real Chromium (db.rag): the small seeded multi-hop corpus indexed in the page
(all-MiniLM-L6-v2 in the worker) answers its 40 two-hop questions with the native evidence,
ids, score bits and context; db.rag.stream is an async iterator of the native events, in
order; the page's recall@5 lift over one dense query is the native one."""
import struct

from e2e_support import run
from rag_support import minilm_corpus, recall_at


def f32(x):
    return struct.pack("<f", x)


def test_the_page_answers_the_multi_hop_questions_as_natively(page):
    rag, mem, corpus, ids = minilm_corpus()
    questions = [q.text for q in corpus.questions(2)]
    got = run(page, """
        const [texts, questions] = args;
        const db = await AgentDB.open("rag-corpus", { dim: 384, metric: "cosine" });
        await db.rag.updateConfig({ cache: false });
        const ids = await db.rag.indexMany(texts);
        const answers = [];
        for (const q of questions) answers.push(await db.rag.query(q));
        const dense = [];
        for (const q of questions) dense.push((await db.memory.recall({ query: q, k: 5 })).map((h) => h.id));
        const events = [];
        for await (const event of db.rag.stream(questions[0])) events.push(event);
        return { ids, answers, dense, events };
    """, corpus.texts(), questions)
    assert got["ids"] == ids
    page_lift = native_lift = 0.0
    for q, answer, dense in zip(corpus.questions(2), got["answers"], got["dense"]):
        want = rag.query(q.text)
        assert answer["sources"] == want.sources and answer["context"] == want.context, q.text
        assert [(e["id"], f32(e["score"]), e["hop"], e["via"]) for e in answer["evidence"]] == \
            [(e.id, f32(e.score), e.hop, e.via) for e in want.evidence], q.text
        needed = [ids[i] for i in q.support]
        page_lift += recall_at([e["id"] for e in answer["evidence"]], needed) - recall_at(dense, needed)
        native_lift += recall_at(want.ids, needed) - recall_at([h["id"] for h in mem.recall(q.text, k=5)], needed)
    assert page_lift == native_lift and page_lift / len(questions) >= 0.15
    native_events = list(rag.stream(questions[0]))
    assert [e["type"] for e in got["events"]] == [e["type"] for e in native_events]
    assert got["events"][-1]["result"]["sources"] == native_events[-1]["result"].sources


def test_sessions_in_the_page_chat_and_export_as_natively(page):
    from agentdb.rag import SessionManager

    rag, mem, corpus, ids = minilm_corpus()
    question = corpus.questions(2)[0].text
    got = run(page, """
        const [texts, question] = args;
        const db = await AgentDB.open("rag-talk", { dim: 384, metric: "cosine" });
        await db.rag.updateConfig({ cache: false });
        await db.rag.indexMany(texts);
        const s = await db.rag.sessions.create({ system: "Answer from the context." });
        const turn = await db.rag.sessions.chat(s.id, question);
        const text = await db.rag.sessions.export(s.id);
        await db.rag.sessions.delete(s.id);
        const back = await db.rag.sessions.import(text);
        return { turn, back, history: await db.rag.sessions.getHistory(s.id), ids: await db.rag.sessions.list() };
    """, corpus.texts(), question)
    native = SessionManager(rag)
    s = native.create(system="Answer from the context.")
    want = native.chat(s.id, question)
    assert got["turn"]["messages"] == want["messages"] and got["turn"]["reply"] is None
    assert got["turn"]["result"]["sources"] == want["result"].sources
    assert got["back"] == got["ids"] == [s.id] and [m["content"] for m in got["history"]] == [question]
