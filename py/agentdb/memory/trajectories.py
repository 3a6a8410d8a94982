"""Trajectories (SONA): what an agent did for a query, step by step, and how well it went,
learnt from in two loops by agentdb.learn.sona.TrajectoryLearner: every ended trajectory
moves a rank-1 micro-LoRA toward what its steps were rewarded for (apply_micro_lora), and
learn_trajectories() clusters the queries of the successful ones into patterns
(trajectory_patterns: centroid, size, mean quality, routes).

    t = mem.begin_trajectory("fix the flaky test", route="debug")      # an id: 1, 2, ...
    mem.add_trajectory_step(t, reward=0.8, text="waited for the readiness probe")
    mem.end_trajectory(t, quality=0.9)                                  # the record "trajectory:<n>"

An open trajectory (begun, not ended) lives in this AgentMemory only: closing or reopening
the store forgets it (natively a close; in the browser a page reload, AgentDB.open of the
same persisted name again, which reads the store anew from IndexedDB, or another tab's
commit); its id is not reused while this memory is open. Ending
one writes one record "trajectory:<n>" (n counts in end order) in one commit: its query
vector (unit length under cosine, the vector the learner saw) and its outcome (route,
quality, steps, mean_reward, contexts, successful) with what the learner's end did (the
reward-weighted step signal, the running baseline); a learning run is recorded on the
latest trajectory record (`learned`). The learner itself is never stored: the first call
rebuilds it by replaying the records in record order (TrajectoryLearner.replay and
replay_learn, one k-means for the last run), so after a reopen, natively or from IndexedDB,
patterns and micro-LoRA answer bit for bit as before the close; and it is rebuilt the same
way when the trajectory records change otherwise (forget_memory), so it never learns from a
record that is gone. The learner's settings are fixed (LEARNER), so every home replays alike.
"""
import array
from dataclasses import asdict

from .. import metrics
from ..learn.lora import decode_f32, encode_f32
from ..learn.sona import Trajectory, TrajectoryLearner
from . import core
from .core import MemoryInputError, count, number

KIND = "trajectory"
# the learner's settings (TrajectoryLearner's keywords): constants, so a replay anywhere gives the same learner
LEARNER = {"clusters": 8, "quality_threshold": 0.5, "learn_every": 32, "capacity": 10000, "micro_lr": 0.3,
           "micro_strength": 0.1, "seed": 0}


def _number(ident):
    head, _, num = ident.rpartition(":")
    return int(num) if head == KIND and num.isdigit() else -1


def _runs(md):
    """A record's learning runs as a comparable tuple of (clusters, patterns extracted)."""
    return tuple(tuple(run) for run in md.get("learned") or ())


def _pattern(p):
    return {"id": p.id, "centroid": p.centroid.tolist(), "size": p.size, "avg_quality": p.avg_quality,
            "routes": [[route, n] for route, n in p.routes.items()]}


