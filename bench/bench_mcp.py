"""MCP recall latency: one `recall` tool call's round trip through the real `mcp` SDK client
(stdio and streamable HTTP, the server a subprocess: `agentdb mcp`), against the same call in
process (MemoryServer.call: schema check + JSON, no protocol) and the direct Python API call
(mem.recall), on the same file. Every query text is new (no answer comes from the query
cache); each way runs --passes passes and keeps its best median. --embedder minilm embeds with
all-MiniLM-L6-v2 (a real agent's case; the embedding then dominates), hash with the hashing
embedder (the protocol's own cost shows).

    python bench/bench_mcp.py [--notes 10000] [--queries 200] [--passes 3] [--embedder hash|minilm]
                              [--peer PATH/TO/node_modules/.bin/agentdb]

--peer: AgentDB's own MCP server (`agentdb mcp start`, from npm: `npm install --ignore-scripts
agentdb` runs offline, on sql.js, with its mock embeddings since its model cannot download)
on the same notes (agentdb_insert_batch), through the same client, timing --peer-tool
(agentdb_search: its text answer, k hits).
Needs: pip install 'agentdb[mcp]'
"""
import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mcp

import agentdb.memory
from agentdb.embed import HashEmbedder
from agentdb.mcp import MemoryServer

PY = str(Path(__file__).resolve().parent.parent / "py")
WORDS = ["release", "friday", "invoice", "garage", "flaky", "test", "server", "deploy", "meeting", "budget",
         "report", "customer", "search", "index", "backup", "schema", "email", "staging", "review", "team"]


def texts(n, seed):
    """n distinct short notes (queries: seed makes every pass's texts new)."""
    out = []
    for i in range(n):
        picks = [WORDS[(i * 7 + j * 3 + seed * 11) % len(WORDS)] for j in range(4)]
        out.append(f"{' '.join(picks)} {seed}-{i}")
    return out


def summary(seconds):
    seconds = sorted(seconds)
    return statistics.median(seconds), seconds[int(0.95 * (len(seconds) - 1))]


def best(passes):
    return min(passes, key=lambda s: s[0])


async def through_client(server, queries, tool, k, progress, load=()):
    """The best pass's (median, p95) of tool calls; `load`: notes to store first (the peer's
    agentdb_insert_batch, 1000 a call)."""
    async with mcp.Client(server) as client:
        for i in range(0, len(load), 1000):
            res = await client.call_tool("agentdb_insert_batch", {"items": [{"text": t} for t in load[i:i + 1000]]})
            assert not res.is_error and "Error" not in res.content[0].text[:40], res.content[0].text[:300]
            progress(f"peer: {min(i + 1000, len(load)):,} notes")
        await client.call_tool(tool, {"query": "warm up the server", "k": k})
        out = []
        for p, batch in enumerate(queries):
            times = []
            for q in batch:
                t = time.perf_counter()
                res = await client.call_tool(tool, {"query": q, "k": k})
                times.append(time.perf_counter() - t)
                assert not res.is_error, res.content[0].text
            out.append(summary(times))
            progress(f"pass {p + 1}")
        return best(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--embedder", choices=("hash", "minilm"), default="hash")
    ap.add_argument("--peer", help="AgentDB's agentdb CLI (node_modules/.bin/agentdb), run as `agentdb mcp start`")
    ap.add_argument("--peer-tool", default="agentdb_search")
    args = ap.parse_args()

    def progress(msg):
        sys.stderr.write(f"\r{msg}            ")
        sys.stderr.flush()

    folder = tempfile.mkdtemp(prefix="bench_mcp_")
    path = os.path.join(folder, "agent.rvf")
    embedder = HashEmbedder(dim=384) if args.embedder == "hash" else None
    notes = texts(args.notes, 0)
    with agentdb.memory.open(path, embedder=embedder) as mem:
        for i in range(0, len(notes), 1000):            # one commit per 1000 notes
            with mem.store.transaction():
                for note in notes[i:i + 1000]:
                    mem.remember(note)
            progress(f"{min(i + 1000, len(notes)):,} notes")
    passes = [texts(args.queries, 1 + p) for p in range(args.passes)]
    rows = {}

    with agentdb.memory.open(path, readonly=True, embedder=embedder) as mem:
        out = []
        for batch in passes:
            times = []
            for q in batch:
                t = time.perf_counter()
                mem.recall(q, k=args.k)
                times.append(time.perf_counter() - t)
            out.append(summary(times))
        rows["Python API: mem.recall()"] = best(out)
    fresh = [texts(args.queries, 100 + p) for p in range(args.passes)]
    with MemoryServer(path, readonly=True) as ms:
        ms.call("recall", {"query": "warm up", "k": args.k})
        out = []
        for batch in fresh:
            times = []
            for q in batch:
                t = time.perf_counter()
                ms.call("recall", {"query": q, "k": args.k})
                times.append(time.perf_counter() - t)
            out.append(summary(times))
        rows["in process: MemoryServer.call()"] = best(out)

    env = {"PYTHONPATH": PY}
    stdio = mcp.StdioServerParameters(command=sys.executable, args=["-m", "agentdb", "mcp", path], env=env)
    rows["MCP stdio (agentdb mcp)"] = asyncio.run(through_client(stdio, passes, "recall", args.k, progress))
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "agentdb", "mcp", path, "--http", "127.0.0.1:0"],
                            env={**os.environ, **env}, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stderr.readline().split(" at ")[1].strip()
        rows["MCP streamable HTTP (agentdb mcp --http)"] = asyncio.run(
            through_client(url, fresh, "recall", args.k, progress))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()
    if args.peer:       # its schema comes from `agentdb init` (without it every tool fails: no such table)
        db = os.path.join(folder, "peer.db")
        subprocess.run([args.peer, "init", "--db", db], check=True, capture_output=True, timeout=300)
        peer = mcp.StdioServerParameters(command=args.peer, args=["mcp", "start"], env={"AGENTDB_PATH": db})
        rows[f"AgentDB's MCP ({args.peer_tool})"] = asyncio.run(
            through_client(peer, passes, args.peer_tool, args.k, progress, load=notes))

    sys.stderr.write("\n")
    base = rows["Python API: mem.recall()"][0]
    print(f"recall, k={args.k}, {args.notes:,} notes, {args.embedder} embedder, {args.queries} new queries x "
          f"{args.passes} passes (best median)")
    print(f"{'way':44} {'median ms':>10} {'p95 ms':>8} {'x API':>7}")
    for name, (med, p95) in rows.items():
        print(f"{name:44} {med * 1e3:10.3f} {p95 * 1e3:8.3f} {med / base:7.1f}")


if __name__ == "__main__":
    main()
