"""What a stored metadata dict, and a filter, may hold: JSON that reads back the same in
both homes (the browser's JSON.parse included). One rule everywhere:

    numbers      finite (no NaN or infinity, at any depth); integers within 64 bits
                 (-2^63 .. 2^64-1), since a larger one has no exact float and JSON readers
                 disagree about it
    nesting      at most MAX_DEPTH levels of dicts and lists (a deeper value would exhaust
                 the recursion of every JSON encoder and decoder on the way)
    size         one row's metadata at most MAX_METADATA_BYTES of JSON
"""
import json
import math

MAX_DEPTH = 64
MAX_METADATA_BYTES = 1 << 20
INT_MIN, INT_MAX = -(1 << 63), (1 << 64) - 1


def _short(path):
    return path if len(path) <= 80 else path[:60] + "..." + path[-17:]


def too_deep(value, limit=MAX_DEPTH):
    """Whether dicts and lists in value nest deeper than limit (iteratively: no recursion)."""
    stack = [(value, 1)]
    while stack:
        obj, depth = stack.pop()
        items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else None
        if items is None:
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in items if isinstance(item, (dict, list, tuple)))
    return False


def problem(value, limit=MAX_DEPTH):
    """None when value is storable JSON by the rules above, else (path, what is wrong).
    Iterative, so a value nested 100,000 levels deep is refused, not a RecursionError."""
    stack = [(value, "", 1)]
    while stack:
        obj, path, depth = stack.pop()
        if isinstance(obj, dict):
            if depth > limit:
                return _short(path), f"nests deeper than {limit} levels"
            for key, item in obj.items():
                if not isinstance(key, str):
                    return _short(path), f"has a key {key!r}: keys must be strings"
                stack.append((item, f"{path}[{key!r}]", depth + 1))
        elif isinstance(obj, (list, tuple)):
            if depth > limit:
                return _short(path), f"nests deeper than {limit} levels"
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(obj)
                         if not isinstance(item, str))
        elif isinstance(obj, bool) or obj is None or isinstance(obj, str):
            continue
        elif isinstance(obj, int):
            if not INT_MIN <= obj <= INT_MAX:
                return _short(path), f"is an integer of {obj.bit_length()} bits: integers must fit in 64 bits"
        elif isinstance(obj, float):
            if not math.isfinite(obj):
                return _short(path), f"= {obj}: numbers must be finite"
        else:
            return _short(path), f"is of type {type(obj).__name__}, not a JSON value (str, number, bool, None, list, dict)"
    return None


def flat_size_bound(value):
    """For a dict of scalars under string keys that passes problem(): an upper bound on its
    compact JSON size (6 bytes a character covers any escape), else None. A one-pass check
    for the common row, so most rows need neither problem()'s walk nor a json.dumps."""
    total = 2
    for key, item in value.items():
        if type(key) is not str:
            return None
        t = type(item)
        if t is str:
            total += 6 * len(item) + 3
        elif t is int:
            if not INT_MIN <= item <= INT_MAX:
                return None
            total += 22
        elif t is float:
            if item - item != 0.0:            # NaN and the infinities
                return None
            total += 26
        elif item is None or t is bool:
            total += 6
        else:
            return None
        total += 6 * len(key) + 3
    return total


def encoded_size(value):
    """Bytes of value as compact JSON (checked values only)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
