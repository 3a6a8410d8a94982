"""agentdb.cluster: a sharded store on Ray, for memory that outgrows one process (native only:
the browser has no Ray; install the extra, `pip install "agentdb[cluster]"`).

    coll = agentdb.cluster.open(root, shards=N, dim=..., metric=..., ray_address=None)

makes (or reopens) a collection of N shard actors, each the single writer of one ordinary .rvf
under `root` (shard-000.rvf, ...: agentdb.open reads any of them alone). Ids are routed to a
shard by a stable hash of the id (routing.py). Writes go through one coordinator actor that
numbers the batches and commits each on every shard in two phases, all or nothing
(coordinator.py, shard.py); reads scatter to every shard, pinned to one committed batch
number, and merge by score in the metric's direction (merge.py), so exact=True answers
exactly what one store holding all the rows answers. A killed shard actor is restarted by
Ray from its file; reads wait for it up to `timeout` seconds, then raise
ShardUnavailableError (allow_partial=True returns the other shards' hits instead and names the
missing ones). Other store options (index, compression, m, ef_search, ...) are recorded in
root/cluster.json and given to every shard. ray_address: the Ray cluster to join when Ray is
not initialised yet (None starts a local one); every process that opens the same root on the
same Ray cluster shares the actors. The actors live as long as the process that made them
(the first to open the root) or, with detached=True, until close() stops them.

    >>> coll = agentdb.cluster.open("mem", shards=2, dim=3)               # doctest: +SKIP
    >>> coll.ingest(["a", "b"], [[1, 0, 0], [0, 1, 0]], metadata=[{"k": 1}, {"k": 2}])
    {'accepted': 2, 'replaced': 0, 'deleted': 0, 'epoch': 1}
    >>> coll.query([1, 0.1, 0], k=1, exact=True).ids
    ['a']
"""
from .collection import ClusterResults, Collection, open
from .routing import shard_of

__all__ = ["ClusterResults", "Collection", "open", "shard_of"]
