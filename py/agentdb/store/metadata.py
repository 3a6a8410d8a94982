"""Metadata: the dict given with each vector, kept whole for results and, for filtering,
as columns.

Each field that has scalar values gets up to two columns, so a field may hold numbers in
some rows and strings in others:
  numeric      float64 per row (ints, floats); NaN marks "no number here"
  categorical  uint32 dictionary code per row (strings, booleans); 0 marks "none here"
The scalar leaves of a dict value get columns named by their dotted path (the rule is in
_batch_columns): {"doc": {"lang": "en", "page": {"n": 3}}} feeds "doc.lang" and "doc.page.n".
Filters run over whole columns in the kernel (agentdb.store.filters). Lists and other values
are kept in the row's dict and returned with hits, but are not filterable.
"""
import array
import bisect
import math
import numbers
import types

from ..errors import MetadataError
from . import jsonvalues

NAN = math.nan


class Field:
    __slots__ = ("numeric", "codes", "dictionary", "values")

    def __init__(self):
        self.numeric = None                       # array('d') or None
        self.codes = None                         # array('I') or None
        self.dictionary = {}                      # (type tag, value) -> code, codes from 1
        self.values = [None]                      # code -> value

    def holds_values(self):
        """Whether some row has a value here (NaN and code 0 mark none)."""
        return (self.numeric is not None and any(v == v for v in self.numeric)) or \
            (self.codes is not None and any(self.codes))

    def code_for(self, value):
        key = (type(value) is bool, value)
        code = self.dictionary.get(key)
        if code is None:
            code = self.dictionary[key] = len(self.values)
            self.values.append(value)
        return code


def scalar_kind(value):
    """'num', 'cat' (string or bool), 'dict' (its leaves get columns) or None (not filterable)."""
    if value is None:              # the common case of sparse fields: skip the checks below
        return None
    if isinstance(value, bool) or isinstance(value, str):
        return "cat"
    if isinstance(value, numbers.Real):
        return "num" if math.isfinite(value) else None
    return "dict" if isinstance(value, dict) else None


def _walk(md, path):
    """The value at a dotted path through nested dicts (None: none)."""
    for key in path.split("."):
        if not isinstance(md, dict):
            return None
        md = md.get(key)
    return md


def _column(values):
    """(values, their kinds, the set of kinds): the set answers "any numbers, strings, dicts?"
    in one pass, not a scan each. A column of one plain type (checked values: numbers are
    finite) is told by its set of types alone, without a call per value."""
    types_in = set(map(type, values))
    if types_in <= {int, float} and types_in and (float not in types_in or all(map(math.isfinite, values))):
        return values, ["num"] * len(values), {"num"}
    if types_in == {str}:
        return values, ["cat"] * len(values), {"cat"}
    kinds = list(map(scalar_kind, values))
    return values, kinds, set(kinds)


def _paths(name, values, kinds, present, top_level):
    """(name.<key>, values, kinds, present) per key of the dicts among values, recursively;
    keys holding a dot are left out (no path reaches them), and so are paths spelled like a
    top-level key (that key's column takes them in). Only fields holding dicts pay for this."""
    if "dict" not in present:
        return
    dicts = [v if kind == "dict" else None for v, kind in zip(values, kinds)]
    for key in {key for d in dicts if d for key in d if "." not in key}:
        path = f"{name}.{key}"
        column = _column([d.get(key) if d else None for d in dicts])
        if path not in top_level:
            yield path, *column
        yield from _paths(path, *column, top_level)


def _batch_columns(metadata):
    """(name, values, kinds, present), one value per row of a batch, for every filter column
    it feeds, one column at a time. A row's value for a name is its top-level key of that name
    where it has one, else the path through nested dicts split at every dot: so a key holding
    a dot is filterable at the top level only."""
    top_level = {k for md in metadata if md for k in md}
    for name in top_level:
        if "." in name:
            column = _column([md[name] if md and name in md else _walk(md, name) for md in metadata])
        else:
            column = _column([md.get(name) if md else None for md in metadata])
        yield name, *column
        if "." not in name:
            yield from _paths(name, *column, top_level)


