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


def second_task(seed, n=550):
    """Feedback of another kind on the same documents: queries through another distortion."""
    docs, _, _ = corpus()
    rng = np.random.default_rng(seed)
    u, v = rng.standard_normal((2, DIM))
    u /= np.linalg.norm(u)
    v /= np.linalg.norm(v)
    targets = rng.choice(DOCS, n, replace=False)
    d = docs[targets]
    q = d + 8.0 * (d @ u)[:, None] * v[None, :] - (d @ v)[:, None] * v[None, :] + 0.15 * rng.standard_normal(d.shape)
    return q.astype(np.float32), [int(t) for t in targets]


def recall_adapted(db, queries, targets):
    return recall_at(db, queries, targets, adapt=True)


@pytest.mark.parametrize("preset, kept", [("quick_finetune", False), ("continual_learning", True)])
def test_continual_learning_keeps_what_earlier_feedback_taught(preset, kept, tmp_path):
    # task A, then task B on the same adapter: EWC++ (kept in the file with the adapter) holds
    # A's held-out recall within a point; without it B's training undoes A's
    docs, _, _ = corpus()
    (qa, ta), (qb, tb) = second_task(1), second_task(2)
    path = tmp_path / "continual.rvf"
    db = agentdb.open(path, dim=DIM, metric="cosine")
    db.ingest(range(DOCS), docs)
    options = dict(preset=preset, epochs=8, lr=0.01, batch_size=16)
    db.learn(qa[:400], ta[:400], **options)
    learned_a = recall_adapted(db, qa[400:], ta[400:])
    db.close()
    db = agentdb.open(path)                                  # the EWC comes back from the file
    db.learn(qb[:400], tb[:400], **options)
    after_b, b = recall_adapted(db, qa[400:], ta[400:]), recall_adapted(db, qb[400:], tb[400:])
    assert learned_a >= 0.95 and b >= 0.95, (learned_a, b)
    if kept:
        assert after_b >= learned_a - 0.01, (learned_a, after_b)
    else:
        assert after_b < learned_a - 0.1, (learned_a, after_b)     # forgotten: what EWC prevents
    db.close()


def test_federated_average_of_agents_adapters_lifts_recall_for_all():
    # three agents learn from their own share of the feedback (unequal), starting from the
    # same adapter; the sample-weighted average serves everyone's held-out queries
    from agentdb.learn import federated_average

    docs, queries, targets = corpus()
    shares = [(0, 200), (200, 300), (300, TRAIN)]
    adapters, samples = [], []
    for lo, hi in shares:
        agent = agentdb.open(dim=DIM, metric="cosine")
        agent.ingest(range(DOCS), docs)
        agent.learn(queries[lo:hi], targets[lo:hi], preset="federated_average", lr=0.01, epochs=8, batch_size=16)
        adapters.append(agent.adapter())
        samples.append(hi - lo)
    shared = agentdb.open(dim=DIM, metric="cosine")
    shared.ingest(range(DOCS), docs)
    shared.set_adapter("query", federated_average(adapters, samples))
    held_q, held_t = queries[TRAIN:], targets[TRAIN:]
    before, after = recall_at(shared, held_q, held_t), recall_at(shared, held_q, held_t, adapt=True)
    assert after >= before + 0.10, (before, after)


def test_a_single_correction_is_learnt_from_the_hits_passed_over():
    # one query whose best hit is wrong: mining keeps nothing that outranks the positive (it
    # might be an unlabelled answer), so the answer's other hits, passed over, are what teach it
    db = agentdb.open(dim=4, metric="cosine")
    db.ingest(["wrong", "right", "far"], [[1, 0.2, 0, 0], [0.6, 1, 0, 0], [0, 0, 1, 0]])
    q = [[1, 0.5, 0, 0]]
    assert db.query(q[0], k=1).ids == ["wrong"]
    db.learn(q, ["right"], epochs=30, lr=0.05, hard_negatives=2)
    assert db.query(q[0], k=1, adapt=True).ids == ["wrong"]                # mined: "wrong" left out
    db.learn(q, ["right"], negatives=[["wrong"]], epochs=30, lr=0.05)
    assert db.query(q[0], k=1, adapt=True).ids == ["right"]
    with pytest.raises(ArgumentError, match="one of its positives"):
        db.learn(q, ["right"], negatives=[["right"]])
    with pytest.raises(ArgumentError, match="negative lists"):
        db.learn(q, ["right"], negatives=[])
