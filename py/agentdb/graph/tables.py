"""The graph's tables: ids of nodes, edges and hyperedges (IdTable), their properties
(PropertyTable, the store's own metadata columns and filter algebra), and the checks of what
a caller (or a file) may put in them.

Ids. Every slot (a node's, an edge's or a hyperedge's row) has a sequence number, `seq`:
unique, never reused, ascending with the slot, so a seq finds its slot by bisection and
survives compaction (slots are renumbered, seqs are not). An id not given is generated as the
seq itself (an int); an int id at or past the next seq becomes its own seq (so ascending int
ids cost no table entry); any other id (a string, or an int already passed) is kept in a dict
id -> seq. Generated ids never collide with given ones: the next seq always passes every int
given so far.
"""
import array
import bisect
import itertools
import math
import numbers
import operator

from ..errors import ArgumentError, FilterError, IdError, MetadataError
from ..store.bitmaps import set_bit, set_bits
from ..store.filters import FilterEvaluator, compile_filter
from ..store import jsonvalues
from ..store.metadata import MetadataColumns

ID_INT_MAX = (1 << 63) - 1
MAX_LABEL = 256                 # characters in a label or a type name


def normalize_id(ident, what="id"):
    """An id as a plain int or str (numpy integers by operator.index), or IdError."""
    if type(ident) is str:
        if not ident:
            raise IdError(f"{what}: an id cannot be the empty string")
        return ident
    if type(ident) is int:
        if not 0 <= ident <= ID_INT_MAX:
            raise IdError(f"{what} = {ident}: integer ids must be in 0 .. 2**63 - 1")
        return ident
    if not isinstance(ident, bool):
        try:
            return normalize_id(operator.index(ident), what)
        except TypeError:
            pass
    raise IdError(f"{what} = {ident!r}: ids are non-empty strings or integers in 0 .. 2**63 - 1")


def check_name(name, what):
    """A label or a type: a non-empty string of at most MAX_LABEL characters."""
    if not isinstance(name, str) or not name or len(name) > MAX_LABEL:
        raise ArgumentError(f"{what} must be a non-empty string of at most {MAX_LABEL} characters, got {name!r}")
    return name


_CHECKED_LABELS = {}     # labels as given (a tuple of str) -> the checked sorted tuple
_CHECKED_LABELS_MAX = 4096


def check_labels(labels, what="labels"):
    """A node's labels: an iterable of names (a single string is one label) -> a sorted tuple.
    Labels repeat from node to node, so each distinct spelling is checked once (remembered)."""
    if labels is None:
        return ()
    if isinstance(labels, str):
        labels = (labels,)
    if type(labels) in (list, tuple) and all(type(label) is str for label in labels):
        key = tuple(labels)
        got = _CHECKED_LABELS.get(key)
        if got is None:
            if len(_CHECKED_LABELS) >= _CHECKED_LABELS_MAX:
                _CHECKED_LABELS.clear()
            got = _CHECKED_LABELS[key] = tuple(sorted({check_name(label, what) for label in labels}))
        return got
    if isinstance(labels, dict) or not hasattr(labels, "__iter__"):
        raise ArgumentError(f"{what} must be a string or a list of strings, got {type(labels).__name__}")
    return tuple(sorted({check_name(label, what) for label in labels}))


def labels_column(column, what):
    """check_labels over one entry per node (a label, labels or None); an entry that is the
    same object as the one before it (a column built as [labels] * n) is checked once."""
    out, prev, checked = [], None, ()
    for i, labels in enumerate(column):
        if labels is not prev or not out:
            prev, checked = labels, (check_labels(labels, f"{what}[{i}]") if labels is not None else ())
        out.append(checked)
    return out


