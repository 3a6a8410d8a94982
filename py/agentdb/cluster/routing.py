"""Which shard holds an id: a stable hash of the id, the same in every process, on every
machine and in every Python version (never Python's hash(), which is salted per process for
strings). Integers go through splitmix64's finaliser, strings through BLAKE2b of their UTF-8
bytes; the shard is the hash modulo the shard count, which is fixed when the cluster is made."""
import hashlib

from ..errors import IdError
from ..learn.rng import mix64
from ..store.ids import normalize_one

_MASK = (1 << 64) - 1


def id_hash(ident):
    """The 64-bit routing hash of an id (an unsigned 64-bit int or a string).

    >>> id_hash(7), id_hash("note-7") % 4
    (1346066267577507604, 1)
    """
    if isinstance(ident, str):
        return int.from_bytes(hashlib.blake2b(ident.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                              "little")
    if isinstance(ident, int) and not isinstance(ident, bool) and 0 <= ident <= _MASK:
        return mix64(ident)          # consecutive integers land on unrelated shards
    raise IdError(f"an id is an unsigned 64-bit integer or a string, got {ident!r}")


def shard_of(ident, shards):
    """The shard (0 .. shards - 1) that holds `ident`.

    >>> [shard_of(i, 3) for i in range(6)]
    [0, 1, 1, 2, 2, 0]
    """
    return id_hash(normalize_one(ident)) % shards


def split(ids, shards):
    """Per shard, the positions in `ids` of the ids it holds (ascending, so each shard gets
    its part of a batch in the batch's order).

    >>> split([10, 11, 12, 13], 2)
    [[2], [0, 1, 3]]
    """
    parts = [[] for _ in range(shards)]
    for position, ident in enumerate(ids):
        parts[shard_of(ident, shards)].append(position)
    return parts
