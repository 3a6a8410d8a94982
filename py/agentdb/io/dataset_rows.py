"""Dataset rows: what agentdb.io's dataset formats write, one per line (JSONL), CSV row or
document (pre-training text). A row is a dict with the keys of COLUMNS:

    type        "episode" | "feedback" | "triplet"
    id          the record's id; a triplet's is its feedback record's
    text        episode: its task; feedback and triplet: the query text (empty for an embedding)
    positive    episode: its output; feedback: the useful ids (space separated); triplet: the
                positive memory's text
    negative    episode: its critique; feedback: the ids its answer showed that were not useful;
                triplet: the negative memory's text
    reward      episode: its reward; otherwise None
    metadata    episode, feedback: the record's stored fields, whole (what an import restores);
                triplet: {"feedback", "positive", "negative"} ids
    embedding   the record's stored vector (a triplet's anchor: its feedback's query vector)
    positive_embedding, negative_embedding   a triplet's positive and negative stored vectors

Episode and feedback rows are records and import back as the same records; triplet rows are
derived from feedback records (each useful id against each shown-but-not-useful one), for
contrastive training elsewhere, and are not stored by an import.
"""
import array

from ..errors import ArgumentError

COLUMNS = ("type", "id", "text", "positive", "negative", "reward", "metadata", "embedding",
           "positive_embedding", "negative_embedding")
KINDS = ("episode", "feedback", "triplet")
RECORD_KINDS = ("episode", "feedback")


def text_of(md):
    """The text a memory record stands for (what a triplet shows for it).

    >>> text_of({"kind": "episode", "task": "sort", "input": "[3, 1]"})
    'sort\\n[3, 1]'
    """
    kind = md.get("kind")
    if kind == "episode":
        return md["task"] + (f"\n{md['input']}" if md.get("input") else "")
    if kind == "pattern":
        return f"{md['task_type']}\n{md['approach']}"
    if kind == "skill":
        return md["name"] + (f"\n{md['description']}" if md.get("description") else "")
    return md.get("text") or md.get("query") or ""


def check_kinds(kinds):
    """The kinds to export as a tuple (one name or several), checked.

    >>> check_kinds("episode")
    ('episode',)
    """
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ArgumentError(f"kinds are some of {list(KINDS)}, got {list(kinds)}")
    return kinds


def _row(kind, ident, md, vec):
    row = dict.fromkeys(COLUMNS)
    row.update(type=kind, id=ident, metadata=md, embedding=vec)
    if kind == "episode":
        row.update(text=md["task"], positive=md.get("output", ""), negative=md.get("critique", ""),
                   reward=md["reward"])
    else:
        useful = md.get("useful", [])
        row.update(text=md.get("query", ""), positive=" ".join(useful),
                   negative=" ".join(a for a in md.get("answered", []) if a not in useful))
    return row


class Plan:
    """The rows a memory's export will write, counted before any is built (for progress)."""

    def __init__(self, mem, kinds):
        self.mem, self.kinds = mem, check_kinds(kinds)
        store = mem.store
        self.records = [(k, ident, md) for k in RECORD_KINDS if k in self.kinds
                        for ident, md in store.find({"kind": k})]
        self.triplets = []
        if "triplet" in self.kinds:
            for ident, md in store.find({"kind": "feedback"}):
                useful = [u for u in md.get("useful", []) if u in store]
                shown = [a for a in md.get("answered", []) if a in store and a not in useful]
                self.triplets += [(ident, md, p, n) for p in useful for n in shown]
        self.total = len(self.records) + len(self.triplets)

    def rows(self):
        """The rows, records first (in store order), then triplets."""
        store = self.mem.store
        for kind, ident, md in self.records:
            yield _row(kind, ident, md, array.array("f", store.get(ident).vector))
        for ident, md, pos, neg in self.triplets:
            p, n = store.get(pos), store.get(neg)
            row = dict.fromkeys(COLUMNS)
            row.update(type="triplet", id=ident, text=md.get("query", ""), positive=text_of(p.metadata),
                       negative=text_of(n.metadata), metadata={"feedback": ident, "positive": pos, "negative": neg},
                       embedding=array.array("f", store.get(ident).vector),
                       positive_embedding=array.array("f", p.vector), negative_embedding=array.array("f", n.vector))
            yield row
