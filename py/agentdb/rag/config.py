"""RagConfig: a retrieval controller's settings (the names of ruvllm's RlmController config,
in Python's spelling), checked when made: OptionError names a bad one.

>>> RagConfig(depth=3).depth
3
>>> RagConfig(k=0)
Traceback (most recent call last):
agentdb.errors.OptionError: k must be an integer >= 1, got 0
"""
import math
import numbers
from dataclasses import dataclass, fields

from ..errors import OptionError

_INTS = {"k": 1, "retrieval_k": 1, "depth": 1, "max_sub_queries": 1, "bridges": 1, "token_budget": 1,
         "cache_size": 0, "max_reflections": 0, "follow_k": 1}
_UNIT = ("damping", "ppr_weight", "chain")


@dataclass(frozen=True)
class RagConfig:
    """k: evidence returned; retrieval_k: hits per sub-query; depth: memories in a chain (1: the
    sub-queries only, 2: one follow-up hop, ...); max_sub_queries; bridges: entities followed per
    hop; follow_k: memories kept per followed entity; token_budget: of the context; damping: of
    the personalised PageRank; ppr_weight: its share of a memory's score (0: similarity only);
    chain: how much a follow-up memory's score leans on the memory it was reached from (0: its
    own similarity only); cache, cache_size, cache_ttl (seconds); reflect: run the reflection
    step when an LLM callable is given; max_reflections: rounds of it."""

    k: int = 5
    retrieval_k: int = 5
    depth: int = 2
    max_sub_queries: int = 6
    bridges: int = 5
    follow_k: int = 3
    token_budget: int = 1000
    damping: float = 0.85
    ppr_weight: float = 0.5
    chain: float = 0.65
    cache: bool = True
    cache_size: int = 256
    cache_ttl: float = 300.0
    reflect: bool = True
    max_reflections: int = 1

    def __post_init__(self):
        for name, low in _INTS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise OptionError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in _UNIT:
            value = getattr(self, name)
            real = not isinstance(value, bool) and isinstance(value, numbers.Real)
            if not real or not (0 <= value and (value < 1 if name == "damping" else value <= 1)):
                raise OptionError(f"{name} must be a number in [0, 1{')' if name == 'damping' else ']'}, got {value!r}")
        for name in ("cache", "reflect"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError(f"{name} must be True or False, got {getattr(self, name)!r}")
        ttl = self.cache_ttl
        if isinstance(ttl, bool) or not isinstance(ttl, numbers.Real) or not math.isfinite(ttl) or ttl < 0:
            raise OptionError(f"cache_ttl must be a finite number of seconds >= 0, got {ttl!r}")

    @classmethod
    def names(cls):
        """The settings' names."""
        return [f.name for f in fields(cls)]

    def to_dict(self):
        """The settings as a JSON dict."""
        return {name: getattr(self, name) for name in self.names()}
