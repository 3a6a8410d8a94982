"""The retrieval itself, as a generator of events (the controller streams them, caches them
and keeps the last one's evidence):

1. Every sub-query is one dense recall (mem.recall with the caller's tags / where; the
   sub-queries are embedded in one call): {"type": "sub_query", "index", "query", "hits"}.
2. Each follow-up hop (depth - 1 of them): personalised PageRank over the memory graph (agentdb.
   rag.pagerank; memories and the entities they MENTION, walked as undirected, 2 hops around
   the seeds) seeded by the evidence so far (weighted by score) and the question's entities;
   the entities of the last hop's `bridges` best memories that the question does not name are
   the bridges, the `bridges` best by PageRank followed. The memories that mention a bridge
   (except those already followed) are scored in one kernel scan against the residues, the
   sub-queries that name no entity (the relation asked: "In which city is the company
   located"; the question without its entities when none does), and the `follow_k` best kept
   with score chain * parent's score + (1 - chain) * similarity: {"type": "hop", "depth",
   "bridges", "hits"}.
3. The evidence, de-duplicated by id (a memory keeps its best score), scored
   (1 - ppr_weight) * score + ppr_weight * PageRank / max PageRank, and ranked chain by chain:
   the deepest hop's memories best first, each preceded by the memories it was reached from
   (parent first), then the rest best first.

Memories written without the controller's index() have no graph node; they are found by the
sub-queries only. A filter (tags / where) holds at every step: follow-up candidates must be
among the memories it matches (one store.find per filter and store version).
"""
import array

from ..memory.core import both, metadata_filter, tag_filter
from .entities import ENTITY_PREFIX, entity_id, extract_entities
from .index import MENTIONS
from .pagerank import personalized_pagerank
from .result import Evidence


def _hits(evidence):
    return [{"id": e.id, "text": e.text, "score": e.score, "hop": e.hop, "via": e.via} for e in evidence]


def _residues(question, sub_queries):
    """The sub-queries that name no entity (the relations asked), else the question without them."""
    plain = [s for s in sub_queries[1:] if not extract_entities(s)]
    if plain:
        return plain
    rest = question
    for name in extract_entities(question):
        rest = rest.replace(name, " ")
    rest = " ".join(rest.replace("'s", " ").split())
    return [rest] if rest.strip(" ?.!") else [question]


