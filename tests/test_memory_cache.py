"""The query cache: hits while nothing changes; any write, an age past the TTL or the size
bound drops entries; callers get copies."""
from memory_support import new_memory


def test_cache_hits_and_invalidation():
    mem, clock = new_memory(cache_ttl=60, cache_size=2)
    mem.remember("the printer on floor two is broken")
    first = mem.recall("printer broken")
    assert mem.recall("printer broken") == first
    assert mem.cache.stats()["hits"] == 1
    first[0]["text"] = "changed by the caller"
    assert mem.recall("printer broken")[0]["text"] == "the printer on floor two is broken"
    note = mem.remember("the printer on floor three works")             # a write: stale answers go
    assert [h["id"] for h in mem.recall("printer broken", k=5)] == ["note:1", note]
    mem.store.delete([note])                                            # also a write made on the store itself
    assert [h["id"] for h in mem.recall("printer broken", k=5)] == ["note:1"]
    hits = mem.cache.stats()["hits"]
    clock.t += 61                                                       # past the TTL
    mem.recall("printer broken", k=5)
    assert mem.cache.stats()["hits"] == hits
    for q in ("a printer", "b printer", "c printer"):                   # the size bound
        mem.recall(q)
    assert mem.cache.stats()["size"] == 2


def test_no_cache():
    mem, _ = new_memory(cache_size=0)
    mem.remember("a note")
    mem.recall("a note")
    mem.recall("a note")
    assert mem.cache.stats() == {"size": 0, "max_size": 0, "ttl": 300.0, "hits": 0, "misses": 2}
