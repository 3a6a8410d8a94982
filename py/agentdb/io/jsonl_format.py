"""Dataset rows as JSON Lines: one JSON object per row with the keys of dataset_rows.COLUMNS
(those whose value is None left out), embeddings as lists of numbers (a float32 widened to a
double, written in Python's shortest exact form, so it reads back to the same bits)."""
import array
import json

from ..errors import FormatError
from .dataset_rows import COLUMNS, KINDS

_VECTORS = ("embedding", "positive_embedding", "negative_embedding")


def write_row(fh, row):
    """Writes one row as one line.

    >>> import io, array; out = io.StringIO()
    >>> write_row(out, {"type": "episode", "id": "episode:1", "embedding": array.array("f", [0.5])})
    >>> out.getvalue()
    '{"type": "episode", "id": "episode:1", "embedding": [0.5]}\\n'
    """
    doc = {k: (v.tolist() if isinstance(v, array.array) else v) for k, v in row.items() if v is not None}
    fh.write(json.dumps(doc, ensure_ascii=False, allow_nan=False))
    fh.write("\n")


def parse_vector(value, what):
    """A list of numbers as float32 (FormatError for anything else).

    >>> parse_vector([1, 0.5], "embedding").tolist()
    [1.0, 0.5]
    """
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise FormatError(f"{what} must be a list of numbers")
    try:
        return array.array("f", value)
    except OverflowError:
        raise FormatError(f"{what} holds a number beyond float32") from None


def read_rows(lines):
    """The rows of JSONL lines (blank lines skipped); FormatError names the line at fault.

    >>> [r["id"] for r in read_rows(['{"type": "episode", "id": "e", "metadata": {}, "embedding": [1]}'])]
    ['e']
    """
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise FormatError(f"line {n}: not JSON ({str(exc)[:120]})", n) from None
        if not isinstance(doc, dict) or doc.get("type") not in KINDS:
            raise FormatError(f"line {n}: a row is an object whose type is one of {list(KINDS)}", n)
        unknown = set(doc) - set(COLUMNS)
        if unknown:
            raise FormatError(f"line {n}: unknown keys {sorted(unknown)}", n)
        for key in ("id", "metadata", "embedding"):
            if key not in doc:
                raise FormatError(f"line {n}: the row lacks {key!r}", n)
        row = dict.fromkeys(COLUMNS)
        row.update(doc)
        for key in _VECTORS:
            if row[key] is not None:
                row[key] = parse_vector(row[key], f"line {n}: {key}")
        yield row
