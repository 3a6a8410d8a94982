"""What a retrieval returns: Evidence (one memory found, how and why) and RagResult (the ranked
evidence, the context assembled from it and its sources). Both turn into plain JSON dicts
(to_dict) for the browser worker and for export.

>>> e = Evidence("note:1", "Vantex is based in Lyon.", 0.71, hop=1, query="Vantex: which city", via="Vantex", parent="note:4")
>>> e.to_dict()["via"]
'Vantex'
"""
from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class Evidence:
    """A memory found: id, text, score (higher is better), hop (0: by a sub-query; n: n follow-ups
    away), the query that found it, via (the entity followed to it) and parent (the memory that
    entity came from), ppr (its personalised PageRank, 0.0 when not ranked by it)."""

    id: str
    text: str
    score: float
    hop: int = 0
    query: str = ""
    via: str = None
    parent: str = None
    ppr: float = 0.0

    def to_dict(self):
        """The evidence as a JSON dict."""
        return asdict(self)


@dataclass(frozen=True)
class RagResult:
    """A question's retrieval: its sub-queries, the ranked evidence (the top k), the context
    text assembled from it within the token budget, the ids it cites in order (sources), the
    context's estimated tokens, whether it came from the cache, and the reflection rounds run
    (each {"sufficient", "follow_up"})."""

    question: str
    sub_queries: list
    evidence: list
    context: str
    sources: list
    tokens: int
    cached: bool = False
    reflections: list = field(default_factory=list)

    @property
    def ids(self):
        """The ids of the evidence, best first."""
        return [e.id for e in self.evidence]

    def marked_cached(self):
        """The same result, marked as served from the cache."""
        return replace(self, cached=True)

    def to_dict(self):
        """The result as a JSON dict (evidence as dicts)."""
        out = asdict(self)
        out["evidence"] = [e.to_dict() for e in self.evidence]
        return out
