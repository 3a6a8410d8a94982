"""Reading and writing whole .rvf byte strings in the real tools' layout.

read():  find the last MANIFEST the way the real reader does (backward scan of the last
         64 KiB), then, unlike the real reader, check everything it lists: each directory entry
         must point at a segment of the stated type and length, VEC payloads must match their
         content hash. Live vectors: the last VEC in directory order wins for an id; ids in the
         manifest's deleted list are gone.
write(): the bytes the real tools write for create + one ingest batch (+ deletes): MANIFEST,
         VEC, WITNESS, MANIFEST; byte-for-byte their layout, so the real tools open it
         (commits are appended by RvfWriter, which files use too).
"""
from dataclasses import dataclass, field

from ..errors import CorruptFileError
from . import segments as seg
from . import meta as agmeta
from . import quantseg
from .payloads import METRIC_NAMES, Identity, Manifest, decode_vec, encode_journal_delete, encode_vec
from .writer import BytesSink, RvfWriter


@dataclass
class RvfContents:
    dim: int
    metric: str
    epoch: int
    profile: int
    total: int                    # the manifest's total_vectors (stored, deleted ones included)
    identity: Identity
    ids: list                     # live ids, in the order their latest vector appears
    deleted: list
    segments: list = field(default_factory=list)   # every Segment the manifest lists, then the manifest
    manifest_offset: int = 0
    skipped_manifests: int = 0    # candidates after the one used that did not decode (a torn write)
    options: dict = field(default_factory=dict)    # agentdb store options (META kind 2), if any
    records: dict = field(default_factory=dict)    # label -> agentdb record (META kind 1), if any
    # every VEC entry in file order (a store's physical rows): its id, whether it is live (not
    # deleted, and the last entry for its id), and their rows, one writable chunk per VEC segment
    entry_ids: list = field(default_factory=list)
    entry_live: list = field(default_factory=list)
    entry_chunks: list = field(default_factory=list)
    index: bytes = None           # the last agentdb INDEX payload, if any
    index_problem: str = None     # why an INDEX present in the file was not usable
    seals: list = field(default_factory=list)      # [(Segment, Seal)] of agentdb seals, in file order
    # the last KERNEL and EBPF segments: seg_type -> (offset, payload, or None when its CRC fails)
    containers: dict = field(default_factory=dict)
    quant: dict = None            # agentdb quantizer parameters (the last QUANT of ours), if any
    live_entries: list = field(default_factory=list)   # entry index of each live id's row

    @property
    def entry_rows(self):
        """Every entry's float32 row, concatenated."""
        return self.entry_chunks[0] if len(self.entry_chunks) == 1 else b"".join(self.entry_chunks)

    @property
    def rows(self):
        """The live ids' float32 rows, row-major (copied out of entry_rows when asked for)."""
        size = 4 * self.dim
        return b"".join(self.entry_rows[i * size:(i + 1) * size] for i in self.live_entries)


def _manifest(kernel, data):
    """(Segment, Manifest, how many later candidates were skipped)."""
    if len(data) < seg.HEADER_SIZE:
        raise CorruptFileError(f"not an .rvf file: {len(data)} bytes is shorter than one segment header", 0)
    candidates = seg.scan_manifests(data)
    for skipped, offset in enumerate(candidates):
        try:
            header = seg.read_header(data, offset)
            if not seg.verify(kernel, data, header):     # torn, or damaged: the previous one holds
                continue
            return header, Manifest.decode(memoryview(data)[header.payload_offset:header.end], header.payload_offset), \
                skipped
        except CorruptFileError:
            continue
    if candidates:
        raise CorruptFileError("no manifest in the last 64 KiB decodes", candidates[0])
    raise CorruptFileError("not an .rvf file: no manifest segment in the last 64 KiB", max(0, len(data) - seg.TAIL_SCAN))


