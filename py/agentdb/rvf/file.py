"""Reading and writing whole .rvf byte strings in the real tools' layout.

read():  find the last MANIFEST the way the real reader does (backward scan of the last
         64 KiB; unlike it, further back when none there decodes: a long commit cut off
         mid-write), then, unlike the real reader, check everything it lists: each directory entry
         must point at a segment of the stated type and length, VEC payloads must match their
         content hash. Live vectors: the last VEC in directory order wins for an id; ids in the
         manifest's deleted list are gone.
write(): the bytes the real tools write for create + one ingest batch (+ deletes): MANIFEST,
         VEC, WITNESS, MANIFEST; byte-for-byte their layout, so the real tools open it
         (commits are appended by RvfWriter, which files use too).
"""
import struct
from dataclasses import dataclass, field

from ..errors import CorruptFileError, DimensionError
from .. import metrics
from . import segments as seg
from . import meta as agmeta
from . import quantseg
from .payloads import Identity, Manifest, decode_witness, encode_journal_delete, encode_vec
from .source import PIECE, as_source
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
    entry_buffer: object = None   # ... or, read with rows_in_kernel, all of them in one KBuffer
    index: bytes = None           # the last agentdb INDEX payload, if any
    index_problem: str = None     # why an INDEX present in the file was not usable
    seals: list = field(default_factory=list)      # [(Segment, Seal)] of agentdb seals, in file order
    # the last KERNEL and EBPF segments: seg_type -> (offset, payload, or None when its CRC fails)
    containers: dict = field(default_factory=dict)
    quant: dict = None            # agentdb quantizer parameters (the last QUANT of ours), if any
    adapters: dict = field(default_factory=dict)   # name -> adapter record (META kind 4), the last for each
    # the graph records (META kinds 5 and 6) from the last snapshot on, in directory order:
    # [(kind, {"doc", "arrays", "offset"})] (agentdb.graph.persist applies them)
    graph: list = field(default_factory=list)
    live_entries: list = field(default_factory=list)   # entry index of each live id's row

    @property
    def entry_rows(self):
        """Every entry's float32 row, concatenated."""
        if self.entry_buffer is not None:
            return self.entry_buffer.read().tobytes()
        return self.entry_chunks[0] if len(self.entry_chunks) == 1 else b"".join(self.entry_chunks)

    @property
    def rows(self):
        """The live ids' float32 rows, row-major (copied out of entry_rows when asked for)."""
        size = 4 * self.dim
        return b"".join(self.entry_rows[i * size:(i + 1) * size] for i in self.live_entries)


SCAN_BACK = 1 << 20   # window of the scan beyond the real reader's 64 KiB (bytes read at a time)


def _manifest_candidates(src):
    """Candidate MANIFEST offsets, last first: the real reader's window (the last 64 KiB), then,
    unlike it, earlier windows: a commit cut off mid-write (a crash, or a writer still at work)
    may be longer than 64 KiB, and the complete commit before it must still open. Windows
    overlap by a header, so one that straddles a boundary is seen; memory stays one window."""
    end, window = src.size, seg.TAIL_SCAN
    while end > 0:
        start = max(0, end - window)
        chunk = bytes(src.read(start, min(src.size, end + seg.HEADER_SIZE - 1) - start))
        for at in seg.scan_manifests(chunk, start=0, stop=end - start):
            yield start + at
        end, window = start, SCAN_BACK


def _manifest(kernel, src):
    """(Segment, Manifest, how many later candidates were skipped)."""
    if src.size < seg.HEADER_SIZE:
        raise CorruptFileError(f"not an .rvf file: {src.size} bytes is shorter than one segment header", 0)
    first = None
    for skipped, offset in enumerate(_manifest_candidates(src)):
        first = offset if first is None else first
        try:
            header = seg.read_header(src, offset)
            if not seg.verify(kernel, src, header):     # torn, or damaged: the previous one holds
                continue
            return header, Manifest.decode(src.read(header.payload_offset, header.payload_length),
                                           header.payload_offset), skipped
        except CorruptFileError:
            continue
    if first is not None:
        raise CorruptFileError("no manifest segment in the file decodes", first)
    raise CorruptFileError("not an .rvf file: no manifest segment", 0)


