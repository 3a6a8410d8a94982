"""ApplyMixin: the applying half of a change, the steps PrepareMixin's checks return. They run
only on checked input, so they append to and write the state's arrays without checking again
(a mixin of GraphState: they change its tables, columns and adjacencies in place).
"""
import array

from ..store.arrays import GrowableArray
from ..store.bitmaps import set_bit
from .state_fields import INF
from .state_slots import grow_bitmap


class ApplyMixin:
    """Carries out the checked sections of a change doc (part of GraphState)."""

    def _delete(self, h, e, nodes):
        """Kills hyperedge slots h, then edge slots e, then node slots (prepare found them unconnected)."""
        for slot in h:
            self.hyper.kill(slot)
            set_bit(self.h_embedded, slot, False)
        for slot in e:
            self.edges.kill(slot)
        for adj in (self.out, self.inn, self.both):
            adj.retire(len(e))
        self.member.retire(len(h))
        for slot in nodes:
            self.nodes.kill(slot)
            set_bit(self.node_embedded, slot, False)
            for label in self.node_labels[slot]:
                self.label_index.discard(label, slot)

    def _set_next(self, nxt):
        for table, value in zip((self.nodes, self.edges, self.hyper), nxt):
            table.ids.next_seq = max(table.ids.next_seq, value)

    def _intern(self, types):
        remap = array.array("I")
        for t in types:
            code = self.type_code.get(t)
            if code is None:
                code = self.type_code[t] = len(self.types)
                self.types.append(t)
            remap.append(code)
        return remap

    def _append_types(self, col, types, codes, n):
        """Appends n type codes to col: the section's codes (all its first type when None) as the
        state's codes, new type names interned."""
        remap = self._intern(types)
        if codes is None:
            col.append(array.array("I", [remap[0]]) * n if n else array.array("I"), n)
        else:
            col.append(self.k.gather_rows(remap, codes, row_bytes=4, fmt="I") if n else codes, n)

    def _endpoint_slots(self, node_first, n_block, ref, index):
        if not node_first and not ref:          # the block's i-th node is slot i: the indexes are the slots
            return index
        table = array.array("I", range(node_first, node_first + n_block))
        table.extend(ref)
        if not len(index):
            return array.array("I")
        return self.k.gather_rows(table, index, row_bytes=4, fmt="I")

    def _column(self, name, n_before, default, values, n):
        """Appends n values (or n defaults) to an optional float64 column, made when first needed."""
        col = getattr(self, name)
        if col is None and values is None:
            return
        if col is None:
            col = GrowableArray(self.k, "d")
            if n_before:
                col.append(array.array("d", [default]) * n_before, n_before)
            setattr(self, name, col)
        col.append(values if values is not None else array.array("d", [default]) * n, n)

    def _add_nodes(self, n, ids, seqs, labels, props, emb):
        """labels: (label sets, codes or None: all the first) or None; props: checked dicts, a
        dict of scalar columns or None (PropertyTable.append)."""
        t = self.nodes
        _assign_ids(t, ids, seqs, n)
        first = t.add_slots(n)
        sets, codes = labels if labels is not None else ([()], None)
        if codes is None:
            self.node_labels.extend([sets[0]] * n)
            for label in sets[0]:
                self.label_index.add_run(label, first, n)
        else:
            self.node_labels.extend(map(sets.__getitem__, codes))
            slot_of = array.array("I", range(first, first + n)) if first else None
            for code, ls in enumerate(sets):
                if not ls:
                    continue
                want = bytearray(code // 8 + 1)
                want[code >> 3] = 1 << (code & 7)
                rows = self.k.bitmap_rows(self.k.mask_codes(codes, want), n)
                slots = self.k.gather_rows(slot_of, rows, row_bytes=4, fmt="I") if slot_of and len(rows) else rows
                for label in ls:
                    self.label_index.add_slots(label, slots, first + n)
        t.props.append(props, first, n)
        _mark_embedded(self.node_embedded, first, n, emb)

    def _add_edges(self, m, ids, seqs, node_first, n_block, ref, src, dst, types, codes, weight, vf, vt, props):
        t = self.edges
        _assign_ids(t, ids, seqs, m)
        n_before = t.n
        self.src.append(self._endpoint_slots(node_first, n_block, ref, src), m)
        self.dst.append(self._endpoint_slots(node_first, n_block, ref, dst), m)
        self._append_types(self.etype, types, codes, m)
        self._column("weight", n_before, 1.0, weight, m)
        self._column("vfrom", n_before, -INF, vf, m)
        self._column("vto", n_before, INF, vt, m)
        t.props.append(props, n_before, m)
        t.add_slots(m)

    def _add_hyper(self, h, ids, seqs, node_first, n_block, ref, off, members, types, codes, vf, vt, props, emb):
        t = self.hyper
        _assign_ids(t, ids, seqs, h)
        n_before = t.n
        base = self.h_members.length
        self.h_members.append(self._endpoint_slots(node_first, n_block, ref, members), len(members))
        self.h_off.append(array.array("I", [base + o for o in off[1:]]), h)
        owner = array.array("I")
        for i, (a, b) in enumerate(zip(off, off[1:])):
            owner.extend(array.array("I", [n_before + i]) * (b - a))
        self.h_owner.append(owner, len(owner))
        self._append_types(self.htype, types, codes, h)
        self._column("h_vfrom", n_before, -INF, vf, h)
        self._column("h_vto", n_before, INF, vt, h)
        t.props.append(props, n_before, h)
        t.add_slots(h)
        _mark_embedded(self.h_embedded, n_before, h, emb)

    def _set_value(self, name, default, slot, value, n):
        col = getattr(self, name)
        if col is None:
            if value == default:
                return
            col = GrowableArray(self.k, "d")
            col.append(array.array("d", [default]) * n, n)
            setattr(self, name, col)
        col.buf.write(array.array("d", [value]), start=slot)

    def _relabel(self, slot, add, remove):
        labels = set(self.node_labels[slot])
        for label in remove:
            if label in labels:
                labels.discard(label)
                self.label_index.discard(label, slot)
        for label in add:
            if label not in labels:
                labels.add(label)
                self.label_index.add(label, slot)
        self.node_labels[slot] = tuple(sorted(labels))


def _assign_ids(table, ids, seqs, n):
    """Ids for n new slots: a snapshot's seqs restored as they were, else new seqs assigned."""
    if seqs is not None:
        table.ids.restore(seqs, ids, 0)
    else:
        table.ids.assign(ids, n)


def _mark_embedded(bitmap, first, n, emb):
    """Grows the embedded bitmap over n new slots from first, setting the bits emb marks."""
    grow_bitmap(bitmap, first + n)
    if emb is not None:
        for i in (i for i, v in enumerate(emb) if v):
            set_bit(bitmap, first + i, True)
