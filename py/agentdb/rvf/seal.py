"""Seals: real integrity over the real layout, in agentdb META segments (kind 3).

The real tools' content hash is a rotated CRC-32 and their witness chain uses a toy hash that
restarts at every open (docs/FORMAT.md). agentdb keeps both, so the real tools accept its
files, and adds a seal to every commit, written just before the commit's WITNESS:

    count u32 | count x (seg_id u64 | offset u64 | seg_type u8 | sha256 32)
    | prev_chain 32 | chain 32 | sig_algo u8 (0 none, 1 Ed25519) | public_key 32 | signature 64

It covers every segment written since the previous seal (the previous commit's WITNESS and
MANIFEST, then this commit's data; the first seal also covers the create commit), with the
SHA-256 of each whole segment (header and payload). chain = SHA-256("agentdb-seal-v1" |
prev_chain | the entries): a chain over the file's whole history that survives reopening
(a resumed writer takes the last seal's chain). With a signing key the chain is signed
(Ed25519), so a verifier holding the public key knows who wrote every sealed byte.
"""
import hashlib
import struct
from dataclasses import dataclass

from ..errors import CorruptFileError
from . import ed25519
from . import segments as seg

DOMAIN = b"agentdb-seal-v1"
NO_SIGNATURE, ED25519 = 0, 1
_ENTRY = struct.Struct("<QQB32s")
_TAIL = 32 + 32 + 1 + 32 + 64


@dataclass(frozen=True)
class Seal:
    entries: tuple                 # (seg_id, offset, seg_type, sha256)
    prev_chain: bytes
    chain: bytes
    sig_algo: int
    public_key: bytes
    signature: bytes


def chain_of(prev_chain, entries):
    """The chain hash after a seal with these entries."""
    return hashlib.sha256(DOMAIN + prev_chain + b"".join(_ENTRY.pack(*e) for e in entries)).digest()


def make(entries, prev_chain, signing_key=None):
    """A Seal over entries, chained to prev_chain, signed when a key is given."""
    chain = chain_of(prev_chain, entries)
    if signing_key is None:
        return Seal(tuple(entries), prev_chain, chain, NO_SIGNATURE, bytes(32), bytes(64))
    return Seal(tuple(entries), prev_chain, chain, ED25519, ed25519.public_key(signing_key),
                ed25519.sign(signing_key, chain))


def encode(s):
    """The seal's body (after the META magic, version and kind)."""
    return (struct.pack("<I", len(s.entries)) + b"".join(_ENTRY.pack(*e) for e in s.entries) + s.prev_chain +
            s.chain + bytes([s.sig_algo]) + s.public_key + s.signature)


def decode(body, base=0):
    """A Seal from its body; CorruptFileError when the lengths do not add up."""
    if len(body) < 4:
        raise CorruptFileError("seal: truncated count", base)
    (count,) = struct.unpack_from("<I", body, 0)
    if len(body) != 4 + count * _ENTRY.size + _TAIL:
        raise CorruptFileError(f"seal of {count} entries should be {4 + count * _ENTRY.size + _TAIL} bytes, "
                               f"it is {len(body)}", base)
    entries = tuple(_ENTRY.unpack_from(body, 4 + i * _ENTRY.size) for i in range(count))
    at = 4 + count * _ENTRY.size
    prev_chain, chain = bytes(body[at:at + 32]), bytes(body[at + 32:at + 64])
    return Seal(entries, prev_chain, chain, body[at + 64], bytes(body[at + 65:at + 97]), bytes(body[at + 97:at + 161]))


def segment_digest(*parts):
    """SHA-256 of a whole segment, given as its bytes or as header and payload."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def check(data, seals, public_key=None):
    """Checks a file's seals against its bytes: [(offset, problem)] and the sealed offsets.

    seals: [(Segment of the seal, Seal)] in file order. Every entry must name a segment of
    that id and type at that offset whose SHA-256 matches; every seal must continue the
    previous one's chain; with public_key every seal must carry that key's valid signature
    (without one, signed seals are checked against the key they carry)."""
    problems, sealed = [], set()
    prev = bytes(32)
    for header, s in seals:
        if s.prev_chain != prev:
            problems.append((header.offset, "the seal chain is broken here: a sealed commit before it is missing "
                                            "or was rewritten"))
        if chain_of(s.prev_chain, s.entries) != s.chain:
            problems.append((header.offset, "the seal's chain hash does not match its entries"))
        if public_key is not None and (s.sig_algo != ED25519 or s.public_key != bytes(public_key)):
            problems.append((header.offset, "the seal is not signed by the given public key"))
        elif s.sig_algo == ED25519 and not ed25519.verify(s.public_key, s.chain, s.signature):
            problems.append((header.offset, "the seal's Ed25519 signature is invalid"))
        elif s.sig_algo not in (NO_SIGNATURE, ED25519):
            problems.append((header.offset, f"unknown signature algorithm {s.sig_algo}"))
        for seg_id, offset, seg_type, digest in s.entries:
            try:
                found = seg.read_header(data, offset)
            except CorruptFileError as exc:
                problems.append((offset, f"sealed segment {seg_id} ({seg.type_name(seg_type)}) is gone: {exc}"))
                continue
            if (found.seg_id, found.seg_type) != (seg_id, seg_type):
                problems.append((offset, f"sealed segment {seg_id} ({seg.type_name(seg_type)}) was replaced by "
                                         f"segment {found.seg_id} ({found.name})"))
            elif segment_digest(memoryview(data)[offset:found.end]) != digest:
                problems.append((offset, f"segment {seg_id} ({seg.type_name(seg_type)}) fails its SHA-256 seal"))
            sealed.add(offset)
        prev = s.chain
    return problems, sealed
