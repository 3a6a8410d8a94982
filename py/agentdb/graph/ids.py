"""Ids: what batch_insert returns for each kind, the ids of the objects it added, in order. A
read-only sequence equal to the list of them (==, len, indexing, iteration, repr as a list;
tolist() / list() for a real one). Ids that are a run (generated, or given as ascending ints)
stay a range: a million edge ids would otherwise be a million int objects made (and freed)
per call, more time than the rest of a bulk insert."""
from collections.abc import Sequence


class Ids(Sequence):
    """The ids of a batch, in order (a range or a list inside).

    >>> Ids(range(3)) == [0, 1, 2], Ids(range(3))[-1], Ids(range(3))
    (True, 2, [0, 1, 2])
    """

    __slots__ = ("_ids",)

    def __init__(self, ids):
        self._ids = ids

    def __len__(self):
        return len(self._ids)

    def __getitem__(self, i):
        got = self._ids[i]
        return list(got) if isinstance(i, slice) else got

    def __iter__(self):
        return iter(self._ids)

    def __contains__(self, ident):
        return ident in self._ids

    def __eq__(self, other):
        if isinstance(other, Ids):
            other = other._ids
        if not isinstance(other, (list, range)):
            return NotImplemented
        if type(other) is type(self._ids):
            return self._ids == other
        return len(other) == len(self._ids) and list(self._ids) == list(other)

    __hash__ = None

    def __repr__(self):
        return repr(list(self._ids))

    def tolist(self):
        """The ids as a list."""
        return list(self._ids)