def _uniform_scalars(metadata):
    """check()'s answer for the common bulk batch, checked a column at a time: every entry a
    dict with the same keys in the same order, each value a str, bool, None, 64-bit int or
    finite float, and a row's largest possible JSON under the limit. None: not that batch
    (check() then takes it row by row, and names the first bad one)."""
    if not metadata or type(metadata[0]) is not dict or not metadata[0]:
        return None
    keys = tuple(metadata[0])
    if any(type(k) is not str for k in keys) or \
            any(type(md) is not dict or len(md) != len(keys) for md in metadata) or \
            len({tuple(md) for md in metadata}) != 1:
        return None
    bound = 2
    for key in keys:
        values = [md[key] for md in metadata]
        kinds = set(map(type, values))
        if not kinds <= {str, bool, int, float, type(None)}:
            return None
        if int in kinds:
            ints = [v for v in values if type(v) is int] if len(kinds) > 1 else values
            if min(ints) < jsonvalues.INT_MIN or max(ints) > jsonvalues.INT_MAX:
                return None
        if float in kinds and not all(math.isfinite(v) for v in values if type(v) is float):
            return None
        longest = max(len(v) for v in values if type(v) is str) if str in kinds else 0
        bound += 6 * len(key) + 3 + max(6 * longest + 3, 26)
    if bound > jsonvalues.MAX_METADATA_BYTES:
        return None
    return [md.copy() for md in metadata]


EMPTY = types.MappingProxyType({})
_IN_BLOCK = object()             # a row kept in a column block (append_columns), made a dict when read


def copies(stored):
    """New dicts the caller may change, one per stored dict (None: no metadata)."""
    return [dict(md) if md else {} for md in stored]


