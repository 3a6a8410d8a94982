"""Metadata filters: plain dicts (or @ruvector/rvf filter expressions) compiled to a small
tree, then evaluated over whole metadata columns in the kernel into one bitmap per query.

Plain syntax (operators may also be written with a leading `$`):
    {"kind": "note"}                              eq
    {"year": {"gt": 2020, "le": 2024}}            several operators on a field: all must hold
    {"kind": {"in": ["note", "todo"]}}            in
    {"year": {"range": [2000, 2010]}}             range, both ends inclusive
    {"and": [...]}, {"or": [...]}, {"not": {...}} and several top-level fields mean "and"
Operators: eq ne lt le gt ge in range and or not. Comparisons work on numbers and on strings
(lexicographic); eq/ne/in also on booleans; {"field": None} matches rows without the field.
`ne` and `not` are complements: a row lacking the field matches {"f": {"ne": 1}}.
A field no row has matches nothing (stores are schemaless).

Dotted paths reach into nested dicts, to any depth: a row {"doc": {"lang": "en", "page": {"n": 3}}}
matches {"doc.lang": "en"} and {"doc.page.n": {"gt": 2}}. A top-level key that itself holds a
dot is a field of its own name, as it always was, and where a row has it, it wins over the
path spelled the same; keys holding a dot below the top level are not filterable.

RVF expressions: {"op": "eq"|..., "fieldId": name, "value": v} (a numeric fieldId names the
field str(fieldId); an optional "valueType" converts string values), {"op": "in", "values"},
{"op": "range", "low", "high"}, {"op": "and"|"or", "exprs"|"children"}, {"op": "not",
"expr"|"child"}.
"""
import math
import numbers

from ..errors import FilterError
from . import jsonvalues

COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
OPERATORS = COMPARE + ("in", "range")
_RVF_OPS = OPERATORS + ("and", "or", "not")
_STRING_CMP = {"lt": str.__lt__, "le": str.__le__, "gt": str.__gt__, "ge": str.__ge__}


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _finite(value):
    """A finite number by the metadata rule (agentdb.store.jsonvalues): ints within 64 bits."""
    if isinstance(value, int):
        return jsonvalues.INT_MIN <= value <= jsonvalues.INT_MAX
    return math.isfinite(value)


def _check_value(value, op, path):
    if op in ("eq", "ne"):
        ok = value is None or isinstance(value, (str, bool)) or _is_number(value)
        want = "a string, number, boolean or None"
    else:
        ok = isinstance(value, str) or _is_number(value)
        want = "a number or a string"
    if not ok or (_is_number(value) and not _finite(value)):
        shown = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else \
            f"an integer of {value.bit_length()} bits"
        raise FilterError(f"{path}: expected {want} (numbers finite, integers within 64 bits), got {shown}")
    return value


def _check_values(values, path):
    """The values of an 'in' list; a list of only strings, only integers or only floats (the
    large cases) is checked in C-speed passes instead of a call per value."""
    values = list(values)
    if all(type(v) is str for v in values) or all(type(v) is int for v in values) and (
            not values or jsonvalues.INT_MIN <= min(values) and max(values) <= jsonvalues.INT_MAX) or \
            all(type(v) is float for v in values) and all(map(math.isfinite, values)):
        return values
    return [_check_value(v, "eq", f"{path}[{i}]") for i, v in enumerate(values)]


def _leaf(field, op, value, path):
    if op in COMPARE:
        return ("cmp", field, op, _check_value(value, op, path))
    if op == "in":
        if not isinstance(value, (list, tuple)):
            raise FilterError(f"{path}: 'in' needs a list of values, got {value!r}")
        return ("in", field, _check_values(value, path))
    if op == "range":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise FilterError(f"{path}: 'range' needs [low, high], got {value!r}")
        lo, hi = (_check_value(v, "lt", f"{path}[{i}]") for i, v in enumerate(value))
        if _is_number(lo) != _is_number(hi):
            raise FilterError(f"{path}: low and high must both be numbers or both strings, got {value!r}")
        return ("range", field, lo, hi)
    raise FilterError(f"{path}: unknown operator {op!r} (expected one of {' '.join(OPERATORS)})")


def _conj(nodes):
    return nodes[0] if len(nodes) == 1 else ("and", nodes)


def _parse_list(value, op, path, parse):
    if not isinstance(value, (list, tuple)):
        raise FilterError(f"{path}: '{op}' needs a list of filters, got {value!r}")
    return (op, [parse(c, f"{path}[{i}]") for i, c in enumerate(value)])


