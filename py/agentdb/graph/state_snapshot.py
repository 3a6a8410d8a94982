"""SnapshotMixin: GraphState.snapshot(), the live graph as one doc (the format in
agentdb.graph.state) that prepare(doc, snapshot=True) applies to an empty state: the live
slots renumbered densely, seqs and given ids kept. A mixin of GraphState (it reads every column).
"""
import array

from .state_slots import has_bit


class SnapshotMixin:
    """Reads the whole state out as a snapshot doc (part of GraphState)."""

    def snapshot(self):
        """The live graph as a snapshot doc: slots renumbered densely, seqs and given ids kept."""
        k = self.k
        doc = {"next": [self.nodes.ids.next_seq, self.edges.ids.next_seq, self.hyper.ids.next_seq]}
        nodes = self.nodes.live_slots()
        rank, n = k.bitmap_rank(self.nodes.live, self.nodes.n) if self.nodes.n else (array.array("I"), 0)
        doc["nodes"] = {
            "n": n, "ids": _none_if_all_none(self.nodes.ids.named_ids(nodes)),
            "seq": _gather_q(k, self.nodes.ids, nodes),
            "labels": _none_if_empty([list(self.node_labels[s]) for s in nodes]),
            "props": _none_if_all_none(self.nodes.props.stored_many(nodes)),
            "embedded": _bits_of(self.node_embedded, nodes)}
        edges = self.edges.live_slots()
        m = len(edges)
        remap = (lambda col: k.gather_rows(rank, _gather(k, col, edges, "I"), row_bytes=4, fmt="I")
                 if m else array.array("I"))
        doc["edges"] = {
            "n": m, "ids": _none_if_all_none(self.edges.ids.named_ids(edges)),
            "seq": _gather_q(k, self.edges.ids, edges), "ref": [], "src": remap(self.src),
            "dst": remap(self.dst), "types": list(self.types),
            "type": _gather(k, self.etype, edges, "I") if len(self.types) != 1 else None,
            "weight": _gather(k, self.weight, edges, "d"), "valid_from": _gather(k, self.vfrom, edges, "d"),
            "valid_to": _gather(k, self.vto, edges, "d"),
            "props": _none_if_all_none(self.edges.props.stored_many(edges))}
        hyper = self.hyper.live_slots()
        h = len(hyper)
        off, members = array.array("I", [0]), array.array("I")
        if h:
            all_off, all_members = self.h_off.read(), self.h_members.read()
            for s in hyper:
                members.extend(all_members[all_off[s]:all_off[s + 1]])
                off.append(len(members))
        doc["hyperedges"] = {
            "n": h, "ids": _none_if_all_none(self.hyper.ids.named_ids(hyper)),
            "seq": _gather_q(k, self.hyper.ids, hyper), "ref": [], "off": off,
            "members": k.gather_rows(rank, members, row_bytes=4, fmt="I") if len(members) else members,
            "types": list(self.types), "type": _gather(k, self.htype, hyper, "I") if len(self.types) != 1 else None,
            "valid_from": _gather(k, self.h_vfrom, hyper, "d"), "valid_to": _gather(k, self.h_vto, hyper, "d"),
            "props": _none_if_all_none(self.hyper.props.stored_many(hyper)),
            "embedded": _bits_of(self.h_embedded, hyper)}
        return doc


def _none_if_all_none(values):
    return None if all(v is None for v in values) else [v if v else None for v in values] if \
        any(isinstance(v, dict) for v in values) else values


def _none_if_empty(lists):
    return lists if any(lists) else None


def _bits_of(bitmap, slots):
    out = array.array("B", (has_bit(bitmap, s) for s in slots))
    return out if any(out) else None


def _gather_q(kernel, ids, slots):
    """The seqs (u64) of an IdTable's slots, gathered in the kernel as 8-byte rows; a run's
    seqs made by the kernel (all of them: the run itself)."""
    out = array.array("Q")
    if not len(slots):
        return out
    run = ids.run()
    if run is not None and len(slots) == run[1]:
        return kernel.iota_u64(*run)
    seqs = ids.seqs if run is None else kernel.iota_u64(*run)
    out.frombytes(kernel.gather_rows(memoryview(seqs).cast("B"), slots, row_bytes=8, fmt="B"))
    return out


def _gather(kernel, col, slots, fmt):
    """col[slots] for a GrowableArray column (None stays None)."""
    if col is None:
        return None
    if not len(slots):
        return array.array(fmt)
    return kernel.gather_rows(col.buf.head(col.length), slots, row_bytes=8 if fmt == "d" else 4, fmt=fmt)

