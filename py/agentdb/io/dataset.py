"""Dataset export and import: an AgentMemory's episodes, feedback records (query -> useful
ids: the pairs) and the triplets derived from them (anchor, positive, negative), as JSONL,
CSV or pre-training text (see dataset_rows and each format's module), written and read one
row at a time. progress(done, total) is called after each row (total None while reading a
stream of unknown length).
"""
from ..errors import ArgumentError, FormatError, IdError
from . import csv_format, jsonl_format, pretrain_format
from .dataset_rows import RECORD_KINDS, Plan
from .streams import text_in, text_out

FORMATS = ("jsonl", "csv", "pretrain")


def _format(fmt):
    if fmt not in FORMATS:
        raise ArgumentError(f"format is one of {list(FORMATS)}, got {fmt!r}")
    return fmt


def export_dataset(mem, dest, *, format="jsonl", kinds=("episode", "feedback", "triplet"), progress=None):
    """Writes the memory's rows of `kinds` to dest (a path or a text or binary file object)
    in `format`; returns {"rows": n, "episode": n, "feedback": n, "triplet": n}.

    >>> import io, agentdb.memory
    >>> from agentdb.embed import HashEmbedder
    >>> mem = agentdb.memory.open(embedder=HashEmbedder(16))
    >>> _ = mem.store_episode("s", "sort a list", output="sorted()", reward=1.0, success=True)
    >>> out = io.StringIO(); export_dataset(mem, out, format="csv")["episode"]
    1
    """
    fmt, plan = _format(format), Plan(mem, kinds)
    counts = {"rows": 0, "episode": 0, "feedback": 0, "triplet": 0}
    with text_out(dest) as fh:
        write = csv_format.writer(fh) if fmt == "csv" else (
            lambda row: (jsonl_format if fmt == "jsonl" else pretrain_format).write_row(fh, row))
        for row in plan.rows():
            write(row)
            counts["rows"] += 1
            counts[row["type"]] += 1
            if progress is not None:
                progress(counts["rows"], plan.total)
    return counts


def read_dataset(source, *, format="jsonl"):
    """The rows of a dataset (a path, a file object or lines), one at a time: dicts with the
    keys of dataset_rows.COLUMNS for JSONL and CSV, (type, sections) for pre-training text.

    >>> rows = read_dataset(['{"type": "triplet", "id": "feedback:1", "metadata": {}, "embedding": [1, 0]}'])
    >>> [r["type"] for r in rows]
    ['triplet']
    """
    fmt = _format(format)
    with text_in(source) as lines:
        reader = {"jsonl": jsonl_format.read_rows, "csv": csv_format.read_rows,
                  "pretrain": pretrain_format.read_documents}[fmt]
        yield from reader(lines)


def _record(row, n):
    md = row["metadata"]
    if not isinstance(md, dict) or md.get("kind") != row["type"] or not isinstance(row["id"], str):
        raise FormatError(f"row {n}: a {row['type']} row's metadata is its record's fields, with kind "
                          f"{row['type']!r}, and its id a string", n)
    return row["id"], row["embedding"], md


def import_dataset(mem, source, *, format="jsonl", replace=False, progress=None):
    """Stores a dataset's records in the memory, in one commit: JSONL and CSV episode and
    feedback rows as the same records (ids, fields, timestamps and vector bits); pre-training
    episodes as new episodes embedded by the memory's embedder. Triplet rows (and feedback in
    pre-training text) are derived data and skipped. An id already stored is an IdError
    unless replace=True. Returns {"stored": n, "skipped": n}.

    >>> import io, agentdb.memory
    >>> from agentdb.embed import HashEmbedder
    >>> mem = agentdb.memory.open(embedder=HashEmbedder(16))
    >>> _ = mem.store_episode("s", "sort a list", reward=1.0, success=True)
    >>> out = io.StringIO(); _ = export_dataset(mem, out)
    >>> twin = agentdb.memory.open(embedder=HashEmbedder(16))
    >>> import_dataset(twin, io.StringIO(out.getvalue()))
    {'stored': 1, 'skipped': 0}
    >>> twin.get_episode("episode:1") == mem.get_episode("episode:1")
    True
    """
    fmt = _format(format)
    records, episodes, skipped, n = [], [], 0, 0
    for n, row in enumerate(read_dataset(source, format=fmt), 1):
        if fmt == "pretrain":
            kind, sections = row
            if kind == "episode":
                episodes.append(pretrain_format.episode_of(sections))
            else:
                skipped += 1
        elif row["type"] in RECORD_KINDS:
            records.append(_record(row, n))
        else:
            skipped += 1
        if progress is not None:
            progress(n, None)
    ids = [r[0] for r in records]
    if len(set(ids)) != len(ids):
        raise IdError("the dataset holds an id twice")
    present = [i for i in ids if i in mem.store]
    if present and not replace:
        raise IdError(f"already in this memory: {present[:5]} (pass replace=True to overwrite)")
    if records:
        mem._put_records(records)
    if episodes:
        mem.store_episodes(episodes)
    return {"stored": len(records) + len(episodes), "skipped": skipped}
