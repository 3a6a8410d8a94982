"""QueryCache: answers of recall calls, bounded in size and age, dropped by any write.

A write to the store bumps its `version`; an entry remembers the version it was computed
at, so nothing stale is ever served (also after writes made through the store directly)."""
import copy
import json
from collections import OrderedDict
from ..errors import OptionError


class QueryCache:
    """>>> cache = QueryCache(max_size=2, ttl=60, clock=lambda: 0.0)
    >>> cache.get_or_compute("f", {"q": 1}, 0, lambda: [1])
    [1]
    """

    def __init__(self, *, max_size=1000, ttl=300.0, clock):
        if not isinstance(max_size, int) or max_size < 0:
            raise OptionError(f"cache max_size must be a non-negative integer, got {max_size!r}")
        if not isinstance(ttl, (int, float)) or ttl < 0:
            raise OptionError(f"cache ttl must be a non-negative number of seconds, got {ttl!r}")
        self.max_size, self.ttl, self.clock = max_size, float(ttl), clock
        self._entries = OrderedDict()      # key -> (version, expires, value), least recent first
        self.hits = self.misses = 0

    def get_or_compute(self, name, args, version, compute):
        """compute()'s value for (name, args) at this store version: cached or computed now.
        Callers get their own copy, so changing a result never changes the cache."""
        found, value = self.lookup(name, args, version)
        if found:
            return value
        value = compute()
        self.put(name, args, version, value)
        return value

    def lookup(self, name, args, version):
        """(True, a copy of the value) for a fresh entry of (name, args) at this version (a hit),
        else (False, None) (a miss): get_or_compute in two steps, for callers that compute
        incrementally (agentdb.rag streams its answer, then put()s it).

        >>> cache = QueryCache(clock=lambda: 0.0); cache.lookup("f", {}, 0)
        (False, None)
        """
        key = _key(name, args)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == version and self.clock() < entry[1]:
            self._entries.move_to_end(key)
            self.hits += 1
            return True, copy.deepcopy(entry[2])
        self.misses += 1
        return False, None

    def put(self, name, args, version, value):
        """Keeps (a copy of) value for (name, args) at this version, the least recently used
        entry dropped past max_size (nothing kept when max_size is 0).

        >>> cache = QueryCache(clock=lambda: 0.0); cache.put("f", {}, 0, [1]); cache.lookup("f", {}, 0)
        (True, [1])
        """
        if self.max_size:
            key = _key(name, args)
            self._entries[key] = (version, self.clock() + self.ttl, copy.deepcopy(value))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def clear(self):
        """Drops every entry (the counters stay)."""
        self._entries.clear()

    def stats(self):
        """{"size", "max_size", "ttl", "hits", "misses"}."""
        return {"size": len(self._entries), "max_size": self.max_size, "ttl": self.ttl,
                "hits": self.hits, "misses": self.misses}


def _key(name, args):
    return name, json.dumps(args, sort_keys=True, default=repr)
