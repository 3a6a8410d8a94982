"""Dataset rows as CSV (RFC 4180 quoting, the csv module's): a header line of
dataset_rows.COLUMNS, then one line per row; metadata is JSON text, reward a number or
empty, and each embedding a column of numbers separated by spaces (exact: Python's
shortest text of the float32 widened to a double)."""
import csv
import json

from ..errors import FormatError
from .dataset_rows import COLUMNS, KINDS
from .jsonl_format import parse_vector

_VECTORS = ("embedding", "positive_embedding", "negative_embedding")


def writer(fh):
    """A function that writes one row to the CSV text stream fh (the header line first).

    >>> import io, array; out = io.StringIO(); write = writer(out)
    >>> write({"type": "episode", "id": "e", "metadata": {}, "embedding": array.array("f", [0.5, 2])})
    >>> out.getvalue().splitlines()[1]
    'episode,e,,,,,{},0.5 2.0,,'
    """
    out = csv.writer(fh, lineterminator="\n")
    out.writerow(COLUMNS)

    def write(row):
        cells = []
        for key in COLUMNS:
            value = row.get(key)
            if value is None:
                cells.append("")
            elif key in _VECTORS:
                cells.append(" ".join(map(repr, value.tolist())))
            elif key == "metadata":
                cells.append(json.dumps(value, ensure_ascii=False, allow_nan=False))
            elif key == "reward":
                cells.append(repr(float(value)))
            else:
                cells.append(value)
        out.writerow(cells)
    return write


def _vector(cell, what):
    try:
        return parse_vector([float(x) for x in cell.split()], what)
    except ValueError:
        raise FormatError(f"{what} must be numbers separated by spaces") from None


def read_rows(lines):
    """The rows of CSV lines (the first must be the header); FormatError names the line.

    >>> rows = read_rows(["type,id,text,positive,negative,reward,metadata,embedding,positive_embedding,"
    ...                   "negative_embedding", "episode,e,,,,0.5,{},1 2,,"])
    >>> [(r["id"], r["reward"], r["embedding"].tolist()) for r in rows]
    [('e', 0.5, [1.0, 2.0])]
    """
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FormatError(f"line 1: not CSV ({exc})", 1) from None
    if header is None or tuple(header) != COLUMNS:
        raise FormatError(f"line 1: the header must be {','.join(COLUMNS)}", 1)
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise FormatError(f"line {reader.line_num}: not CSV ({exc})", reader.line_num) from None
        if cells is None:
            return
        n = reader.line_num
        if not cells:
            continue
        if len(cells) != len(COLUMNS) or cells[0] not in KINDS:
            raise FormatError(f"line {n}: a row has {len(COLUMNS)} cells and a type of {list(KINDS)}", n)
        row = dict(zip(COLUMNS, cells))
        try:
            row["metadata"] = json.loads(row["metadata"])
            row["reward"] = float(row["reward"]) if row["reward"] else None
        except ValueError as exc:
            raise FormatError(f"line {n}: metadata must be JSON and reward a number ({exc})", n) from None
        for key in _VECTORS:
            row[key] = _vector(row[key], f"line {n}: {key}") if row[key] else None
        yield row
