"""The two hashes of the real .rvf layout (docs/FORMAT.md, shared RVF record §1.4, §1.9).

content_hash: CRC-32/IEEE of a payload, stored as four little-endian u32: c, rotl(c, 8),
rotl(c, 16), rotl(c, 24). The real tools check it on VEC, KERNEL and EBPF payloads.

toy_hash: the runtime's "simple_shake256_256": 32 bytes of state, each input byte added to
state[i % 32], which is then rotated left 3 bits and added to state[(i + 13) % 32]. Not a
cryptographic hash; kept only because witness chains and lineage in real files use it.
"""
import struct


def _rotl32(x, k):
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def content_hash(kernel, payload):
    """The 16-byte rotated CRC-32 of a payload (CRC computed by the kernel)."""
    return rotated_crc(kernel.crc32_ieee(payload))


def rotated_crc(c):
    """The content hash of a payload whose CRC-32 is c."""
    return struct.pack("<4I", c, _rotl32(c, 8), _rotl32(c, 16), _rotl32(c, 24))


def toy_hash(data):
    state = bytearray(32)
    for i, b in enumerate(bytes(data)):
        j = i & 31
        v = (state[j] + b) & 0xFF
        state[j] = v
        k = (i + 13) & 31
        state[k] = (state[k] + (((v << 3) | (v >> 5)) & 0xFF)) & 0xFF
    return bytes(state)
