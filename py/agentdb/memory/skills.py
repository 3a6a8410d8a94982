"""Skills: named, reusable ways of doing a task, with usage statistics and links.

A skill's vector embeds its name and description. Links (prerequisite, alternative,
refinement, composition) live in the parent skill's `links` field, so linking is one write."""
from ..errors import UnknownIdError
from .core import MemoryInputError, both, count, flag, mean, metadata_filter, number, public, tag_fields, text

RELATIONSHIPS = ("prerequisite", "alternative", "refinement", "composition")


class Skills:
    """Mixin of AgentMemory: skills are records of kind "skill"."""

    def create_skill(self, name, description="", *, signature=None, code="", success_rate=0.0, uses=0,
                     avg_reward=0.0, avg_latency_ms=0.0, created_from_episode=None, tags=(), metadata=None,
                     embedding=None):
        """Creates a skill (names are unique); returns its id ("skill:<n>").

        >>> mem.create_skill("binary search", "halve a sorted range until found")  # doctest: +SKIP
        'skill:1'
        """
        name = text(name, "name")
        if self._find("skill", {"name": name}):
            raise MemoryInputError(f"a skill named {name!r} exists already: {self._find('skill', {'name': name})[0][0]}")
        fields = {"kind": "skill", "name": name, "description": text(description, "description", required=False),
                  "code": text(code, "code", required=False),
                  "success_rate": number(success_rate, "success_rate", low=0, high=1), "uses": count(uses, "uses"),
                  "avg_reward": number(avg_reward, "avg_reward", low=0, high=1),
                  "avg_latency_ms": number(avg_latency_ms, "avg_latency_ms", low=0), "links": [],
                  **tag_fields(tags)}
        if signature is not None:
            fields["signature"] = dict(signature)
        if created_from_episode is not None:
            fields["created_from_episode"] = public(created_from_episode,
                                                    self._get(created_from_episode, "episode"))["id"]
        if metadata:
            fields["metadata"] = dict(metadata)
        vec = self._vector(f"{name}\n{description}" if description else name, "name", embedding)
        [ident] = self._new_ids("skill")
        self._put([(ident, vec, fields)])
        return ident

    def search_skills(self, query, *, k=5, min_success_rate=0.0, where=None, embedding=None, adapt=None):
        """The k skills most similar to query with success_rate >= min_success_rate and whose
        own metadata= matches `where` (a store filter over its fields, run inside the search).
        The answer carries a `recall_id` for feedback(); adapt: see learn().

        >>> mem.search_skills("sort", where={"lang": {"in": ["py", "js"]}})  # doctest: +SKIP
        """
        floor = {"success_rate": {"ge": number(min_success_rate, "min_success_rate", low=0, high=1)}}
        mine = metadata_filter(where)
        args = {"q": query, "k": k, "min": min_success_rate, "meta": mine}
        return self._recall("search_skills", "skill", query, k, both(floor, mine), args, embedding=embedding,
                            adapt=adapt)

    def get_skill(self, skill_id):
        """One skill's fields (UnknownIdError if there is none with this id)."""
        return public(skill_id, self._get(skill_id, "skill"))

    def update_skill_stats(self, skill_id, *, success, reward=None, latency_ms=None):
        """Counts one use: uses + 1 and running means of success, reward and latency."""
        md = self._get(skill_id, "skill")
        n = md["uses"]
        change = {"uses": n + 1,
                  "success_rate": (md["success_rate"] * n + flag(success, "success")) / (n + 1)}
        if reward is not None:
            change["avg_reward"] = (md["avg_reward"] * n + number(reward, "reward", low=0, high=1)) / (n + 1)
        if latency_ms is not None:
            change["avg_latency_ms"] = (md["avg_latency_ms"] * n + number(latency_ms, "latency_ms", low=0)) / (n + 1)
        self._update({skill_id: change})
        return public(skill_id, {**md, **change})

    def link_skills(self, parent, child, relationship, *, weight=1.0):
        """Links two skills (parent --relationship--> child); linking again replaces the weight."""
        if relationship not in RELATIONSHIPS:
            raise MemoryInputError(f"relationship must be one of {', '.join(RELATIONSHIPS)}, got {relationship!r}")
        if parent == child:
            raise MemoryInputError(f"a skill cannot be linked to itself ({parent!r})")
        md = self._get(parent, "skill")
        self._get(child, "skill")
        links = [ln for ln in md["links"] if (ln["skill"], ln["relationship"]) != (child, relationship)]
        links.append({"skill": child, "relationship": relationship, "weight": number(weight, "weight")})
        self._update({parent: {"links": links}})

    def skill_plan(self, skill_id):
        """The skill with its linked skills grouped by relationship, heaviest link first
        (links to deleted skills are left out)."""
        md = self._get(skill_id, "skill")
        plan = {"skill": public(skill_id, md), **{r + "s": [] for r in RELATIONSHIPS}}
        for ln in sorted(md["links"], key=lambda ln: -ln["weight"]):
            try:
                linked = public(ln["skill"], self._get(ln["skill"], "skill"))
            except UnknownIdError:
                continue
            plan[ln["relationship"] + "s"].append({**linked, "weight": ln["weight"]})
        return plan

    def consolidate_skills(self, *, min_attempts=3, min_reward=0.7, time_window_days=None):
        """Turns tasks solved repeatedly into skills: every task with at least min_attempts
        successful episodes (in the window) whose mean reward is >= min_reward becomes a skill
        named after the task, described by its best episode's output, with the task's stats.
        An existing skill of that name gets the new stats. One commit for all of them.
        Returns {"created": [ids], "updated": [ids]}."""
        min_attempts = count(min_attempts, "min_attempts")
        min_reward = number(min_reward, "min_reward", low=0, high=1)
        tasks = {}
        for ident, md in self._find("episode", self._since(time_window_days)):
            tasks.setdefault(md["task"], []).append((ident, md))
        created, updated, records = [], [], []
        for task, eps in sorted(tasks.items()):
            wins = [(i, md) for i, md in eps if md["success"]]
            if len(wins) < max(min_attempts, 1) or mean([md["reward"] for _, md in wins]) < min_reward:
                continue
            best_id, best = max(wins, key=lambda e: (e[1]["reward"], e[1]["created"]))
            latencies = [md["latency_ms"] for _, md in eps if "latency_ms" in md]
            stats = {"success_rate": len(wins) / len(eps), "uses": len(eps),
                     "avg_reward": mean([md["reward"] for _, md in eps]),
                     "avg_latency_ms": mean(latencies) if latencies else 0.0,
                     "created_from_episode": best_id, "episodes": [i for i, _ in eps]}
            existing = self._find("skill", {"name": task})
            if existing:
                ident, md = existing[0]
                records.append((ident, None, {**md, **stats}))
                updated.append(ident)
            else:
                description = best["output"] or best["critique"]
                vec = self._vector(f"{task}\n{description}" if description else task, "task")
                [ident] = self._new_ids("skill")
                records.append((ident, vec, {"kind": "skill", "name": task, "description": description,
                                             "code": "", "links": [], **tag_fields(()), **stats}))
                created.append(ident)
        if records:
            self._put(records)
        return {"created": created, "updated": updated}

    def prune_skills(self, *, min_uses=3, min_success_rate=0.3, max_age_days=None):
        """Deletes skills tried at least min_uses times that succeed less than min_success_rate,
        and (with max_age_days) skills not updated for that long. Returns how many went."""
        bad = [{"uses": {"ge": count(min_uses, "min_uses")},
                "success_rate": {"lt": number(min_success_rate, "min_success_rate", low=0, high=1)}}]
        if max_age_days is not None:
            bad.append({"updated": {"lt": self.clock() - 86400.0 * number(max_age_days, "max_age_days", low=0)}})
        return self._forget([i for i, _ in self._find("skill", both({"or": bad}))])
