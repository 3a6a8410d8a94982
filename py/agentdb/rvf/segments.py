"""Segments of the real .rvf layout: a 64-byte header, then the payload, packed back to back
with no file header, padding or footer. All integers little-endian.

    off  size  field
    0    4     magic 0x52564653 ("SFVR" on disk)
    4    1     version (1)
    5    1     seg_type
    6    2     flags
    8    8     segment_id
    16   8     payload_length
    24   8     timestamp_ns
    32   1     checksum_algo (0: rotated CRC-32/IEEE in practice)
    33   1     compression (0)
    34   6     reserved
    40   16    content_hash
    56   8     uncompressed_len, alignment_pad
"""
import struct
from dataclasses import dataclass

from ..errors import CorruptFileError
from .source import PIECE, as_source

MAGIC = 0x52564653
MAGIC_BYTES = struct.pack("<I", MAGIC)
HEADER_SIZE = 64
TAIL_SCAN = 64 * 1024   # the real reader looks for the last manifest in this many final bytes

VEC, INDEX, OVERLAY, JOURNAL, MANIFEST, QUANT, META = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
WITNESS, PROFILE, CRYPTO, META_IDX, KERNEL, EBPF = 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F
COW_MAP, MEMBERSHIP = 0x20, 0x22
NAMES = {0x01: "vec", 0x02: "index", 0x03: "overlay", 0x04: "journal", 0x05: "manifest", 0x06: "quant",
         0x07: "meta", 0x08: "hot", 0x09: "sketch", 0x0A: "witness", 0x0B: "profile", 0x0C: "crypto",
         0x0D: "meta_idx", 0x0E: "kernel", 0x0F: "ebpf", 0x10: "wasm", 0x11: "dashboard", 0x20: "cow_map",
         0x21: "refcount", 0x22: "membership", 0x23: "delta"}
_HEADER = struct.Struct("<IBBHQQQBB6s16s8s")


def type_name(seg_type):
    return NAMES.get(seg_type, f"unknown(0x{seg_type:02x})")


@dataclass(frozen=True)
class Segment:
    """A segment as found in a file: where it starts, its header fields and payload span."""

    offset: int
    seg_type: int
    seg_id: int
    flags: int
    payload_offset: int
    payload_length: int
    content_hash: bytes

    @property
    def end(self):
        return self.payload_offset + self.payload_length

    @property
    def name(self):
        return type_name(self.seg_type)


def header(kernel, seg_type, seg_id, payload, *, flags=0, hash_payload=True):
    """The 64-byte header of a segment holding `payload` (its content hash computed)."""
    from .hashes import content_hash

    digest = content_hash(kernel, payload) if hash_payload else bytes(16)
    return _HEADER.pack(MAGIC, 1, seg_type, flags, seg_id, len(payload), 0, 0, 0, bytes(6), digest, bytes(8))


def pack(kernel, seg_type, seg_id, payload, *, flags=0, hash_payload=True):
    """Header + payload bytes for one segment."""
    return header(kernel, seg_type, seg_id, payload, flags=flags, hash_payload=hash_payload) + bytes(payload)


def read_header(data, offset):
    """The Segment starting at `offset` of data (bytes or a source), or CorruptFileError saying
    what is wrong there."""
    src = as_source(data)
    if offset + HEADER_SIZE > src.size:
        raise CorruptFileError(f"truncated segment header: {src.size - offset} of 64 bytes", offset)
    magic, version, seg_type, flags, seg_id, length, _, _, _, _, digest, _ = _HEADER.unpack_from(
        src.read(offset, HEADER_SIZE), 0)
    if magic != MAGIC:
        raise CorruptFileError(f"bad segment magic 0x{magic:08x} (expected 0x{MAGIC:08x}, 'SFVR')", offset)
    if version != 1:
        raise CorruptFileError(f"unsupported segment version {version}", offset)
    if length > src.size - offset - HEADER_SIZE:
        raise CorruptFileError(f"segment payload of {length} bytes runs past the end of the data "
                               f"({src.size - offset - HEADER_SIZE} left)", offset)
    return Segment(offset, seg_type, seg_id, flags, offset + HEADER_SIZE, length, bytes(digest))


def verify(kernel, data, seg, crc_of_payload=None):
    """True when the payload matches its content hash (16 zero bytes mean "not set").
    crc_of_payload: its CRC-32 when the caller computed it while reading it anyway."""
    from .hashes import rotated_crc

    if seg.content_hash == bytes(16):
        return True
    if crc_of_payload is None:
        crc_of_payload = 0
        for piece in as_source(data).pieces(seg.payload_offset, seg.payload_length, PIECE):
            crc_of_payload = kernel.crc32_ieee(piece, crc_of_payload)
    return rotated_crc(crc_of_payload) == seg.content_hash


def scan_manifests(data, start=None, stop=None):
    """Offsets of candidate MANIFEST headers, last first: the real reader's byte-by-byte
    backward scan for the magic with type 0x05 at +5, over header positions start..stop-1
    (default: the last 64 KiB, as the real reader does) that leave room for a whole header."""
    start = max(0, len(data) - TAIL_SCAN) if start is None else start
    pos = min(len(data) - HEADER_SIZE, len(data) if stop is None else stop - 1)
    found = []
    while pos >= start:
        pos = data.rfind(MAGIC_BYTES, start, pos + 4)
        if pos < 0:
            break
        if data[pos + 5] == MANIFEST:
            found.append(pos)
        pos -= 1
    return found
