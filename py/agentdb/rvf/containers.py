"""KERNEL (0x0E) and EBPF (0x0F) payloads, byte for byte as the real tools' embedKernel and
embedEbpf write them (docs/FORMAT.md). agentdb stores and returns them as bytes and never
executes them; extraction checks the header (magic, version, sizes, the image hash).

KERNEL: a 128-byte header, the image, then the command line (after the image, although the
header's cmdline_offset says 128, as the real tools write it).
EBPF:   a 64-byte header, the bytecode (8-byte instructions), then optional BTF.
"""
import struct

from ..errors import ArgumentError, BufferFormatError, CorruptFileError
from .hashes import toy_hash

KERNEL_MAGIC, EBPF_MAGIC = b"NKVR", b"PBVR"
# magic, version, arch, kernel_type, flags, min_memory_mb, entry_point, image_size, compressed_size,
# compression, api_transport (api_port is big-endian, packed apart), api_version, image_hash, build_id,
# build_timestamp, vcpu_count, reserved, cmdline_offset, cmdline_length, reserved
_KERNEL = struct.Struct("<4sHBBIIQQQBB2sI32s16sQIIQII")
# magic, version, program_type, attach_type, flags, insn_count, max_dimension, program_size, map_count,
# btf_size, program_hash
_EBPF = struct.Struct("<4sHBBIHHQII32s")


def _int(value, name, bits):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ArgumentError(f"{name} must be an integer in 0..{(1 << bits) - 1}, got {value!r}")
    return value


def _bytes(value, name):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise BufferFormatError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


def encode_kernel(*, arch, kernel_type, flags, image, api_port, cmdline=""):
    """A KERNEL payload (what embedKernel(arch, kernelType, flags, image, apiPort, cmdline) writes)."""
    image = _bytes(image, "image")
    if not image:
        raise ArgumentError("a kernel image cannot be empty")
    cmd = cmdline.encode("utf-8") if isinstance(cmdline, str) else _bytes(cmdline, "cmdline")
    header = _KERNEL.pack(KERNEL_MAGIC, 1, _int(arch, "arch", 8), _int(kernel_type, "kernel_type", 8),
                          _int(flags, "flags", 32), 0, 0, len(image), len(image), 0, 0,
                          struct.pack(">H", _int(api_port, "api_port", 16)), 1, toy_hash(image), bytes(16), 0, 0, 0,
                          _KERNEL.size, len(cmd), 0)
    return header + image + cmd


def decode_kernel(payload, base=0):
    """{"header", "arch", "kernel_type", "flags", "api_port", "image", "cmdline"}, checked."""
    payload = bytes(payload)
    if len(payload) < _KERNEL.size or payload[:4] != KERNEL_MAGIC:
        raise CorruptFileError("not a kernel image (no 'NKVR' header)", base)
    f = _KERNEL.unpack_from(payload, 0)
    version, arch, kernel_type, flags, image_size, port, image_hash, cmd_len = f[1], f[2], f[3], f[4], f[7], \
        f[11], f[13], f[19]
    if version != 1:
        raise CorruptFileError(f"kernel header version {version} is not 1", base)
    if _KERNEL.size + image_size + cmd_len != len(payload):
        raise CorruptFileError(f"kernel header declares {image_size} image + {cmd_len} cmdline bytes, the segment "
                               f"holds {len(payload) - _KERNEL.size}", base)
    image = payload[_KERNEL.size:_KERNEL.size + image_size]
    if toy_hash(image) != image_hash:
        raise CorruptFileError("kernel image does not match its image_hash", base + _KERNEL.size)
    return {"header": payload[:_KERNEL.size], "arch": arch, "kernel_type": kernel_type, "flags": flags,
            "api_port": struct.unpack(">H", port)[0], "image": image,
            "cmdline": payload[_KERNEL.size + image_size:].decode("utf-8", "replace")}


def encode_ebpf(*, program_type, attach_type, max_dimension, bytecode, btf=b""):
    """An EBPF payload (what embedEbpf(programType, attachType, maxDimension, bytecode, btf) writes)."""
    bytecode, btf = _bytes(bytecode, "bytecode"), _bytes(btf, "btf")
    if not bytecode or len(bytecode) % 8:
        raise ArgumentError(f"eBPF bytecode is whole 8-byte instructions, got {len(bytecode)} bytes")
    if len(bytecode) // 8 > 0xFFFF:
        raise ArgumentError(f"eBPF programs hold at most 65535 instructions, got {len(bytecode) // 8}")
    header = _EBPF.pack(EBPF_MAGIC, 1, _int(program_type, "program_type", 8), _int(attach_type, "attach_type", 8), 0,
                        len(bytecode) // 8, _int(max_dimension, "max_dimension", 16), len(bytecode), 0, len(btf),
                        toy_hash(bytecode))
    return header + bytecode + btf


def decode_ebpf(payload, base=0):
    """{"header", "program_type", "attach_type", "max_dimension", "bytecode", "btf"}, checked."""
    payload = bytes(payload)
    if len(payload) < 64 or payload[:4] != EBPF_MAGIC:
        raise CorruptFileError("not an eBPF program (no 'PBVR' header)", base)
    _, version, program_type, attach_type, _, insns, max_dim, size, _, btf_size, digest = _EBPF.unpack_from(payload, 0)
    if version != 1:
        raise CorruptFileError(f"eBPF header version {version} is not 1", base)
    if size != 8 * insns or 64 + size + btf_size != len(payload):
        raise CorruptFileError(f"eBPF header declares {insns} instructions ({size} bytes) + {btf_size} BTF bytes, "
                               f"the segment holds {len(payload) - 64}", base)
    bytecode = payload[64:64 + size]
    if toy_hash(bytecode) != digest:
        raise CorruptFileError("eBPF bytecode does not match its program_hash", base + 64)
    return {"header": payload[:64], "program_type": program_type, "attach_type": attach_type,
            "max_dimension": max_dim, "bytecode": bytecode, "btf": payload[64 + size:]}