def _parse_plain(where, path):
    if not isinstance(where, dict):
        raise FilterError(f"{path}: a filter is a dict, got {type(where).__name__}")
    if "op" in where and where.get("op") in _RVF_OPS:
        return _parse_rvf(where, path)
    nodes = []
    for key, cond in where.items():
        op = key.lstrip("$") if isinstance(key, str) else key
        if op in ("and", "or"):
            nodes.append(_parse_list(cond, op, f"{path}.{op}", _parse_plain))
        elif op == "not":
            nodes.append(("not", _parse_plain(cond, f"{path}.not")))
        elif not isinstance(key, str):
            raise FilterError(f"{path}: field names are strings, got {key!r}")
        elif isinstance(cond, dict):
            if not cond:
                raise FilterError(f"{path}.{key}: empty condition")
            nodes.extend(_leaf(key, str(o).lstrip("$"), v, f"{path}.{key}.{o}") for o, v in cond.items())
        elif isinstance(cond, (list, tuple)):
            raise FilterError(f"{path}.{key}: to match any of several values write {{'in': {list(cond)!r}}}")
        else:
            nodes.append(_leaf(key, "eq", cond, f"{path}.{key}"))
    return _conj(nodes) if nodes else ("and", [])


_VALUE_TYPES = {"u64": int, "i64": int, "f64": float, "string": str, "str": str,
                "bool": lambda v: v if isinstance(v, bool) else str(v).lower() == "true"}


def _parse_rvf(expr, path):
    if not isinstance(expr, dict) or expr.get("op") not in _RVF_OPS:
        raise FilterError(f"{path}: expected an expression with 'op' in {' '.join(_RVF_OPS)}, got {expr!r}")
    op = expr["op"]
    if op in ("and", "or"):
        return _parse_list(expr.get("exprs", expr.get("children")), op, f"{path}.{op}", _parse_rvf)
    if op == "not":
        return ("not", _parse_rvf(expr.get("expr", expr.get("child")), f"{path}.not"))
    if "fieldId" not in expr:
        raise FilterError(f"{path}: '{op}' expression lacks 'fieldId'")
    field = expr["fieldId"]
    field = str(field) if _is_number(field) else field
    if not isinstance(field, str):
        raise FilterError(f"{path}.fieldId: expected a field name or number, got {field!r}")
    convert = _VALUE_TYPES.get(expr.get("valueType"), lambda v: v)
    try:
        if op == "in":
            value = [convert(v) for v in expr.get("values", ())]
        elif op == "range":
            value = [convert(expr.get("low")), convert(expr.get("high"))]
        else:
            value = convert(expr.get("value"))
    except (TypeError, ValueError) as exc:
        raise FilterError(f"{path}: value does not match valueType {expr.get('valueType')!r}: {exc}") from None
    return _leaf(field, op, value, f"{path}.{field}")


def check_nesting(where):
    """FilterError for a filter nested deeper than jsonvalues.MAX_DEPTH levels, before anything
    recursive (parsing, JSON encoding) meets it."""
    if jsonvalues.too_deep(where):
        raise FilterError(f"where: nests deeper than {jsonvalues.MAX_DEPTH} levels of dicts and lists")


def compile_filter(where):
    """The filter tree for a plain dict or an RVF expression; FilterError names the bad part."""
    check_nesting(where)
    return _parse_plain(where, "where")


def prefix_fields(where, prefix):
    """`where` with `prefix` put before every field name (operators, values and the RVF form
    left as they are); a malformed filter raises the FilterError compile_filter would.

    >>> prefix_fields({"project": "x", "not": {"op": "eq", "fieldId": "n", "value": 1}}, "metadata.")
    {'metadata.project': 'x', 'not': {'op': 'eq', 'fieldId': 'metadata.n', 'value': 1}}
    """
    compile_filter(where)          # the walks below can then trust the shape
    return _prefix_plain(where, prefix)


def _prefix_plain(where, prefix):
    if "op" in where and where.get("op") in _RVF_OPS:
        return _prefix_rvf(where, prefix)
    out = {}
    for key, cond in where.items():
        op = key.lstrip("$")
        if op in ("and", "or"):
            out[key] = [_prefix_plain(c, prefix) for c in cond]
        elif op == "not":
            out[key] = _prefix_plain(cond, prefix)
        else:
            out[prefix + key] = cond
    return out


def _prefix_rvf(expr, prefix):
    """Reads the keys _parse_rvf reads (exprs before children, expr before child)."""
    op = expr["op"]
    if op in ("and", "or"):
        key = "exprs" if "exprs" in expr else "children"
        return {**expr, key: [_prefix_rvf(e, prefix) for e in expr[key]]}
    if op == "not":
        key = "expr" if "expr" in expr else "child"
        return {**expr, key: _prefix_rvf(expr[key], prefix)}
    field = expr["fieldId"]
    return {**expr, "fieldId": prefix + (str(field) if _is_number(field) else field)}


