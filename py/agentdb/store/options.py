"""The store's options and their limits, checked in one place: when a caller gives them and
again when a file supplies them (a file is untrusted input; a bad option in it would
otherwise reach the kernel as a size). Nothing is written before every option has passed.

Limits (documented in README "Limits"):
    dim               1..65535 (the .rvf layout stores it as u16)
    m                 2..1024 neighbours per node and level (level 0 keeps 2m)
    ef_construction   1..MAX_EF; a beam wider than the graph finds the same nodes, so the
    ef_search, ef     kernel never works with more than the store's node count
    k                 1..MAX_K per query; more than the store holds returns all of them
    brute_force_rows  0..2^32-1
    seed              0..2^64-1
    pq_m              None or a divisor of dim
"""
from ..embed import identity_of
from ..errors import AgentDBError, CorruptFileError, DimensionError, OptionError
from .. import metrics

MAX_DIM = 65535
MAX_M = 1024
MAX_EF = 1 << 24
MAX_K = 1 << 24
U32_MAX = 0xFFFFFFFF
U64_MAX = (1 << 64) - 1

INDEXES = ("hnsw", "flat")
COMPRESSIONS = ("none", "scalar", "product")
# Below this many candidate rows an exact scan is as fast as a graph search and always exact.
BRUTE_FORCE_ROWS = 2000


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(name, value, lo, hi, error=OptionError):
    """value, when it is an integer in lo..hi; else a typed error naming it."""
    if not _is_int(value) or not lo <= value <= hi:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(lo)
        allowed = f"{kind} at most {hi}" if kind else f"an integer in {lo}..{hi}"
        raise error(f"{name} must be {allowed}, got {value!r}")
    return value


def check_dim(dim):
    if not _is_int(dim) or not 1 <= dim <= MAX_DIM:
        raise DimensionError(f"dim must be an integer in 1..{MAX_DIM}, got {dim!r}")
    return dim


def check_k(k):
    return check_int("k", k, 1, MAX_K)


def check_ef(ef):
    """A query's ef: None (the store's ef_search) or a beam width in 1..MAX_EF."""
    return None if ef is None else check_int("ef", ef, 1, MAX_EF)


# Every store option and its default: the one list (VectorStore, open() and the file reader use it).
DEFAULTS = {"metric": "cosine", "index": "hnsw", "compression": "none", "m": 16, "ef_construction": 200,
            "ef_search": 64, "seed": 0, "brute_force_rows": BRUTE_FORCE_ROWS, "keep_vectors": True, "pq_m": None,
            "profile": 0, "frozen": False, "embedder": None}


def resolve(dim, options, *, source=None):
    """The full option set for a store of dimension dim: `options` over DEFAULTS, every value
    checked. A caller's bad option raises OptionError (DimensionError for dim); with
    source (say "the .rvf") the options came from a file, and a bad one is CorruptFileError."""
    try:
        unknown = sorted(set(options) - set(DEFAULTS), key=str)
        if unknown:
            raise OptionError(f"unknown option {unknown[0]!r}: the options are {', '.join(DEFAULTS)}")
        resolved = {**DEFAULTS, **options}
        _check(dim, resolved)
        if resolved["embedder"] is not None:
            resolved["embedder"] = identity_of(resolved["embedder"])
        return resolved
    except AgentDBError as exc:
        if source is None:
            raise
        raise CorruptFileError(f"{source} holds invalid store options: {exc}") from None


def _choose(what, value, allowed):
    # a string first: a list or dict cannot even be looked up in a dict (TypeError)
    if not isinstance(value, str) or value not in allowed:
        raise OptionError(f"unknown {what} {value!r}: expected one of {', '.join(sorted(allowed))}")


def _check(dim, o):
    check_dim(dim)
    metrics.get(o["metric"])
    _choose("index", o["index"], INDEXES)
    _choose("compression", o["compression"], COMPRESSIONS)
    if not _is_int(o["m"]) or not 2 <= o["m"] <= MAX_M:
        raise OptionError(f"m must be >= 2 and at most {MAX_M}, got {o['m']!r}")
    check_int("ef_construction", o["ef_construction"], 1, MAX_EF)
    check_int("ef_search", o["ef_search"], 1, MAX_EF)
    check_int("seed", o["seed"], 0, U64_MAX)
    check_int("brute_force_rows", o["brute_force_rows"], 0, U32_MAX)
    for name in ("keep_vectors", "frozen"):
        if not isinstance(o[name], bool):
            raise OptionError(f"{name} must be True or False, got {o[name]!r}")
    pq_m = o["pq_m"]
    if pq_m is not None and check_int("pq_m", pq_m, 1, dim) and dim % pq_m:
        raise OptionError(f"pq_m = {pq_m} must divide the dimension {dim}")
    if not _is_int(o["profile"]) or o["profile"] not in (0, 1, 2, 3):
        raise OptionError(f"profile (the hardware profile byte) must be 0, 1, 2 or 3, got {o['profile']!r}")
    if not o["keep_vectors"] and (o["index"] != "flat" or o["compression"] == "none"):
        raise OptionError("keep_vectors=False needs compression='scalar' or 'product' and index='flat' "
                          "(the graph and exact re-ranking need the float32 vectors)")
