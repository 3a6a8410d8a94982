"""PrepareMixin: GraphState.prepare(), the checking half of a change (the doc format is in
agentdb.graph.state). Each _prep_* method checks one section whole against the current state,
changing nothing, and returns a step that carries it out through ApplyMixin's methods; a mixin
because it reads the state's tables as freely as GraphState's own methods do.
"""
import array
import functools

from ..errors import ArgumentError, IdError, NodeHasEdgesError, UnknownIdError
from ..store.bitmaps import set_bit
from .state_fields import INF, check_array, check_count, check_finite, check_list, check_validity
from .tables import (ID_INT_MAX, check_labels, check_name, check_number, check_properties, labels_column, normalize_id,
                     scalar_columns)

KINDS = ("node", "edge", "hyperedge")


class PrepareMixin:
    """Checks a change doc and returns the function that applies it (part of GraphState)."""

    def prepare(self, doc, *, snapshot=False):
        """Checks a change doc against this state and returns the function that applies it
        (typed errors name the first problem; nothing changes until the function runs)."""
        if not isinstance(doc, dict):
            raise ArgumentError(f"a graph change is a dict, got {type(doc).__name__}")
        unknown = set(doc) - {"delete", "nodes", "edges", "hyperedges", "update", "next"}
        if unknown:
            raise ArgumentError(f"a graph change has unknown sections {sorted(unknown)}")
        if snapshot:
            if self.nodes.n or self.edges.n or self.hyper.n:
                raise ArgumentError("a snapshot applies to an empty graph")
            nxt = doc.get("next")
            if not isinstance(nxt, list) or len(nxt) != 3 or not all(
                    type(v) is int and 0 <= v < 1 << 64 for v in nxt):
                raise ArgumentError(f"a snapshot's next must be 3 seq counters, got {nxt!r}")
        elif "next" in doc:
            raise ArgumentError("only a snapshot has 'next'")
        steps = []
        if doc.get("delete") is not None:
            steps.append(self._prep_delete(doc["delete"]))
        adds = [doc.get(s) for s in ("nodes", "edges", "hyperedges")]
        if any(sec is not None for sec in adds):
            steps.append(self._prep_adds(*adds, snapshot=snapshot))
        if doc.get("update") is not None:
            steps.append(self._prep_updates(doc["update"]))
        if snapshot:
            steps.append(lambda: self._set_next(doc["next"]))

        def run():
            for step in steps:
                step()
            self.version += 1
        return run

    def _slots_of(self, kind, ids, what):
        if not isinstance(ids, list):
            raise ArgumentError(f"{what} must be a list of ids, got {type(ids).__name__}")
        slots = []
        for ident in ids:
            slot = self.live_slot(kind, ident)
            if slot not in slots:
                slots.append(slot)
        return slots

    def _prep_delete(self, sec):
        if not isinstance(sec, dict) or set(sec) - {"nodes", "edges", "hyperedges"}:
            raise ArgumentError("delete: expected {nodes, edges, hyperedges}")
        h = self._slots_of("hyperedge", sec.get("hyperedges") or [], "delete.hyperedges")
        e = self._slots_of("edge", sec.get("edges") or [], "delete.edges")
        nodes = self._slots_of("node", sec.get("nodes") or [], "delete.nodes")
        gone_e, gone_h = set(e), set(h)
        for slot in nodes:
            edges, hyper = self.incident(slot)
            edges -= gone_e
            hyper -= gone_h
            if edges or hyper:
                ident = self.nodes.ids.id_of(slot)
                raise NodeHasEdgesError(f"node {ident!r} still has {len(edges)} edge(s) and {len(hyper)} "
                                        f"hyperedge(s); delete them first or pass detach=True")

        return functools.partial(self._delete, h, e, nodes)

    def _prep_head(self, table, sec, what, snapshot):
        """(n, ids, seqs) of an added section: a dict with a count, its ids checked."""
        if not isinstance(sec, dict):
            raise ArgumentError(f"{what}: expected a dict")
        n = check_count(sec.get("n"), f"{what}.n")
        return (n, *self._prep_ids(table, sec, n, what, snapshot))

    def _prep_ids(self, table, sec, n, what, snapshot):
        """(ids or None, seq plan) for n new slots: ids checked, unique, not live. A section
        may give its ids as a run, "id_first": the ids id_first .. id_first + n - 1 (a range)."""
        ids = check_list(sec, "ids", n, what)
        first = sec.get("id_first")
        if first is not None:
            if ids is not None:
                raise ArgumentError(f"{what}: give ids or id_first, not both")
            if type(first) is not int or first < 0 or n and first + n - 1 > ID_INT_MAX:
                raise ArgumentError(f"{what}.id_first must be an int with id_first + n - 1 in 0 .. 2**63 - 1, "
                                    f"got {first!r}")
            ids = range(first, first + n)
            # an int id names an object only below the next seq (named ints are all below it)
            taken = next((i for i in range(first, min(first + n, table.ids.next_seq))
                          if table.is_live(table.ids.slot(i))), None) if table.n else None
            if taken is not None:
                raise IdError(f"{what}: the graph already has {what.rstrip('s')} {taken!r}")
        elif ids is not None:
            kinds = set(map(type, ids))
            if not (kinds <= {int, str, type(None)} and (int not in kinds or 0 <= min(
                    i for i in ids if type(i) is int) and max(i for i in ids if type(i) is int) <= ID_INT_MAX)
                    and "" not in ids):
                ids = [None if i is None else normalize_id(i, f"{what}.ids[{j}]") for j, i in enumerate(ids)]
            given = [i for i in ids if i is not None] if None in ids else ids
            if len(set(given)) != len(given):
                seen = set()
                dup = next(i for i in given if i in seen or seen.add(i))
                raise IdError(f"{what}: id {dup!r} appears twice")
            if table.n:
                # an int at or past the next seq names nothing yet (every seq so far is below it)
                nxt, named = table.ids.next_seq, table.ids.named
                taken = [i for i in given if (i in named or type(i) is int and i < nxt)
                         and table.is_live(table.ids.slot(i))]
                if taken:
                    raise IdError(f"{what}: the graph already has {what.rstrip('s')} {taken[0]!r}")
        if snapshot:
            seqs = check_array(sec, "seq", "Q", n, what, optional=False)
            if n and (any(a >= b for a, b in zip(seqs, seqs[1:])) or len(table.ids) and seqs[0] <= table.ids.seq_at(len(table.ids) - 1)):
                raise ArgumentError(f"{what}.seq must be ascending")
        else:
            seqs = None
        return ids, seqs

    def _types(self, sec, n, what):
        """(type names, codes array or None: all the first) -> the state's codes (new names
        added when the step runs), as a function."""
        types = sec.get("types")
        if not isinstance(types, list) or (n and not types):
            raise ArgumentError(f"{what}.types must be a list of type names, got {types!r}")
        for t in types:
            check_name(t, f"{what} type")
        codes = check_array(sec, "type", "I", n, what)
        if codes is None and n and len(types) != 1:
            raise ArgumentError(f"{what}: {len(types)} types need a 'type' array")
        top = self.k.column_stats_u32(codes)[1] if codes is not None and n else 0
        if top >= len(types) and n:
            raise ArgumentError(f"{what}.type: code {top} names no type (there are {len(types)})")
        return types, codes

    def _endpoints(self, sec, n_block, what):
        """Slots of the ref ids (live nodes)."""
        ref = sec.get("ref") or []
        if not isinstance(ref, list):
            raise ArgumentError(f"{what}.ref must be a list of node ids")
        slots = array.array("I")
        for ident in ref:
            slot = self.nodes.slot(ident)
            if slot is None:
                raise UnknownIdError(f"{what} refers to node {ident!r}, which is not in the graph")
            slots.append(slot)
        return slots

    def _indexes(self, values, limit, what):
        top = self.k.column_stats_u32(values)[1] if len(values) else 0
        if len(values) and top >= limit:
            raise ArgumentError(f"{what}: index {top} names no node (there are {limit})")

    def _prep_labels(self, sec, n):
        """The nodes' labels as (label sets, u32 codes into them or None: all the first), or
        None (no labels): from "label_sets" + "label", or from the per-node "labels" lists."""
        labels = check_list(sec, "labels", n, "nodes")
        sets = sec.get("label_sets")
        codes = check_array(sec, "label", "I", n, "nodes")
        if sets is None:
            if codes is not None:
                raise ArgumentError("nodes.label needs nodes.label_sets")
            if labels is None:
                return None
            labels = labels_column(labels, "nodes.labels")
            distinct = {ls: i for i, ls in enumerate(dict.fromkeys(labels))}
            return list(distinct), array.array("I", map(distinct.__getitem__, labels)) if len(distinct) > 1 else None
        if labels is not None:
            raise ArgumentError("nodes: give labels or label_sets, not both")
        if not isinstance(sets, list) or n and not sets:
            raise ArgumentError(f"nodes.label_sets must be a list of label lists, got {type(sets).__name__}")
        sets = [check_labels(ls, f"nodes.label_sets[{i}]") for i, ls in enumerate(sets)]
        if codes is None and n and len(sets) != 1:
            raise ArgumentError(f"nodes: {len(sets)} label sets need a 'label' array")
        top = self.k.column_stats_u32(codes)[1] if codes is not None and n else 0
        if n and top >= len(sets):
            raise ArgumentError(f"nodes.label: code {top} names no label set (there are {len(sets)})")
        return sets, codes

    def _prep_node_props(self, sec, n):
        """The nodes' properties: a list of checked dicts, a dict of scalar columns
        ("prop_cols": {name: n values}, None where a node lacks it) or None."""
        props, cols = sec.get("props"), sec.get("prop_cols")
        if cols is None:
            return check_properties(props, n) if props is not None else None
        if props is not None:
            raise ArgumentError("nodes: give props or prop_cols, not both")
        checked = scalar_columns(cols, n) if isinstance(cols, dict) else None
        if checked is None:
            raise ArgumentError(f"nodes.prop_cols must be {{name: {n} values}}, each a str, bool, None, "
                                f"64-bit int or finite float")
        return checked

    def _prep_adds(self, nodes, edges, hyper, *, snapshot):
        steps = []
        n_block = 0
        node_first = self.nodes.n
        if nodes is not None:
            n, ids, seqs = self._prep_head(self.nodes, nodes, "nodes", snapshot)
            n_block = n
            labels = self._prep_labels(nodes, n)
            props = self._prep_node_props(nodes, n)
            emb = check_array(nodes, "embedded", "B", n, "nodes")
            if emb is not None and n and max(emb) > 1:
                raise ArgumentError("nodes.embedded holds 0 or 1 per node")
            steps.append(functools.partial(self._add_nodes, n, ids, seqs, labels, props, emb))
        if edges is not None:
            m, eids, eseqs = self._prep_head(self.edges, edges, "edges", snapshot)
            ref = self._endpoints(edges, n_block, "edges")
            src = check_array(edges, "src", "I", m, "edges", optional=False)
            dst = check_array(edges, "dst", "I", m, "edges", optional=False)
            self._indexes(src, n_block + len(ref), "edges.src")
            self._indexes(dst, n_block + len(ref), "edges.dst")
            types, codes = self._types(edges, m, "edges")
            weight = check_array(edges, "weight", "d", m, "edges")
            check_finite(weight, "edges.weight")
            vf, vt = check_validity(edges, m, "edges")
            eprops = edges.get("props")
            eprops = check_properties(eprops, m) if eprops is not None else None
            for buf in (self.src, self.dst, self.etype):
                buf.reserve(self.edges.n + m)
            steps.append(functools.partial(self._add_edges, m, eids, eseqs, node_first, n_block, ref, src, dst, types,
                                           codes, weight, vf, vt, eprops))
        if hyper is not None:
            h, hids, hseqs = self._prep_head(self.hyper, hyper, "hyperedges", snapshot)
            ref = self._endpoints(hyper, n_block, "hyperedges")
            off = check_array(hyper, "off", "I", h + 1, "hyperedges", optional=False)
            members = hyper.get("members")
            if not isinstance(members, array.array) or members.typecode != "I":
                raise ArgumentError("hyperedges.members must be a 'I' array")
            if off[0] != 0 or off[h] != len(members) or any(b - a < 2 for a, b in zip(off, off[1:])):
                raise ArgumentError("hyperedges.off must start at 0, end at the member count and give every "
                                    "hyperedge 2 or more nodes")
            self._indexes(members, n_block + len(ref), "hyperedges.members")
            types, codes = self._types(hyper, h, "hyperedges")
            vf, vt = check_validity(hyper, h, "hyperedges")
            hprops = hyper.get("props")
            hprops = check_properties(hprops, h) if hprops is not None else None
            emb = check_array(hyper, "embedded", "B", h, "hyperedges")
            if emb is not None and h and max(emb) > 1:
                raise ArgumentError("hyperedges.embedded holds 0 or 1 per hyperedge")
            steps.append(functools.partial(self._add_hyper, h, hids, hseqs, node_first, n_block, ref, off, members,
                                           types, codes, vf, vt, hprops, emb))

        def run():
            for step in steps:
                step()
        return run

    def _prep_updates(self, updates):
        if not isinstance(updates, list):
            raise ArgumentError("update must be a list")
        steps, pending = [], {}           # (kind, slot) -> props as earlier updates in the list leave them
        for i, u in enumerate(updates):
            what = f"update[{i}]"
            if not isinstance(u, dict):
                raise ArgumentError(f"{what} must be a dict")
            kinds = [k for k in KINDS if k in u]
            if len(kinds) != 1:
                raise ArgumentError(f"{what} names one of node, edge or hyperedge")
            kind = kinds[0]
            allowed = {kind, "props", "replace", "remove"} | (
                {"add_labels", "remove_labels", "embedded"} if kind == "node" else
                {"weight", "valid_from", "valid_to"} if kind == "edge" else {"valid_from", "valid_to", "embedded"})
            if set(u) - allowed:
                raise ArgumentError(f"{what}: a {kind} update has no {sorted(set(u) - allowed)}")
            slot = self.live_slot(kind, u[kind])
            table = self.table(kind)
            key = (kind, slot)
            props = None
            if "props" in u or "remove" in u or u.get("replace"):
                new = u.get("props") or {}
                if not isinstance(new, dict):
                    raise ArgumentError(f"{what}.props must be a dict")
                remove = u.get("remove") or []
                if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
                    raise ArgumentError(f"{what}.remove must be a list of property names")
                base = {} if u.get("replace") else dict(pending.get(key, table.props.stored(slot)))
                base.update(new)
                for name in remove:
                    base.pop(name, None)
                props = check_properties(base)
                pending[key] = props or {}
            steps.append(self._update_step(kind, slot, u, props, what))

        def run():
            for step in steps:
                step()
        return run

    def _update_step(self, kind, slot, u, props, what):
        table = self.table(kind)
        sets = []
        if props is not None or "props" in u or "remove" in u or u.get("replace"):
            sets.append(lambda: table.props.set(slot, props, table.n))
        if kind == "node":
            add = check_labels(u.get("add_labels") or (), f"{what}.add_labels")
            remove = check_labels(u.get("remove_labels") or (), f"{what}.remove_labels")
            if add or remove:
                sets.append(lambda: self._relabel(slot, add, remove))
        if "embedded" in u:
            if not isinstance(u["embedded"], bool):
                raise ArgumentError(f"{what}.embedded must be true or false")
            bits = self.node_embedded if kind == "node" else self.h_embedded
            sets.append(lambda: set_bit(bits, slot, u["embedded"]))
        if "weight" in u:
            w = check_number(u["weight"], f"{what}.weight")
            sets.append(lambda: self._set_value("weight", 1.0, slot, w, self.edges.n))
        for name in ("valid_from", "valid_to"):
            if name in u:
                check_number(u[name], f"{what}.{name}", allow_none=True)
        if "valid_from" in u or "valid_to" in u:
            cols = ("vfrom", "vto") if kind == "edge" else ("h_vfrom", "h_vto")
            lo = u["valid_from"] if "valid_from" in u else self.read1(getattr(self, cols[0]), slot, -INF)
            hi = u["valid_to"] if "valid_to" in u else self.read1(getattr(self, cols[1]), slot, INF)
            lo, hi = -INF if lo is None else float(lo), INF if hi is None else float(hi)
            if lo > hi:
                raise ArgumentError(f"{what}: valid_from ({lo}) is after valid_to ({hi})")
            sets.append(lambda: (self._set_value(cols[0], -INF, slot, lo, table.n),
                                 self._set_value(cols[1], INF, slot, hi, table.n)))

        def run():
            for s in sets:
                s()
        return run