class Retrieval:
    """One question's retrieval over `controller` (see the module)."""

    def __init__(self, controller, question, sub_queries, *, k, tags, where, depth):
        self.c, self.mem, self.cfg = controller, controller.memory, controller.config
        self.question, self.sub_queries = question, sub_queries
        self.k, self.tags, self.where, self.depth = k, tags, where, depth
        self.pool = {}                   # id -> Evidence, the best found of each memory
        self.ppr = {}
        self._entities = {}              # memory id -> its entity node ids
        self._embedded = {}              # text -> its vector
        self._expanded = set()           # ids of the memories whose entities were followed

    # ---- steps ------------------------------------------------------------------------------

    def run(self, extra_queries=()):
        """The events of the retrieval (see the module); self.ranked() is its evidence after."""
        queries = list(self.sub_queries) + list(extra_queries)
        yield from self._sub_queries(queries, start=0)
        frontier = self._top([e for e in self.pool.values()], self.cfg.bridges)
        residues = _residues(self.question, self.sub_queries)
        known = {entity_id(n) for n in extract_entities(self.question)}
        for hop in range(1, self.depth):
            frontier = yield from self._hop(hop, frontier, residues, known)
            if not frontier:
                break

    def more(self, queries):
        """Events for extra sub-queries (a reflection's follow-ups), merged into the evidence."""
        start = len(self.sub_queries)
        self.sub_queries = self.sub_queries + list(queries)
        yield from self._sub_queries(queries, start=start)

    def _sub_queries(self, queries, start):
        dim = self.mem.store.dim
        flat = self._vectors(list(queries))
        for i, q in enumerate(queries):
            hits = self.mem.recall(q, k=self.cfg.retrieval_k, tags=self.tags, where=self.where,
                                   embedding=flat[i * dim:(i + 1) * dim])
            found = [Evidence(h["id"], h["text"], float(h["similarity"]), 0, q) for h in hits]
            for e in found:
                self._keep(e)
            yield {"type": "sub_query", "index": start + i, "query": q, "hits": _hits(found)}

    def _hop(self, hop, frontier, residues, known):
        graph = self.mem.graph
        self.ppr = self._pagerank(graph, known)
        bridges = {}                      # entity node id -> parent evidence
        self._expanded.update(e.id for e in frontier)
        for e in frontier:
            for ent in self._entities_of(graph, e.id):
                if ent not in known and ent not in bridges:
                    bridges[ent] = e
        chosen = sorted(bridges, key=lambda n: (-self.ppr.get(n, 0.0), n))[:self.cfg.bridges]
        known.update(chosen)
        if not chosen:
            return []
        names = {n: graph.get_node(n).properties.get("name", n[len(ENTITY_PREFIX):]) for n in chosen}
        dim = self.mem.store.dim
        flat = self._vectors(residues)
        allowed = self.c._allowed(self.tags, self.where)
        found = []
        for ent in chosen:
            cands = [m for m in graph.neighbors(ent, types=MENTIONS, direction="in")
                     if m not in self._expanded and (allowed is None or m in allowed) and m in self.mem.store]
            if not cands:
                continue
            records = [self.mem.store.get(m) for m in cands]
            rows = array.array("f")
            for r in records:
                rows.extend(r.vector)
            # the relation asked, against the memories that name the bridge: one scan per residue
            scores = self.mem.store.kernel.scan_batch(flat, rows, dim=dim, metric="dot")
            best = []
            for i in range(len(records)):
                s, j = max((scores[j * len(records) + i], j) for j in range(len(residues)))
                best.append((float(s), j))
            parent = bridges[ent]
            chain = self.cfg.chain
            order = sorted(range(len(records)), key=lambda i: (-best[i][0], records[i].id))[:self.cfg.follow_k]
            for i in order:
                sim, j = best[i]
                e = Evidence(records[i].id, records[i].metadata.get("text", ""), chain * parent.score + (1 - chain) * sim, hop,
                             residues[j], names[ent], parent.id)
                self._keep(e)
                found.append(e)
        yield {"type": "hop", "depth": hop, "bridges": [names[n] for n in chosen], "hits": _hits(found)}
        return self._top(found, self.cfg.bridges)

    def _vectors(self, texts):
        """The embeddings of texts (one embedder call for the ones not embedded yet)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._embedded]
        if todo:
            dim = self.mem.store.dim
            flat = self.mem.embedder.embed(todo)
            for i, t in enumerate(todo):
                self._embedded[t] = flat[i * dim:(i + 1) * dim]
        out = array.array("f")
        for t in texts:
            out.extend(self._embedded[t])
        return out

    # ---- ranking ----------------------------------------------------------------------------

    def _pagerank(self, graph, known):
        seeds = {e.id: max(e.score, 0.0) for e in self.pool.values() if graph.has_node(e.id)}
        top = max(seeds.values(), default=0.0)
        for ent in known:
            if graph.has_node(ent):
                seeds[ent] = max(top, 1e-6)
        if not seeds or not any(seeds.values()):
            return {}
        return personalized_pagerank(graph, seeds, damping=self.cfg.damping, hops=2, types=MENTIONS, tol=1e-8,
                                     max_iter=100)

    def ranked(self):
        """The evidence, best first (see the module), with each memory's PageRank."""
        top = max(self.ppr.values(), default=0.0)
        w = self.cfg.ppr_weight if top > 0 else 0.0

        def final(e):
            p = self.ppr.get(e.id, 0.0)
            return Evidence(e.id, e.text, (1 - w) * e.score + w * p / (top or 1.0), e.hop, e.query, e.via,
                            e.parent, p)
        scored = {e.id: final(e) for e in self.pool.values()}
        deepest = max((e.hop for e in scored.values()), default=0)
        leaves = sorted((e for e in scored.values() if e.hop == deepest), key=lambda e: (-e.score, e.id))
        out, seen = [], set()
        for leaf in leaves:               # the best chains first, each from its first memory
            chain, at = [], leaf
            while at is not None and at.id not in seen:
                chain.append(at)
                at = scored.get(at.parent) if at.parent is not None else None
            for e in reversed(chain):
                seen.add(e.id)
                out.append(e)
        rest = sorted((e for e in scored.values() if e.id not in seen), key=lambda e: (-e.score, e.hop, e.id))
        return out + rest

    def _keep(self, e):
        old = self.pool.get(e.id)
        if old is None or e.score > old.score:
            self.pool[e.id] = e

    @staticmethod
    def _top(evidence, n):
        return sorted(evidence, key=lambda e: (-e.score, e.id))[:n]

    def _entities_of(self, graph, ident):
        if ident not in self._entities:
            self._entities[ident] = graph.neighbors(ident, types=MENTIONS) if graph.has_node(ident) else []
        return self._entities[ident]


def allowed_ids(memory, tags, where):
    """The ids of the notes matching tags and where (None when neither is given)."""
    matching = both(tag_filter(tags), metadata_filter(where))
    if matching is None:
        return None
    return {ident for ident, _ in memory.store.find(both({"kind": "note"}, matching))}


