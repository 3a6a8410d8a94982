"""The graph in real Chromium (issue 19): db.graph built in the browser, kept in IndexedDB across
a reload, answers k_hop and Cypher with the rows of the same graph built natively; an .rvf with a
graph goes browser -> native and native -> browser with the same Cypher rows; db.transaction with
a failing step changes nothing (vectors nor graph); db.graph.subscribe hears committed changes;
errors keep their Python names."""
import agentdb
from agentdb.kernel import load
from agentdb.worker_api import graph_json
from e2e_support import run, wait_ready

NODES = [{"id": "ada", "labels": ["Person"], "properties": {"born": 1815, "my_key": {"inner_key": [1, 2]}},
          "embedding": [1, 0, 0]},
         {"id": "bab", "labels": ["Person"], "properties": {"born": 1791}, "embedding": [0, 0.6, 0.8]},
         {"id": "eng", "labels": ["Machine"], "properties": {"name": "difference engine"}},
         {"id": 7, "labels": ["Person", "Writer"], "properties": {"born": 1797}}]
EDGES = [["ada", "bab", "KNOWS", {"since": 1833}],
         {"src": "bab", "dst": "eng", "type": "BUILT", "weight": 2.5, "valid_from": 1822},
         {"src": "ada", "dst": "eng", "type": "USES", "weight": 0.5, "valid_to": 1852},
         [7, "ada", "KNOWS"]]
QUERIES = [
    ("MATCH (a:Person)-[r]->(b) RETURN a, r, b ORDER BY a.born, r.weight", None),
    ("MATCH (n) RETURN n.born AS born, labels(n) AS labels, properties(n) AS p ORDER BY n.born", None),
    ("MATCH (a)-[*1..2]->(b) RETURN a.born AS a, count(*) AS paths, collect(b.born) AS bs ORDER BY a", None),
    ("MATCH (p:Person) WHERE p.born < $y RETURN p.born AS born, $v AS v ORDER BY born", {"y": 1800, "v": [0.25, 1]}),
    ("MATCH p = (a {born: 1797})-[:KNOWS]->()-[:KNOWS]->(c) RETURN p, c.born", None),
]
JS_NAMES = {"valid_from": "validFrom", "valid_to": "validTo"}         # EDGES as the JS client spells them
JS_EDGES = [e if isinstance(e, list) else {JS_NAMES.get(k, k): v for k, v in e.items()} for e in EDGES]

BUILD = """
    const [nodes, edges] = args;
    const build = async (db) => {
        const [first, ...rest] = nodes;
        await db.graph.addNode(first.id, { labels: first.labels, properties: first.properties,
                                           embedding: new Float32Array(first.embedding) });
        await db.graph.batchInsert({ nodes: rest, edges: edges.slice(0, 3) });
        await db.graph.addEdge(...edges[3]);
        await db.graph.addHyperedge(["ada", "bab", "eng"], "PROJECT", { properties: { year: 1840 }, validTo: 1900 });
    };
"""
ANSWER = """
    const answer = async (db, queries) => ({
        kHop: await db.graph.kHop(7, 3), kHopIn: await db.graph.kHop("eng", 2, { direction: "in" }),
        asOf: await db.graph.kHop("ada", 2, { asOf: 1860 }),
        path: await db.graph.shortestPath(7, "eng", { weighted: true }),
        neighbors: await db.graph.neighbors("ada", { direction: "both" }),
        node: await db.graph.getNode("bab"), edges: await db.graph.edges({ type: "KNOWS" }),
        hyper: await db.graph.hyperedgesOf("eng"),
        stats: await db.graph.stats().then(({ kernelBytes, ...rest }) => kernelBytes > 0 && rest),
        search: await db.graph.search(new Float32Array([0, 1, 1]), { k: 2, label: "Person" }),
        cypher: await Promise.all(queries.map(([q, params]) => db.graph.cypher(q, params ?? undefined))),
    });
"""


def native_graph():
    db = agentdb.open(dim=3, kernel=load("native"))
    g = db.graph
    first, *rest = NODES
    g.add_node(first["id"], labels=first["labels"], properties=first["properties"], embedding=first["embedding"])
    g.batch_insert(nodes=rest, edges=EDGES[:3])
    g.add_edge(*EDGES[3])
    g.add_hyperedge(["ada", "bab", "eng"], "PROJECT", properties={"year": 1840}, valid_to=1900)
    return db


