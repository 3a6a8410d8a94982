"""where= on the memory's searches: a store filter over the caller's own metadata=, run inside
the search, combined with the other filters, cached per filter, malformed parts named."""
from pathlib import Path

import pytest

import agentdb.memory
import reference as ref
from agentdb import FilterError
from memory_support import new_memory

PROJECTS = ["web", "api", "docs"]
N = 90


def meta(i):
    """The caller's metadata of record i: flat fields, a nested dict, sometimes none."""
    if i % 9 == 0:
        return None
    md = {"project": PROJECTS[i % 3], "prio": i % 5, "owner": {"team": f"t{i % 4}", "level": {"n": i % 6}}}
    if i % 7 == 0:
        md["kind"] = "secret"             # the caller's own "kind", not the record's
    return md


def fill(mem):
    for i in range(N):
        tags = ["even"] if i % 2 == 0 else []
        mem.remember(f"note {i} about the {PROJECTS[i % 3]} release", tags=tags, metadata=meta(i))
        mem.store_episode(f"s{i % 4}", f"task {i} for the {PROJECTS[i % 3]} release", reward=(i % 10) / 10,
                          success=i % 3 != 0, tags=tags, metadata=meta(i))
        mem.create_skill(f"skill {i}", f"how to ship the {PROJECTS[i % 3]} release", success_rate=(i % 4) / 4,
                         metadata=meta(i))
        mem.store_pattern("release", f"approach {i} for {PROJECTS[i % 3]}", tags=tags, metadata=meta(i))


@pytest.fixture(scope="module")
def filled():
    mem, _ = new_memory()
    fill(mem)
    return mem


SEARCHES = {
    "recall": lambda mem, **kw: mem.recall("the web release", **kw),
    "retrieve_episodes": lambda mem, **kw: mem.retrieve_episodes("task for the web release", **kw),
    "search_skills": lambda mem, **kw: mem.search_skills("ship the release", **kw),
    "find_patterns": lambda mem, **kw: mem.find_patterns("approach for web", **kw),
}

WHERES = [
    {"project": "web"}, {"project": {"ne": "web"}}, {"prio": {"gt": 2}}, {"prio": {"$le": 1}},
    {"prio": {"in": [0, 4]}}, {"prio": {"range": [1, 3]}}, {"not": {"project": "api"}},
    {"owner.team": "t1"}, {"owner.level.n": {"ge": 4}}, {"project": None}, {"kind": "secret"},
    {"or": [{"project": "docs"}, {"owner.team": {"in": ["t0", "t2"]}}], "prio": {"lt": 4}},
]


def brute_force(mem, search, where, k, **kw):
    """Every hit of the search without where=, in order, kept when its metadata matches."""
    hits = SEARCHES[search](mem, k=4 * N, **kw)
    return [h for h in hits if ref.matches(h.get("metadata") or {}, where)][:k]


@pytest.mark.parametrize("search", sorted(SEARCHES))
@pytest.mark.parametrize("where", WHERES, ids=[str(w) for w in WHERES])
def test_where_keeps_the_records_whose_metadata_matches(filled, search, where):
    got = SEARCHES[search](filled, k=7, where=where)
    want = brute_force(filled, search, where, 7)
    assert got == want
    matching = sum(ref.matches(meta(i) or {}, where) for i in range(N))
    assert len(got) == min(7, matching)                  # the filter runs inside the search


