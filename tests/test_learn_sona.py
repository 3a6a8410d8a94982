"""SONA trajectories: trajectories around seeded cluster centres, whose successful ones
force_learn turns into patterns at any count (1, 2, 5, 200), that recover the centres; the
nearest pattern first; a micro-LoRA that measurably moves queries toward what was
rewarded; a JSON round trip, and a replay of the ended trajectories (with their learning runs)
into a new learner, rebuilding it bit for bit; every backend giving the same answers bit for bit."""
import doctest
import json
import math

import numpy as np
import pytest

from agentdb.errors import ArgumentError, DimensionError, NonFiniteError, UnknownIdError
from agentdb.kernel import load
from agentdb.learn import sona
from agentdb.learn.sona import TrajectoryLearner
from support import SEED, bits, f32

DIM = 17
ROUTES = ["search", "code", "math", "chat", "plan", "tool", "web", "sql"]


def centres(seed, k=4, dim=DIM):
    return f32(np.random.default_rng(seed).standard_normal((k, dim)) * 4)


def record(learner, rng, centre_of, n, *, failing=(3,), spread=0.1):
    """n trajectories, each around a random centre; those of `failing` centres end below the
    threshold. Returns the centre index of each."""
    labels = rng.integers(0, len(centre_of), n)
    for c in labels:
        q = centre_of[c] + spread * rng.standard_normal(DIM)
        t = learner.begin(f32(q), route=ROUTES[c])
        learner.add_step(t, embedding=f32(q + 0.05 * rng.standard_normal(DIM)), reward=float(rng.random()))
        learner.add_context(t, f"doc:{c}")
        quality = float(rng.uniform(0.1, 0.4) if c in failing else rng.uniform(0.6, 1.0))
        learner.end(t, quality=quality)
    return labels


def test_patterns_recover_the_centres_of_the_successful_trajectories(kernel, rng):
    c = centres(SEED)
    learner = TrajectoryLearner(DIM, clusters=3, kernel=kernel)
    labels = record(learner, rng, c, 200)
    report = learner.force_learn()
    good = int((labels != 3).sum())
    assert report == sona.LearnReport(trajectories_used=good, patterns_extracted=3, below_threshold=200 - good)
    found = sorted(learner.patterns, key=lambda p: p.routes and next(iter(p.routes)))
    assert [next(iter(p.routes)) for p in found] == sorted(ROUTES[:3])
    for p in found:
        j = ROUTES.index(next(iter(p.routes)))
        assert p.routes == {ROUTES[j]: int((labels == j).sum())} and p.size == (labels == j).sum()
        assert np.linalg.norm(np.asarray(p.centroid) - c[j]) < 0.1      # the noise is 0.1 per element / sqrt(n)
        assert 0.6 <= p.avg_quality <= 1.0


@pytest.mark.parametrize("n", [1, 2, 5, 200])
def test_force_learn_works_with_any_number_of_trajectories(kernel, rng, n):
    learner = TrajectoryLearner(DIM, clusters=8, kernel=kernel)
    record(learner, rng, centres(SEED, k=8), n, failing=())
    report = learner.force_learn()
    assert report.trajectories_used == n and report.patterns_extracted == min(n, 8)
    assert sum(p.size for p in learner.patterns) == n
    assert learner.stats()["learn_runs"] == 1 and learner.stats()["patterns"] == min(n, 8)


def test_force_learn_reports_when_nothing_succeeded(kernel, rng):
    learner = TrajectoryLearner(DIM, kernel=kernel)
    record(learner, rng, centres(SEED), 3, failing=(0, 1, 2, 3))
    assert learner.force_learn() == sona.LearnReport(0, 0, 3)
    assert learner.find_patterns(np.zeros(DIM, np.float32), 2) == []


def test_identical_points_give_one_pattern(kernel):
    learner = TrajectoryLearner(3, clusters=4, kernel=kernel)
    for _ in range(5):
        learner.end(learner.begin([1, 2, 3]), quality=1.0)
    assert learner.force_learn().patterns_extracted == 1
    assert learner.patterns[0].size == 5 and learner.patterns[0].centroid.tolist() == [1, 2, 3]