def _vec_rows_total(src, directory, dim):
    """How many rows the VEC segments hold (each one's count, capped by its length, which was
    checked against the file's size: a crafted count or length never sizes an allocation
    beyond the file's bytes)."""
    total = 0
    for seg_id, offset, length, seg_type in directory:
        if offset + seg.HEADER_SIZE + length > src.size:
            raise CorruptFileError(f"directory says segment {seg_id} ({seg.type_name(seg_type)}) holds {length} "
                                   f"bytes, past the end of the {src.size}-byte file", offset)
        if seg_type == seg.VEC and length >= 6 and offset + seg.HEADER_SIZE + 6 <= src.size:
            count = struct.unpack_from("<I", src.read(offset + seg.HEADER_SIZE + 2, 4), 0)[0]
            total += min(count, (length - 6) // (8 + 4 * dim))
    return total


def _read_vec(kernel, src, header, rows=None, first_row=0):
    """Reads a VEC segment (dim u16 | count u32 | count x (id u64 | dim x f32)) piece by piece:
    its ids, its rows, and its content check, in one pass. The rows go into KBuffer `rows`
    from row first_row on, or, without one, into a new bytearray. Returns (dim, ids, the
    bytearray or None)."""
    head = src.read(header.payload_offset, 6)
    if len(head) < 6:
        raise CorruptFileError("truncated VEC header", header.payload_offset)
    dim, count = struct.unpack_from("<HI", head, 0)
    stride = 8 + 4 * dim
    if dim == 0:
        raise CorruptFileError("VEC segment with dimension 0", header.payload_offset)
    if 6 + count * stride > header.payload_length:
        raise CorruptFileError(f"VEC body of {count} vectors of dimension {dim} needs {count * stride} bytes, "
                               f"the payload has {header.payload_length - 6}", header.payload_offset + 6)
    chunk = bytearray(4 * dim * count) if rows is None else None
    out, base = (chunk, 0) if rows is None else (rows, first_row)
    if rows is not None and (base + count) * dim > len(rows):
        raise CorruptFileError(f"VEC segment {header.seg_id} holds more rows than the file's VEC headers said",
                               header.offset)
    crc = kernel.crc32_ieee(head)
    ids = bytearray(8 * count)
    done = 0
    for piece in src.pieces(header.payload_offset + 6, count * stride, max(1, PIECE // stride) * stride):
        m = len(piece) // stride
        crc = kernel.crc32_ieee(piece, crc)
        kernel.copy_strided(piece, ids, n=m, width=8, src_stride=stride, out_stride=8, out_offset=8 * done)
        kernel.copy_strided(piece, out, n=m, width=4 * dim, src_stride=stride, out_stride=4 * dim, src_offset=8,
                            out_offset=4 * dim * (base + done))
        done += m
    rest = header.payload_length - 6 - count * stride       # bytes after the entries, if any
    for piece in src.pieces(header.payload_offset + 6 + count * stride, rest, PIECE):
        crc = kernel.crc32_ieee(piece, crc)
    if not seg.verify(kernel, src, header, crc_of_payload=crc):
        raise CorruptFileError(f"VEC segment {header.seg_id} fails its content hash", header.offset)
    return dim, list(struct.unpack(f"<{count}Q", ids)), chunk


def _live_entries(entry_ids, deleted):
    """The entry holding each live id, in the order of those entries: an id's last entry wins
    (re-ingesting moves it to the end), and deleted ids have none. Most files have neither
    repeats nor deletions, and a million ids take one set instead of a dict update each."""
    if not deleted and len(set(entry_ids)) == len(entry_ids):
        return list(range(len(entry_ids)))
    last = {}
    for i, ident in enumerate(entry_ids):
        last[ident] = i
    return [i for i, ident in enumerate(entry_ids) if last[ident] == i and ident not in deleted]


def read(kernel, data, *, rows_in_kernel=False):
    """RvfContents of an .rvf (bytes or a source: agentdb.rvf.source); CorruptFileError (with the
    offset) when it is not one. rows_in_kernel=True streams every VEC row into one KBuffer
    (contents.entry_buffer) instead of one bytes chunk per segment: how a store opens a file."""
    src = as_source(data)
    mseg, manifest, skipped = _manifest(kernel, src)
    if manifest.dim == 0:
        raise CorruptFileError("manifest declares dimension 0", mseg.offset)
    listed, options, records, seals, containers, quant, adapters, graph = [], {}, {}, [], {}, None, {}, []
    entry_ids, entry_chunks, index, index_problem = [], [], None, None
    entry_buffer = kernel.alloc(_vec_rows_total(src, manifest.directory, manifest.dim) * manifest.dim, "f",
                                filled_soon=True) if rows_in_kernel else None
    for seg_id, offset, length, seg_type in manifest.directory:
        header = seg.read_header(src, offset)
        if header.seg_type != seg_type or header.payload_length != length or header.seg_id != seg_id:
            raise CorruptFileError(f"directory says segment {seg_id} is {seg.type_name(seg_type)} of {length} bytes, "
                                   f"the file has segment {header.seg_id}, {header.name} of {header.payload_length}",
                                   offset)
        listed.append(header)
        # the state is built from these: a damaged one is refused, never half-read
        if seg_type in (seg.META, seg.JOURNAL, seg.QUANT) and not seg.verify(kernel, src, header):
            raise CorruptFileError(f"{header.name.upper()} segment {seg_id} fails its content hash", offset)
        if seg_type == seg.VEC:             # checked as it is read
            dim, ids, chunk = _read_vec(kernel, src, header, entry_buffer, len(entry_ids))
            if chunk is not None:
                entry_chunks.append(chunk)
            if dim != manifest.dim:
                raise CorruptFileError(f"VEC segment {seg_id} has dimension {dim}, the manifest {manifest.dim}", offset)
            entry_ids.extend(ids)
        elif seg_type == seg.INDEX:
            payload = bytes(src.read(header.payload_offset, length))
            if payload[:4] != INDEX_MAGIC:
                continue                          # another writer's index: not ours to read
            if seg.verify(kernel, src, header, crc_of_payload=kernel.crc32_ieee(payload)):
                index, index_problem = payload, None
            else:   # the graph can be rebuilt from the vectors: no reason to refuse the file
                index, index_problem = None, f"the INDEX segment at byte {offset} fails its content hash"
        elif seg_type == seg.QUANT:
            quant = quantseg.decode(src.read(header.payload_offset, length), header.payload_offset) or quant
        elif seg_type in (seg.KERNEL, seg.EBPF):
            payload = bytes(src.read(header.payload_offset, length))
            ok = seg.verify(kernel, src, header, crc_of_payload=kernel.crc32_ieee(payload))
            containers[seg_type] = (offset, payload if ok else None)
        elif seg_type == seg.META:
            decoded = agmeta.decode(src.read(header.payload_offset, length), header.payload_offset)
            if decoded is not None and decoded[0] == agmeta.OPTIONS:
                options = decoded[1]
            elif decoded is not None and decoded[0] == agmeta.SEAL:
                seals.append((header, decoded[1]))
            elif decoded is not None and decoded[0] == agmeta.ADAPTER:
                adapters[decoded[1]["name"]] = decoded[1]
            elif decoded is not None and decoded[0] == agmeta.GRAPH_SNAPSHOT:
                graph = [decoded]           # the whole graph: what came before it is replaced
            elif decoded is not None and decoded[0] == agmeta.GRAPH_OPS:
                graph.append(decoded)
            elif decoded is not None:
                records.update(decoded[1])
    if entry_buffer is not None and len(entry_ids) * manifest.dim != len(entry_buffer):
        entry_buffer = entry_buffer.head(len(entry_ids) * manifest.dim)
    deleted = set(manifest.deleted)
    live_entries = _live_entries(entry_ids, deleted)
    entry_live = [False] * len(entry_ids)
    for i in live_entries:
        entry_live[i] = True
    live = [entry_ids[i] for i in live_entries]
    return RvfContents(
        dim=manifest.dim, metric=metrics.from_manifest(manifest.metric).name, epoch=manifest.epoch,
        profile=manifest.profile, total=manifest.total_vectors, identity=manifest.identity or Identity(), ids=live,
        deleted=sorted(deleted), segments=listed + [mseg], live_entries=live_entries,
        manifest_offset=mseg.offset, skipped_manifests=skipped, options=options,
        records={label: records[label] for label in live if label in records},
        entry_ids=entry_ids, entry_live=entry_live, entry_chunks=entry_chunks, entry_buffer=entry_buffer,
        index=index, index_problem=index_problem, seals=seals, containers=containers, quant=quant,
        adapters={name: record for name, record in adapters.items() if record["lora"] is not None}, graph=graph)


def tail_state(kernel, data, contents):
    """(valid size, message or None). After the manifest in use, the only bytes a finished file
    may hold are the witness the real tools' compaction writes after its manifest; anything
    else (a partial segment, or whole segments no manifest lists) is an unfinished commit."""
    src = as_source(data)
    end = contents.segments[-1].end
    at = end
    try:
        while at < src.size:
            s = seg.read_header(src, at)
            if s.seg_type != seg.WITNESS or not seg.verify(kernel, src, s):
                raise ValueError
            if not decode_witness(src.read(s.payload_offset, s.payload_length), s.payload_offset)[1].startswith(
                    "compact:"):
                raise ValueError
            at = s.end
    except (ValueError, CorruptFileError):
        return end, (f"reopened at commit epoch {contents.epoch}: {src.size - end} bytes of an unfinished "
                     f"write after it were ignored")
    if contents.skipped_manifests:
        return end, f"reopened at commit epoch {contents.epoch}: a later, incomplete commit was ignored"
    return end, None


INDEX_MAGIC = b"AGIX"


def write(kernel, *, dim, metric, ids, rows, deleted=(), identity=None, profile=0, extra=(), sealed=True,
          signing_key=None):
    """An .rvf byte string holding `ids` with `rows` (float32 bytes), as create + ingestBatch
    (+ delete) of the real tools would leave it. extra: (seg_type, payload) segments committed
    with the vectors (agentdb's META). Each commit is sealed (seal.py; signed with
    signing_key); sealed=False writes exactly the real tools' bytes."""
    if not 1 <= dim <= 0xFFFF:
        raise DimensionError(f"the .rvf layout stores dimension as u16: 1..65535, got {dim}")
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