class FilterEvaluator:
    """Evaluates a compiled filter over a store's metadata columns into a bitmap of rows."""

    def __init__(self, kernel, columns, n_rows, live):
        self.k, self.columns, self.n, self.live = kernel, columns, n_rows, live
        self.nbytes = len(live)

    def evaluate(self, node):
        """Bitmap of live rows matching `node`."""
        return self.k.bitmap_and(self._eval(node), self.live)

    def _empty(self):
        return bytearray(self.nbytes)

    def _eval(self, node):
        kind = node[0]
        if kind == "and":
            out = bytearray(self.live)
            for child in node[1]:
                self.k.bitmap_and(out, self._eval(child), out=out)
            return out
        if kind == "or":
            out = self._empty()
            for child in node[1]:
                self.k.bitmap_or(out, self._eval(child), out=out)
            return out
        if kind == "not":
            return self.k.bitmap_andnot(self.live, self._eval(node[1]))
        field = self.columns.fields.get(node[1])
        if kind == "in":
            return self._in(field, node[2])
        if kind == "range":
            return self._compare(field, node[2], node[3], True, True)
        op, value = node[2], node[3]
        if op == "eq":
            return self._eq(field, value)
        if op == "ne":
            return self.k.bitmap_andnot(self.live, self._eq(field, value))
        inf = math.inf
        if isinstance(value, str):
            cmp = _STRING_CMP[op]
            return self._codes(field, lambda v: isinstance(v, str) and cmp(v, value))
        lo, hi = {"lt": (-inf, value), "le": (-inf, value), "gt": (value, inf), "ge": (value, inf)}[op]
        return self._compare(field, lo, hi, op != "gt", op != "lt")

    def _in(self, field, values):
        """Rows whose value is one of `values`: set lookups over the field's distinct values,
        so the cost follows the column, not len(values) x rows (a million values are fine)."""
        out = self._empty()
        # checked values are strings, booleans, None or numbers: type() sorts a million fast
        wanted = {(type(v) is bool, v) for v in values if type(v) in (str, bool)}
        if wanted:
            self.k.bitmap_or(out, self._codes(field, lambda v: (type(v) is bool, v) in wanted), out=out)
        numbers = set(map(float, [v for v in values if type(v) not in (str, bool) and v is not None]))
        if numbers and field is not None and field.numeric is not None:
            self.k.bitmap_or(out, self._numbers_in(field.numeric, numbers), out=out)
        if any(v is None for v in values):
            self.k.bitmap_or(out, self._eq(field, None), out=out)
        return out

    def _numbers_in(self, col, numbers):
        """Bitmap of rows whose number is in the set `numbers`. The matching distinct values,
        in order, form runs with no other value of the column between them; each run is one
        kernel range pass (an 'in' over consecutive ids is one pass). Past RUNS passes, one
        Python pass over the column is cheaper."""
        distinct = sorted({v for v in col if v == v})          # v == v drops the NaN of "missing"
        runs, start = [], None
        for i, v in enumerate(distinct):
            if v in numbers:
                if start is None:
                    start = i
            elif start is not None:
                runs.append((distinct[start], distinct[i - 1]))
                start = None
        if start is not None:
            runs.append((distinct[start], distinct[-1]))
        out = self._empty()
        if len(runs) <= self.RUNS:
            for lo, hi in runs:
                self.k.bitmap_or(out, self.k.mask_range(col, lo, hi), out=out)
            return out
        for row, v in enumerate(col):
            if v in numbers:
                out[row >> 3] |= 1 << (row & 7)
        return out

    RUNS = 64

    def _eq(self, field, value):
        if value is None:  # rows lacking the field: neither column has a value
            if field is None:
                return bytearray(self.live)
            present = self._compare(field, -math.inf, math.inf, True, True)
            self.k.bitmap_or(present, self._codes(field, lambda v: True), out=present)
            return self.k.bitmap_andnot(self.live, present)
        if isinstance(value, (str, bool)):
            return self._codes(field, lambda v: type(v) is type(value) and v == value)
        return self._compare(field, value, value, True, True)

    def _compare(self, field, lo, hi, lo_incl, hi_incl):
        if isinstance(lo, str):
            return self._codes(field, lambda v: isinstance(v, str) and (lo < v or lo_incl and lo == v)
                               and (v < hi or hi_incl and v == hi))
        if field is None or field.numeric is None:
            return self._empty()
        return self.k.mask_range(field.numeric, lo, hi, lo_inclusive=lo_incl, hi_inclusive=hi_incl)

    def _codes(self, field, accept):
        """Rows whose categorical value satisfies accept(value): the test runs once per distinct
        value (building a code set), the row pass runs in the kernel."""
        if field is None or field.codes is None:
            return self._empty()
        code_set = bytearray((len(field.values) + 7) // 8)
        for code in range(1, len(field.values)):
            if accept(field.values[code]):
                code_set[code >> 3] |= 1 << (code & 7)
        return self.k.mask_codes(field.codes, code_set)
