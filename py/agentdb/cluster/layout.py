"""The cluster's folder: `cluster.json` (the shard count, dimension, metric and store options,
written once when the cluster is made, so every process that opens the folder routes ids the
same way) and one ordinary .rvf per shard, `shard-000.rvf`, `shard-001.rvf`, ..."""
import json
import os

from .. import metrics
from ..errors import ArgumentError, DimensionError, OptionError

MANIFEST = "cluster.json"
FORMAT = 1


def shard_path(root, index):
    """The .rvf file of shard `index` under `root`."""
    return os.path.join(root, f"shard-{index:03d}.rvf")


def load_or_create(root, shards, dim, metric, options):
    """The folder's layout {"format", "shards", "dim", "metric", "options"}: read from its
    cluster.json (the given values, when not None, must match it), or written there for a
    new cluster (shards and dim then needed)."""
    path = os.path.join(root, MANIFEST)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            layout = json.load(fh)
        for name, given in (("shards", shards), ("dim", dim), ("metric", metric)):
            if given is not None and given != layout[name]:
                error = DimensionError if name == "dim" else OptionError
                raise error(f"{root} is a cluster of {name}={layout[name]!r}, {given!r} was given")
        for name, given in options.items():
            if layout["options"].get(name, given) != given:
                raise OptionError(f"{root} was made with {name}={layout['options'][name]!r}, {given!r} was given")
        return layout
    if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= 4096:
        raise ArgumentError(f"shards must be an integer from 1 to 4096 for a new cluster, got {shards!r}")
    if dim is None:
        raise DimensionError(f"{root} holds no cluster yet: dim= is needed to make one")
    layout = {"format": FORMAT, "shards": shards, "dim": dim, "metric": metrics.get(metric or "cosine").name,
              "options": dict(options)}
    os.makedirs(root, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(layout, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    try:                             # two processes making it at once: the first one's stands
        os.link(tmp, path)
    except FileExistsError:
        os.unlink(tmp)
        return load_or_create(root, shards, dim, metric, options)
    os.unlink(tmp)
    return layout