def read(kernel, data):
    """RvfContents of an .rvf byte string; CorruptFileError (with the offset) when it is not one."""
    data = bytes(data)
    mseg, manifest, skipped = _manifest(kernel, data)
    if manifest.dim == 0:
        raise CorruptFileError("manifest declares dimension 0", mseg.offset)
    listed, latest, options, records, seals, containers, quant = [], {}, {}, {}, [], {}, None
    entry_ids, entry_chunks, index, index_problem = [], [], None, None
    for seg_id, offset, length, seg_type in manifest.directory:
        header = seg.read_header(data, offset)
        if header.seg_type != seg_type or header.payload_length != length or header.seg_id != seg_id:
            raise CorruptFileError(f"directory says segment {seg_id} is {seg.type_name(seg_type)} of {length} bytes, "
                                   f"the file has segment {header.seg_id}, {header.name} of {header.payload_length}",
                                   offset)
        listed.append(header)
        # the state is built from these: a damaged one is refused, never half-read
        if seg_type in (seg.VEC, seg.META, seg.JOURNAL, seg.QUANT) and not seg.verify(kernel, data, header):
            raise CorruptFileError(f"{header.name.upper()} segment {seg_id} fails its content hash", offset)
        if seg_type == seg.VEC:
            dim, ids, rows = decode_vec(kernel, memoryview(data)[header.payload_offset:header.end],
                                        header.payload_offset)
            if dim != manifest.dim:
                raise CorruptFileError(f"VEC segment {seg_id} has dimension {dim}, the manifest {manifest.dim}", offset)
            first = len(entry_ids)
            entry_ids.extend(ids)
            entry_chunks.append(rows)
            for i, ident in enumerate(ids):
                latest.pop(ident, None)           # re-ingested: moves to the end
                latest[ident] = first + i
        elif seg_type == seg.INDEX:
            payload = bytes(data[header.payload_offset:header.end])
            if payload[:4] != INDEX_MAGIC:
                continue                          # another writer's index: not ours to read
            if seg.verify(kernel, data, header):
                index, index_problem = payload, None
            else:   # the graph can be rebuilt from the vectors: no reason to refuse the file
                index, index_problem = None, f"the INDEX segment at byte {offset} fails its content hash"
        elif seg_type == seg.QUANT:
            quant = quantseg.decode(memoryview(data)[header.payload_offset:header.end], header.payload_offset) \
                or quant
        elif seg_type in (seg.KERNEL, seg.EBPF):
            ok = seg.verify(kernel, data, header)
            containers[seg_type] = (offset, bytes(data[header.payload_offset:header.end]) if ok else None)
        elif seg_type == seg.META:
            decoded = agmeta.decode(memoryview(data)[header.payload_offset:header.end], header.payload_offset)
            if decoded is not None and decoded[0] == agmeta.OPTIONS:
                options = decoded[1]
            elif decoded is not None and decoded[0] == agmeta.SEAL:
                seals.append((header, decoded[1]))
            elif decoded is not None:
                records.update(decoded[1])
    deleted = set(manifest.deleted)
    live = [ident for ident in latest if ident not in deleted]
    last_entry = {ident: i for i, ident in enumerate(entry_ids)}
    entry_live = [last_entry[ident] == i and ident not in deleted for i, ident in enumerate(entry_ids)]
    return RvfContents(
        dim=manifest.dim, metric=METRIC_NAMES.get(manifest.metric, "l2"), epoch=manifest.epoch,
        profile=manifest.profile, total=manifest.total_vectors, identity=manifest.identity or Identity(), ids=live,
        deleted=sorted(deleted), segments=listed + [mseg], live_entries=[latest[i] for i in live],
        manifest_offset=mseg.offset, skipped_manifests=skipped, options=options,
        records={label: records[label] for label in live if label in records},
        entry_ids=entry_ids, entry_live=entry_live, entry_chunks=entry_chunks, index=index,
        index_problem=index_problem, seals=seals, containers=containers, quant=quant)


INDEX_MAGIC = b"AGIX"


def write(kernel, *, dim, metric, ids, rows, deleted=(), identity=None, profile=0, extra=(), sealed=True,
          signing_key=None):
    """An .rvf byte string holding `ids` with `rows` (float32 bytes), as create + ingestBatch
    (+ delete) of the real tools would leave it. extra: (seg_type, payload) segments committed
    with the vectors (agentdb's META). Each commit is sealed (seal.py; signed with
    signing_key); sealed=False writes exactly the real tools' bytes."""
    if not 1 <= dim <= 0xFFFF:
        raise ValueError(f"the .rvf layout stores dimension as u16: 1..65535, got {dim}")
    sink = BytesSink()
    writer = RvfWriter(kernel, sink, dim=dim, metric=metric, identity=identity, profile=profile, sealed=sealed,
                       signing_key=signing_key)
    writer.commit()                                   # create: the epoch-0 manifest
    if ids or extra:
        data = [(seg.VEC, encode_vec(kernel, ids, rows, dim))] if ids else []
        writer.commit(data + list(extra), action=f"ingest:count={len(ids)}", added=len(ids))
    if deleted:
        writer.commit([(seg.JOURNAL, encode_journal_delete(sorted(deleted), writer.epoch + 1))],
                      action=f"delete:count={len(deleted)}", witness_type=0, deleted=deleted)
    return bytes(sink.data)
