"""Ids: what the user names a vector by, and the row that holds it.

A store's ids are either unsigned 64-bit integers (stored as they are, as RVF stores ids) or
strings. String ids get internal 64-bit labels 1, 2, 3, ... in the order they are first seen;
the label is what the .rvf file stores, and the string-to-label map travels with the store
(in the file, never a sidecar). One store never mixes the two kinds.
"""
import operator

from ..errors import IdError, UnknownIdError

U64_MAX = (1 << 64) - 1


def normalize_one(ident):
    """One id as a plain int or str (numpy integers and other integral types by
    operator.index; booleans and everything else unchanged, for check() to refuse)."""
    if type(ident) in (int, str) or isinstance(ident, bool):
        return ident
    try:
        return operator.index(ident)
    except TypeError:
        return ident


class IdMap:
    def __init__(self):
        self.kind = None            # "int" or "str", fixed by the first ingest
        self.row_of = {}            # live id -> row
        self.id_of_row = []         # row -> id (dead rows keep theirs, or None, until compaction)
        self.label_of_row = []      # row -> the u64 a file stores for it
        self.label_of = {}          # str id -> u64 label
        self.next_label = 1

    def __len__(self):
        return len(self.row_of)

    def __contains__(self, ident):
        return ident in self.row_of

    @staticmethod
    def normalize(ids):
        """ids as a list of plain ints and strs: any integral type (numpy integers, say) is
        taken by operator.index; anything else is left for check() to name."""
        ids = list(ids)
        if set(map(type, ids)) <= {int, str}:
            return ids
        return [normalize_one(ident) for ident in ids]

    def check(self, ids):
        """Validates a batch of ids (kind, range, duplicates) without changing anything."""
        if self._plainly_valid(ids):
            return
        expected = self.kind
        seen = set()
        for i, ident in enumerate(ids):
            kind = "str" if isinstance(ident, str) else \
                "int" if isinstance(ident, int) and not isinstance(ident, bool) else None
            if kind is None:
                raise IdError(f"ids[{i}] = {ident!r}: ids are unsigned 64-bit integers or strings")
            expected = expected or kind          # an empty store takes the first id's kind
            if kind != expected:
                raise IdError(f"ids[{i}] = {ident!r}: this store's ids are {expected}s")
            if kind == "int" and not 0 <= ident <= U64_MAX:
                raise IdError(f"ids[{i}] = {ident}: integer ids must be in 0 .. 2**64 - 1")
            if kind == "str" and not ident:
                raise IdError(f"ids[{i}]: an id cannot be the empty string")
            if ident in seen:
                raise IdError(f"id {ident!r} appears twice in one batch")
            seen.add(ident)

    def _plainly_valid(self, ids):
        """True for the usual batch (all plain ints in range, or all non-empty strs, of this
        store's kind, no repeats), checked with set and min/max instead of a Python step per
        id; anything else gets check()'s id-by-id pass, which names the bad id."""
        kinds = set(map(type, ids))
        if kinds == {int} and self.kind in (None, "int"):
            ok = 0 <= min(ids) and max(ids) <= U64_MAX
        elif kinds == {str} and self.kind in (None, "str"):
            ok = "" not in ids
        else:
            return not ids
        return ok and len(set(ids)) == len(ids)

    def add(self, ids, first_row):
        """Maps ids to rows first_row, first_row+1, ... (an id already present moves)."""
        if ids and self.kind is None:
            self.kind = "str" if isinstance(ids[0], str) else "int"
        self.label_of_row.extend(self.labels_for(ids))
        self.row_of.update(zip(ids, range(first_row, first_row + len(ids))))     # one C loop, not one step per id
        if self.kind == "str":
            for ident in ids:
                if ident not in self.label_of:
                    self.label_of[ident] = self.next_label
                    self.next_label += 1
        self.id_of_row.extend(ids)

    def labels_for(self, ids):
        """The u64 ids a file stores for `ids` (themselves, or string labels: existing ones, then
        the next free ones in order), without changing anything."""
        if not ids or not isinstance(ids[0], str):
            return list(ids)
        out, fresh = [], self.next_label
        for ident in ids:
            label = self.label_of.get(ident)
            if label is None:
                label, fresh = fresh, fresh + 1
            out.append(label)
        return out

    def rows(self, ids, *, missing_ok=False):
        """Rows of the given ids; unknown ids raise UnknownIdError naming them (or are skipped)."""
        missing = [ident for ident in ids if ident not in self.row_of]
        if missing and not missing_ok:
            shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise UnknownIdError(f"{len(missing)} unknown id(s): {shown}")
        return [self.row_of[ident] for ident in ids if ident in self.row_of]

    def row(self, ident):
        return self.rows([ident])[0]

    def remove_rows(self, rows):
        for row in rows:
            ident = self.id_of_row[row]
            if self.row_of.get(ident) == row:
                del self.row_of[ident]

    def truncate(self, n_rows, next_label):
        """Undoes add() back to n_rows rows and the string labels from next_label on (rollback
        of a failed batch: its new ids leave no label behind, and a first batch no id kind)."""
        for row in range(n_rows, len(self.id_of_row)):
            ident = self.id_of_row[row]
            if self.row_of.get(ident) == row:
                del self.row_of[ident]
        del self.id_of_row[n_rows:]
        del self.label_of_row[n_rows:]
        if next_label < self.next_label:
            self.label_of = {ident: label for ident, label in self.label_of.items() if label < next_label}
            self.next_label = next_label
        if n_rows == 0:
            self.kind = None

    def compact(self, keep_rows):
        """Renumbers rows after compaction: keep_rows[i] becomes row i."""
        self.id_of_row = [self.id_of_row[r] for r in keep_rows]
        self.label_of_row = [self.label_of_row[r] for r in keep_rows]
        self.row_of = {ident: i for i, ident in enumerate(self.id_of_row)}

    def load(self, kind, labels, ids, live):
        """Rebuilds the map from a file's physical rows: labels per row, ids (None where a
        dead row's id is unknown), and which rows are live."""
        self.kind = kind
        self.label_of_row = list(labels)
        self.id_of_row = list(ids)
        self.row_of = dict(zip(ids, range(len(ids)))) if all(live) else \
            {ident: row for row, (ident, ok) in enumerate(zip(ids, live)) if ok}
        if kind == "str":
            self.label_of = {ident: label for ident, label in zip(ids, labels) if ident is not None}
            self.next_label = max(labels, default=0) + 1
