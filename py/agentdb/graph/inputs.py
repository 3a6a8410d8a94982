"""A caller's nodes, edges and hyperedges as the sections of a change doc (agentdb.graph.state):
the checks that name the caller's own argument (edges[3].weight, not a doc field), and the
array-level conversion that lets a million edges in without a Python step per edge beyond
reading them (ids are looked up per distinct node; endpoints become indexes in one pass, or
by numpy when the caller's columns are numpy arrays). Nodes come as records or as columns."""
import array
import math
import sys

from ..errors import ArgumentError
from .tables import (ID_INT_MAX, check_labels, check_name, check_number, check_window, labels_column, normalize_id,
                     scalar_columns)

INF = math.inf
_NODE_KEYS = {"id", "labels", "properties", "embedding"}
_EDGE_KEYS = {"id", "src", "dst", "type", "properties", "weight", "valid_from", "valid_to"}
_HYPER_KEYS = {"id", "nodes", "type", "properties", "embedding", "valid_from", "valid_to"}


def _ids(values, what):
    """Ids normalised; plain ints and strings are checked in C-speed passes (min, max, in)."""
    return _ids_and_bounds(values, what)[0]


def _ids_and_bounds(values, what):
    """(_ids(values), (min, max) when they are all plain ints, else None)."""
    values = values if type(values) is list else list(values)
    kinds = set(map(type, values))
    if kinds == {int}:
        bounds = min(values), max(values)
        if 0 <= bounds[0] and bounds[1] <= ID_INT_MAX:
            return values, bounds
    elif kinds == {str} and "" not in values or not values:
        return values, None
    values = [normalize_id(v, f"{what}[{i}]") for i, v in enumerate(values)]
    return values, _int_bounds(values)


def _given(values):
    """values, or None when every entry is None (nothing given)."""
    return None if values.count(None) == len(values) else values