def check_number(value, what, *, allow_none=False, lo=-math.inf):
    """A finite float (an int is taken as float); None passes with allow_none."""
    if value is None and allow_none:
        return None
    try:
        finite = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    except OverflowError:           # an int beyond any float
        finite = False
    if not finite or value < lo:
        bound = "" if lo == -math.inf else f" >= {lo}"
        raise ArgumentError(f"{what} must be a finite number{bound}{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


def check_window(valid_from, valid_to, what):
    """(from, to) as floats with None = unbounded (-inf / +inf); from <= to."""
    lo = check_number(valid_from, f"{what}valid_from", allow_none=True)
    hi = check_number(valid_to, f"{what}valid_to", allow_none=True)
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    if lo > hi:
        raise ArgumentError(f"{what}valid_from ({valid_from}) is after valid_to ({valid_to})")
    return lo, hi


def check_properties(props, n=None):
    """Property dicts (one, or a list of n; None = {}) checked by the store's metadata rule
    (agentdb.store.jsonvalues: JSON with finite numbers, 64-bit ints, limited depth and size).
    Returns the list (None for empty ones)."""
    if n is None:
        return _props_check([props], 1, "properties")[0]
    return _props_check(props, n, "properties")


_SCALARS = {str, bool, int, float, type(None)}


class ScalarColumns(dict):
    """Property columns {name: values} that scalar_columns() passed, with each column's set of
    value types: the doc's check and the filter columns then need not look at every value again."""

    __slots__ = ("kinds",)


def scalar_columns(columns, n):
    """The property columns {name: n values} as ScalarColumns when they may be kept as columns:
    string names, every value a str, bool, None (the row lacks the name), 64-bit int or finite
    float, and a row's JSON within the store's limit whatever its values; checked a column at a
    time. None: some value is not such (the caller then takes the dicts' way, whose check names
    it)."""
    if type(columns) is ScalarColumns:
        return columns
    out, bound = ScalarColumns(), 2
    out.kinds = {}
    for key, values in columns.items():
        if type(key) is not str or type(values) is not list or len(values) != n:
            return None
        kinds = set(map(type, values))
        if not kinds <= _SCALARS:
            return None
        if int in kinds:
            ints = values if kinds == {int} else [v for v in values if type(v) is int]
            try:
                array.array("q", ints)              # every one a signed 64-bit int, in one C pass
            except OverflowError:
                if min(ints) < jsonvalues.INT_MIN or max(ints) > jsonvalues.INT_MAX:
                    return None
        if float in kinds and not all(map(math.isfinite, (v for v in values if type(v) is float)) if
                                      kinds != {float} else map(math.isfinite, values)):
            return None
        longest = max(len(v) for v in values if type(v) is str) if str in kinds else 0
        bound += 6 * len(key) + 3 + max(6 * longest + 3, 26)
        out[key], out.kinds[key] = values, kinds
    return out if bound <= jsonvalues.MAX_METADATA_BYTES else None


def _props_check(props, n, what):
    try:
        return MetadataColumns.check(props, n)
    except MetadataError as exc:
        raise MetadataError(str(exc).replace("metadata", what)) from None


class IdTable:
    """Ids <-> slots of one kind of object (module docstring). While every slot's seq is the
    first one's plus the slot (no gaps: ids generated or given as ascending runs) the seqs are
    that run, two ints, not an array (a million edges need no 8 MB of seqs made one by one)."""

    def __init__(self):
        self._seqs = None        # array('Q') once the seqs are not one run
        self._first = 0          # while _seqs is None: slot i's seq is _first + i ...
        self._n = 0              # ... for i < _n
        self.named = {}          # given id -> seq, for ids that are not their own seq
        self.name_of = {}        # seq -> given id
        self.next_seq = 0

    def __len__(self):
        return self._n if self._seqs is None else len(self._seqs)

    @property
    def seqs(self):
        """Every slot's seq as an array('Q') (a new one while they are a run: read-only use)."""
        if self._seqs is None:
            return array.array("Q", range(self._first, self._first + self._n))
        return self._seqs

    def run(self):
        """(first seq, count) while every slot's seq is the first one's plus the slot, else None."""
        return (self._first, self._n) if self._seqs is None else None

    def seq_at(self, slot):
        """The seq of one slot."""
        if self._seqs is None:
            if not 0 <= slot < self._n:
                raise IndexError(f"slot {slot} out of range")     # internal: as the array form would
            return self._first + slot
        return self._seqs[slot]

    def slot_of_seq(self, seq):
        if self._seqs is None:
            slot = seq - self._first
            return slot if 0 <= slot < self._n else None
        seqs = self._seqs
        n = len(seqs)
        if not n:
            return None
        first = seqs[0]
        if seqs[n - 1] - first == n - 1:             # no gaps (no compaction, no jumps): direct
            slot = seq - first
            return slot if 0 <= slot < n else None
        slot = bisect.bisect_left(seqs, seq)
        return slot if slot < n and seqs[slot] == seq else None

    def seq_of(self, ident):
        """The seq an id names (alive or not), or None."""
        seq = self.named.get(ident)
        if seq is not None:
            return seq
        if type(ident) is int and ident not in self.name_of:
            return ident
        return None

    def slot(self, ident):
        """The slot an (already normalised) id names, or None (its slot may be dead)."""
        seq = self.seq_of(ident)
        return None if seq is None else self.slot_of_seq(seq)

    def id_of(self, slot):
        seq = self.seq_at(slot)
        return self.name_of.get(seq, seq)

    def ids_of(self, slots):
        """Ids of many slots (one dict lookup each when some ids are named)."""
        if self._seqs is None:
            first, get = self._first, self.name_of.get
            if self.name_of:
                return [get(s + first, s + first) for s in slots]
            return slots.tolist() if not first and isinstance(slots, array.array) else [s + first for s in slots]
        seqs = self._seqs
        if not self.name_of:
            n = len(seqs)
            if n and seqs[n - 1] - seqs[0] == n - 1:     # no gaps: the seq is the slot + the first
                first = seqs[0]
                return slots.tolist() if not first and isinstance(slots, array.array) else [s + first for s in slots]
            return [seqs[s] for s in slots]
        get = self.name_of.get
        return [get(seqs[s], seqs[s]) for s in slots]

    def plan(self, ids, n):
        """(seqs, [(id, seq) kept in the dict], next seq) for n new slots whose ids are `ids`
        (None: all generated; an entry None: that one generated; a range: ints given as a run),
        already checked to be free. seqs is a range when they are a run, else an array('Q').
        Nothing changes: assign() carries a plan out (a caller may need the seqs first)."""
        start = self.next_seq
        if ids is None:
            return range(start, start + n), [], start + n
        if type(ids) is range and (not n or ids.start >= start):
            return ids, [], ids.stop if n else start       # a run of ints past the last seq: their own seqs
        if n and set(map(type, ids)) == {int} and ids[0] >= start and \
                all(map(operator.lt, ids, itertools.islice(ids, 1, None))):       # strictly ascending
            return array.array("Q", ids), [], ids[-1] + 1    # ascending ints: their own seqs
        seqs, named = array.array("Q"), []
        nxt = start
        for ident in ids:
            if ident is None:
                seqs.append(nxt)
                nxt += 1
            elif type(ident) is int and ident >= nxt:
                seqs.append(ident)
                nxt = ident + 1
            else:
                seqs.append(nxt)
                named.append((ident, nxt))
                nxt += 1
        return seqs, named, nxt

    def _extend(self, seqs):
        """Appends slots with these seqs (a range or an array('Q'))."""
        if self._seqs is None and type(seqs) is range:
            if not self._n:
                self._first, self._n = seqs.start, len(seqs)
                return
            if seqs.start == self._first + self._n or not len(seqs):
                self._n += len(seqs)
                return
        if self._seqs is None:
            self._seqs = self.seqs
        self._seqs.extend(seqs if type(seqs) is not range else array.array("Q", seqs))

    def assign(self, ids, n):
        """Appends the slots plan(ids, n) describes."""
        seqs, named, nxt = self.plan(ids, n)
        self._extend(seqs)
        for ident, seq in named:
            self.named[ident] = seq
            self.name_of[seq] = ident
        self.next_seq = nxt
        return seqs

    def restore(self, seqs, ids, next_seq):
        """Slots with the given seqs and ids (None: the seq is the id), from a snapshot."""
        self._extend(seqs)
        if ids is not None:
            for seq, ident in zip(seqs, ids):
                if ident is not None:
                    self.named[ident] = seq
                    self.name_of[seq] = ident
        self.next_seq = max(self.next_seq, next_seq)

    def forget(self, slot):
        """A dead slot's given id may name a new object from now on."""
        seq = self.seq_at(slot)
        ident = self.name_of.pop(seq, None)
        if ident is not None:
            del self.named[ident]

    def named_ids(self, slots):
        """For a snapshot: per slot its given id, or None when the id is the seq."""
        if not self.name_of:
            return [None] * len(slots)
        get, seq_at = self.name_of.get, self.seq_at
        return [get(seq_at(s)) for s in slots]


class PropertyTable:
    """One property dict per slot, in the store's MetadataColumns so `where` filters run as
    the store's do (agentdb.store.filters, kernel bitmaps). Rows are appended, never changed:
    an update appends the new dict and retires the old row, so each slot points at its row
    (identity until the first update)."""

    def __init__(self, kernel):
        self.k = kernel
        self.cols = MetadataColumns()
        self.live = bytearray()          # bit per row
        self.row_of = None               # slot -> row (None: row == slot)
        self.owner = None                # row -> slot (None: slot == row)

    def __len__(self):
        return len(self.cols)

    def _grow_live(self, n):
        need = (n + 7) // 8
        if len(self.live) < need:
            self.live.extend(bytes(need - len(self.live)))

    def append(self, dicts, first_slot, n=None):
        """Rows for slots first_slot .. first_slot + n - 1: dicts (checked, one per slot; None:
        none has properties) or a dict of columns {name: n values} (scalar_columns)."""
        start = len(self.cols)
        if dicts is None:
            self.cols.append_none(n)
        elif isinstance(dicts, dict):
            self.cols.append_columns(dicts, n, kinds=getattr(dicts, "kinds", None))
        else:
            n = len(dicts)
            self.cols.append(dicts)
        self._grow_live(start + n)
        set_bits(self.live, start, n, True)
        if self.row_of is not None:
            self.row_of.extend(range(start, start + n))
            self.owner.extend(range(first_slot, first_slot + n))

    def row(self, slot):
        return slot if self.row_of is None else self.row_of[slot]

    def get(self, slot):
        """A copy of the slot's dict."""
        return self.cols.copy_of(self.row(slot))

    def stored(self, slot):
        """The slot's dict as stored (read-only use)."""
        return self.cols.stored(self.row(slot))

    def set(self, slot, props, n_slots):
        """Replaces the slot's dict (checked) by appending a row."""
        if self.row_of is None:            # identity so far: one row per slot
            self.row_of = array.array("I", range(n_slots))
            self.owner = array.array("I", range(n_slots))
        old = self.row_of[slot]
        new = len(self.cols)
        self.cols.append([props])
        self._grow_live(new + 1)
        set_bit(self.live, old, False)
        set_bit(self.live, new, True)
        self.row_of[slot] = new
        self.owner.append(slot)

    def retire(self, slot):
        set_bit(self.live, self.row(slot), False)

    def where(self, where, n_slots):
        """Bitmap over slots whose dict matches `where` (the store's filter algebra); dead
        slots never match. FilterError names a malformed filter."""
        node = compile_filter(where)
        n = len(self.cols)
        out = bytearray((n_slots + 7) // 8)
        if n == 0:
            return out
        bits = FilterEvaluator(self.k, self.cols, n, self.live).evaluate(node)
        if self.owner is None:
            out[:len(bits)] = bits[:len(out)]
            return out
        rows = self.k.bitmap_rows(bits, n)
        if len(rows):
            slots = self.k.gather_rows(self.owner, rows, row_bytes=4, fmt="I")
            self.k.bitmap_mark_rows(slots, out, n_bits=n_slots)
        return out

    def dicts(self, slots):
        """Copies of the dicts of many slots."""
        return [dict(md) if md else {} for md in self.stored_many(slots)]

    def stored_many(self, slots):
        """The stored dicts (None: no properties) of many slots."""
        row = self.cols.getter()
        if self.row_of is None:
            return list(map(row, slots))
        return list(map(row, map(self.row_of.__getitem__, slots)))


def check_where(where):
    """FilterError for a malformed filter, before anything runs."""
    if where is not None and not isinstance(where, dict):
        raise FilterError(f"where: a filter is a dict, got {type(where).__name__}")
    if where is not None:
        compile_filter(where)
