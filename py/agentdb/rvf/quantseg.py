"""agentdb's QUANT segments (type 0x06): a store's quantizer parameters, so a reopened store
encodes its rows with the very parameters it was built with (and answers the same) instead
of training new ones. The real tools define this type (rvf-quant) but never write it; they
list it, skip it and copy it through compaction, like META.

Payload, after rvf-quant's 64-byte header `quant_type u8 (0 scalar, 1 PQ) | tier u8 (0) |
dim u16`, whose zero padding holds `magic "AGQT" (at 4) | version u16 = 1 (at 8)`:
  scalar  lo f32 x dim, step f32 x dim   (agentdb's int8 codes: code = round((v - lo) / step) - 127;
                                          rvf-quant's u8 min/max body is not used)
  PQ      M u16 | K u16 | sub_dim u16 | codebook f32 x (M * K * sub_dim)   (rvf-quant's PQ body)
Codes are not stored: encoding the stored rows (or, for a codes-only store, its decoded rows)
with these parameters gives the same codes again (tests/test_store_compression.py).
"""
import array
import struct

from ..errors import CorruptFileError

MAGIC = b"AGQT"
SCALAR, PQ = 0, 1
_HEAD = struct.Struct("<BBH4sH")


def _floats(values):
    return array.array("f", values).tobytes()


def encode(kind, dim, *, lo=None, step=None, m=0, ksub=0, codebooks=None):
    head = _HEAD.pack(SCALAR if kind == "scalar" else PQ, 0, dim, MAGIC, 1)
    head += bytes(64 - len(head))
    if kind == "scalar":
        return head + _floats(lo) + _floats(step)
    return head + struct.pack("<HHH", m, ksub, dim // m) + _floats(codebooks)


def decode(payload, base=0):
    """{"kind", "dim", ...parameters} of one of ours; None for another writer's QUANT."""
    payload = bytes(payload)
    if len(payload) < 64 or payload[4:8] != MAGIC:
        return None
    qtype, _, dim, _, version = _HEAD.unpack_from(payload, 0)
    if version != 1:
        raise CorruptFileError(f"QUANT segment version {version} is newer than this agentdb reads", base)

    def floats(at, n):
        if at + 4 * n != len(payload):
            raise CorruptFileError(f"QUANT body should be {at + 4 * n} bytes, it is {len(payload)}", base)
        out = array.array("f")
        out.frombytes(payload[at:])
        return out
    if qtype == SCALAR:
        values = floats(64, 2 * dim)
        return {"kind": "scalar", "dim": dim, "lo": values[:dim], "step": values[dim:]}
    if qtype == PQ and len(payload) >= 70:
        m, ksub, dsub = struct.unpack_from("<HHH", payload, 64)
        if m == 0 or m * dsub != dim or not 1 <= ksub <= 256:
            raise CorruptFileError(f"QUANT PQ shape m={m} k={ksub} sub_dim={dsub} does not fit dimension {dim}", base)
        return {"kind": "product", "dim": dim, "m": m, "ksub": ksub, "codebooks": floats(70, m * ksub * dsub)}
    raise CorruptFileError(f"unknown QUANT type {qtype}", base)
