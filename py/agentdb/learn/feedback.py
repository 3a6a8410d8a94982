"""A store that learns from relevance feedback: VectorStore.learn() trains a query-side LoRA
(q -> q + s * q A B) so that queries land nearer the rows that were actually useful. The loss
is InfoNCE over cosine similarity: each query against its positive, the other positives of the
batch and hard negatives mined once from the store's own index (the rows the untrained query
ranks highest that are not its positives). The stored vectors never change; the adapter is
kept in the store (META adapter record) and applied by query(..., adapt=True). With a preset
that has ewc_lambda (continual_learning), the run's EWC++ Fisher is kept with the adapter, and
the next such run is penalised for moving what earlier feedback taught.
"""
import array
from dataclasses import dataclass

from ..errors import ArgumentError
from ..store import adapters
from .lora import LoRA
from .losses import info_nce
from .lora import as_rows
from .mining import store_negatives
from .pipeline import TrainingPipeline, TrainingReport, preset as make_preset


@dataclass
class FeedbackReport:
    """What db.learn() did: the adapter's name, the (query, positive) pairs trained on, the hard
    negatives per query and whether the exact path mined them, and the TrainingReport."""
    adapter: str
    pairs: int
    hard_negatives: int
    negatives_exact: bool
    training: TrainingReport


def _pairs(positives, m):
    if len(positives) != m:
        raise ArgumentError(f"{len(positives)} positives for {m} queries: give one id, or a list of ids, per query")
    return [(q, ident) for q, p in enumerate(positives)
            for ident in (p if isinstance(p, (list, tuple)) else [p])]


def _positive_scores(db, q, p):
    """The store's score of each (query row, positive row) pair: as its hits score them."""
    k, dim = db.kernel, db.dim
    if db.metric == "l2":
        return k.norms_sq(k.axpy(-1.0, p, q), dim=dim)
    if db._metric.normalized:
        q = k.normalize_rows(array.array("f", q), dim=dim)
    return k.row_dots(q, p, dim=dim)


def _true_negatives(db, view, pairs, positive_rows, mined, margin):
    """Per query, the rows of its mined negatives that score at least `margin` worse than its
    best positive (positive-aware mining, as sentence-transformers' mine_hard_negatives and
    NV-Retriever do it): what scores like the positive or above is mostly a near-copy or an
    unlabelled answer (the same docstring in two modules, a reposted note), and training it
    away pushes answers apart. Measured on real text (tests/learn_text.py): keeping the rows
    that outrank the positive turns a +3 point lift into -1 to +3."""
    q = db.kernel.gather_rows(view, [qi for qi, _ in pairs], row_bytes=4 * db.dim, fmt="f")
    scores = _positive_scores(db, q, db._stored_rows(positive_rows))
    similarity = db.metric != "l2"
    best = {}
    for (qi, _), score in zip(pairs, scores):
        best[qi] = max(best.get(qi, score), score) if similarity else min(best.get(qi, score), score)
    keep = []
    for qi, (ids, found) in enumerate(zip(mined.ids, mined.scores)):
        limit = best[qi] - margin if similarity else best[qi] + margin
        keep.append(db._ids.rows([i for i, s in zip(ids, found) if (s < limit if similarity else s > limit)]))
    return keep


def _explicit_negatives(db, negatives, positives, m):
    """The rows of the negatives given per query (ids the user saw and passed over): kept as
    they are, never filtered like mined ones."""
    if len(negatives) != m:
        raise ArgumentError(f"{len(negatives)} negative lists for {m} queries: give one (maybe empty) per query")
    rows = []
    for i, (ids, p) in enumerate(zip(negatives, positives)):
        ids = list(ids) if isinstance(ids, (list, tuple)) else [ids]
        both = set(ids) & set(p if isinstance(p, (list, tuple)) else [p])
        if both:
            raise ArgumentError(f"negatives[{i}] names {sorted(both, key=repr)[0]!r}, one of its positives")
        rows.append(db._ids.rows(ids))
    return rows


def learn(db, queries, positives, *, preset="quick_finetune", adapter=adapters.DEFAULT, rank=8, alpha=16,
          hard_negatives=4, negative_margin=0.05, negatives_where=None, negatives=None, temperature=0.05, seed=0,
          progress=None, **overrides):
    """VectorStore.learn(): trains the query adapter `adapter` (continuing from it when the
    store has one) on queries (m x dim) and positives (per query an id, or a list of ids, that
    was useful); keeps it in the store and returns a FeedbackReport. hard_negatives: rows
    mined per query (among rows matching negatives_where, a filter), kept when they score at
    least negative_margin below its best positive. negatives: per query the ids known not to
    be useful (an answer's other hits), always trained against: the one way to teach a single
    query that what outranks its positive is wrong. preset and overrides: the TrainingConfig
    (agentdb.learn.preset)."""
    config = make_preset(preset, **overrides)
    k, dim = db.kernel, db.dim
    view, m = as_rows(k, queries, dim, "queries")
    pairs = _pairs(positives, m)
    if not pairs:
        raise ArgumentError("no positives to learn from")
    with db._lock:
        positive_rows = db._ids.rows([ident for _, ident in pairs])
    mined = store_negatives(db, view, [p if isinstance(p, (list, tuple)) else [p] for p in positives],
                            count=hard_negatives, where=negatives_where) if hard_negatives else None
    negative_rows = _true_negatives(db, view, pairs, positive_rows, mined, negative_margin) if mined else \
        [[] for _ in range(m)]
    if negatives is not None:
        negative_rows = [sorted(set(a) | set(b)) for a, b in
                         zip(negative_rows, _explicit_negatives(db, negatives, positives, m))]
    negative_rows = negative_rows if any(negative_rows) else None
    lora = db.adapter(adapter) if adapter in db.adapters() else \
        LoRA(dim, dim, rank=rank, alpha=alpha, seed=seed, kernel=k)
    if lora.frozen:
        lora.unfreeze()

    def objective(batch, train):
        q_rows = [pairs[s][0] for s in batch]
        q = k.gather_rows(view, q_rows, row_bytes=4 * dim, fmt="f")
        p = db._stored_rows([positive_rows[s] for s in batch])
        negatives = None
        if negative_rows:
            rows = sorted({r for qi in set(q_rows) for r in negative_rows[qi]})
            negatives = db._stored_rows(rows) if rows else None
        z = lora.forward_batch(q, len(batch), residual=True)
        loss, (dz, _, _) = info_nce(z, p, dim=dim, temperature=temperature, negatives=negatives, kernel=k)
        if not train:
            return loss, None
        lora.backward(q, dz, n=len(batch))
        return loss, lora.grads

    # continual learning: the EWC kept with the adapter holds what earlier runs learned; this
    # run trains under its penalty and then adds its own task to it
    ewc = adapters.learned_ewc(db, adapter)
    pipeline = TrainingPipeline(lora.params, objective, len(pairs), config, ewc=ewc if config.ewc_lambda else None,
                                progress=progress, kernel=k)
    training = pipeline.train()
    db.set_adapter(adapter, lora, ewc=pipeline.consolidate() if config.ewc_lambda else ewc)
    return FeedbackReport(adapter, len(pairs), hard_negatives, mined.exact if mined else True, training)

