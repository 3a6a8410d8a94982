"""SONA trajectories: record what an agent did for a query and how well it went, and learn
from it in two loops (as @ruvector/sona's SonaEngine does, minus its failure modes).

    instant loop     every ended trajectory updates a rank-1 micro-LoRA at once: its steps'
                     rewards, minus a running baseline, weigh the steps' vectors into a
                     direction the adapter moves the query toward (so a one-step trajectory
                     teaches too: the original learns only from multi-step ones)
    background loop  force_learn() (or tick(), when enough new trajectories ended) clusters
                     the query embeddings of the successful trajectories (quality >=
                     quality_threshold) by k-means; the clusters are the patterns that
                     find_patterns(query, k) returns, nearest centroid first

force_learn() works on any number of trajectories, one included (the original silently did
nothing below 100), and says what it did. k-means starts from a seeded k-means++ and runs in
the kernel, so the same trajectories and seed give the same patterns on every backend.

A learner can be rebuilt from what its ended trajectories were, without its JSON: the
Trajectory that end() returns carries what its end did (the query, the reward-weighted step
signal, the running baseline), replay() redoes that end in another learner, and
replay_learn() a learning run, so replaying them in their original order into a learner with
the same settings gives the same patterns, micro-LoRA and counters, bit for bit (agentdb.memory
keeps trajectories as store records and rebuilds its learner this way).

>>> sona = TrajectoryLearner(2, clusters=2)
>>> t = sona.begin([1, 0], route="search")
>>> sona.add_step(t, embedding=[0.9, 0.1], reward=1.0)
>>> sona.end(t, quality=0.9).successful
True
>>> sona.force_learn()
LearnReport(trajectories_used=1, patterns_extracted=1, below_threshold=0)
>>> sona.find_patterns([1, 0.1], k=1)[0].routes
{'search': 1}
"""
import array
import bisect
import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass, field

from ..errors import AgentDBError, ArgumentError, DimensionError, NonFiniteError, UnknownIdError
from ..kernel import load
from .lora import LoRA, decode_f32, encode_f32, zeros_f32
from .lora import as_rows
from .rng import SplitMix64

FORMAT, VERSION = "agentdb.sona", 1
KMEANS_ITERATIONS = 25          # Lloyd rounds at most; most runs settle in a handful
BASELINE_DECAY = 0.9            # weight of the old baseline in the running mean reward


@dataclass(frozen=True)
class Pattern:
    """A cluster of successful trajectories: its centroid (float32, the mean query
    embedding), how many trajectories, their mean quality, and their routes with counts
    (most used first)."""

    id: int
    centroid: array.array
    size: int
    avg_quality: float
    routes: dict


@dataclass(frozen=True)
class LearnReport:
    """What one learning run did: the successful trajectories it clustered, the patterns it
    extracted, and how many ended trajectories so far were left out (quality < threshold)."""

    trajectories_used: int
    patterns_extracted: int
    below_threshold: int


@dataclass(frozen=True)
class Trajectory:
    """An ended trajectory, as end() returns it. query (float32), signal (the reward-weighted
    sum of its step vectors, float32; None when no step had one), signal_steps (how many
    did) and baseline (the running mean step reward when it ended) are what replay() needs to
    redo its end; they take no part in == or repr."""

    id: int
    steps: int
    mean_reward: float
    quality: float
    route: str
    contexts: tuple
    successful: bool
    query: array.array = field(default=None, compare=False, repr=False)
    signal: array.array = field(default=None, compare=False, repr=False)
    signal_steps: int = field(default=0, compare=False, repr=False)
    baseline: float = field(default=0.0, compare=False, repr=False)


class _Open:
    """A trajectory between begin() and end()."""

    def __init__(self, query, route, dim):
        self.query, self.route, self.contexts = query, route, []
        self.rewards = []
        self.signal, self.signal_steps = zeros_f32(dim), 0