def native_answer(db):
    g = db.graph
    stats = g.stats()
    return {"kHop": g.k_hop(7, 3), "kHopIn": g.k_hop("eng", 2, direction="in"), "asOf": g.k_hop("ada", 2, as_of=1860),
            "path": graph_json(g.shortest_path(7, "eng", weighted=True)),
            "neighbors": g.neighbors("ada", direction="both"), "node": graph_json(g.get_node("bab")),
            "edges": graph_json(g.edges(type="KNOWS")), "hyper": graph_json(g.hyperedges_of("eng")),
            "stats": {"nodes": stats["nodes"], "edges": stats["edges"], "hyperedges": stats["hyperedges"],
                      "labels": stats["labels"], "edgeTypes": stats["edge_types"],
                      "hyperedgeTypes": stats["hyperedge_types"], "embeddedNodes": stats["embedded_nodes"],
                      "avgDegree": stats["avg_degree"]},        # kernelBytes: the backend's memory
            "search": graph_json(g.search([0, 1, 1], k=2, label="Person")),
            "cypher": [graph_json(g.cypher(q, p)) for q, p in QUERIES]}


def test_a_persisted_graph_survives_a_reload_and_answers_as_the_native_graph(page):
    want = native_answer(native_graph())
    assert want["cypher"][4]["rows"]            # the named path query matches something
    built = run(page, BUILD + ANSWER + """
        const db = await AgentDB.open("people", { dim: 3, persist: true });
        await build(db);
        return await answer(db, args[2]);
    """, NODES, JS_EDGES, QUERIES)
    assert built == want
    page.reload()
    wait_ready(page)
    again = run(page, ANSWER + """
        const db = await AgentDB.open("people", { dim: 3, persist: true });
        const out = await answer(db, args[0]);
        const blob = await db.exportRvf();
        out.rvf = Array.from(new Uint8Array(await blob.arrayBuffer()));
        return out;
    """, QUERIES)
    rvf = bytes(again.pop("rvf"))
    assert again == want
    exported = agentdb.open_bytes(rvf, kernel=load("native"))        # the browser's file, natively
    assert native_answer(exported) == want


def test_a_native_graph_opens_in_the_browser_with_the_same_rows(page):
    native = native_graph()
    want = native_answer(native)
    got = run(page, ANSWER + """
        const [rvf, queries] = args;
        const db = await AgentDB.importRvf("native", new Uint8Array(rvf));
        return await answer(db, queries);
    """, list(native.to_bytes()), QUERIES)
    assert got == want


