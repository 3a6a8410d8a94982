"""Episodes (Reflexion): what an agent tried, how it went and what it learned.

An episode's vector embeds its task and input (the situation), so retrieve_episodes(task,
current_state) finds what was tried in similar situations; reward is in [0, 1]."""
from .core import both, count, flag, mean, metadata_filter, number, public, tag_fields, tag_filter, text
from ..errors import MemoryInputError, NeedEmbeddings


class Episodes:
    """Mixin of AgentMemory: episodes are records of kind "episode"."""

    def store_episode(self, session, task, *, input="", output="", critique="", reward, success,
                      latency_ms=None, tokens=None, tags=(), metadata=None, embedding=None):
        """Stores one episode; returns its id ("episode:<n>").

        >>> mem.store_episode("s1", "sort a list", output="used sorted()", reward=0.9, success=True)  # doctest: +SKIP
        'episode:1'
        """
        record = self._episode(session, task, input=input, output=output, critique=critique, reward=reward,
                               success=success, latency_ms=latency_ms, tokens=tokens, tags=tags, metadata=metadata,
                               embedding=embedding)
        [ident] = self._new_ids("episode")
        self._put([(ident, *record)])
        return ident

    def store_episodes(self, episodes):
        """Stores many episodes (dicts of store_episode's arguments) in one commit, all or
        nothing; returns their ids. A bad one is named by its index.

        >>> mem.store_episodes([{"session": "s", "task": "t", "reward": 1.0, "success": True}])  # doctest: +SKIP
        ['episode:2']
        """
        records, missing = [], []
        for i, ep in enumerate(episodes):
            try:
                records.append(self._episode(**ep))
            except NeedEmbeddings as need:        # a page embedder: ask for every text in one round
                missing.extend(need.texts)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"episodes[{i}]: {exc}") from None
        if missing:
            raise NeedEmbeddings(list(dict.fromkeys(missing)))
        ids = self._new_ids("episode", len(records))
        self._put([(ident, *record) for ident, record in zip(ids, records)])
        return ids

    def _episode(self, session, task, *, input="", output="", critique="", reward, success, latency_ms=None,
                 tokens=None, tags=(), metadata=None, embedding=None):
        """(vector, fields) of one episode, every argument checked."""
        fields = {"kind": "episode", "session": text(session, "session"), "task": text(task, "task"),
                  "input": text(input, "input", required=False), "output": text(output, "output", required=False),
                  "critique": text(critique, "critique", required=False),
                  "reward": number(reward, "reward", low=0, high=1), "success": flag(success, "success"),
                  **tag_fields(tags)}
        if latency_ms is not None:
            fields["latency_ms"] = number(latency_ms, "latency_ms", low=0)
        if tokens is not None:
            fields["tokens"] = count(tokens, "tokens")
        if metadata:
            fields["metadata"] = dict(metadata)
        return self._vector(f"{task}\n{input}" if input else task, "task", embedding), fields

    def retrieve_episodes(self, task, *, current_state="", k=5, min_reward=None, only_success=False,
                          only_failures=False, time_window_days=None, session=None, tags=(), where=None,
                          embedding=None, adapt=None):
        """The k episodes most similar to task (+ current_state), best first, as dicts with
        their fields and `similarity`; filters run inside the search (k hits whenever k match).
        `where` filters the episodes' own metadata= like a store filter over its fields. The
        answer carries a `recall_id` for feedback(); adapt: see learn().

        >>> mem.retrieve_episodes("parse dates", min_reward=0.5, where={"repo": "api"})  # doctest: +SKIP
        """
        if only_success and only_failures:
            raise MemoryInputError("only_success and only_failures exclude each other")
        fields = {}
        if min_reward is not None:
            fields["reward"] = {"ge": number(min_reward, "min_reward")}
        if only_success or only_failures:
            fields["success"] = bool(only_success)
        if session is not None:
            fields["session"] = text(session, "session")
        fields.update(tag_filter(tags))
        window, mine = self._since(time_window_days), metadata_filter(where)
        query = f"{task}\n{current_state}" if current_state else task
        args = {"q": query, "k": k, "where": fields, "window": window, "meta": mine, "e": embedding is not None}
        return self._recall("retrieve_episodes", "episode", query, k, both(fields, window, mine), args,
                            embedding=embedding, adapt=adapt, name="task")

    def get_episode(self, episode_id):
        """One episode's fields (UnknownIdError if there is none with this id)."""
        return public(episode_id, self._get(episode_id, "episode"))

    def critique_summary(self, task, *, k=10):
        """The critiques of the k most similar failed episodes, most similar first, without
        repeats, as one text (empty when there are none)."""
        seen = []
        for ep in self.retrieve_episodes(task, k=k, only_failures=True):
            if ep["critique"] and ep["critique"] not in seen:
                seen.append(ep["critique"])
        return "\n".join(seen)

    def success_strategies(self, task, *, k=10):
        """The outputs of the k most similar successful episodes, highest reward first:
        [{"id", "output", "reward", "similarity"}]."""
        hits = self.retrieve_episodes(task, k=k, only_success=True)
        hits.sort(key=lambda ep: (-ep["reward"], -ep["similarity"]))
        return [{"id": ep["id"], "output": ep["output"], "reward": ep["reward"], "similarity": ep["similarity"]}
                for ep in hits if ep["output"]]

    def task_stats(self, task, *, time_window_days=None):
        """Attempts, successes, success rate, mean reward and latency, and the trend (mean
        reward of the later half of the attempts minus the earlier half) for one exact task."""
        eps = [md for _, md in self._find("episode", both({"task": text(task, "task")},
                                                         self._since(time_window_days)))]
        eps.sort(key=lambda md: md["created"])
        n = len(eps)
        if n == 0:
            return {"task": task, "attempts": 0, "successes": 0, "success_rate": 0.0, "avg_reward": 0.0,
                    "avg_latency_ms": None, "trend": 0.0}
        rewards = [md["reward"] for md in eps]
        latencies = [md["latency_ms"] for md in eps if "latency_ms" in md]
        half = n // 2
        trend = (mean(rewards[half:]) - mean(rewards[:half])) if half else 0.0
        successes = sum(md["success"] for md in eps)
        return {"task": task, "attempts": n, "successes": successes, "success_rate": successes / n,
                "avg_reward": mean(rewards),
                "avg_latency_ms": mean(latencies) if latencies else None, "trend": trend}

    def recent_episodes(self, session, *, limit=10):
        """The session's latest episodes, newest first."""
        eps = self._find("episode", {"session": text(session, "session")})
        eps.sort(key=lambda e: e[1]["created"], reverse=True)
        return [public(i, md) for i, md in eps[:count(limit, "limit")]]

    def prune_episodes(self, *, max_age_days=None, min_reward=None, max_count=None, keep_per_task=0):
        """Deletes episodes older than max_age_days, rewarded below min_reward, or beyond the
        max_count newest, but keeps at least the keep_per_task best of every task. Returns how
        many records were deleted: the causal edges and observations that refer to the
        episodes go too (one commit)."""
        if max_age_days is None and min_reward is None and max_count is None:
            raise MemoryInputError("prune_episodes() needs max_age_days=, min_reward= or max_count=")
        old = self._since(max_age_days, "max_age_days")
        bad = [{"not": old}] if old else []
        if min_reward is not None:
            bad.append({"reward": {"lt": number(min_reward, "min_reward")}})
        doomed = {i for i, _ in self._find("episode", {"or": bad})} if bad else set()
        everything = self._find("episode")
        if max_count is not None:
            newest_first = sorted(everything, key=lambda e: e[1]["created"], reverse=True)
            doomed.update(i for i, _ in newest_first[count(max_count, "max_count"):])
        by_task = {}
        for ident, md in everything:
            by_task.setdefault(md["task"], []).append((md["reward"], md["created"], ident))
        for group in by_task.values():
            group.sort(reverse=True)
            doomed.difference_update(ident for _, _, ident in group[:count(keep_per_task, "keep_per_task")])
        return self._forget(sorted(doomed))

    def delete_episode(self, episode_id):
        """Deletes an episode and the causal edges and observations that refer to it."""
        self._get(episode_id, "episode")
        self._forget([episode_id])