class Trajectories:
    """Mixin of AgentMemory: SONA trajectories, ended ones records of kind "trajectory"."""

    _sona = None            # the TrajectoryLearner, built from the records on first use
    _sona_key = None        # [(record id, its learning runs)] the learner was built from, in record order
    _sona_version = None    # the store version that key was checked at
    _sona_queries = None    # open trajectory id -> its query text (None: an embedding)

    # ---- the learner and its records ----------------------------------------------------------

    def _trajectory_records(self):
        """[(id, fields)] of every trajectory record, in record (end) order."""
        return sorted(self._find(KIND), key=lambda rec: _number(rec[0]))

    def _trajectory_learner(self):
        """The learner, rebuilt when the trajectory records are not the ones it was built from
        (checked only after a write: every one of ours keeps the key up to date)."""
        if self._sona is not None and self._sona_version == self.store.version:
            return self._sona
        records = self._trajectory_records()
        key = [(ident, _runs(md)) for ident, md in records]
        if self._sona is None or key != self._sona_key:
            self._replay_trajectories(records, key)
        self._sona_version = self.store.version
        return self._sona

    def _replay_trajectories(self, records, key):
        """A new learner from the records: each one's end replayed in order, and its learning
        runs after it (only the very last one clustering: the others' patterns it replaced).
        The open trajectories of the learner it replaces carry over."""
        learner = TrajectoryLearner(self.store.dim, kernel=self.store.kernel, **LEARNER)
        last = max((i for i, (_, runs) in enumerate(key) if runs), default=None)
        for i, (ident, md) in enumerate(records):
            try:
                signal = decode_f32(md["signal"], self.store.dim, f"{ident} signal") if md["signal_steps"] else None
                learner.replay(Trajectory(md["trajectory"], md["steps"], md["mean_reward"], md["quality"], md["route"],
                                          tuple(md["contexts"]), md["successful"], self.store.get(ident).vector,
                                          signal, md["signal_steps"], md["baseline"]))
            except (KeyError, TypeError) as exc:
                raise MemoryInputError(f"{ident} is not a trajectory record as end_trajectory writes it "
                                       f"({exc!r} missing or malformed)") from None
            runs = key[i][1]
            for j, (clusters, extracted) in enumerate(runs):
                if i == last and j == len(runs) - 1:
                    learner.force_learn(clusters=clusters)
                else:
                    learner.replay_learn(extracted)
        if self._sona is not None:
            learner.adopt_open(self._sona)
        if self._sona_queries is None:
            self._sona_queries = {}
        self._sona, self._sona_key = learner, key

    def _unit_vector(self, value, name, embedding=None):
        """The vector of a text (or the caller's embedding) as the trajectory records hold
        it: unit length when the metric normalises (cosine), so the learner sees what is stored."""
        vec = array.array("f", self._vector(value, name, embedding))
        if metrics.get(self.store.metric).normalized:
            self.store.kernel.normalize_rows(vec, dim=self.store.dim)
        return vec

    # ---- recording ----------------------------------------------------------------------------

    def begin_trajectory(self, query=None, *, route=None, embedding=None):
        """Starts a trajectory for a query (a text, embedded, or its embedding=); route: what
        it took (a model, a tool), settable later. Returns its id (1, 2, ...), which the other
        trajectory calls take. It lives in this memory only until end_trajectory stores it.

        >>> t = mem.begin_trajectory("summarise the thread", route="small-model")   # doctest: +SKIP
        >>> t                                                                         # doctest: +SKIP
        1
        """
        self.store._writable()        # a read-only memory refuses now, not after the agent's work
        route = None if route is None else core.text(route, "route")
        vec = self._unit_vector(query, "query", embedding)
        learner = self._trajectory_learner()
        tid = learner.begin(vec, route=route)
        self._sona_queries[tid] = None if embedding is not None else query
        return tid

    def add_trajectory_step(self, trajectory_id, *, reward, text=None, embedding=None, activations=None):
        """Records one step of an open trajectory: its reward (any finite number; the instant
        loop weighs the step by reward minus the running mean reward) and what it produced,
        as text (embedded), its embedding= or the model's activations= (the store's dimension
        each; activations win when both are given). A step without any still counts in the
        trajectory's steps and mean reward.

        >>> mem.add_trajectory_step(t, reward=0.8, text="kept one line per speaker")   # doctest: +SKIP
        >>> mem.add_trajectory_step(t, reward=0.1, embedding=vector)                   # doctest: +SKIP
        """
        learner = self._trajectory_learner()
        learner.check_open(trajectory_id)
        reward = number(reward, "reward")
        if text is not None:
            if embedding is not None:
                raise MemoryInputError("give a step's text= or its embedding=, not both")
            embedding = self._vector(text, "text")
        learner.add_step(trajectory_id, embedding=embedding, activations=activations, reward=reward)

    def set_trajectory_route(self, trajectory_id, route):
        """Sets (or replaces; None clears) the route an open trajectory took.

        >>> mem.set_trajectory_route(t, "large-model")                 # doctest: +SKIP
        """
        learner = self._trajectory_learner()
        learner.set_route(trajectory_id, None if route is None else core.text(route, "route"))

    def add_trajectory_context(self, trajectory_id, context_id):
        """Records a context an open trajectory used (a memory id, a document id, any text).

        >>> mem.add_trajectory_context(t, "note:3")                     # doctest: +SKIP
        """
        self._trajectory_learner().add_context(trajectory_id, core.text(context_id, "context_id"))

    def end_trajectory(self, trajectory_id, *, quality):
        """Ends an open trajectory with its quality in [0, 1] (successful from 0.5): writes its
        record "trajectory:<n>" (one commit), then runs the instant loop on it and keeps it
        for learn_trajectories() when successful. Returns {"id" (the record's), "trajectory",
        "steps", "mean_reward", "quality", "route", "contexts", "successful"}. A failed write
        leaves the trajectory open.

        >>> mem.end_trajectory(t, quality=0.9)["id"]                    # doctest: +SKIP
        'trajectory:1'
        """
        self.store._writable()
        quality = number(quality, "quality", low=0, high=1)
        learner = self._trajectory_learner()
        ended = learner.preview_end(trajectory_id, quality=quality)
        [ident] = self._new_ids(KIND)
        fields = {"kind": KIND, "trajectory": ended.id, "route": ended.route, "quality": ended.quality,
                  "steps": ended.steps, "mean_reward": ended.mean_reward, "contexts": list(ended.contexts),
                  "successful": ended.successful, "signal_steps": ended.signal_steps, "baseline": ended.baseline,
                  "learned": []}
        if ended.signal is not None:
            fields["signal"] = encode_f32(ended.signal)
        query = self._sona_queries.get(ended.id)
        if query is not None:
            fields["query"] = query
        now = self.clock()
        # the learner's query as it is, unit length already: stored bit for bit
        self.store.ingest([ident], ended.query, [{"created": now, **fields, "updated": now}], normalized=True)
        learner.end(trajectory_id, quality=quality)
        self._sona_queries.pop(ended.id, None)
        self._sona_key.append((ident, ()))
        self._sona_version = self.store.version
        return {"id": ident, "trajectory": ended.id, "steps": ended.steps, "mean_reward": ended.mean_reward,
                "quality": ended.quality, "route": ended.route, "contexts": list(ended.contexts),
                "successful": ended.successful}

    # ---- learning and answers -----------------------------------------------------------------

    def learn_trajectories(self, *, force=True, clusters=None):
        """The background loop: k-means over the queries of every stored successful
        trajectory (one is enough) into at most `clusters` patterns (default 8), which
        replace the previous ones. force=False learns only when 32 trajectories ended since
        the last run (SONA's tick) and returns None otherwise. The run is recorded (one
        commit) so a reopen has the same patterns. Returns {"trajectories_used",
        "patterns_extracted", "below_threshold"}; MemoryInputError when no trajectory has
        ended yet (nothing to learn from, never a silent no-op).

        >>> mem.learn_trajectories()                                    # doctest: +SKIP
        {'trajectories_used': 12, 'patterns_extracted': 3, 'below_threshold': 2}
        """
        self.store._writable()
        if not isinstance(force, bool):
            raise MemoryInputError(f"force must be True or False, got {force!r}")
        clusters = LEARNER["clusters"] if clusters is None else count(clusters, "clusters")
        if clusters < 1:
            raise MemoryInputError("clusters must be at least 1, got 0")
        learner = self._trajectory_learner()
        if not self._sona_key:
            raise MemoryInputError("learn_trajectories() needs at least one ended trajectory: "
                                   "begin_trajectory(...), then end_trajectory(id, quality=...)")
        if not force and learner.stats()["since_learn"] < learner.learn_every:
            return None
        report = learner.force_learn(clusters=clusters)
        ident, runs = self._sona_key[-1]
        runs += ((clusters, report.patterns_extracted),)
        try:
            self._update({ident: {"learned": [list(run) for run in runs]}})
        except BaseException:
            self._sona_key = self._sona_version = None   # it knows a run no record does: rebuilt next time
            raise
        self._sona_key[-1] = (ident, runs)
        self._sona_version = self.store.version
        return asdict(report)

    def trajectory_patterns(self, query=None, *, k=5, embedding=None):
        """The k patterns of the last learning run nearest a query (text, or embedding=),
        nearest first; without a query, every pattern in id order. Each is {"id",
        "centroid" (the mean query vector), "size" (trajectories), "avg_quality", "routes"
        ([route, count] pairs, most used first)}.

        >>> mem.trajectory_patterns("flaky test", k=1)[0]["routes"]     # doctest: +SKIP
        [['debug', 4], ['search', 1]]
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise MemoryInputError(f"k must be a positive integer, got {k!r}")
        if query is None and embedding is None:
            return [_pattern(p) for p in self._trajectory_learner().patterns]
        vec = self._unit_vector(query, "query", embedding)
        return [_pattern(p) for p in self._trajectory_learner().find_patterns(vec, k)]

    def apply_micro_lora(self, query=None, *, embedding=None):
        """A query (text, or embedding=; unit length under cosine, as trajectories store it)
        moved by the micro-LoRA toward what the trajectories' steps were rewarded for, as a
        list of float32 values; the query itself before any trajectory with a step vector ended.

        >>> adapted = mem.apply_micro_lora("fix the flaky test")          # doctest: +SKIP
        """
        vec = self._unit_vector(query, "query", embedding)
        return self._trajectory_learner().apply_micro_lora(vec).tolist()

    def trajectory_stats(self):
        """The learner's counts and settings: active (open), ended, successful_kept,
        below_threshold, since_learn, learn_runs, patterns, micro_lora_updates,
        baseline_reward, clusters, quality_threshold, learn_every, capacity, dim.

        >>> mem.trajectory_stats()["ended"]                             # doctest: +SKIP
        12
        """
        return self._trajectory_learner().stats()
