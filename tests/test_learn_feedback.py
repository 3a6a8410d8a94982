"""db.learn(): a store that measurably learns from relevance feedback. Queries arrive through
a distortion the stored vectors do not have (q = d + 8 (d . u) v - (d . v) v + noise, as when
users phrase things differently from the documents); a query-side LoRA trained on feedback
pairs lifts held-out recall, is kept in the file, and answers the same after a reopen and on
every kernel backend."""
import numpy as np
import pytest

import agentdb
from agentdb.errors import ArgumentError, UnknownIdError

DIM, DOCS, TRAIN, HELD_OUT = 32, 1500, 400, 150


def corpus(seed=0):
    rng = np.random.default_rng(seed)
    docs = rng.standard_normal((DOCS, DIM)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    u, v = rng.standard_normal((2, DIM))
    u /= np.linalg.norm(u)
    v /= np.linalg.norm(v)
    targets = rng.choice(DOCS, TRAIN + HELD_OUT, replace=False)
    d = docs[targets]
    queries = d + 8.0 * (d @ u)[:, None] * v[None, :] - 1.0 * (d @ v)[:, None] * v[None, :] \
        + 0.15 * rng.standard_normal(d.shape)
    return docs, queries.astype(np.float32), [int(t) for t in targets]


def recall_at(db, queries, targets, k=10, adapt=False):
    found = db.query_batch(queries, k=k, exact=True, adapt=adapt)
    return float(np.mean([t in hits.ids for hits, t in zip(found, targets)]))


def trained_store(kernel, path=None):
    docs, queries, targets = corpus()
    db = agentdb.open(path, dim=DIM, metric="cosine", kernel=kernel) if path else \
        agentdb.open(dim=DIM, metric="cosine", kernel=kernel)
    db.ingest(range(DOCS), docs)
    report = db.learn(queries[:TRAIN], targets[:TRAIN], epochs=8, lr=0.01, hard_negatives=4)
    return db, queries, targets, report


def test_feedback_lifts_held_out_recall(kernel):
    db, queries, targets, report = trained_store(kernel)
    held_q, held_t = queries[TRAIN:], targets[TRAIN:]
    before, after = recall_at(db, held_q, held_t), recall_at(db, held_q, held_t, adapt=True)
    assert report.pairs == TRAIN and report.training.loss_history[-1] < report.training.loss_history[0]
    assert after >= before + 0.10, (before, after)
    assert db.adapters() == ["query"]
    assert recall_at(db, held_q, held_t) == before            # the stored vectors are untouched


def test_the_adapter_is_kept_in_the_file_and_answers_alike_everywhere(kernel, tmp_path):
    path = tmp_path / "learned.rvf"
    db, queries, _, _ = trained_store(kernel, path)
    want = db.query(queries[-1], k=10, adapt=True)
    db.close()
    again = agentdb.open(path, kernel=kernel)
    got = again.query(queries[-1], k=10, adapt=True)
    assert got.ids == want.ids and np.asarray(got.scores).tobytes() == np.asarray(want.scores).tobytes()
    other = agentdb.open_bytes(path.read_bytes(), kernel=agentdb.kernel.load("native"))
    assert other.query(queries[-1], k=10, adapt=True).ids == want.ids
    again.close()


def test_backends_learn_the_same_bits():
    answers = []
    for name in agentdb.kernel.available_backends():
        db, queries, _, _ = trained_store(agentdb.kernel.load(name))
        answers.append(db.adapter().to_json())
    assert len(set(answers)) == 1


def test_bad_feedback_is_refused():
    db = agentdb.open(dim=4)
    db.ingest(["a", "b"], [[1, 0, 0, 0], [0, 1, 0, 0]])
    with pytest.raises(UnknownIdError):
        db.learn([[1, 0, 0, 0]], ["zzz"])
    with pytest.raises(ArgumentError):
        db.learn([[1, 0, 0, 0], [0, 1, 0, 0]], ["a"])
    with pytest.raises(UnknownIdError, match="db.learn"):
        db.query([1, 0, 0, 0], adapt=True)