def test_a_transaction_is_one_commit_or_nothing_and_subscribers_hear_committed_changes(page):
    got = run(page, """
        const db = await AgentDB.open("tx", { dim: 2, persist: true });
        const heard = [];
        const stop = db.graph.subscribe((c) => heard.push(c));
        const other = await AgentDB.open("other", { dim: 2 });
        other.graph.subscribe((c) => heard.push({ other: c.op }));
        await db.ingest(["v0"], new Float32Array([1, 0]));
        await db.graph.addNode("n0");
        const answers = await db.transaction([
            { op: "ingest", ids: ["v1", "v2"], vectors: new Float32Array([0, 1, 1, 1]), metadata: [{ k: 1 }, null] },
            { op: "graph", method: "addNode", args: ["n1", { embedding: new Float32Array([0, 1]) }] },
            { op: "graph", method: "addEdge", args: ["n0", "n1", "R", { validFrom: 5 }] },
            { op: "graph", method: "kHop", args: ["n0", 1] },
            { op: "delete", ids: ["v0"] },
            { op: "ingest", ids: ["v3"], vectors: [[0.5, 0.5]] },
        ]);
        const heardAfterCommit = heard.length;
        // kernelBytes aside: a rollback rebuilds the graph's arrays at their compact size
        const graphStats = () => db.graph.stats().then(({ kernelBytes, ...rest }) => rest);
        const status = await db.status(), stats = await graphStats();
        const failure = async (steps) => {
            try { await db.transaction(steps); return null; } catch (err) { return [err.name, err.message]; }
        };
        const failed = await failure([
            { op: "ingest", ids: ["w"], vectors: new Float32Array([1, 0]) },
            { op: "graph", method: "addNode", args: ["n9"] },
            { op: "delete", ids: ["v1"] },
            { op: "graph", method: "addEdge", args: ["n9", "nobody", "R"] },
        ]);
        const unknown = await failure([{ op: "compact" }]);
        const noMethod = await failure([{ op: "graph", method: "subscribe", args: [] }]);
        const after = { status: await db.status(), stats: await graphStats(), n9: await db.graph.hasNode("n9"),
                        v1: (await db.get("v1")).metadata,
                        w: (await db.query(new Float32Array([1, 0]), { k: 9 })).ids };
        await db.graph.batchInsert({ nodes: ["x", "y"], edges: { src: ["x"], dst: ["y"], type: "R" } });
        await db.graph.deleteNode("x", { detach: true });
        await other.graph.addNode("elsewhere");
        stop();
        await db.graph.addNode("unheard");
        return { answers, heardAfterCommit, heard, status, stats, failed, unknown, noMethod, after };
    """)
    assert got["answers"] == [{"accepted": 2, "replaced": 0, "deleted": 0}, "n1", 0, ["n1"], {"deleted": 1},
                              {"accepted": 1, "replaced": 0, "deleted": 0}]
    assert got["failed"][0] == "UnknownIdError"
    assert got["unknown"][0] == "ArgumentError" and "unknown op" in got["unknown"][1]
    assert got["noMethod"][0] == "AttributeError"
    after = got["after"]
    counts = lambda status: (status["count"], status["deleted"], status["rows"], status["index"]["nodes"])  # noqa: E731
    # nothing of the failed transaction
    assert (counts(after["status"]), after["stats"]) == (counts(got["status"]), got["stats"])
    assert after["n9"] is False and after["v1"] == {"k": 1} and "w" not in after["w"]
    heard = got["heard"]
    assert got["heardAfterCommit"] == 3            # addNode, then the transaction's two, once committed
    assert [(c.get("op"), c.get("id"), c.get("nodes"), c.get("edges")) for c in heard if "other" not in c] == [
        ("addNode", "n0", 1, 0), ("addNode", "n1", 1, 0), ("addEdge", 0, 0, 1), ("batchInsert", None, 2, 1),
        ("deleteNode", "x", -1, -1)]
    assert {"other": "addNode"} in heard and len(heard) == 6
    assert all(isinstance(c["epoch"], int) for c in heard[:1])      # a persisted store's commit
    # stored: after a reload the committed transaction is there, the failed one is not
    page.reload()
    wait_ready(page)
    again = run(page, """
        const db = await AgentDB.open("tx", { dim: 2, persist: true });
        return { status: await db.status(), nodes: (await db.graph.nodes()).map((n) => n.id),
                 path: await db.graph.shortestPath("n0", "n1"), emb: (await db.graph.getNode("n1")).embedding };
    """)
    assert counts(again["status"]) == counts(got["status"]) and again["nodes"] == ["n0", "n1", "y", "unheard"]
    assert again["path"] == {"nodes": ["n0", "n1"], "edges": [0], "weight": 1.0} and again["emb"] == [0, 1]


def test_graph_errors_keep_their_python_names(page):
    got = run(page, """
        const failure = async (call) => {
            try { await call(); return null; } catch (err) { return [err.name, err.message, err instanceof Error]; }
        };
        const db = await AgentDB.open("errors", { dim: 2 });
        await db.graph.batchInsert({ nodes: ["a", "b"], edges: [["a", "b", "R"]] });
        return {
            unknown: await failure(() => db.graph.getNode("nobody")),
            edge: await failure(() => db.graph.kHop("nobody", 2)),
            syntax: await failure(() => db.graph.cypher("MATCH (n RETURN n")),
            cypher: await failure(() => db.graph.cypher("MATCH (n) RETURN m")),
            param: await failure(() => db.graph.cypher("MATCH (n) WHERE n.x = $missing RETURN n")),
            dup: await failure(() => db.graph.addNode("a")),
            edges: await failure(() => db.graph.deleteNode("b")),
            dim: await failure(() => db.graph.addNode("c", { embedding: [1, 2, 3] })),
            where: await failure(() => db.graph.nodes({ where: { n: { bogus: 1 } } })),
            stats: await db.graph.stats(),
        };
    """)
    assert got["unknown"][0] == "UnknownIdError" and got["unknown"][2]
    assert got["edge"][0] == "UnknownIdError"
    assert got["syntax"][0] == "CypherSyntaxError" and "line 1" in got["syntax"][1]
    assert got["cypher"][0] == "CypherError" and got["param"][0] == "CypherError"
    assert got["dup"][0] == "IdError" and got["edges"][0] == "NodeHasEdgesError"
    assert got["dim"][0] == "DimensionError"
    assert got["where"][0] in ("FilterError", "ArgumentError")
    assert (got["stats"]["nodes"], got["stats"]["edges"]) == (2, 1)          # refused calls changed nothing
