"""Payloads of the segments the real tools write: VEC, MANIFEST (+ directory, deletions,
FileIdentity), JOURNAL and WITNESS. Layouts in docs/FORMAT.md. Decoders check every length
against the bytes they have and raise CorruptFileError naming the field, so a crafted count
never makes us allocate or read past the data.
"""
import array
import struct
import sys
from dataclasses import dataclass, field

from ..errors import CorruptFileError, DimensionError

IDENTITY_MARKER = 0x46494449            # "IDIF" on disk
IDENTITY_SIZE = 68
DIR_ENTRY = struct.Struct("<QQQB")      # seg_id, offset, payload_len, seg_type: 25 bytes
MANIFEST_HEAD = struct.Struct("<IHQIBBH")  # epoch, dim, total_vectors, seg_count, profile, metric, reserved


def _need(payload, offset, size, what, base):
    if size < 0 or offset + size > len(payload):
        raise CorruptFileError(f"{what} needs {size} bytes at payload offset {offset}, payload has "
                               f"{len(payload)}", base + offset)


# ---- VEC -------------------------------------------------------------------------------------

def encode_vec(kernel, ids, rows, dim, buffer_for=None):
    """dim u16 | count u32 | count x (id u64 | dim x f32); rows: the n*dim floats as bytes.
    The kernel interleaves ids and rows (one pass, no per-row Python). buffer_for(nbytes): a
    bytearray of at least nbytes to encode into (the payload is then a view of it), or None
    for a new one."""
    n = len(ids)
    rows = memoryview(rows).cast("B")
    if len(rows) != 4 * n * dim:
        raise DimensionError(f"{n} ids need {4 * n * dim} bytes of float32 rows, got {len(rows)}")
    stride = 8 + 4 * dim
    size = 6 + n * stride
    scratch = buffer_for(size) if buffer_for is not None else None
    out = memoryview(scratch)[:size] if scratch is not None else bytearray(size)
    struct.pack_into("<HI", out, 0, dim, n)
    labels = array.array("Q", ids)
    if sys.byteorder == "big":
        labels.byteswap()
    kernel.copy_strided(memoryview(labels).cast("B"), out, n=n, width=8, src_stride=8, out_stride=stride,
                        out_offset=6)
    kernel.copy_strided(rows, out, n=n, width=4 * dim, src_stride=4 * dim, out_stride=stride, out_offset=14)
    return out


# ---- MANIFEST --------------------------------------------------------------------------------

@dataclass
class Identity:
    file_id: bytes = bytes(16)
    parent_id: bytes = bytes(16)
    parent_hash: bytes = bytes(32)
    depth: int = 0

    def encode(self):
        return self.file_id + self.parent_id + self.parent_hash + struct.pack("<I", self.depth)

    @classmethod
    def decode(cls, raw):
        return cls(bytes(raw[0:16]), bytes(raw[16:32]), bytes(raw[32:64]), struct.unpack_from("<I", raw, 64)[0])


@dataclass
class Manifest:
    epoch: int
    dim: int
    total_vectors: int
    profile: int = 0
    metric: int = 0
    directory: list = field(default_factory=list)   # [(seg_id, offset, payload_len, seg_type)]
    deleted: list = field(default_factory=list)     # sorted u64 ids
    identity: Identity = None

    def encode(self):
        out = bytearray(MANIFEST_HEAD.pack(self.epoch, self.dim, self.total_vectors, len(self.directory),
                                           self.profile, self.metric, 0))
        for entry in self.directory:
            out += DIR_ENTRY.pack(*entry)
        out += struct.pack("<I", len(self.deleted))
        out += struct.pack(f"<{len(self.deleted)}Q", *sorted(self.deleted))
        if self.identity is not None:
            out += struct.pack("<I", IDENTITY_MARKER) + self.identity.encode()
        return bytes(out)

    @classmethod
    def decode(cls, payload, base=0):
        _need(payload, 0, MANIFEST_HEAD.size, "MANIFEST header", base)
        epoch, dim, total, seg_count, profile, metric, _ = MANIFEST_HEAD.unpack_from(payload, 0)
        at = MANIFEST_HEAD.size
        _need(payload, at, seg_count * DIR_ENTRY.size, f"directory of {seg_count} entries", base)
        directory = [DIR_ENTRY.unpack_from(payload, at + i * DIR_ENTRY.size) for i in range(seg_count)]
        at += seg_count * DIR_ENTRY.size
        _need(payload, at, 4, "deleted-id count", base)
        (n_del,) = struct.unpack_from("<I", payload, at)
        at += 4
        _need(payload, at, 8 * n_del, f"{n_del} deleted ids", base)
        deleted = list(struct.unpack_from(f"<{n_del}Q", payload, at))
        at += 8 * n_del
        identity = None
        if at + 4 <= len(payload) and struct.unpack_from("<I", payload, at)[0] == IDENTITY_MARKER:
            _need(payload, at + 4, IDENTITY_SIZE, "FileIdentity", base)
            identity = Identity.decode(memoryview(payload)[at + 4:at + 4 + IDENTITY_SIZE])
        return cls(epoch, dim, total, profile, metric, directory, deleted, identity)


# ---- JOURNAL and WITNESS ---------------------------------------------------------------------

def encode_journal_delete(ids, epoch):
    """entry_count u32, epoch u32, prev_journal u64 (0); then per id: type 1, 0, length 8, id."""
    out = bytearray(struct.pack("<IIQ", len(ids), epoch, 0))
    for ident in ids:
        out += struct.pack("<BBHQ", 1, 0, 8, ident)
    return bytes(out)


def encode_witness(witness_type, action, prev_hash):
    """witness_type u8, timestamp_ns u64 (0), action_len u32, action ASCII, prev_hash 32."""
    action = action.encode("ascii")
    return struct.pack("<BQI", witness_type, 0, len(action)) + action + bytes(prev_hash)


def decode_witness(payload, base=0):
    _need(payload, 0, 13, "WITNESS header", base)
    witness_type, _, n = struct.unpack_from("<BQI", payload, 0)
    _need(payload, 13, n + 32, "WITNESS action and hash", base)
    return witness_type, bytes(payload[13:13 + n]).decode("ascii", "replace"), bytes(payload[13 + n:13 + n + 32])