def test_where_combines_with_the_other_filters(filled):
    got = filled.retrieve_episodes("task for the api release", k=5, min_reward=0.5, tags=["even"],
                                   where={"project": "api"})
    assert len(got) == 5
    assert all(ep["reward"] >= 0.5 and ep["tags"] == ["even"] and ep["metadata"]["project"] == "api" for ep in got)
    unfiltered = filled.retrieve_episodes("task for the api release", k=4 * N, min_reward=0.5, tags=["even"])
    assert got == [ep for ep in unfiltered if (ep.get("metadata") or {}).get("project") == "api"][:5]
    notes = filled.recall("the web release", k=4, tags=["even"], where={"prio": 2})
    assert len(notes) == 4 and all("even" in n["tags"] and n["metadata"]["prio"] == 2 for n in notes)
    skills = filled.search_skills("ship the release", k=3, min_success_rate=0.5, where={"owner.team": "t3"})
    assert len(skills) == 3 and all(s["success_rate"] >= 0.5 and s["metadata"]["owner"]["team"] == "t3" for s in skills)
    patterns = filled.find_patterns("approach for web", k=3, tags=["even"], where={"project": "docs"})
    assert len(patterns) == 3 and all("even" in p["tags"] and p["metadata"]["project"] == "docs" for p in patterns)


def test_where_reads_only_the_callers_metadata(filled):
    """where={"kind": ...} is the caller's kind; the record's own fields are out of reach."""
    assert {n["metadata"]["kind"] for n in filled.recall("release", k=50, where={"kind": "secret"})} == {"secret"}
    assert filled.recall("release", where={"kind": "note"}) == []
    assert filled.recall("release", where={"text": {"ne": None}}) == []


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_the_rvf_form_equals_the_plain_form(filled, search):
    rvf = {"op": "and", "children": [{"op": "in", "fieldId": "project", "values": ["web", "docs"]},
                                     {"op": "not", "child": {"op": "lt", "fieldId": "owner.level.n", "value": 2}}]}
    plain = {"project": {"in": ["web", "docs"]}, "not": {"owner.level.n": {"lt": 2}}}
    got = SEARCHES[search](filled, k=6, where=rvf)
    assert got == SEARCHES[search](filled, k=6, where=plain) and len(got) == 6


@pytest.mark.parametrize("search", sorted(SEARCHES))
@pytest.mark.parametrize("where,message", [
    ({"prio": {"between": [1, 2]}}, r"where\.prio\.between: unknown operator 'between'"),
    ({"or": [{"project": "web"}, 5]}, r"where\.or\[1\]: a filter is a dict"),
    ({"project": ["web", "api"]}, r"write \{'in': \['web', 'api'\]\}"),
    ({"op": "eq", "value": 1}, r"lacks 'fieldId'"),
    ("web", r"a filter is a dict, got str"),
])
def test_a_malformed_where_names_its_bad_part(filled, search, where, message):
    with pytest.raises(FilterError, match=message):
        SEARCHES[search](filled, where=where)


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_the_cache_keys_on_where(search):
    mem, _ = new_memory()
    for project in ("web", "api"):
        mem.remember(f"the {project} release", metadata={"project": project})
        mem.store_episode("s", f"task for the {project} release", reward=1, success=True, metadata={"project": project})
        mem.create_skill(f"ship {project}", "ship the release", metadata={"project": project})
        mem.store_pattern("release", f"approach for {project}", metadata={"project": project})

    def projects(where):
        return [hit["metadata"]["project"] for hit in SEARCHES[search](mem, where=where)]
    assert projects({"project": "web"}) == ["web"]
    assert projects({"project": "api"}) == ["api"]
    assert projects({"op": "eq", "fieldId": "project", "value": "api"}) == ["api"]
    assert sorted(projects(None)) == ["api", "web"]
    assert mem.cache.stats()["hits"] == 0
    assert projects({"project": "web"}) == ["web"]
    assert mem.cache.stats()["hits"] == 1


def test_a_memory_file_written_before_where_filters_by_it(kernel):
    path = Path(__file__).resolve().parent / "fixtures" / "memory_hash64.rvf"
    with agentdb.memory.open(path, readonly=True, kernel=kernel) as mem:
        assert [ep["id"] for ep in mem.retrieve_episodes("flaky test", k=20, where={"ci": "github"})] == ["episode:13"]
        assert mem.retrieve_episodes("flaky test", where={"ci": "gitlab"}) == []
