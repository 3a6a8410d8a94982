"""Scatter-gather's gather: the shards' hits merged into one ranking. Scores are ordered by
the metric's direction (larger first for cosine and dot, smaller first for L2) and ties by the
row order one store holding every row would have: its top-k takes the lower row on a tie, and
its rows are in write order, which is the cluster's sequence number of each row's write (kept
in the row's metadata under SEQ_KEY). So the exact merge returns that store's ids and score
bits; each shard's own top-k already orders its ties by that sequence."""
import array
import heapq

SEQ_KEY = "_cluster_seq"     # metadata key of the write sequence number; the cluster strips it on the way out


def merge(answers, k, larger_is_closer):
    """(ids, scores array('f'), metadata) of the best k hits over the shards' answers, each
    {"ids", "scores" (float32 bytes), "seqs", "metadata"}.

    >>> a = {"ids": [1, 2], "scores": array.array("f", [0.9, 0.5]).tobytes(), "seqs": [0, 3], "metadata": [{}, {}]}
    >>> b = {"ids": [7], "scores": array.array("f", [0.5]).tobytes(), "seqs": [1], "metadata": [{}]}
    >>> merge([a, b], 2, True)[0]
    [1, 7]
    """
    hits = []
    for a in answers:
        scores = array.array("f")
        scores.frombytes(a["scores"])
        for i, score in enumerate(scores):
            hits.append(((-score if larger_is_closer else score), a["seqs"][i], a["ids"][i], score,
                         a["metadata"][i]))
    best = heapq.nsmallest(k, hits, key=lambda h: (h[0], h[1]))
    return [h[2] for h in best], array.array("f", [h[3] for h in best]), [h[4] for h in best]


def merge_listing(answers, limit):
    """find(): the shards' (seq, id, metadata) rows in write order, the first `limit`."""
    rows = heapq.merge(*answers, key=lambda r: r[0])
    out = [(ident, md) for _, ident, md in rows]
    return out if limit is None else out[:limit]
