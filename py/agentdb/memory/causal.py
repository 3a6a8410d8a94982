"""Causal memory: edges "cause -> effect" between any two memories, with an uplift (how much
the cause raises the outcome), a confidence in [0, 1] and the evidence behind them;
experiments with treatment / control observations that estimate uplift (Welch's t-test);
chains of edges; and causal recall, which ranks memories by
    utility = alpha * similarity + beta * uplift - gamma * latency (seconds)
so what worked before outranks what merely looks alike.

Edges and experiments are records like any other (kinds "edge", "experiment", "observation"):
an edge's vector embeds its mechanism (or copies its cause's), so edges are searchable by
mechanism; an observation shares its experiment's vector."""
import math

from ..errors import UnknownIdError
from .core import MemoryInputError, count, flag, number, public, text
from .stats import welch

CAUSAL_WEIGHTS = (0.7, 0.2, 0.1)          # alpha, beta, gamma (AgentDB's CausalRecall defaults)
RECALL_KINDS = ("episode", "skill", "pattern", "note")


class Causal:
    """Mixin of AgentMemory: causal edges, experiments and causal recall."""

    causal_weights = CAUSAL_WEIGHTS

    def _existing(self, ident, name):
        """ident, when it names a stored record of any kind (UnknownIdError otherwise)."""
        if not isinstance(ident, str) or ident not in self.store:
            raise UnknownIdError(f"{name} {ident!r} is not in the store")
        return ident

    def _edge_record(self, cause, effect, uplift, confidence, sample_size, mechanism, evidence, embedding):
        """(id, vector, fields) of the edge cause -> effect, reusing the id of an existing one."""
        fields = {"kind": "edge", "cause": self._existing(cause, "cause"), "effect": self._existing(effect, "effect"),
                  "uplift": number(uplift, "uplift"), "confidence": number(confidence, "confidence", low=0, high=1),
                  "sample_size": count(sample_size, "sample_size"),
                  "mechanism": text(mechanism, "mechanism", required=False),
                  "evidence": [self._existing(e, "evidence") for e in evidence]}
        if cause == effect:
            raise MemoryInputError(f"a causal edge needs two different memories, got {cause!r} twice")
        old = self._find("edge", {"cause": cause, "effect": effect})
        ident = old[0][0] if old else self._new_ids("edge")[0]
        if old:
            fields["created"] = old[0][1]["created"]
        vec = self._vector(mechanism, "mechanism", embedding) if mechanism or embedding is not None else \
            self.store.get(cause).vector
        return ident, vec, fields

    def add_causal_edge(self, cause, effect, *, uplift, confidence, sample_size=0, mechanism="", evidence=(),
                        embedding=None):
        """Records (or replaces) the edge cause -> effect between two stored memories; returns
        its id ("edge:<n>").

        >>> mem.add_causal_edge("skill:1", "episode:7", uplift=0.3, confidence=0.9)  # doctest: +SKIP
        'edge:1'
        """
        record = self._edge_record(cause, effect, uplift, confidence, sample_size, mechanism, evidence, embedding)
        self._put([record])
        return record[0]

    def get_causal_edge(self, edge_id):
        """One edge's fields (UnknownIdError if there is none with this id)."""
        return public(edge_id, self._get(edge_id, "edge"))

    def causal_effects(self, cause, *, min_confidence=0.0, min_uplift=None):
        """The edges out of `cause` with confidence >= min_confidence (and uplift >= min_uplift),
        largest uplift first."""
        where = {"cause": text(cause, "cause"),
                 "confidence": {"ge": number(min_confidence, "min_confidence", low=0, high=1)}}
        if min_uplift is not None:
            where["uplift"] = {"ge": number(min_uplift, "min_uplift")}
        edges = [public(i, md) for i, md in self._find("edge", where)]
        return sorted(edges, key=lambda e: -e["uplift"])

    def similar_causal_edges(self, mechanism, *, k=5, embedding=None):
        """The k edges whose mechanism is most similar to `mechanism`."""
        return self._search("edge", self._vector(mechanism, "mechanism", embedding), k)

    def causal_chain(self, start, end, *, max_depth=5, min_confidence=0.0):
        """Every simple path of edges from start to end with at most max_depth edges, each
        with its memories, edges, total uplift (sum) and confidence (product), most
        confident first."""
        max_depth = count(max_depth, "max_depth")
        out_edges = {}
        for ident, md in self._find("edge", {"confidence": {"ge": number(min_confidence, "min_confidence")}}):
            out_edges.setdefault(md["cause"], []).append((ident, md))
        paths = []

        def walk(node, nodes, edges):
            if node == end and edges:
                paths.append((list(nodes), list(edges)))
                return
            if len(edges) == max_depth:
                return
            for ident, md in out_edges.get(node, ()):
                if md["effect"] not in nodes:
                    nodes.append(md["effect"])
                    edges.append((ident, md))
                    walk(md["effect"], nodes, edges)
                    nodes.pop()
                    edges.pop()
        walk(start, [start], [])
        chains = []
        for nodes, edges in paths:
            confidence = 1.0
            for _, md in edges:
                confidence *= md["confidence"]
            chains.append({"memories": nodes, "edges": [i for i, _ in edges],
                           "uplift": math.fsum(md["uplift"] for _, md in edges), "confidence": confidence})
        return sorted(chains, key=lambda c: (-c["confidence"], -c["uplift"], len(c["edges"])))

    # ---- experiments ---------------------------------------------------------------------------

    def create_experiment(self, name, hypothesis, *, treatment, effect=None, embedding=None):
        """An experiment testing whether `treatment` (a stored memory) raises an outcome; with
        `effect` (another memory), calculate_uplift() records the edge treatment -> effect.
        Returns its id ("experiment:<n>")."""
        fields = {"kind": "experiment", "name": text(name, "name"), "hypothesis": text(hypothesis, "hypothesis"),
                  "treatment": self._existing(treatment, "treatment")}
        if effect is not None:
            fields["effect_memory"] = self._existing(effect, "effect")
        [ident] = self._new_ids("experiment")
        self._put([(ident, self._vector(hypothesis, "hypothesis", embedding), fields)])
        return ident

    def record_observation(self, experiment_id, *, treatment, outcome, episode=None):
        """One outcome (a finite number: reward, success as 0/1, latency, ...) observed with
        (treatment=True) or without the treatment. Returns its id ("observation:<n>")."""
        self._get(experiment_id, "experiment")
        fields = {"kind": "observation", "experiment": experiment_id, "treatment": flag(treatment, "treatment"),
                  "outcome": number(outcome, "outcome")}
        if episode is not None:
            fields["episode"] = public(episode, self._get(episode, "episode"))["id"]
        [ident] = self._new_ids("observation")
        self._put([(ident, self.store.get(experiment_id).vector, fields)])
        return ident

    def calculate_uplift(self, experiment_id):
        """Welch's t-test of treatment against control outcomes: {"uplift", "p_value",
        "confidence" (1 - p), "ci95", "n_treatment", "n_control", ...}. Stored on the
        experiment, and, when it names an effect memory, as the edge treatment -> effect (one
        commit)."""
        exp = self._get(experiment_id, "experiment")
        obs = [md for _, md in self._find("observation", {"experiment": experiment_id})]
        treated = [md["outcome"] for md in obs if md["treatment"]]
        control = [md["outcome"] for md in obs if not md["treatment"]]
        if not treated or not control:
            raise MemoryInputError(f"{experiment_id} needs observations with and without the treatment "
                                   f"(has {len(treated)} and {len(control)})")
        result = welch(treated, control)
        result.update(confidence=1.0 - result["p_value"], n_treatment=len(treated), n_control=len(control))
        records = [(experiment_id, None, {**exp, "result": result})]
        if "effect_memory" in exp:
            records.append(self._edge_record(exp["treatment"], exp["effect_memory"], result["uplift"],
                                             result["confidence"], len(obs), f"experiment {exp['name']}: "
                                             f"{exp['hypothesis']}", (), None))
        self._put(records)
        return result

    # ---- recall --------------------------------------------------------------------------------

    def causal_recall(self, query, *, k=10, kinds=RECALL_KINDS, where=None, alpha=None, beta=None, gamma=None,
                      candidates=None, embedding=None):
        """The k memories with the highest utility = alpha * similarity + beta * uplift -
        gamma * latency, from the `candidates` (default 4k, at least 20) most similar ones.
        uplift: the confidence-weighted mean uplift of the memory's outgoing edges (0 without);
        latency: its latency_ms (episodes) or avg_latency_ms (skills) in seconds.
        Weights default to causal_weights (0.7, 0.2, 0.1)."""
        a, b, g = (self.causal_weights[i] if w is None else number(w, name)
                   for i, (w, name) in enumerate(((alpha, "alpha"), (beta, "beta"), (gamma, "gamma"))))
        pool = count(candidates, "candidates") if candidates is not None else max(4 * k, 20)
        args = {"q": query, "k": k, "kinds": list(kinds), "where": where, "w": [a, b, g], "pool": pool}

        def compute():
            hits = self._search(list(kinds), self._vector(query, "query", embedding), max(pool, k), where)
            edges = {}
            if hits:
                for _, md in self._find("edge", {"cause": {"in": [h["id"] for h in hits]}}):
                    edges.setdefault(md["cause"], []).append(md)
            for hit in hits:
                out = edges.get(hit["id"], [])
                weight = math.fsum(e["confidence"] for e in out)
                hit["uplift"] = math.fsum(e["uplift"] * e["confidence"] for e in out) / weight if weight else 0.0
                hit["latency_s"] = hit.get("latency_ms", hit.get("avg_latency_ms", 0.0)) / 1000.0
                hit["utility"] = a * hit["similarity"] + b * hit["uplift"] - g * hit["latency_s"]
            hits.sort(key=lambda h: -h["utility"])
            return hits[:k]
        return self._cached("causal_recall", args, compute, embedding)