def test_find_patterns_returns_the_nearest_first(kernel, rng):
    learner = TrajectoryLearner(DIM, clusters=6, kernel=kernel)
    record(learner, rng, centres(SEED, k=6), 120, failing=())
    learner.force_learn()
    cents = np.array([np.asarray(p.centroid) for p in learner.patterns])
    for q in f32(rng.standard_normal((10, DIM)) * 4):
        found = learner.find_patterns(q, 3)
        want = np.argsort(((cents - q.astype(np.float64)) ** 2).sum(1), kind="stable")[:3]
        assert [p.id for p in found] == [learner.patterns[i].id for i in want]
    assert len(learner.find_patterns(q, 50)) == 6


def test_tick_learns_when_enough_trajectories_ended(kernel, rng):
    learner = TrajectoryLearner(DIM, learn_every=10, kernel=kernel)
    c = centres(SEED)
    record(learner, rng, c, 9, failing=())
    assert learner.tick() is None
    record(learner, rng, c, 1, failing=())
    assert learner.tick().trajectories_used == 10
    assert learner.tick() is None and learner.stats()["since_learn"] == 0


def test_capacity_keeps_the_newest_successful_trajectories(kernel):
    learner = TrajectoryLearner(2, capacity=3, kernel=kernel)
    for x in range(5):
        learner.end(learner.begin([x, 0]), quality=1.0)
    learner.force_learn()
    assert sorted(p.centroid[0] for p in learner.patterns) == [2.0, 3.0, 4.0]


