"""Semantic router: intents given by example utterances; route(text) names the intents whose
examples are most similar. Each utterance is a record "intent:<name>:<i>", so the router is
in the .rvf with everything else and a reopen routes without rebuilding anything."""
from ..errors import UnknownIdError
from .core import MemoryInputError, count, number, text


class Router:
    """Mixin of AgentMemory: intents are records of kind "intent", one per utterance."""

    def add_intent(self, name, utterances, *, metadata=None, embeddings=None):
        """Adds an intent, or replaces its utterances (one commit). embeddings: the caller's
        vectors, one per utterance. Returns how many utterances it has.

        >>> mem.add_intent("greet", ["hello", "good morning"])       # doctest: +SKIP
        2
        """
        name = text(name, "name")
        if ":" in name:
            raise MemoryInputError(f"intent names cannot contain ':', got {name!r}")
        if isinstance(utterances, str) or not utterances:
            raise MemoryInputError("utterances must be a non-empty list of texts")
        utterances = [text(u, f"utterances[{i}]") for i, u in enumerate(utterances)]
        if embeddings is not None and len(embeddings) != len(utterances):
            raise MemoryInputError(f"{len(embeddings)} embeddings for {len(utterances)} utterances")
        records = []
        for i, utterance in enumerate(utterances):
            vec = self._vector(utterance, f"utterances[{i}]", embeddings[i] if embeddings is not None else None)
            fields = {"kind": "intent", "intent": name, "text": utterance}
            if metadata:
                fields["metadata"] = dict(metadata)
            records.append((f"intent:{name}:{i}", vec, fields))
        stale = [ident for ident, _ in self._find("intent", {"intent": name}) if ident not in
                 {r[0] for r in records}]
        self._put(records, delete=stale)
        return len(records)

    def remove_intent(self, name):
        """Removes an intent and its utterances; returns how many utterances went."""
        ids = [ident for ident, _ in self._find("intent", {"intent": text(name, "name")})]
        if not ids:
            raise UnknownIdError(f"no intent named {name!r}")
        return self.store.delete(ids)

    def intents(self):
        """[{"intent", "utterances", "metadata"}] for every intent, in the order they were added."""
        out = {}
        for _, md in self._find("intent"):
            entry = out.setdefault(md["intent"], {"intent": md["intent"], "utterances": [],
                                                  "metadata": md.get("metadata", {})})
            entry["utterances"].append(md["text"])
        return list(out.values())

    def route(self, query, *, k=1, threshold=0.0, embedding=None):
        """The k intents best matching query, best first: [{"intent", "score", "utterance",
        "metadata"}] where score is the similarity of the intent's closest utterance, and only
        intents scoring above 0 (something in common) and >= threshold (an empty list means
        "no intent")."""
        k = count(k, "k")
        threshold = number(threshold, "threshold", low=-1, high=1)

        def compute():
            vec = self._vector(query, "query", embedding)
            pool = max(4 * k, 16)
            while True:     # widen until k distinct intents show up, or every utterance did
                hits = self._search("intent", vec, pool)
                if len(hits) < pool or len({h["intent"] for h in hits}) >= k:
                    break
                pool *= 4
            best = {}
            for hit in hits:
                if hit["intent"] not in best and hit["similarity"] >= threshold and hit["similarity"] > 0:
                    best[hit["intent"]] = {"intent": hit["intent"], "score": hit["similarity"], "utterance": hit["text"],
                                           "metadata": hit.get("metadata", {})}
            return list(best.values())[:k]
        args = {"q": query, "k": k, "t": threshold}
        return self._cached("route", args, compute, embedding)