class MetadataColumns:
    def __init__(self):
        self.rows = []          # row -> dict (a copy of what was ingested), None when it had none:
                                # an empty dict per row cost 64 bytes a vector
        self.length = 0         # rows held; those past len(self.rows) have none (append_none's
                                # run: a million property-less graph edges need no list of Nones)
        self.fields = {}        # name -> Field
        self.blocks = []        # (first row, {name: values}) of append_columns, by first row

    def __len__(self):
        return self.length

    def _fill(self):
        """The run of rows without metadata as list entries, before rows with some follow it."""
        if len(self.rows) < self.length:
            self.rows.extend([None] * (self.length - len(self.rows)))

    @staticmethod
    def check(metadata, n):
        """Validates a batch: a list of n dicts (or None) of storable JSON (agentdb.store.jsonvalues:
        string keys, finite numbers, 64-bit integers, limited depth and size); MetadataError
        names the first bad entry."""
        if metadata is None:
            return [None] * n
        if isinstance(metadata, dict) or not hasattr(metadata, "__len__") or len(metadata) != n:
            raise MetadataError(f"metadata must be a list of {n} dicts (one per id), got "
                                f"{type(metadata).__name__}"
                                f"{'' if isinstance(metadata, dict) or not hasattr(metadata, '__len__') else f' of {len(metadata)}'}")
        uniform = _uniform_scalars(metadata)
        if uniform is not None:
            return uniform
        out = []
        for i, md in enumerate(metadata):
            if md is None:
                md = {}
            if not isinstance(md, dict):
                raise MetadataError(f"metadata[{i}] must be a dict, got {type(md).__name__}")
            bound = jsonvalues.flat_size_bound(md)
            if bound is not None and bound <= jsonvalues.MAX_METADATA_BYTES:
                out.append(dict(md) if md else None)
                continue
            bad = jsonvalues.problem(md)
            if bad is not None:
                raise MetadataError(f"metadata[{i}] cannot be stored: metadata[{i}]{bad[0]} {bad[1]}")
            size = jsonvalues.encoded_size(md) if md else 0
            if size > jsonvalues.MAX_METADATA_BYTES:
                raise MetadataError(f"metadata[{i}] is {size} bytes of JSON, more than the "
                                    f"{jsonvalues.MAX_METADATA_BYTES} a row may hold")
            out.append(dict(md) if md else None)
        return out

    def append(self, metadata):
        """Appends one dict (or None) per new row (already checked)."""
        start = self.length
        n = len(metadata)
        self._fill()
        self.rows.extend(metadata)
        self.length += n
        for name, values, kinds, present in _batch_columns(metadata):
            field = self.fields.setdefault(name, Field())
            if "num" in present:
                col = field.numeric or array.array("d", [NAN]) * start
                col.extend(float(v) if k == "num" else NAN for v, k in zip(values, kinds))
                field.numeric = col
            if "cat" in present:
                col = field.codes or array.array("I", bytes(4 * start))
                col.extend(field.code_for(v) if k == "cat" else 0 for v, k in zip(values, kinds))
                field.codes = col
        self._pad(start + n)

    def _pad(self, total):
        """Every column grows to `total` rows by "missing"."""
        for field in self.fields.values():
            if field.numeric is not None and len(field.numeric) < total:
                field.numeric.extend(array.array("d", [NAN]) * (total - len(field.numeric)))
            if field.codes is not None and len(field.codes) < total:
                field.codes.extend(array.array("I", bytes(4 * (total - len(field.codes)))))

    def append_none(self, n):
        """Appends n rows without metadata (no step per row)."""
        self.length += n
        self._pad(self.length)

    def append_columns(self, columns, n, *, kinds=None):
        """Appends n rows given as columns {name: n values}, each value a str, bool, None (the
        row lacks that name), 64-bit int or finite float (already checked: the graph's
        scalar_columns, which also gives each column's set of value types as `kinds`). No dict
        is made per row: a row's dict is made when it is read (row()); the filter columns are
        filled a column at a time."""
        start = self.length
        self._fill()
        self.rows.extend([_IN_BLOCK] * n)
        self.length += n
        self.blocks.append((start, {name: list(values) for name, values in columns.items()}))
        for name, values in self.blocks[-1][1].items():
            types_in = kinds.get(name) if kinds else None
            if types_in is not None and types_in and types_in <= {int, float}:
                present = {"num"}          # checked finite: one kind, told by the types alone
            elif types_in is not None and types_in and types_in <= {str, bool}:
                present = {"cat"}
            else:
                values, kinds_of, present = _column(values)
            if not present & {"num", "cat"}:
                continue
            field = self.fields.setdefault(name, Field())
            if "num" in present:
                col = field.numeric or array.array("d", [NAN]) * start
                if present == {"num"}:
                    col.extend(array.array("d", values))
                else:
                    col.extend(float(v) if k == "num" else NAN for v, k in zip(values, kinds_of))
                field.numeric = col
            if "cat" in present:
                col = field.codes or array.array("I", bytes(4 * start))
                if present == {"cat"}:
                    code = {v: field.code_for(v) for v in dict.fromkeys(values)}
                    col.extend(array.array("I", map(code.__getitem__, values)))
                else:
                    col.extend(field.code_for(v) if k == "cat" else 0 for v, k in zip(values, kinds_of))
                field.codes = col
        self._pad(start + n)

    def row(self, row):
        """A row's stored dict (or None), made from its column block the first time it is read."""
        if row >= len(self.rows):
            if row < self.length:
                return None
            raise IndexError(f"row {row} of {self.length}")   # internal: callers pass held rows
        md = self.rows[row]
        if md is not _IN_BLOCK:
            return md
        first, columns = self.blocks[bisect.bisect_right(self.blocks, row, key=lambda b: b[0]) - 1]
        i = row - first
        md = {name: values[i] for name, values in columns.items() if values[i] is not None} or None
        self.rows[row] = md
        return md

    def copy_of(self, row):
        """A row's metadata as a new dict the caller may change."""
        return copies((self.row(row),))[0]

    def stored_of(self, rows):
        """The stored dicts (or None) of rows, as a list: what a query's Results copies from
        when asked (stored dicts are replaced, never changed in place, so they stay valid)."""
        return list(map(self.getter(), rows))

    def getter(self):
        """row() or, when every row is a list entry as stored, the list's own (faster) lookup."""
        return self.row if self.blocks or len(self.rows) < self.length else self.rows.__getitem__

    def stored(self, row):
        """A row's metadata as stored (read-only use)."""
        return self.row(row) or EMPTY

    def truncate(self, n_rows):
        """Undoes append() back to n_rows (rollback of a failed batch)."""
        del self.rows[n_rows:]
        self.length = min(self.length, n_rows)
        self.blocks = [b for b in self.blocks if b[0] < n_rows]
        for field in self.fields.values():
            for col in (field.numeric, field.codes):
                if col is not None:
                    del col[n_rows:]

    def compact(self, kernel, keep_rows):
        """Keeps rows keep_rows (ascending), renumbered from 0; columns gathered in the kernel."""
        self.rows = [self.row(r) for r in keep_rows]
        self.length = len(self.rows)
        self.blocks = []
        for field in self.fields.values():
            if field.numeric is not None:
                field.numeric = kernel.gather_rows(field.numeric, keep_rows, row_bytes=8, fmt="d")
            if field.codes is not None:
                field.codes = kernel.gather_rows(field.codes, keep_rows, row_bytes=4, fmt="I")
        self.fields = {name: f for name, f in self.fields.items() if f.holds_values()}

    @property
    def nbytes(self):
        """Bytes held by the filter columns."""
        return sum((f.numeric.itemsize * len(f.numeric) if f.numeric is not None else 0) +
                   (f.codes.itemsize * len(f.codes) if f.codes is not None else 0) for f in self.fields.values())