def cos(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a @ b / np.linalg.norm(a) / np.linalg.norm(b)


def test_the_micro_lora_moves_queries_toward_rewarded_steps(kernel, rng):
    good, bad = f32(rng.standard_normal(DIM)), f32(rng.standard_normal(DIM))
    q0 = f32(rng.standard_normal(DIM))
    learner = TrajectoryLearner(DIM, kernel=kernel)
    assert np.array_equal(bits(learner.apply_micro_lora(q0)), bits(q0))       # nothing learnt yet
    for _ in range(40):                # one-step trajectories: the original's micro-LoRA ignores these
        q = f32(q0 + 0.1 * rng.standard_normal(DIM))
        t = learner.begin(q)
        if rng.random() < 0.5:
            learner.add_step(t, activations=good, reward=1.0)
        else:
            learner.add_step(t, activations=bad, reward=0.0)
        learner.end(t, quality=0.8)
    adapted = np.asarray(learner.apply_micro_lora(q0))
    moved = adapted - q0
    assert learner.stats()["micro_lora_updates"] == 40
    assert 0.01 < np.linalg.norm(moved) / np.linalg.norm(q0) < 0.2          # bounded by micro_strength
    assert cos(moved, good / np.linalg.norm(good) - bad / np.linalg.norm(bad)) > 0.5
    assert cos(adapted, good) - cos(adapted, bad) > cos(q0, good) - cos(q0, bad)


def scenario(kernel, seed):
    rng = np.random.default_rng(seed)
    learner = TrajectoryLearner(DIM, clusters=5, seed=3, kernel=kernel)
    c = centres(seed, k=5)
    record(learner, rng, c, 60, failing=(4,))
    for _ in range(5):
        t = learner.begin(f32(rng.standard_normal(DIM)))
        learner.add_step(t, activations=f32(rng.standard_normal(DIM)), reward=float(rng.random()))
        learner.end(t, quality=0.9)
    open_one = learner.begin(f32(c[0]), route="code")
    learner.add_step(open_one, embedding=f32(c[1]), reward=0.7)
    learner.force_learn()
    return learner, open_one, f32(rng.standard_normal((6, DIM)) * 4)


def answers(learner, queries):
    return [([p.id for p in learner.find_patterns(q, 3)], bits(learner.apply_micro_lora(q)).tolist())
            for q in queries]


def test_json_round_trip_answers_and_learns_identically(kernel):
    learner, open_one, queries = scenario(kernel, SEED)
    text = learner.to_json()
    twin = TrajectoryLearner.from_json(text, kernel=kernel)
    assert twin.to_json() == text and twin.stats() == learner.stats()
    assert answers(twin, queries) == answers(learner, queries)
    assert [(p.id, bits(p.centroid).tolist(), p.size, p.avg_quality, p.routes) for p in twin.patterns] == \
        [(p.id, bits(p.centroid).tolist(), p.size, p.avg_quality, p.routes) for p in learner.patterns]
    for each in (learner, twin):                      # both carry on the same way
        each.add_step(open_one, activations=f32(queries[0]), reward=0.2)
        assert each.end(open_one, quality=0.95).steps == 2
        each.force_learn()
    assert twin.to_json() == learner.to_json()


def test_every_backend_gives_the_same_bits(kernel):
    got, _, queries = scenario(kernel, SEED)
    want, _, _ = scenario(load("native"), SEED)
    assert json.loads(got.to_json()) == json.loads(want.to_json())
    assert answers(got, queries) == answers(want, queries)


def test_end_returns_the_trajectory(kernel):
    learner = TrajectoryLearner(2, kernel=kernel)
    t = learner.begin([1, 0], route="search")
    learner.add_step(t, reward=0.5)
    learner.add_step(t, embedding=[0, 1], reward=1.0)
    learner.set_route(t, "code")
    learner.add_context(t, "doc:1")
    assert learner.end(t, quality=0.7) == sona.Trajectory(t, 2, 0.75, 0.7, "code", ("doc:1",), True)


def interleaved(learner, rng, n=40):
    """n trajectories, up to four open at once, their steps and ends interleaved, learning
    (forced, with 1 to 5 clusters) now and then. Returns what a replay needs, in order:
    ("end", Trajectory) and ("learn", (clusters, LearnReport))."""
    c, opened, log = centres(SEED, k=4), [], []
    while len([e for e in log if e[0] == "end"]) < n:
        if len(opened) < 4 and rng.random() < 0.5:
            j = int(rng.integers(0, 4))
            opened.append((learner.begin(f32(c[j] + 0.1 * rng.standard_normal(DIM)), route=ROUTES[j]), j))
            continue
        if not opened:
            continue
        t, j = opened[int(rng.integers(0, len(opened)))]
        learner.add_step(t, activations=f32(rng.standard_normal(DIM)) if rng.random() < 0.7 else None,
                         reward=float(rng.random()))
        if rng.random() < 0.3:
            opened.remove((t, j))
            log.append(("end", learner.end(t, quality=float(rng.random()))))
            if rng.random() < 0.15:
                clusters = int(rng.integers(1, 6))
                log.append(("learn", (clusters, learner.force_learn(clusters=clusters))))
    for t, _ in opened:
        log.append(("end", learner.end(t, quality=0.9)))
    return log


def test_replaying_the_ended_trajectories_rebuilds_the_learner_bit_for_bit(kernel, rng):
    learner = TrajectoryLearner(DIM, clusters=4, kernel=kernel)
    log = interleaved(learner, rng)
    runs = [i for i, (what, _) in enumerate(log) if what == "learn"]
    assert len(runs) >= 2 and runs[-1] < len(log) - 1          # learnt more than once, and ended more after
    twin = TrajectoryLearner(DIM, clusters=4, kernel=kernel)
    for i, (what, item) in enumerate(log):
        if what == "end":
            twin.replay(item)
        elif i == runs[-1]:                                       # only the last run clusters again
            assert twin.force_learn(clusters=item[0]) == item[1]
        else:
            twin.replay_learn(item[1].patterns_extracted)
    assert twin.to_json() == learner.to_json()
    queries = f32(rng.standard_normal((4, DIM)))
    assert answers(twin, queries) == answers(learner, queries)


def test_preview_end_changes_nothing(kernel):
    learner = TrajectoryLearner(3, kernel=kernel)
    t = learner.begin([1, 2, 3], route="a")
    learner.add_step(t, embedding=[0, 1, 0], reward=0.25)
    before = learner.to_json()
    preview = learner.preview_end(t, quality=0.6)
    assert learner.to_json() == before
    ended = learner.end(t, quality=0.6)
    assert preview == ended and bits(preview.signal).tolist() == bits(ended.signal).tolist()
    assert (ended.query.tolist(), ended.signal_steps) == ([1, 2, 3], 1)
    assert ended.baseline == (1 - sona.BASELINE_DECAY) * 0.25           # the running mean after its one step
    assert "signal" not in repr(ended)


def test_a_learning_run_can_ask_for_fewer_clusters(kernel, rng):
    learner = TrajectoryLearner(DIM, clusters=8, kernel=kernel)
    record(learner, rng, centres(SEED, k=8), 50, failing=())
    assert learner.force_learn(clusters=2).patterns_extracted == 2
    assert learner.force_learn().patterns_extracted == 8


def test_adopt_open_carries_open_trajectories_to_a_rebuilt_learner(kernel):
    old = TrajectoryLearner(2, kernel=kernel)
    done = old.end(old.begin([1, 0]), quality=1.0)
    t = old.begin([0, 1], route="r")
    old.add_step(t, embedding=[1, 1], reward=1.0)
    new = TrajectoryLearner(2, kernel=kernel)
    new.replay(done)
    new.adopt_open(old)
    assert old.stats()["active"] == 0 and new.stats()["active"] == 1
    assert new.end(t, quality=0.8) == sona.Trajectory(t, 1, 1.0, 0.8, "r", (), True)
    assert new.begin([1, 1]) == 3


@pytest.mark.parametrize("call,cls,message", [
    (lambda s, t: s.add_step(99, reward=1), UnknownIdError, "no trajectory with id 99"),
    (lambda s, t: s.end("x", quality=1), UnknownIdError, "'x'"),
    (lambda s, t: (s.end(t, quality=1), s.end(t, quality=1)), ArgumentError, "ended already"),
    (lambda s, t: (s.end(t, quality=1), s.add_step(t, reward=1)), ArgumentError, "ended already"),
    (lambda s, t: s.begin([1, 2, 3]), DimensionError, "query_embedding"),
    (lambda s, t: s.add_step(t, embedding=[1], reward=1), DimensionError, "embedding"),
    (lambda s, t: s.begin([1, math.nan]), NonFiniteError, "element 1 is nan"),
    (lambda s, t: s.add_step(t, activations=[math.inf, 0], reward=1), NonFiniteError, "activations"),
    (lambda s, t: s.add_step(t, reward=math.nan), NonFiniteError, "reward is nan"),
    (lambda s, t: s.end(t, quality=1.5), ArgumentError, r"quality must be in \[0, 1\]"),
    (lambda s, t: s.find_patterns([1, 0], 0), ArgumentError, "k must be"),
    (lambda s, t: s.apply_micro_lora([1, 0, 0]), DimensionError, "x holds 3 values"),
    (lambda s, t: s.set_route(t, 5), ArgumentError, "route"),
    (lambda s, t: s.add_context(t, ""), ArgumentError, "context id"),
    (lambda s, t: TrajectoryLearner(0), DimensionError, "dim"),
    (lambda s, t: TrajectoryLearner(2, clusters=0), ArgumentError, "clusters"),
    (lambda s, t: TrajectoryLearner.from_json("{}"), ArgumentError, "not a agentdb.sona"),
    (lambda s, t: s.replay(sona.Trajectory(t, 0, 0.0, 1.0, None, (), True, [1, 0])), ArgumentError, "is open"),
    (lambda s, t: s.replay("x"), ArgumentError, "takes a Trajectory"),
    (lambda s, t: s.replay(sona.Trajectory(9, 0, 0.0, 1.0, None, (), True)), ArgumentError, "no query"),
    (lambda s, t: s.replay(sona.Trajectory(9, 0, 0.0, 1.0, None, (), True, [1, 0], None, 1)), ArgumentError,
     "no signal"),
    (lambda s, t: s.replay(sona.Trajectory(9, 0, 0.0, 1.0, None, (), True, [1, 0], [1], 1)), DimensionError,
     "signal"),
    (lambda s, t: s.replay(sona.Trajectory(9, 0, 0.0, 2.0, None, (), True, [1, 0])), ArgumentError, "quality"),
    (lambda s, t: s.replay_learn(-1), ArgumentError, "patterns_extracted"),
    (lambda s, t: s.force_learn(clusters=0), ArgumentError, "clusters"),
    (lambda s, t: s.check_open(7), UnknownIdError, "7"),
    (lambda s, t: s.preview_end(t, quality=-1), ArgumentError, "quality"),
    (lambda s, t: s.adopt_open(TrajectoryLearner(3)), DimensionError, "dimension 2"),
    (lambda s, t: TrajectoryLearner.from_json("[1"), ArgumentError, "JSON document"),
])
def test_mistakes_raise_typed_errors(kernel, call, cls, message):
    learner = TrajectoryLearner(2, kernel=kernel)
    tid = learner.begin([1, 0])
    with pytest.raises(cls, match=message):
        call(learner, tid)


def test_docstring_examples_run():
    assert doctest.testmod(sona).failed == 0
