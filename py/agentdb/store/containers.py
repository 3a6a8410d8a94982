"""KERNEL and EBPF containers: payloads stored in a store's file as the real tools write them
(agentdb.rvf.containers), returned on request, never run. The store keeps the last of each
type as seg type -> (file offset or None, payload; None when it fails its content hash)."""
from .. import rvf
from ..rvf import containers as payloads
from ..rvf import segments as rvf_segments


def embed_kernel(db, arch, kernel_type, flags, image, api_port, cmdline):
    """VectorStore.embed_kernel()."""
    return embed(db, rvf_segments.KERNEL, payloads.encode_kernel(
        arch=arch, kernel_type=kernel_type, flags=flags, image=image, api_port=api_port, cmdline=cmdline))


def embed_ebpf(db, program_type, attach_type, max_dimension, bytecode, btf):
    """VectorStore.embed_ebpf()."""
    return embed(db, rvf_segments.EBPF, payloads.encode_ebpf(
        program_type=program_type, attach_type=attach_type, max_dimension=max_dimension, bytecode=bytecode,
        btf=btf))


def extract_kernel(db):
    """VectorStore.extract_kernel()."""
    return extract(db, rvf_segments.KERNEL, payloads.decode_kernel)


def extract_ebpf(db):
    """VectorStore.extract_ebpf()."""
    return extract(db, rvf_segments.EBPF, payloads.decode_ebpf)


def embed(db, seg_type, payload):
    """Stores a payload as the store's container of seg_type (a commit for a file); returns its
    segment id (None in memory)."""
    db._writable()
    with db._lock:
        seg_id = None
        if db._log is not None:
            seg_id = db._log.segments([(seg_type, payload)],
                                      f"embed_{rvf_segments.type_name(seg_type)}:bytes={len(payload)}")
        db._containers[seg_type] = (None, payload)
        return seg_id


def extract(db, seg_type, decode):
    """The stored container of seg_type, decoded; None without one."""
    entry = db._containers.get(seg_type)
    if entry is None:
        return None
    offset, payload = entry
    if payload is None:
        raise rvf.CorruptFileError(f"the {rvf_segments.type_name(seg_type)} segment fails its content hash",
                                   offset)
    return decode(payload, offset or 0)


def sizes(db):
    """For status(): type name -> payload bytes (None for one that fails its hash)."""
    return {rvf_segments.type_name(t): len(p) if p is not None else None
            for t, (_, p) in sorted(db._containers.items())}