def _records(items, keys, what, fields):
    """A list of dicts (checked keys) or tuples (positional `fields`) -> a list of dicts."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            extra = set(item) - keys
            if extra:
                raise ArgumentError(f"{what}[{i}] has unknown keys {sorted(extra)}; known: {sorted(keys)}")
            out.append(item)
        elif isinstance(item, (tuple, list)) and 1 <= len(item) <= len(fields):
            out.append(dict(zip(fields, item)))
        else:
            raise ArgumentError(f"{what}[{i}] must be a dict (or a tuple {tuple(fields)}), got {type(item).__name__}")
    return out


def column(values):
    """A column as a plain list: lists as they are; numpy arrays and array.array through
    tolist() (Python ints and floats, in one C pass); any other sequence or range copied."""
    if type(values) is list:
        return values
    tolist = getattr(values, "tolist", None)
    return tolist() if callable(tolist) else list(values)


def _u32_column(values):
    """values as an array('I') made in one C pass, or None when some value is not an int in
    0 .. 2**32 - 1 (a bool passes here: callers look at the 0s and 1s, _bools)."""
    if isinstance(values, array.array) and values.typecode == "I":
        return values
    try:
        return array.array("I", values)
    except (TypeError, OverflowError, ValueError):
        return None


def _bools(kernel, values, col, low):
    """Whether a bool hides among the 0s and 1s of the caller's values (col: them as an
    array('I'); low: its least value): the kernel lists where those are, Python looks at only
    them (array('I') takes True as 1, the general path refuses it)."""
    if low > 1 or not isinstance(values, (list, tuple)):
        return False
    rows = kernel.bitmap_rows(kernel.mask_codes(col, b"\x03"), len(col))
    return any(type(values[i]) is bool for i in rows)


def id_run(kernel, values):
    """The first id when a node id column is the ints first, first + 1, .. in order (their
    section is then "id_first": first, checked in O(1)), else None."""
    n = len(values)
    if type(values) is range:
        return values.start if values.step == 1 and n and values.start >= 0 and values[-1] <= ID_INT_MAX else None
    values = column(values)
    col = _u32_column(values) if n else None
    if col is None:
        return None
    low, high, descents = kernel.column_stats_u32(col)
    if descents or high - low != n - 1 or _bools(kernel, values, col, low):
        return None
    return low


def _node_columns(cols, kernel):
    """The columns form of nodes: {"id": [...]?, "labels": name or [...]?, "properties": {key:
    [...]}?}: one entry per node in each column (a property's None: the node lacks it).
    Returns (n, section fields, ids given or None): ids as a run ("id_first") when they are
    one, labels as label sets and codes, properties as columns when they hold scalars (else
    one dict per node, the general form)."""
    extra = set(cols) - {"id", "labels", "properties"}
    if extra:
        raise ArgumentError(f"node columns: unknown {sorted(extra)}; known: id, labels, properties "
                            f"(embeddings go in node dicts)")
    props = cols.get("properties") or {}
    if not isinstance(props, dict):
        raise ArgumentError(f"node columns: properties is a dict of columns, got {type(props).__name__}")
    named = [("id", cols["id"])] if cols.get("id") is not None else []
    if cols.get("labels") is not None and not isinstance(cols["labels"], str):
        named.append(("labels", cols["labels"]))
    named += [(f"properties[{k!r}]", v) for k, v in props.items()]
    if not named:
        raise ArgumentError("node columns need id, a labels column or a properties column (how many nodes?)")
    n = None
    for key, values in named:
        if not hasattr(values, "__len__") or isinstance(values, (str, dict)):
            raise ArgumentError(f"node column {key} must be a list, got {type(values).__name__}")
        n = len(values) if n is None else n
        if len(values) != n:
            raise ArgumentError(f"node column {key} has {len(values)} values, {named[0][0]} has {n}")
    fields = {}
    ids = None
    if cols.get("id") is not None:
        first = id_run(kernel, cols["id"])
        if first is not None:
            fields["id_first"], ids = first, range(first, first + n)
        else:
            ids = _ids(column(cols["id"]), "nodes.id")
            fields["ids"] = _given(ids) if n else None
    labels = cols.get("labels")
    if isinstance(labels, str):
        fields["label_sets"] = [list(check_labels(labels, "nodes.labels"))]
    elif labels is not None:
        fields["labels"] = _labels_section(labels_column(column(labels), "nodes.labels"))
    columns = {}
    for key, values in props.items():
        if not isinstance(key, str):
            raise ArgumentError(f"node columns: property names are strings, got {key!r}")
        columns[key] = column(values)
    checked = scalar_columns(columns, n) if columns else None
    if checked is not None:
        fields["prop_cols"] = checked
    elif columns:              # values a column cannot hold (dicts, lists, ...): one dict per node
        records = None
        for key, values in columns.items():
            if records is None:
                records = [{key: v} if v is not None else {} for v in values]
            else:
                for record, v in zip(records, values):
                    if v is not None:
                        record[key] = v
        fields["props"] = records
    return n, fields, ids


def _labels_section(labels):
    """The section's labels column (None: no node has one): one list per distinct set of
    labels, shared by its nodes, so checking the section again costs one check per set."""
    distinct = {ls: list(ls) for ls in dict.fromkeys(labels)}
    return [distinct[ls] for ls in labels] if any(distinct) else None


def nodes_section(items, kernel):
    """(section, ids given (None each when generated; a range for a run), labels (per node; None
    for columns), embeddings [(index, vector)]) for nodes: dicts {id?, labels?, properties?,
    embedding?}, plain ids, or a dict of columns (_node_columns: the fast form for big batches)."""
    if isinstance(items, dict):
        n, fields, ids = _node_columns(items, kernel)
        return {"n": n, "embedded": None, **fields}, ids if ids is not None else [None] * n, None, []
    items = items if type(items) is list else list(items)
    first = id_run(kernel, items)
    if first is not None:                  # plain ids that are a run: the column form's id_first
        n = len(items)
        return {"n": n, "id_first": first, "labels": None, "props": None, "embedded": None}, \
            range(first, first + n), [()] * n, []
    if None not in items and not any(isinstance(item, dict) for item in items):   # plain ids: the fast form
        ids = _ids(items, "nodes")
        n = len(ids)
        return {"n": n, "ids": _given(ids) if n else None, "labels": None, "props": None, "embedded": None}, \
            ids, [()] * n, []
    records = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            extra = set(item) - _NODE_KEYS
            if extra:
                raise ArgumentError(f"nodes[{i}] has unknown keys {sorted(extra)}; known: {sorted(_NODE_KEYS)}")
            records.append(item)
        else:
            records.append({"id": item})
    n = len(records)
    ids = [None if r.get("id") is None else normalize_id(r["id"], f"nodes[{i}].id") for i, r in enumerate(records)]
    labels = labels_column([r.get("labels") for r in records], "nodes.labels")
    props = [r.get("properties") for r in records]
    embeddings = [(i, r["embedding"]) for i, r in enumerate(records) if r.get("embedding") is not None]
    emb = None
    if embeddings:
        emb = array.array("B", bytes(n))
        for i, _ in embeddings:
            emb[i] = 1
    section = {"n": n, "ids": _given(ids), "labels": _labels_section(labels),
               "props": _given(props), "embedded": emb}
    return section, ids, labels, embeddings


def _dense_first(block_ids):
    """The first id when the block's ids are the ints first .. first + n - 1 in order (an
    endpoint's index is then arithmetic), else None."""
    n_block = len(block_ids)
    if not n_block:
        return 0
    if type(block_ids) is range:
        return block_ids.start
    if set(map(type, block_ids)) == {int} and block_ids[-1] - block_ids[0] == n_block - 1 and \
            block_ids == sorted(block_ids) and len(set(block_ids)) == n_block:
        return block_ids[0]
    return None


def _numpy_endpoints(block_ids, first, columns):
    """_endpoint_indexes for numpy integer columns that name only the block's dense ids, done
    by numpy (None: not that case, the general path decides). numpy is used when the caller's
    columns are numpy arrays, so it is never imported here: the browser has none."""
    np = sys.modules.get("numpy")
    if np is None or not all(isinstance(c, np.ndarray) and c.ndim == 1 and c.dtype.kind in "iu" for c in columns):
        return None
    first = _dense_first(block_ids) if first is None else first
    if first is None:
        return None
    end = first + len(block_ids)
    out = []
    for c in columns:
        if len(c) and (int(c.min()) < first or int(c.max()) >= end):
            return None
        idx = array.array("I")
        idx.frombytes((c - first).astype("<u4").tobytes())
        out.append(idx)
    return out


def _run_endpoints(kernel, first, n_block, columns):
    """_endpoint_indexes when the block's ids are the run first .. first + n_block - 1 and
    every endpoint is one of them: each column made an array('I') in one C pass and its range
    checked by the kernel (None: not that case, the general path decides and names the
    problem: an unknown node, a bool, a bad id)."""
    if first is None or not n_block:
        return None
    out = []
    for values in columns:
        col = _u32_column(values) if type(values) in (list, tuple, range, array.array) else None
        if col is None:
            return None
        low, high, _ = kernel.column_stats_u32(col) if len(col) else (first, first, 0)
        if low < first or high >= first + n_block or _bools(kernel, values, col, low):
            return None
        out.append(col if not first else array.array("I", (x - first for x in col)))
    return out


def _int_bounds(col):
    """(min, max) of a column of plain ints, else None."""
    if not col or type(col[0]) is not int or set(map(type, col)) != {int}:
        return None
    return min(col), max(col)


def _endpoint_indexes(block_ids, columns, bounds):
    """(ref ids, one u32 index array per column): an id of the block (the call's own nodes) is
    its position there, any other id ref's position after the block's. The ref list is sorted
    (ints, then strings), so the same call gives the same bytes in every home. bounds: each
    column's (min, max) when it holds plain ints only, else None."""
    n_block = len(block_ids)
    first = _dense_first(block_ids)
    if first is not None and all(b is not None or not col for b, col in zip(bounds, columns)) and \
            all(b is None or first <= b[0] and b[1] < first + n_block for b in bounds):
        # every endpoint is one of the ids first .. first + n - 1: its index is arithmetic
        return [], [array.array("I", col if not first else (x - first for x in col)) for col in columns]
    index = {ident: i for i, ident in enumerate(block_ids)}
    seen = set()
    for col in columns:
        seen.update(col)
    ref = sorted(seen.difference(index), key=lambda x: (type(x) is str, x))
    index.update({ident: n_block + j for j, ident in enumerate(ref)})
    return ref, [array.array("I", map(index.__getitem__, col)) for col in columns]


def _float_column(values, default, what, *, allow_none):
    """An f64 array of values (None stands for default where allow_none), or None when every
    value is the default; ArgumentError names the first entry that is not a (finite) number."""
    kinds = set(map(type, values))
    if values.count(None if allow_none else default) == len(values) and bool not in kinds:
        return None
    col = None
    if kinds <= ({int, float, type(None)} if allow_none else {int, float}):
        try:
            col = array.array("d", [default if v is None else v for v in values] if allow_none else values)
        except OverflowError:
            col = None
    if col is None or not allow_none and not all(map(math.isfinite, col)):
        for i, v in enumerate(values):
            if not (v is None and allow_none):
                check_number(v, f"{what}[{i}]")
    return col


def edges_section(items, block_ids, kernel, block_first=None):
    """The edges section and the ids given. items: dicts {src, dst, type, id?, properties?,
    weight?, valid_from?, valid_to?}, tuples (src, dst, type[, properties]), or a dict of columns
    {"src": [...], "dst": [...], "type": name or [...], ...} (the fast form for big batches).
    block_first: the first of the block's ids when they are a run of ints (else None)."""
    if isinstance(items, dict):
        cols = items
        extra = set(cols) - _EDGE_KEYS
        if extra:
            raise ArgumentError(f"edge columns: unknown {sorted(extra)}; known: {sorted(_EDGE_KEYS)}")
        if "src" not in cols or "dst" not in cols or "type" not in cols:
            raise ArgumentError("edge columns need src, dst and type")
        m = len(cols["src"])
        for key, col in cols.items():
            if key != "type" or not isinstance(col, str):
                if not hasattr(col, "__len__") or isinstance(col, (str, dict)) or len(col) != m:
                    raise ArgumentError(f"edge column {key!r} must be a list of {m} values")

        def get(key, default=None):
            return column(cols[key]) if key in cols else None
        types_col = None if isinstance(cols["type"], str) else get("type")
        single = cols["type"] if types_col is None else None
    else:
        records = _records(items, _EDGE_KEYS, "edges", ("src", "dst", "type", "properties"))
        m = len(records)
        for i, r in enumerate(records):
            if "src" not in r or "dst" not in r or "type" not in r:
                raise ArgumentError(f"edges[{i}] needs src, dst and type")

        def get(key, default=None):
            return [r.get(key, default) for r in records]
        types_col, single = get("type"), None
    distinct = [single] if types_col is None else list(dict.fromkeys(types_col))
    for t in distinct:
        check_name(t, "edge type")
    codes = None
    if len(distinct) > 1:
        code = {t: i for i, t in enumerate(distinct)}
        codes = array.array("I", map(code.__getitem__, types_col))
    fast = None
    if isinstance(items, dict):
        fast = _numpy_endpoints(block_ids, block_first, [items["src"], items["dst"]]) or \
            _run_endpoints(kernel, block_first, len(block_ids), [items["src"], items["dst"]])
    if fast is not None:
        ref, (src_idx, dst_idx) = [], fast
    else:
        (srcs, src_bounds), (dsts, dst_bounds) = _ids_and_bounds(get("src"), "edges.src"), \
            _ids_and_bounds(get("dst"), "edges.dst")
        ref, (src_idx, dst_idx) = _endpoint_indexes(block_ids, [srcs, dsts], [src_bounds, dst_bounds])
    ids = get("id")
    ids = _given(ids) if m and ids is not None else None
    if ids is not None:
        ids = [None if i is None else normalize_id(i, f"edges[{j}].id") for j, i in enumerate(ids)]
    weight, vf, vt = (_float_column(values, default, f"edges.{key}", allow_none=key != "weight")
                      if values else None for key, default, values in (
                          ("weight", 1.0, get("weight", 1.0)), ("valid_from", -INF, get("valid_from")),
                          ("valid_to", INF, get("valid_to"))))
    props = get("properties")
    section = {"n": m, "ids": ids, "ref": ref, "src": src_idx, "dst": dst_idx,
               "types": distinct if m else [], "type": codes, "weight": weight, "valid_from": vf, "valid_to": vt,
               "props": _given(props) if props else None}
    return section, ids


def hyperedges_section(items, block_ids):
    """(section, ids given, embeddings [(index, vector)]) for hyperedges: dicts {nodes, type,
    id?, properties?, embedding?, valid_from?, valid_to?}."""
    records = _records(items, _HYPER_KEYS, "hyperedges", ("nodes", "type", "properties"))
    h = len(records)
    members, off, types_col = [], array.array("I", [0]), []
    for i, r in enumerate(records):
        if "nodes" not in r or "type" not in r:
            raise ArgumentError(f"hyperedges[{i}] needs nodes and type")
        nodes = r["nodes"]
        if isinstance(nodes, (str, dict)) or not hasattr(nodes, "__iter__"):
            raise ArgumentError(f"hyperedges[{i}].nodes must be a list of node ids")
        nodes = _ids(nodes, f"hyperedges[{i}].nodes")
        if len(nodes) < 2:
            raise ArgumentError(f"hyperedges[{i}] joins {len(nodes)} node(s); a hyperedge needs 2 or more")
        members.extend(nodes)
        off.append(len(members))
        types_col.append(check_name(r["type"], f"hyperedges[{i}].type"))
    distinct = list(dict.fromkeys(types_col))
    codes = None
    if len(distinct) > 1:
        code = {t: i for i, t in enumerate(distinct)}
        codes = array.array("I", map(code.__getitem__, types_col))
    ref, (member_idx,) = _endpoint_indexes(block_ids, [members], [_int_bounds(members)])
    ids = [None if r.get("id") is None else normalize_id(r["id"], f"hyperedges[{i}].id") for i, r in enumerate(records)]
    windows = [check_window(r.get("valid_from"), r.get("valid_to"), f"hyperedges[{i}].") for i, r in enumerate(records)]
    vf = array.array("d", (w[0] for w in windows)) if any(w[0] != -INF for w in windows) else None
    vt = array.array("d", (w[1] for w in windows)) if any(w[1] != INF for w in windows) else None
    embeddings = [(i, r["embedding"]) for i, r in enumerate(records) if r.get("embedding") is not None]
    emb = None
    if embeddings:
        emb = array.array("B", bytes(h))
        for i, _ in embeddings:
            emb[i] = 1
    props = [r.get("properties") for r in records]
    section = {"n": h, "ids": ids if any(i is not None for i in ids) else None, "ref": ref, "off": off,
               "members": member_idx, "types": distinct, "type": codes,
               "valid_from": vf, "valid_to": vt, "props": props if any(p is not None for p in props) else None,
               "embedded": emb}
    return section, ids, embeddings, types_col
