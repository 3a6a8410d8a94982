"""Reasoning patterns (ReasoningBank): approaches that worked for a type of task.

A pattern's vector embeds its task type and approach (or is the caller's embedding); its
success rate moves as an exponential moving average of recorded outcomes, so recent
evidence counts most and a pattern that keeps failing sinks in find_patterns and is pruned."""
from collections import Counter

from .core import both, count, flag, mean, metadata_filter, number, public, tag_fields, tag_filter, text

EMA_ALPHA = 0.1          # weight of the newest outcome in the success rate (ruvllm's value)


class Patterns:
    """Mixin of AgentMemory: reasoning patterns are records of kind "pattern"."""

    def store_pattern(self, task_type, approach, *, success_rate=0.5, uses=0, avg_reward=0.0, tags=(),
                      metadata=None, embedding=None):
        """Stores a pattern; returns its id ("pattern:<n>").

        >>> mem.store_pattern("parsing", "tokenize first, then recursive descent")  # doctest: +SKIP
        'pattern:1'
        """
        fields = {"kind": "pattern", "task_type": text(task_type, "task_type"), "approach": text(approach, "approach"),
                  "success_rate": number(success_rate, "success_rate", low=0, high=1), "uses": count(uses, "uses"),
                  "avg_reward": number(avg_reward, "avg_reward", low=0, high=1), **tag_fields(tags)}
        if metadata:
            fields["metadata"] = dict(metadata)
        vec = self._vector(f"{task_type}\n{approach}", "approach", embedding)
        [ident] = self._new_ids("pattern")
        self._put([(ident, vec, fields)])
        return ident

    def find_patterns(self, task, *, k=5, threshold=None, task_type=None, min_success_rate=None, tags=(),
                      where=None, embedding=None, adapt=None):
        """The k patterns most similar to task, best first, with similarity >= threshold,
        of task_type, with success_rate >= min_success_rate, every tag in `tags` and their own
        metadata= matching `where` (a store filter over its fields). The answer carries a
        `recall_id` for feedback(); adapt: see learn().

        >>> mem.find_patterns("parse json", where={"or": [{"source": "docs"}, {"votes": {"gt": 3}}]})  # doctest: +SKIP
        """
        fields = tag_filter(tags)
        if task_type is not None:
            fields["task_type"] = text(task_type, "task_type")
        if min_success_rate is not None:
            fields["success_rate"] = {"ge": number(min_success_rate, "min_success_rate", low=0, high=1)}
        if threshold is not None:
            threshold = number(threshold, "threshold", low=-1, high=1)
        mine = metadata_filter(where)
        args = {"q": task, "k": k, "where": fields, "meta": mine, "t": threshold}
        return self._recall("find_patterns", "pattern", task, k, both(fields, mine), args, embedding=embedding,
                            adapt=adapt, name="task", threshold=threshold)

    def get_pattern(self, pattern_id):
        """One pattern's fields (UnknownIdError if there is none with this id)."""
        return public(pattern_id, self._get(pattern_id, "pattern"))

    def record_outcome(self, pattern_id, *, success, reward=None):
        """Records one use: success_rate <- (1 - 0.1) * success_rate + 0.1 * success, uses + 1,
        and the running mean reward. Returns the updated pattern."""
        md = self._get(pattern_id, "pattern")
        n = md["uses"]
        change = {"uses": n + 1,
                  "success_rate": (1 - EMA_ALPHA) * md["success_rate"] + EMA_ALPHA * flag(success, "success")}
        if reward is not None:
            change["avg_reward"] = (md["avg_reward"] * n + number(reward, "reward", low=0, high=1)) / (n + 1)
        self._update({pattern_id: change})
        return public(pattern_id, {**md, **change})

    def patterns_by_type(self, task_type, *, limit=10):
        """The task type's patterns, highest success rate first (ties: more uses first)."""
        found = self._find("pattern", {"task_type": text(task_type, "task_type")})
        found.sort(key=lambda p: (-p[1]["success_rate"], -p[1]["uses"]))
        return [public(i, md) for i, md in found[:count(limit, "limit")]]

    def prune_patterns(self, *, min_success_rate=0.3, min_uses=5):
        """Deletes patterns used at least min_uses times whose success rate fell below
        min_success_rate (ruvllm's defaults). Returns how many went."""
        bad = {"uses": {"ge": count(min_uses, "min_uses")},
               "success_rate": {"lt": number(min_success_rate, "min_success_rate", low=0, high=1)}}
        return self._forget([i for i, _ in self._find("pattern", both(bad))])

    def pattern_stats(self, *, high_success_rate=0.8):
        """Totals over all patterns: count, mean success rate and uses, the five most common
        task types as [type, count] (ties by name), and how many succeed at >= high_success_rate."""
        mds = [md for _, md in self._find("pattern")]
        n = len(mds)
        return {"patterns": n,
                "avg_success_rate": mean([md["success_rate"] for md in mds]) if n else 0.0,
                "avg_uses": sum(md["uses"] for md in mds) / n if n else 0.0,
                "top_task_types": sorted(Counter(md["task_type"] for md in mds).items(),
                                         key=lambda kv: (-kv[1], kv[0]))[:5],
                "high_performing": sum(md["success_rate"] >= high_success_rate for md in mds)}
