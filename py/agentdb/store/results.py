"""Query results: arrays of ids, scores and metadata that also iterate as hits."""
from dataclasses import dataclass
from typing import Any

from .. import metrics
from .metadata import copies


@dataclass(frozen=True)
class Hit:
    """One result. score: cosine similarity, inner product, or squared L2 distance."""

    id: Any
    score: float
    metadata: dict
    metric: str = "cosine"

    @property
    def distance(self):
        """The score as a distance, smaller is closer: 1 - cos, -dot, or squared L2 (RVF's convention)."""
        return metrics.get(self.metric).distance(self.score)


class Results:
    """Hits best first. `ids`, `scores` (float32 array) and `metadata` are parallel sequences.

    >>> for hit in results: print(hit.id, hit.score)   # doctest: +SKIP
    """

    __slots__ = ("ids", "scores", "metric", "exact", "_stored", "_metadata")

    def __init__(self, ids, scores, stored, metric, exact):
        """stored: each hit's stored metadata dict (or None), copied for the caller when first
        asked for (most queries only want ids and scores)."""
        self.ids, self.scores, self.metric, self.exact = ids, scores, metric, exact
        self._stored, self._metadata = stored, None

    @property
    def metadata(self):
        """Each hit's metadata, as dicts of the caller's own."""
        if self._metadata is None:
            self._metadata = copies(self._stored)
        return self._metadata

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return Hit(self.ids[i], float(self.scores[i]), self.metadata[i], self.metric)

    def __iter__(self):
        return (self[i] for i in range(len(self.ids)))

    def __repr__(self):
        shown = ", ".join(f"({h.id!r}, {h.score:.4g})" for h in list(self)[:3])
        return f"<Results {len(self)} hits{' exact' if self.exact else ''}: {shown}{', ...' if len(self) > 3 else ''}>"