class TrajectoryLearner:
    """Trajectories of dimension `dim` and the patterns learnt from them.

    clusters: the most patterns a run extracts; quality_threshold: the quality from which a
    trajectory counts as successful; learn_every: how many newly ended trajectories make
    tick() learn; capacity: successful trajectories kept (the oldest go first); micro_lr:
    the micro-LoRA's step size; micro_strength: how far (relative to |q|) one trajectory asks
    it to move its query; seed: k-means++ and the micro-LoRA's initial weights.

    >>> TrajectoryLearner(3).stats()["patterns"]
    0
    """

    def __init__(self, dim, *, clusters=8, quality_threshold=0.5, learn_every=32, capacity=10000, micro_lr=0.3,
                 micro_strength=0.1, seed=0, kernel=None):
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise DimensionError(f"dim must be a positive integer, got {dim!r}")
        for name, value in (("clusters", clusters), ("learn_every", learn_every), ("capacity", capacity)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArgumentError(f"{name} must be a positive integer, got {value!r}")
        self.quality_threshold = _unit(quality_threshold, "quality_threshold")
        for name, value in (("micro_lr", micro_lr), ("micro_strength", micro_strength)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ArgumentError(f"{name} must be a non-negative finite number, got {value!r}")
        self.dim, self.clusters, self.learn_every, self.capacity = dim, clusters, learn_every, capacity
        self.micro_lr, self.micro_strength, self.seed = float(micro_lr), float(micro_strength), seed
        self.kernel = kernel if kernel is not None else load()
        self.micro = LoRA.micro(dim, rank=1, seed=seed, kernel=self.kernel)
        self._next_id, self._open = 1, {}
        self._baseline = 0.0              # running mean step reward, the instant loop's baseline
        self._ended = self._below = self._since_learn = self._learn_runs = self._micro_updates = 0
        # the successful trajectories, oldest first: query embeddings (flat), qualities, routes
        self._kept, self._quality, self._routes = array.array("f"), [], []
        self._next_pattern, self._patterns, self._centroids = 1, [], array.array("f")

    # ---- recording ------------------------------------------------------------------------

    def _vector(self, x, name):
        view, n = as_rows(self.kernel, x, self.dim, name)
        if n != 1:
            raise DimensionError(f"{name} has {len(view)} values, dimension is {self.dim}")
        return array.array("f", view)

    def _get(self, tid):
        trajectory = self._open.get(tid)
        if trajectory is None:
            if isinstance(tid, int) and not isinstance(tid, bool) and 1 <= tid < self._next_id:
                raise ArgumentError(f"trajectory {tid} has ended already")
            raise UnknownIdError(f"no trajectory with id {tid!r}")
        return trajectory

    def begin(self, query_embedding, *, route=None):
        """Starts a trajectory for a query; returns its id (1, 2, ...).

        >>> TrajectoryLearner(2).begin([0.5, 0.5])
        1
        """
        query = self._vector(query_embedding, "query_embedding")
        tid, self._next_id = self._next_id, self._next_id + 1
        self._open[tid] = _Open(query, _route(route), self.dim)
        return tid

    def add_step(self, tid, *, embedding=None, activations=None, reward):
        """Records one step: its reward and optionally its output embedding or the model's
        activations (dim values each; the instant loop learns from the activations when
        given, else from the embedding).

        >>> s = TrajectoryLearner(2); t = s.begin([1, 0]); s.add_step(t, activations=[0, 1], reward=0.5)
        """
        trajectory = self._get(tid)
        reward = _finite(reward, "reward")
        vectors = [self._vector(v, name) for v, name in ((activations, "activations"), (embedding, "embedding"))
                   if v is not None]
        if vectors:
            k = self.kernel
            k.add(trajectory.signal, k.scale(vectors[0], reward - self._baseline), out=trajectory.signal)
            trajectory.signal_steps += 1
        trajectory.rewards.append(reward)
        self._baseline = BASELINE_DECAY * self._baseline + (1 - BASELINE_DECAY) * reward

    def set_route(self, tid, route):
        """Sets (or replaces) the route the trajectory took, e.g. the model or tool chosen.

        >>> s = TrajectoryLearner(2); t = s.begin([1, 0]); s.set_route(t, "code")
        """
        self._get(tid).route = _route(route)

    def add_context(self, tid, context_id):
        """Records a context (a memory or document id) the trajectory used.

        >>> s = TrajectoryLearner(2); t = s.begin([1, 0]); s.add_context(t, "doc:7")
        """
        trajectory = self._get(tid)
        if not isinstance(context_id, str) or not context_id:
            raise ArgumentError(f"a context id is a non-empty string, got {context_id!r}")
        trajectory.contexts.append(context_id)

    def check_open(self, tid):
        """Returns tid if it is an open trajectory; else UnknownIdError, or ArgumentError for
        one that has ended (what add_step, set_route, add_context and end raise).

        >>> s = TrajectoryLearner(2); s.check_open(s.begin([1, 0]))
        1
        """
        self._get(tid)
        return tid

    def preview_end(self, tid, *, quality):
        """The Trajectory that end(tid, quality=quality) would return, the learner unchanged
        (so a caller can store it first and end it once stored).

        >>> s = TrajectoryLearner(2); t = s.begin([1, 0]); s.preview_end(t, quality=0.7).successful
        True
        >>> s.stats()["active"]
        1
        """
        trajectory = self._get(tid)
        quality = _unit(quality, "quality")
        rewards = trajectory.rewards
        return Trajectory(tid, len(rewards), math.fsum(rewards) / len(rewards) if rewards else 0.0, quality,
                          trajectory.route, tuple(trajectory.contexts), quality >= self.quality_threshold,
                          array.array("f", trajectory.query),
                          array.array("f", trajectory.signal) if trajectory.signal_steps else None,
                          trajectory.signal_steps, self._baseline)

    def end(self, tid, *, quality):
        """Ends a trajectory with its quality in [0, 1], runs the instant loop on it and, when
        quality >= quality_threshold, keeps it for pattern extraction. Returns a Trajectory.

        >>> s = TrajectoryLearner(2); t = s.begin([1, 0]); s.end(t, quality=0.2).successful
        False
        """
        trajectory = self.preview_end(tid, quality=quality)
        del self._open[tid]
        self.replay(trajectory)
        return trajectory

    def replay(self, trajectory):
        """Redoes the end of a trajectory another learner (with the same settings) ended: a
        Trajectory as end() returned it, or one rebuilt from what was stored of it. The instant
        loop runs on its signal, it is kept for patterns when quality >= quality_threshold, the
        running baseline becomes its baseline and ids go on after its id. Replaying a
        learner's ended trajectories in their end order (with replay_learn() where it learnt)
        rebuilds it bit for bit, its open trajectories aside.

        >>> s = TrajectoryLearner(2); t = s.begin([1, 0]); s.add_step(t, embedding=[0, 1], reward=1)
        >>> twin = TrajectoryLearner(2); twin.replay(s.end(t, quality=0.9))
        >>> twin.apply_micro_lora([1, 0]).tolist() == s.apply_micro_lora([1, 0]).tolist()
        True
        """
        if not isinstance(trajectory, Trajectory):
            raise ArgumentError(f"replay() takes a Trajectory, got {type(trajectory).__name__}")
        tid = trajectory.id
        if not isinstance(tid, int) or isinstance(tid, bool) or tid < 1:
            raise ArgumentError(f"a trajectory id is a positive integer, got {tid!r}")
        if tid in self._open:
            raise ArgumentError(f"trajectory {tid} is open in this learner: end() it instead")
        if trajectory.query is None:
            raise ArgumentError(f"trajectory {tid} has no query embedding to replay")
        query = self._vector(trajectory.query, "query")
        quality, route = _unit(trajectory.quality, "quality"), _route(trajectory.route)
        steps = trajectory.signal_steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ArgumentError(f"signal_steps must be a non-negative integer, got {steps!r}")
        if steps and trajectory.signal is None:
            raise ArgumentError(f"trajectory {tid} has {steps} signal steps and no signal")
        signal = self._vector(trajectory.signal, "signal") if steps else None
        baseline = _finite(trajectory.baseline, "baseline")
        self._next_id = max(self._next_id, tid + 1)
        self._baseline = baseline
        self._ended += 1
        self._since_learn += 1
        if steps:
            self._instant_update(query, signal)
        if quality >= self.quality_threshold:
            self._kept.extend(query)
            self._quality.append(quality)
            self._routes.append(route)
            if len(self._quality) > self.capacity:
                del self._kept[:self.dim], self._quality[0], self._routes[0]
        else:
            self._below += 1

    def adopt_open(self, other):
        """Takes over the open trajectories of another learner of the same dimension (one
        this learner was rebuilt from), which has none afterwards; ids go on after both.

        >>> old = TrajectoryLearner(2); t = old.begin([1, 0]); new = TrajectoryLearner(2); new.adopt_open(old)
        >>> new.end(t, quality=1).id
        1
        """
        if not isinstance(other, TrajectoryLearner) or other.dim != self.dim:
            raise DimensionError(f"adopt_open() takes a TrajectoryLearner of dimension {self.dim}")
        clash = sorted(set(other._open) & set(self._open))
        if clash:
            raise ArgumentError(f"trajectories {clash} are open in both learners")
        self._open.update(other._open)
        other._open = {}
        self._next_id = max(self._next_id, other._next_id)

    # ---- instant loop: the micro-LoRA -----------------------------------------------------

    def _instant_update(self, q, signal):
        """One step on L = |delta(q) - micro_strength * |q| * g|^2 / 2, g the unit
        advantage-weighted mean of the step vectors: the adapter learns to move queries like q
        toward what earned more than the baseline (and away from what earned less), by a
        bounded amount (a linear objective would let A and B grow without end). The step is
        normalised LMS over both factors: micro_lr / (s^2 (|qA|^2 + |q|^2 |B|^2 + |q|^2 / dim)),
        the largest curvature of delta(q) in (A, B) plus a floor of the typical |qA|^2, so
        neither the query's scale nor the dimension can make it diverge."""
        k, micro = self.kernel, self.micro
        norm_sq = k.dot(q, q)
        if not norm_sq > 0 or micro.frozen:
            return
        h = k.matmul(q, micro.a, m=1, k=self.dim, n=micro.rank)
        curvature = micro.scaling ** 2 * (k.dot(h, h) + norm_sq * (k.dot(micro.b, micro.b) + 1.0 / self.dim))
        target = k.scale(k.normalize(signal), self.micro_strength * math.sqrt(norm_sq))
        micro.backward(q, k.axpy(-1.0, target, micro.forward(q)), n=1)
        for param, grad in zip(micro.params, micro.grads):
            k.axpy(-self.micro_lr / curvature, grad, param, out=param)
        self._micro_updates += 1

    def apply_micro_lora(self, x):
        """x plus the micro-LoRA's delta (float32): a query adapted by what the trajectories
        rewarded. Before any update it is x itself.

        >>> TrajectoryLearner(2).apply_micro_lora([1, 2]).tolist()
        [1.0, 2.0]
        """
        return self.micro.forward(self._vector(x, "x"), residual=True)

    # ---- background loop: patterns ----------------------------------------------------------

    def force_learn(self, *, clusters=None):
        """Extracts patterns now from every kept successful trajectory (any number, one
        included): k-means with min(clusters, trajectories) centres (clusters: this run's, by
        default the learner's). The patterns replace the previous ones; returns a LearnReport.

        >>> s = TrajectoryLearner(2); s.force_learn()
        LearnReport(trajectories_used=0, patterns_extracted=0, below_threshold=0)
        """
        clusters = self.clusters if clusters is None else _positive(clusters, "clusters")
        n = len(self._quality)
        patterns, centroids = [], array.array("f")
        if n:
            centroids, assign = _kmeans(self.kernel, self._kept, n, self.dim, min(clusters, n),
                                        SplitMix64(self.seed))
            k = len(centroids) // self.dim
            mean_quality = zeros_f32(k)
            sizes = self.kernel.kmeans_update(array.array("f", self._quality), assign, mean_quality, dim=1)
            routes = Counter(zip(assign, self._routes))
            keep = array.array("I", (c for c in range(k) if sizes[c]))     # an emptied centre is no pattern
            centroids = self.kernel.gather_rows(centroids, keep, row_bytes=4 * self.dim, fmt="f")
            for j, c in enumerate(keep):
                counts = {r: count for (cluster, r), count in routes.items() if cluster == c and r is not None}
                patterns.append(Pattern(self._next_pattern + j, centroids[j * self.dim:(j + 1) * self.dim], sizes[c],
                                        float(mean_quality[c]),
                                        dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))))
            self._next_pattern += len(keep)
        self._patterns, self._centroids = patterns, centroids
        self._since_learn = 0
        self._learn_runs += 1
        return LearnReport(n, len(patterns), self._below)

    def replay_learn(self, patterns_extracted):
        """A learning run of a replay (see replay()) that a later run replaced: the counters
        advance as that run's did (the ids of later patterns included: it extracted
        patterns_extracted) without clustering, and there are no patterns until the next
        force_learn(). Replaying only the last run for real rebuilds the same patterns at
        the cost of one k-means.

        >>> s = TrajectoryLearner(2); s.replay_learn(3); s.stats()["learn_runs"]
        1
        """
        patterns_extracted = _positive(patterns_extracted, "patterns_extracted", low=0)
        self._next_pattern += patterns_extracted
        self._patterns, self._centroids = [], array.array("f")
        self._since_learn = 0
        self._learn_runs += 1

    def tick(self):
        """Learns (force_learn) when at least learn_every trajectories ended since the last
        run; returns its LearnReport, else None.

        >>> TrajectoryLearner(2).tick() is None
        True
        """
        return self.force_learn() if self._since_learn >= self.learn_every else None

    def find_patterns(self, query, k=5):
        """The k patterns whose centroids are nearest the query (squared L2), nearest first.

        >>> TrajectoryLearner(2).find_patterns([1, 0], 3)
        []
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ArgumentError(f"k must be a positive integer, got {k!r}")
        query = self._vector(query, "query")
        if not self._patterns:
            return []
        scores = self.kernel.scan(query, self._centroids, dim=self.dim, metric="l2")
        idx, _ = self.kernel.topk(scores, k, largest=False)
        return [self._patterns[i] for i in idx]

    @property
    def patterns(self):
        """Every pattern of the last learning run, in id order.

        >>> TrajectoryLearner(2).patterns
        []
        """
        return list(self._patterns)

    def stats(self):
        """Counts and settings as a plain JSON-ready dict.

        >>> TrajectoryLearner(4).stats()["dim"]
        4
        """
        return {"dim": self.dim, "active": len(self._open), "ended": self._ended,
                "successful_kept": len(self._quality), "below_threshold": self._below,
                "since_learn": self._since_learn, "learn_runs": self._learn_runs, "patterns": len(self._patterns),
                "micro_lora_updates": self._micro_updates, "baseline_reward": self._baseline,
                "clusters": self.clusters, "quality_threshold": self.quality_threshold,
                "learn_every": self.learn_every, "capacity": self.capacity}

    # ---- JSON -----------------------------------------------------------------------------------

    def to_json(self):
        """Everything as JSON text: settings, counters, open and kept trajectories, patterns
        and the micro-LoRA, float32 data as exact base64 bits.

        >>> s = TrajectoryLearner(2); TrajectoryLearner.from_json(s.to_json()).stats() == s.stats()
        True
        """
        return json.dumps({
            "format": FORMAT, "version": VERSION, "dim": self.dim, "clusters": self.clusters,
            "quality_threshold": self.quality_threshold, "learn_every": self.learn_every,
            "capacity": self.capacity, "micro_lr": self.micro_lr, "micro_strength": self.micro_strength,
            "seed": self.seed,
            "counters": [self._next_id, self._ended, self._below, self._since_learn, self._learn_runs,
                         self._micro_updates, self._next_pattern],
            "baseline": self._baseline, "micro": self.micro.to_json(),
            "open": [{"id": tid, "query": encode_f32(t.query), "route": t.route, "contexts": t.contexts,
                      "rewards": t.rewards, "signal": encode_f32(t.signal), "signal_steps": t.signal_steps}
                     for tid, t in self._open.items()],
            "kept": encode_f32(self._kept), "quality": self._quality, "routes": self._routes,
            "patterns": [{"id": p.id, "size": p.size, "avg_quality": p.avg_quality, "routes": p.routes}
                         for p in self._patterns],
            "centroids": encode_f32(self._centroids)})

    @classmethod
    def from_json(cls, text, *, kernel=None):
        """The TrajectoryLearner to_json wrote: it answers and learns exactly as the original.

        >>> s = TrajectoryLearner(2); t = s.begin([1, 0]); TrajectoryLearner.from_json(s.to_json()).end(t, quality=1).id
        1
        """
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT or doc.get("version") != VERSION:
                raise ArgumentError(f"not a {FORMAT} version {VERSION} document")
            dim = doc["dim"]
            learner = cls(dim, clusters=doc["clusters"], quality_threshold=doc["quality_threshold"],
                       learn_every=doc["learn_every"], capacity=doc["capacity"], micro_lr=doc["micro_lr"],
                       micro_strength=doc["micro_strength"], seed=doc["seed"], kernel=kernel)
            (learner._next_id, learner._ended, learner._below, learner._since_learn, learner._learn_runs, learner._micro_updates,
             learner._next_pattern) = doc["counters"]
            learner._baseline = float(doc["baseline"])
            learner.micro = LoRA.from_json(doc["micro"], kernel=learner.kernel)
            for t in doc["open"]:
                trajectory = _Open(decode_f32(t["query"], dim, "query"), t["route"], dim)
                trajectory.contexts, trajectory.rewards = list(t["contexts"]), list(t["rewards"])
                trajectory.signal, trajectory.signal_steps = decode_f32(t["signal"], dim, "signal"), t["signal_steps"]
                learner._open[t["id"]] = trajectory
            learner._quality, learner._routes = list(doc["quality"]), list(doc["routes"])
            learner._kept = decode_f32(doc["kept"], dim * len(learner._quality), "kept")
            learner._centroids = decode_f32(doc["centroids"], dim * len(doc["patterns"]), "centroids")
            learner._patterns = [Pattern(p["id"], learner._centroids[i * dim:(i + 1) * dim], p["size"], p["avg_quality"],
                                      p["routes"]) for i, p in enumerate(doc["patterns"])]
        except AgentDBError:
            raise
        except (json.JSONDecodeError, TypeError, AttributeError, KeyError, ValueError) as exc:
            raise ArgumentError(f"not a TrajectoryLearner JSON document: {exc!r}") from None
        return learner


def _kmeans(kernel, x, n, dim, k, rng):
    """(centroids, assignment) of k-means on n points: k-means++ seeding (each next centre
    drawn with probability proportional to its squared distance to the nearest chosen one;
    fewer centres when the points run out of distinct values), then Lloyd rounds in the
    kernel until the assignment stops changing; each centroid is the mean of its points."""
    first = rng.below(n)
    centroids = array.array("f", x[first * dim:(first + 1) * dim])
    for _ in range(1, k):
        _, d2 = kernel.kmeans_assign(x, centroids, dim=dim)
        cumulative = list(itertools.accumulate(d2))
        if not cumulative[-1] > 0:
            break
        pick = min(bisect.bisect_right(cumulative, rng.unit() * cumulative[-1]), n - 1)
        centroids.extend(x[pick * dim:(pick + 1) * dim])
    previous = None
    for _ in range(KMEANS_ITERATIONS):
        assign, _ = kernel.kmeans_assign(x, centroids, dim=dim)
        kernel.kmeans_update(x, assign, centroids, dim=dim)      # centroids: the means of `assign`
        if assign == previous:
            break
        previous = assign
    return centroids, assign


def _positive(value, name, low=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        kind = "a positive" if low == 1 else "a non-negative"
        raise ArgumentError(f"{name} must be {kind} integer, got {value!r}")
    return value


def _finite(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise NonFiniteError(f"{name} is {value}")
    return float(value)


def _unit(value, name):
    value = _finite(value, name)
    if not 0.0 <= value <= 1.0:
        raise ArgumentError(f"{name} must be in [0, 1], got {value}")
    return value


def _route(route):
    if route is not None and not isinstance(route, str):
        raise ArgumentError(f"a route is a string or None, got {route!r}")
    return route
