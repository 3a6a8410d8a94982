"""agentdb's META segments (type 0x07): what the real tools drop, in a segment type they keep
(they list it, skip it when reading, and copy it through compaction).

Payload: magic "AGMD" | version u16 (1) | kind u16 | body
  kind 1, records: count u32, then count x (id u64 | length u32 | UTF-8 JSON object), the object
          holding "meta" (the row's metadata dict) and, in string-id stores, "sid" (the id).
          The last record for an id in directory order wins, as for VEC.
  kind 2, options: length u32 | UTF-8 JSON object of store options (metric, index, m, ...).
  kind 3, seal: SHA-256 of the commit's segments, the chain and a signature (rvf/seal.py).
  kind 4, adapter: length u32 | UTF-8 JSON {"name": str, "lora": LoRA document or null,
          "ewc": EWC document (optional)}: a named query adapter (agentdb.learn's to_json
          objects; null removes the name). The last record for a name in directory order wins.
  kind 5, graph ops: length u32 | UTF-8 JSON object | arrays: one change of the store's graph
          (agentdb.graph.persist); the object's "arrays" lists [format, count] per array
          ("B" u8, "I" u32, "Q" u64, "d" f64), whose little-endian bytes follow, packed, in order.
  kind 6, graph snapshot: the same layout: the whole graph, replacing every graph record
          before it in directory order (to_bytes() and Graph.compact() write one).
"""
import array
import json
import struct
import sys

from ..errors import CorruptFileError

MAGIC = b"AGMD"
VERSION = 1
RECORDS, OPTIONS, SEAL, ADAPTER, GRAPH_OPS, GRAPH_SNAPSHOT = 1, 2, 3, 4, 5, 6
GRAPH_ARRAY_FORMATS = {"B": 1, "I": 4, "Q": 8, "d": 8}
_HEAD = struct.Struct("<4sHH")
_BIG_ENDIAN = sys.byteorder == "big"


def _json(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def encode_records(labels, metadata, string_ids=None):
    """The records payload, or None when there is nothing to keep (integer ids without
    metadata: a row without a record reads back as {})."""
    chunks = []
    for i, label in enumerate(labels):
        if string_ids is None and not metadata[i]:
            continue
        record = {"meta": metadata[i] or {}}
        if string_ids is not None:
            record["sid"] = string_ids[i]
        body = _json(record)
        chunks.append(struct.pack("<QI", label, len(body)) + body)
    if not chunks:
        return None
    return _HEAD.pack(MAGIC, VERSION, RECORDS) + struct.pack("<I", len(chunks)) + b"".join(chunks)


def encode_seal(body):
    return _HEAD.pack(MAGIC, VERSION, SEAL) + body


def _encode_object(kind, obj):
    body = _json(obj)
    return _HEAD.pack(MAGIC, VERSION, kind) + struct.pack("<I", len(body)) + body


def encode_options(options):
    return _encode_object(OPTIONS, options)


def encode_adapter(name, document, ewc=None):
    """An adapter record: `document` is a LoRA's to_json object (None removes the name), ewc
    the EWC's that protects what it learned (continual learning), if any."""
    return _encode_object(ADAPTER, {"name": name, "lora": document, **({"ewc": ewc} if ewc is not None else {})})


def encode_graph(kind, doc, arrays):
    """A graph record (kind GRAPH_OPS or GRAPH_SNAPSHOT): `doc` (a JSON object without
    "arrays") and the array.arrays it refers to by index, each of a GRAPH_ARRAY_FORMATS type."""
    head = dict(doc)
    head["arrays"] = [[a.typecode, len(a)] for a in arrays]
    body = _json(head)
    chunks = [_HEAD.pack(MAGIC, VERSION, kind), struct.pack("<I", len(body)), body]
    for a in arrays:
        if _BIG_ENDIAN:
            a = array.array(a.typecode, a)
            a.byteswap()
        chunks.append(a.tobytes())
    return b"".join(chunks)


def _graph_record(kind, payload, at, count, base, load):
    """(kind, {"doc", "arrays", "offset"}) of a graph record whose JSON is count bytes at `at`."""
    head = load(count)
    at += count
    specs = head.get("arrays") if isinstance(head, dict) else None
    if not isinstance(specs, list) or not all(
            isinstance(sp, list) and len(sp) == 2 and sp[0] in GRAPH_ARRAY_FORMATS and type(sp[1]) is int
            and 0 <= sp[1] < 1 << 32 for sp in specs):
        raise CorruptFileError("META graph record: 'arrays' is not a list of [format, count]", base + at - count)
    need = sum(GRAPH_ARRAY_FORMATS[fmt] * n for fmt, n in specs)
    if need != len(payload) - at:
        raise CorruptFileError(f"META graph record: its arrays need {need} bytes, {len(payload) - at} follow the "
                               f"JSON", base + at)
    arrays = []
    for fmt, n in specs:
        a = array.array(fmt)
        a.frombytes(payload[at:at + GRAPH_ARRAY_FORMATS[fmt] * n])
        if _BIG_ENDIAN:
            a.byteswap()
        arrays.append(a)
        at += GRAPH_ARRAY_FORMATS[fmt] * n
    del head["arrays"]
    return kind, {"doc": head, "arrays": arrays, "offset": base}


def decode(payload, base=0):
    """(kind, value): records -> [(label, record dict)], options -> dict, seal -> Seal, adapter ->
    record {name, lora, ewc?}, graph ops / snapshot -> {"doc", "arrays", "offset"}; None for META
    segments that are not ours (another writer's type 0x07 is left alone)."""
    payload = bytes(payload)
    if len(payload) < _HEAD.size or payload[:4] != MAGIC:
        return None
    _, version, kind = _HEAD.unpack_from(payload, 0)
    if version != VERSION:
        raise CorruptFileError(f"META segment version {version} is newer than this agentdb reads ({VERSION})", base)
    at = _HEAD.size
    if kind == SEAL:
        from . import seal

        return SEAL, seal.decode(payload[at:], base + at)

    def need(n, what):
        if at + n > len(payload):
            raise CorruptFileError(f"META {what} needs {n} bytes, {len(payload) - at} left", base + at)

    def load(n):
        try:
            return json.loads(payload[at:at + n].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:    # RecursionError: nested absurdly deep
            raise CorruptFileError(f"META record is not valid JSON: {exc}", base + at) from None

    need(4, "count")
    (count,) = struct.unpack_from("<I", payload, at)
    at += 4
    if kind == OPTIONS:
        need(count, "options")
        return OPTIONS, load(count)
    if kind == ADAPTER:
        need(count, "adapter")
        record = load(count)
        if not isinstance(record, dict) or not isinstance(record.get("name"), str) or \
                not isinstance(record.get("lora"), (dict, type(None))) or \
                not isinstance(record.get("ewc", {}), dict):
            raise CorruptFileError("META adapter record is not {name, lora, ewc?}", base + at)
        return ADAPTER, record
    if kind in (GRAPH_OPS, GRAPH_SNAPSHOT):
        need(count, "graph record")
        return _graph_record(kind, payload, at, count, base, load)
    if kind != RECORDS:
        raise CorruptFileError(f"unknown META kind {kind}", base)
    records = []
    for _ in range(count):
        need(12, "record header")
        label, n = struct.unpack_from("<QI", payload, at)
        at += 12
        need(n, "record")
        records.append((label, load(n)))
        at += n
    return RECORDS, records
