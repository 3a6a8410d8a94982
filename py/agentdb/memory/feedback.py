"""Feedback: recall that learns which memories were useful.

Every recall-type call (recall, retrieve_episodes, search_skills, find_patterns) answers with a
`recall_id` and remembers the query vector it searched with (core._recall). feedback() turns
"these ids were useful for that query" into a record of kind "feedback" whose vector is that
query vector, so the feedback is in the .rvf with every other memory and survives a reopen;
recall never returns it (every search names the kinds it wants). learn() trains the store's
query adapter on all of it (VectorStore.learn: a query-side LoRA, the stored vectors never
change), and the recall-type calls search through that adapter from then on.
"""
import array
import math
from dataclasses import asdict

from ..errors import OptionError, UnknownIdError
from .core import RECALLS_KEPT, MemoryInputError, count, text

KINDS = ("note", "episode", "skill", "pattern")     # what the recall-type calls search


def _plain(value):
    """A JSON value a browser can parse too: a non-finite float (a loss with no validation
    split, say) becomes None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Feedback:
    """Mixin of AgentMemory: feedback records (kind "feedback") and learning from them."""

    def feedback(self, recall_id=None, *, useful, query=None, embedding=None):
        """Records which memories were useful for a recall: `recall_id` is an answer's
        (hits.recall_id: one of this memory's last 1000 distinct recalls, which live until
        close), or give the query= text that was searched (a retrieve_episodes call's is task +
        "\\n" + current_state) or its embedding=. useful: an id or a list of ids of the kind
        that call searched; any stored one, not only those in the answer, so a memory the
        answer missed can be named (that is the case learn() mends). One record, one commit;
        returns its id ("feedback:<n>"). UnknownIdError for an unknown recall id or memory,
        MemoryInputError for an id of another kind.

        >>> hits = mem.recall("when do we ship")                        # doctest: +SKIP
        >>> mem.feedback(hits.recall_id, useful=["note:3"])             # doctest: +SKIP
        'feedback:1'
        >>> mem.feedback(query="when do we ship", useful="note:3")      # doctest: +SKIP
        'feedback:2'
        """
        useful = [useful] if isinstance(useful, str) else useful
        if not isinstance(useful, (list, tuple)) or not useful:
            raise MemoryInputError(f"useful must be an id or a non-empty list of ids, got {useful!r}")
        useful = list(dict.fromkeys(text(u, f"useful[{i}]") for i, u in enumerate(useful)))
        fields = {"kind": "feedback"}
        if recall_id is not None:
            if query is not None or embedding is not None:
                raise MemoryInputError("give recall_id or query= / embedding=, not both")
            asked = self._recalls.get(recall_id) if isinstance(recall_id, str) else None
            if asked is None:
                raise UnknownIdError(f"no recall with id {recall_id!r} in this memory (it keeps its last "
                                     f"{RECALLS_KEPT} recalls until close): give query= instead")
            searched, vec = asked["searched"], asked["vector"]
            fields.update(recall=recall_id, method=asked["method"], answered=asked["answered"])
            if asked["query"] is not None:
                fields["query"] = asked["query"]
        elif query is None and embedding is None:
            raise MemoryInputError("feedback() needs a recall_id, or the query= (or embedding=) that was searched")
        else:
            searched, vec = KINDS, self._vector(query, "query", embedding)
            if query is not None:
                fields["query"] = text(query, "query")
        kinds = []
        for i, ident in enumerate(useful):
            kind = self.store.get(ident).metadata.get("kind") if ident in self.store else None
            if kind is None:
                raise UnknownIdError(f"useful[{i}]: no memory with id {ident!r}")
            if kind not in searched:
                allowed = "feedback names notes, episodes, skills or patterns" if searched is KINDS else \
                    f"that recall searched {' or '.join(k + 's' for k in searched)}"
                raise MemoryInputError(f"useful[{i}]: {ident!r} is of kind {kind!r}; {allowed}")
            kinds.append(kind)
        fields.update(useful=useful, searched=sorted(set(kinds)) if searched is KINDS else list(searched))
        [ident] = self._new_ids("feedback")
        self._put([(ident, vec, fields)])
        return ident

    def learn(self, *, preset="quick_finetune", min_feedback=1, **options):
        """Trains the store's query adapter on every feedback record (VectorStore.learn: each
        recorded query vector against the memories it found useful, with the hits its answer
        showed that were not marked useful as negatives, and hard negatives mined from the
        store), keeps it in the store (in the .rvf for a file) and from then on
        recall, retrieve_episodes, search_skills and find_patterns search through it (their
        adapt=False opts out; cached answers from before are not served again). Training
        continues from the adapter already there. Duplicate (query, id) pairs count once;
        useful ids forgotten since are left out. options: any of VectorStore.learn's (epochs,
        lr, batch_size, rank, hard_negatives, temperature, seed, ...). Fewer than min_feedback
        records (or none still naming a stored memory) is a MemoryInputError, never a silent
        no-op. Returns the FeedbackReport as a dict, with "feedback" (records read),
        "queries" (distinct query vectors) and "forgotten" (useful ids no longer stored).

        >>> mem.learn(epochs=20)["pairs"]                               # doctest: +SKIP
        12
        """
        if "adapter" in options:
            raise OptionError("mem.learn() trains the adapter recall searches with ('query'); "
                              "train others with mem.store.learn(..., adapter=name)")
        self.store._writable()              # a read-only memory refuses before training, not after
        min_feedback = count(min_feedback, "min_feedback")
        if min_feedback < 1:
            raise MemoryInputError(f"min_feedback must be at least 1, got {min_feedback}")
        records = self._find("feedback")
        if len(records) < min_feedback:
            raise MemoryInputError(f"learn() needs at least {min_feedback} feedback record(s), this memory has "
                                   f"{len(records)}: record some with feedback(recall_id, useful=[...])")
        groups, forgotten = {}, 0             # query vector bytes -> (vector, useful ids), first seen first
        for ident, md in records:
            alive = [u for u in md["useful"] if u in self.store and
                     self.store.get(u).metadata.get("kind") in md["searched"]]
            forgotten += len(md["useful"]) - len(alive)
            if alive:
                vec = self.store.get(ident).vector
                group = groups.setdefault(bytes(memoryview(vec).cast("B")), (vec, [], []))
                group[1].extend(u for u in alive if u not in group[1])
                # what the answer showed and the user passed over: a known negative
                group[2].extend(a for a in md.get("answered", []) if a in self.store and a not in group[2])
        if not groups:
            raise MemoryInputError(f"none of the {len(records)} feedback record(s) names a memory that is still "
                                   f"stored: nothing to learn from")
        queries = array.array("f")
        for vec, _, _ in groups.values():
            queries.extend(vec)
        # negatives come from the memories those calls search, never from the feedback records
        kinds = sorted({kind for _, md in records for kind in md["searched"]})
        options.setdefault("negatives_where", {"kind": {"in": kinds}})
        report = self.store.learn(queries, [ids for _, ids, _ in groups.values()], preset=preset,
                                  negatives=[[a for a in seen if a not in ids] for _, ids, seen in groups.values()],
                                  **options)
        return {"feedback": len(records), "queries": len(groups), "forgotten": forgotten, **_plain(asdict(report))}
