"""splitmix64: the one seeded generator of agentdb.learn. Integer maths only (and one exact
double product for floats), so a seed gives the same numbers natively and in Pyodide, whatever
CPython's `random` does between versions.

>>> SplitMix64(7).shuffled(range(4)) == SplitMix64(7).shuffled(range(4))
True
"""
import bisect

_MASK64 = 0xFFFFFFFFFFFFFFFF


def mix64(x):
    """splitmix64's finaliser of a 64-bit integer: nearby inputs give unrelated outputs."""
    z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class SplitMix64:
    """A seeded stream of 64-bit integers (Steele, Lea and Flood 2014).

    >>> SplitMix64(1).next() == SplitMix64(1).next()
    True
    """

    def __init__(self, seed):
        self.state = seed & _MASK64

    def next(self):
        """The next 64-bit integer."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
        return mix64(self.state)

    def below(self, n):
        """An integer in [0, n) (n < 2**32; the modulo bias is below 2**-32).

        >>> 0 <= SplitMix64(3).below(5) < 5
        True
        """
        return (self.next() >> 32) % n

    def unit(self):
        """A float in [0, 1) with 24 random bits (exactly representable in float32).

        >>> 0.0 <= SplitMix64(3).unit() < 1.0
        True
        """
        return (self.next() >> 40) * 2.0 ** -24

    def sample(self, n, k):
        """k distinct integers of range(n), in draw order (a partial Fisher-Yates).

        >>> sorted(SplitMix64(0).sample(4, 4))
        [0, 1, 2, 3]
        """
        pool = list(range(n))
        for i in range(min(k, n)):
            j = i + self.below(n - i)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:min(k, n)]

    def choices(self, items, k, cum_weights=None):
        """k draws from items with replacement: uniform, or by cumulative weights.

        >>> SplitMix64(0).choices(["a", "b"], 3, cum_weights=[0.0, 1.0])
        ['b', 'b', 'b']
        """
        if cum_weights is None:
            return [items[self.below(len(items))] for _ in range(k)]
        total, last = cum_weights[-1], len(items) - 1
        return [items[min(bisect.bisect_right(cum_weights, self.unit() * total), last)] for _ in range(k)]

    def shuffled(self, items):
        """A Fisher-Yates shuffled copy of items.

        >>> sorted(SplitMix64(0).shuffled(range(5)))
        [0, 1, 2, 3, 4]
        """
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out
