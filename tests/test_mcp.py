"""agentdb mcp (agentdb.mcp): the real `mcp` SDK's client drives the server as a subprocess,
over stdio and over HTTP (streamable and SSE). Every tool is called and its answer compared with the
Python API on the same file (opened read-only beside the server); bad arguments come back as
tool errors with the typed error's message while the server keeps serving; the file's lock is
held while it runs (a second server is refused, --readonly opens beside it) and a SIGKILLed
server leaves the file at its last commit, reopenable."""
import asyncio
import concurrent.futures
import inspect
import json
import os
import signal
import subprocess
import sys
import threading
import time

import anyio
import pytest

mcp = pytest.importorskip("mcp")

import agentdb  # noqa: E402
import agentdb.memory  # noqa: E402
from agentdb.embed import HashEmbedder  # noqa: E402
from agentdb.mcp import TOOLS, MemoryServer  # noqa: E402
from agentdb.memory import AgentMemory  # noqa: E402

PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "py")
ENV = {"PYTHONPATH": PY}
DIM = 64
WRITES = {t.name for t in TOOLS if t.writes}


def command(path, *extra):
    return [sys.executable, "-m", "agentdb", "mcp", str(path), *extra]


class SyncClient:
    """An mcp.Client on its own event loop thread; one task owns it (the SDK's cancel scopes
    must be entered and left by the same task), the test thread sends it calls."""

    def __init__(self, server, **options):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.jobs = None
        ready = concurrent.futures.Future()
        self.done = asyncio.run_coroutine_threadsafe(self._own(server, options, ready), self.loop)
        ready.result(timeout=60)

    async def _own(self, server, options, ready):
        self.jobs = asyncio.Queue()
        try:
            async with mcp.Client(server, **options) as client:
                ready.set_result(None)
                while (job := await self.jobs.get()) is not None:
                    fn, fut = job
                    try:
                        fut.set_result(await fn(client))
                    except BaseException as exc:  # noqa: BLE001  (handed to the caller)
                        fut.set_exception(exc)
        except BaseException as exc:  # noqa: BLE001
            if not ready.done():
                ready.set_exception(exc)
            raise

    def run(self, fn):
        fut = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self.jobs.put_nowait, (fn, fut))
        return fut.result(timeout=60)

    def call(self, name, arguments=None):
        return self.run(lambda c: c.call_tool(name, arguments or {}))

    def value(self, name, arguments=None):
        """The tool's answer as JSON (a tool error fails the test with its text)."""
        res = self.call(name, arguments)
        assert not res.is_error, res.content[0].text
        assert res.structured_content == {"result": json.loads(res.content[0].text)}
        return json.loads(res.content[0].text)

    def error(self, name, arguments=None):
        res = self.call(name, arguments)
        assert res.is_error, res
        return res.content[0].text

    def close(self):
        self.loop.call_soon_threadsafe(self.jobs.put_nowait, None)
        try:
            self.done.result(timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)


def stdio_client(path, *extra, **options):
    return SyncClient(mcp.StdioServerParameters(command=sys.executable, args=command(path, *extra)[1:], env=ENV),
                      **options)


def new_memory(path):
    with agentdb.memory.open(path, embedder=HashEmbedder(dim=DIM)) as mem:
        mem.remember("the first note", tags=["seed"])


def reader(path):
    """The Python API on the server's file, read-only beside it (no lock), at its last commit."""
    return agentdb.memory.open(path, readonly=True, embedder=HashEmbedder(dim=DIM))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One stdio server for the module (legacy handshake, as older clients speak)."""
    path = str(tmp_path_factory.mktemp("mcp") / "agent.rvf")
    new_memory(path)
    client = stdio_client(path, mode="legacy")
    yield path, client
    client.close()
    assert not os.path.exists(path + ".lock"), "the server left its lock behind after the client closed stdin"


def test_lists_every_tool_with_its_python_parameters(served):
    _, client = served
    listed = {t.name: t for t in client.run(lambda c: c.list_tools()).tools}
    assert set(listed) == {t.name for t in TOOLS}
    targets = {"memory": AgentMemory, "store": agentdb.store.store.VectorStore, "graph": agentdb.memory.graph.MemoryGraph}
    for spec in TOOLS:
        tool = listed[spec.name]
        assert tool.description and tool.input_schema["type"] == "object", spec.name
        assert tool.annotations.read_only_hint == (spec.name not in WRITES)
        if spec.call is None:         # schema properties are the method's parameters, defaults too
            params = inspect.signature(getattr(targets[spec.target], spec.method)).parameters
            for name, prop in tool.input_schema["properties"].items():
                assert spec.rename.get(name, name) in params, (spec.name, name)
                if "default" in prop:
                    assert prop["default"] == params[spec.rename.get(name, name)].default
    resources = {str(r.uri) for r in client.run(lambda c: c.list_resources()).resources}
    assert resources == {"agentdb://status", "agentdb://segments"}


def test_every_tool_answers_as_the_python_api(served, tmp_path):
    path, c = served
    note = c.value("remember", {"note": "ship the release on friday", "tags": ["plan"], "metadata": {"team": "web"}})
    ep = c.value("store_episode", {"session": "s1", "task": "fix the flaky test", "critique": "wait for the server",
                                   "reward": 0.2, "success": False, "latency_ms": 120.0})
    ep2 = c.value("store_episode", {"session": "s1", "task": "fix the flaky test again", "output": "retry loop",
                                    "reward": 0.9, "success": True})
    skill = c.value("create_skill", {"name": "binary search", "description": "halve a sorted range"})
    stats = c.value("update_skill_stats", {"skill_id": skill["id"], "success": True, "reward": 0.5})
    pat = c.value("store_pattern", {"task_type": "parsing", "approach": "tokenize first"})
    outcome = c.value("record_outcome", {"pattern_id": pat["id"], "success": True, "reward": 1.0})
    edge = c.value("add_causal_edge", {"cause": skill["id"], "effect": ep2["id"], "uplift": 0.3, "confidence": 0.9})
    intents = c.value("add_intent", {"name": "greet", "utterances": ["hello there", "good morning"]})
    c.value("add_intent", {"name": "bye", "utterances": ["see you later"]})
    made = c.value("cypher", {"query": "CREATE (a:Person {name: 'ada'})-[:KNOWS]->(b:Person {name: 'bob'})"})
    ing = c.value("vector_ingest", {"records": [{"id": "doc:a", "vector": [1.0] + [0.0] * (DIM - 1),
                                                 "metadata": {"lang": "en"}},
                                                {"id": "doc:b", "text": "a text embedded by the store",
                                                 "metadata": {"lang": "fr"}}]})
    recall = c.value("recall", {"query": "release day", "k": 3})
    c.value("feedback", {"recall_id": recall["recall_id"], "useful": [note["id"]]})
    answers = {
        "recall": recall,
        "recall_tagged": c.value("recall", {"query": "release", "tags": ["plan"], "where": {"team": "web"}}),
        "get_memory": c.value("get_memory", {"id": ep["id"]}),
        "retrieve_episodes": c.value("retrieve_episodes", {"task": "flaky test", "k": 2, "only_failures": True}),
        "critique_summary": c.value("critique_summary", {"task": "flaky test"}),
        "search_skills": c.value("search_skills", {"query": "search a sorted list"}),
        "find_patterns": c.value("find_patterns", {"task": "parse json", "task_type": "parsing"}),
        "causal_effects": c.value("causal_effects", {"cause": skill["id"]}),
        "causal_recall": c.value("causal_recall", {"query": "binary search", "k": 3}),
        "route": c.value("route", {"query": "hello", "k": 2}),
        "cypher": c.value("cypher", {"query": "MATCH (a:Person)-[:KNOWS]->(b) RETURN a.name, b.name"}),
        "vector_query": c.value("vector_query", {"vector": [1.0] + [0.0] * (DIM - 1), "k": 2,
                                                 "where": {"kind": "vector", "lang": "en"}}),
        "vector_query_text": c.value("vector_query", {"text": "a text embedded", "k": 1, "where": {"kind": "vector"}}),
    }
    status = c.value("status")
    verify = c.value("verify")
    out = str(tmp_path / "records.jsonl")
    exported = c.value("export", {"out": out})
    dataset = c.value("export", {"out": str(tmp_path / "episodes.jsonl"), "format": "jsonl"})
    assert made["updates"] == {"nodes_created": 2, "relationships_created": 1, "properties_set": 2,
                               "labels_added": 2}
    assert intents == 2 and ing["ingested"] == 2 and ing["count"] == status["store"]["count"] - 1   # + feedback
    assert verify["ok"] and dataset["episode"] == 2

    with reader(path) as mem:            # the same file through the Python API
        assert mem.get_memory(note["id"])["text"] == "ship the release on friday"
        def same(answer, stored):     # the API's returned record keeps the previous 'updated' (the write stamps a new one)
            return {**answer, "updated": None} == {**stored, "updated": None}
        assert same(stats, mem.get_skill(skill["id"])) and stats["uses"] == 1
        assert same(outcome, mem.get_pattern(pat["id"])) and outcome["uses"] == 1
        assert c.value("get_memory", {"id": edge["id"]}) == mem.get_causal_edge(edge["id"])
        hits = mem.recall("release day", k=3)
        assert recall == {"recall_id": hits.recall_id, "hits": list(hits)}
        assert answers["recall_tagged"]["hits"] == mem.recall("release", tags=["plan"], where={"team": "web"})
        assert answers["get_memory"] == mem.get_memory(ep["id"])
        assert answers["retrieve_episodes"]["hits"] == mem.retrieve_episodes("flaky test", k=2, only_failures=True)
        assert answers["critique_summary"] == mem.critique_summary("flaky test") == "wait for the server"
        assert answers["search_skills"]["hits"] == mem.search_skills("search a sorted list")
        assert answers["find_patterns"]["hits"] == mem.find_patterns("parse json", task_type="parsing")
        assert answers["causal_effects"] == mem.causal_effects(skill["id"])
        assert answers["causal_recall"] == mem.causal_recall("binary search", k=3)
        assert answers["route"] == mem.route("hello", k=2) and answers["route"][0]["intent"] == "greet"
        rows = mem.graph.cypher("MATCH (a:Person)-[:KNOWS]->(b) RETURN a.name, b.name")
        assert answers["cypher"]["rows"] == [list(r) for r in rows.rows] == [["ada", "bob"]]
        q = mem.store.query([1.0] + [0.0] * (DIM - 1), k=2, where={"kind": "vector", "lang": "en"})
        assert answers["vector_query"] == [{"id": h.id, "score": h.score, "metadata": h.metadata} for h in q]
        assert answers["vector_query_text"][0]["id"] == "doc:b"
        assert mem.store.get("doc:b").metadata == {"kind": "vector", "lang": "fr"}
        assert len([f for _, f in mem.store.find({"kind": "feedback"})]) == 1
        assert status["memory"]["memories"] == mem.stats()["memories"]
        assert status["store"]["count"] == len(mem.store)
        assert exported["exported"] == len(mem.store)
        with open(out) as fh:
            lines = [json.loads(line) for line in fh]
        assert [r["id"] for r in lines] == mem.store.ids()
    segments = json.loads(c.run(lambda cl: cl.read_resource("agentdb://segments")).contents[0].text)
    assert segments[0]["type"] == "meta" and segments[-1]["offset"] > 0
    assert json.loads(c.run(lambda cl: cl.read_resource("agentdb://status")).contents[0].text)["path"] == path

    gone = c.value("forget", {"id": skill["id"]})        # the skill and the edge out of it
    assert gone == 2
    with reader(path) as mem:
        assert skill["id"] not in mem.store and edge["id"] not in mem.store


@pytest.mark.parametrize("name, arguments, expected", [
    ("recall", {}, "ArgumentError: recall: 'query' is a required property"),
    ("recall", {"query": 3}, "ArgumentError: recall: query: 3 is not of type 'string'"),
    ("recall", {"query": "x", "colour": "red"}, "ArgumentError: recall: Additional properties are not allowed"),
    ("recall", {"query": "x", "k": 0}, "MemoryInputError: k must be a positive integer, got 0"),
    ("recall", {"query": "   "}, "MemoryInputError: query is empty"),
    ("store_episode", {"session": "s", "task": "t", "reward": 2, "success": True},
     "MemoryInputError: reward must be in [0, 1], got 2"),
    ("get_memory", {"id": "note:999"}, "UnknownIdError: memory 'note:999' is not in the store"),
    ("update_skill_stats", {"skill_id": "skill:999", "success": True}, "UnknownIdError: no skill with id 'skill:999'"),
    ("cypher", {"query": "MATCH (n RETURN n"}, "CypherSyntaxError: line 1, column 10:"),
    ("vector_query", {"vector": [1.0, 2.0]}, "DimensionError:"),
    ("vector_query", {"vector": [float(i) for i in range(DIM)], "where": {"x": {"near": 1}}}, "FilterError:"),
    ("vector_ingest", {"records": [{"id": "note:1", "vector": [1.0] * DIM}]},
     "IdError: records[0]: 'note:1' is a note memory"),
    ("vector_ingest", {"records": [{"id": "v", "vector": [1.0] * DIM, "text": "both"}]},
     "ArgumentError: records[0] needs exactly one of 'vector' and 'text'"),
    ("vector_ingest", {"records": [{"id": 1.5}]}, "ArgumentError: vector_ingest: records[0].id: 1.5 is not of type"),
    ("export", {"out": "/"}, "ArgumentError: / exists"),
    ("export", {"out": "/no/such/folder/x.jsonl"}, "FileNotFoundError: [Errno 2]"),   # not ours: its text too
    ("no_such_tool", {}, "ArgumentError: no tool named 'no_such_tool'"),
])
def test_bad_arguments_are_tool_errors_with_the_typed_message(served, name, arguments, expected):
    _, client = served
    assert client.error(name, arguments).startswith(expected)
    assert client.value("status")["store"]["count"] > 0           # and the server keeps serving


def test_a_second_server_is_refused_and_readonly_opens_beside_it(served):
    path, client = served
    started = time.perf_counter()
    second = subprocess.run(command(path), env={**os.environ, **ENV}, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 2
    assert "agentdb mcp: LockHeldError:" in second.stderr and "is being written by process" in second.stderr
    assert time.perf_counter() - started < 30
    ro = stdio_client(path, "--readonly")
    try:
        names = {t.name for t in ro.run(lambda c: c.list_tools()).tools}
        assert names == {t.name for t in TOOLS} - WRITES
        assert ro.error("remember", {"note": "nope"}).startswith("ReadOnlyError: remember writes, and this server "
                                                                 "opened")
        assert ro.value("recall", {"query": "the first note"})["hits"] == client.value(
            "recall", {"query": "the first note"})["hits"]
        assert ro.value("status")["readonly"] is True
    finally:
        ro.close()
    assert os.path.exists(path + ".lock")            # the writer's lock, untouched by the reader


def test_sigkill_leaves_the_file_at_its_last_commit_and_reopenable(tmp_path):
    path = str(tmp_path / "killed.rvf")
    new_memory(path)
    client = stdio_client(path)
    try:
        ids = [client.value("remember", {"note": f"note number {i}"})["id"] for i in range(3)]
        with open(path + ".lock") as fh:
            pid = int(fh.read().split("pid=")[1].split()[0])
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    finally:
        try:
            client.close()
        except Exception:  # noqa: BLE001  (the server is gone under the client: its exit may fail)
            pass
    assert os.path.exists(path + ".lock")                # left behind, naming a dead process
    with agentdb.memory.open(path, embedder=HashEmbedder(dim=DIM)) as mem:   # takes the lock over
        assert [mem.get_memory(i)["text"] for i in ids] == [f"note number {i}" for i in range(3)]
        assert mem.store.verify()["ok"]
        mem.remember("after the crash")
    assert not os.path.exists(path + ".lock")


@pytest.mark.parametrize("transport", ["streamable", "sse"])
def test_http_transports_and_sigterm_release_the_lock(tmp_path, transport):
    """One --http port: streamable HTTP at /mcp and the older HTTP+SSE transport at /sse."""
    from mcp.client.sse import sse_client

    path = str(tmp_path / "http.rvf")
    new_memory(path)
    proc = subprocess.Popen(command(path, "--http", "127.0.0.1:0"), env={**os.environ, **ENV},
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("agentdb mcp: serving") and "/mcp" in line, line
        url = line.split(" at ")[1].strip()
        if transport == "sse":
            client = SyncClient(sse_client(url.removesuffix("/mcp") + "/sse"), mode="legacy")
        else:
            client = SyncClient(url)
        try:
            note = client.value("remember", {"note": "over http", "tags": ["web"]})
            hits = client.value("recall", {"query": "over http", "tags": ["web"]})
            assert client.error("remember", {"note": ""}) == "MemoryInputError: note is empty"
        finally:
            client.close()
        with reader(path) as mem:
            assert hits["hits"] == mem.recall("over http", tags=["web"])
            assert hits["hits"][0]["id"] == note["id"]
        assert os.path.exists(path + ".lock")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert not os.path.exists(path + ".lock")


def test_a_plain_vector_store_gets_the_store_tools(tmp_path):
    """Integer ids: not an agent memory; served (in process here) with the tools that need none."""
    path = str(tmp_path / "plain.rvf")
    with agentdb.open(path, dim=3) as db:
        db.ingest([1, 2], [[1, 0, 0], [0, 1, 0]], metadata=[{"k": "a"}, {"k": "b"}])
    with MemoryServer(path) as ms:
        assert set(ms.tools) == {t.name for t in TOOLS if not t.memory_only}
        assert ms.call("vector_ingest", {"records": [{"id": 3, "vector": [0, 0, 1], "metadata": {"k": "c"}}]}) == \
            {"ingested": 1, "count": 3}
        assert [h["id"] for h in ms.call("vector_query", {"vector": [0, 0.1, 1], "k": 2, "where": {"k": {"ne": "b"}}})] \
            == [3, 1]
        with pytest.raises(agentdb.errors.EmbedderError, match="records no embedder"):
            ms.call("vector_query", {"text": "words"})
        with pytest.raises(agentdb.errors.ArgumentError, match="no tool named 'recall'"):
            ms.call("recall", {"query": "x"})
    with agentdb.open(path, readonly=True) as db:
        assert db.get(3).metadata == {"k": "c"}


def test_long_tools_report_progress(served, tmp_path):
    _, client = served
    seen = []

    async def progress(done, total, message):
        seen.append((done, total))

    res = client.run(lambda c: c.call_tool("export", {"out": str(tmp_path / "all.jsonl")}, progress_callback=progress))
    assert not res.is_error, res.content[0].text
    n = json.loads(res.content[0].text)["exported"]
    assert n > 0 and seen and seen[-1] == (n, n)


def test_sigterm_stops_a_stdio_server_and_releases_the_lock(tmp_path):
    path = str(tmp_path / "term.rvf")
    new_memory(path)
    proc = subprocess.Popen(command(path), env={**os.environ, **ENV}, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):               # the lock appears once the file is open; the SDK loads after
            if os.path.exists(path + ".lock"):
                break
            time.sleep(0.05)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "stopped by SIGTERM" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stderr.close()
    assert not os.path.exists(path + ".lock")


def test_callers_own_embeddings_replace_the_embedder(served):
    """embedding= (embeddings= for add_intent): an agent with its own embedding model passes its
    vectors; the answers equal the Python API given the same vectors."""
    path, c = served
    vec = [0.0] * DIM
    vec[5], vec[9] = 0.6, 0.8
    note = c.value("remember", {"note": "a note placed by its vector", "embedding": vec})
    hits = c.value("recall", {"query": "words that embed elsewhere", "k": 2, "embedding": vec})
    assert hits["hits"][0]["id"] == note["id"] and hits["hits"][0]["similarity"] > 0.999
    assert c.value("add_intent", {"name": "vectored", "utterances": ["u1"], "embeddings": [vec]}) == 1
    routed = c.value("route", {"query": "anything", "embedding": vec})
    assert routed[0]["intent"] == "vectored"
    with reader(path) as mem:
        assert hits["hits"] == mem.recall("words that embed elsewhere", k=2, embedding=vec)
        assert routed == mem.route("anything", embedding=vec)
    assert c.error("recall", {"query": "x", "embedding": [1.0, 2.0]}) == \
        f"DimensionError: query embedding has 2 values, the store's dimension is {DIM}"
    assert c.error("remember", {"note": "x", "embedding": ["a"] * DIM}).startswith("ArgumentError: remember: embedding[0]:")


def notifications(into):
    """A client message handler keeping the resources/updated notifications' URIs."""
    async def handler(message):
        if isinstance(message, mcp.types.ServerNotification) and \
                isinstance(message, mcp.types.ResourceUpdatedNotification):
            into.append(str(message.params.uri))
    return handler


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")   # the older way, on purpose
def test_legacy_resource_subscriptions_hear_every_write(tmp_path):
    path = str(tmp_path / "sub.rvf")
    new_memory(path)
    heard = []
    client = stdio_client(path, mode="legacy", message_handler=notifications(heard))
    try:
        client.run(lambda c: c.subscribe_resource("agentdb://status"))
        client.value("recall", {"query": "the first note"})            # a read: nothing to hear
        client.value("status")
        assert heard == []
        client.value("remember", {"note": "a change"})
        client.value("status")            # the notification precedes the next answer on the stream
        assert heard == ["agentdb://status"]
        client.run(lambda c: c.unsubscribe_resource("agentdb://status"))
        client.value("remember", {"note": "unheard"})
        client.value("status")
        assert heard == ["agentdb://status"]
        with pytest.raises(mcp.shared.exceptions.MCPError, match="no resource 'agentdb://nope'"):
            client.run(lambda c: c.subscribe_resource("agentdb://nope"))
    finally:
        client.close()


def test_listen_streams_hear_every_write(tmp_path):
    """The 2026-07-28 way: a subscriptions/listen stream carries the resource updates."""
    path = str(tmp_path / "listen.rvf")
    new_memory(path)
    client = stdio_client(path)

    async def listen_then_write(c):
        async with c.listen(resource_subscriptions=["agentdb://segments"]) as sub:
            res = await c.call_tool("remember", {"note": "heard by a listener"})
            assert not res.is_error
            with anyio.fail_after(30):
                event = await sub.__anext__()
        return event

    try:
        event = client.run(listen_then_write)
        assert event.uri == "agentdb://segments"
    finally:
        client.close()
