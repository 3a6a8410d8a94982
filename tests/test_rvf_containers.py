"""Kernel images and eBPF programs (stored, never run), the hardware profile byte and freeze(),
checked against the real @ruvector/rvf-node 0.1.7 and 0.2.3 where they have them."""
import numpy as np
import pytest

import agentdb
from agentdb import CorruptFileError
from agentdb.kernel import load
from agentdb.persist import ReadOnlyError
from agentdb.rvf import segments as seg
from test_rvf_interop import PACKAGES, real

IMAGE = bytes(range(256)) * 3 + b"tail"
KERNEL = {"arch": 1, "kernel_type": 2, "flags": 7, "api_port": 8080, "cmdline": "console=ttyS0 quiet"}
BYTECODE = bytes(range(8)) * 5
EBPF = {"program_type": 3, "attach_type": 1, "max_dimension": 384, "btf": b"\x01\x02\x03"}


@pytest.fixture(params=PACKAGES)
def package(request):
    return request.param


def test_our_kernel_and_ebpf_extract_in_the_real_tools(tmp_path, package):
    path = tmp_path / "k.rvf"
    with agentdb.open(path, dim=4, metric="l2", profile=2) as db:
        db.ingest([1, 2], np.eye(2, 4, dtype=np.float32))
        assert db.embed_kernel(KERNEL["arch"], KERNEL["kernel_type"], KERNEL["flags"], IMAGE, KERNEL["api_port"],
                               KERNEL["cmdline"]) > 0
        db.embed_ebpf(EBPF["program_type"], EBPF["attach_type"], EBPF["max_dimension"], BYTECODE, EBPF["btf"])
    kern, ebpf, status = real(package, [{"op": "openReadonly", "path": str(path)}, {"op": "extractKernel"},
                                        {"op": "extractEbpf"}, {"op": "status"}])[1:]
    assert bytes(kern["image"]) == IMAGE + KERNEL["cmdline"].encode()     # they return image + cmdline
    assert bytes(ebpf["payload"]) == BYTECODE + EBPF["btf"]
    assert status["profileId"] == 2
    with agentdb.open(path, readonly=True) as db:
        got = db.extract_kernel()
        assert bytes(kern["header"]) == got["header"] and got["image"] == IMAGE
        assert {k: got[k] for k in KERNEL} == KERNEL
        assert bytes(ebpf["header"]) == db.extract_ebpf()["header"]
        assert db.status()["profile"] == 2 and db.status()["containers"] == {"kernel": 128 + len(IMAGE) + 19,
                                                                            "ebpf": 64 + len(BYTECODE) + 3}


def test_the_real_tools_kernels_read_the_same(tmp_path, package):
    path = tmp_path / "theirs.rvf"
    real(package, [{"op": "create", "path": str(path), "dim": 3, "profile": 1},
                   {"op": "ingest", "vectors": [1, 2, 3], "ids": [1]},
                   {"op": "embedKernel", "arch": 2, "kernelType": 1, "flags": 0, "image": list(IMAGE),
                    "apiPort": 443, "cmdline": "init=/bin/sh"},
                   {"op": "embedEbpf", "programType": 1, "attachType": 2, "maxDimension": 3,
                    "bytecode": list(BYTECODE)}])
    db = agentdb.open(path)                                     # and keeps them through our compaction
    assert db.status()["profile"] == 1
    got = db.extract_kernel()
    assert (got["arch"], got["kernel_type"], got["api_port"], got["image"], got["cmdline"]) == \
        (2, 1, 443, IMAGE, "init=/bin/sh")
    assert db.extract_ebpf()["bytecode"] == BYTECODE and db.extract_ebpf()["btf"] == b""
    db.delete([1])
    db.compact()
    db.close()
    again = agentdb.open_bytes(path.read_bytes())
    assert again.extract_kernel()["image"] == IMAGE and again.extract_ebpf()["max_dimension"] == 3


def test_damaged_containers_are_refused_on_extract_only(tmp_path):
    path = tmp_path / "d.rvf"
    with agentdb.open(path, dim=2, index="flat") as db:
        db.ingest([1], [[1.0, 0.0]])
        db.embed_kernel(1, 1, 0, IMAGE, 80)
    data = bytearray(path.read_bytes())
    kern = [s for s in agentdb.rvf.read(load(), bytes(data)).segments if s.seg_type == seg.KERNEL][0]
    flipped = bytearray(data)
    flipped[kern.payload_offset + 200] ^= 1
    db = agentdb.open_bytes(bytes(flipped))                     # the vectors are fine
    assert db.query([1.0, 0.0], k=1).ids == [1]
    with pytest.raises(CorruptFileError, match="kernel segment fails its content hash") as err:
        db.extract_kernel()
    assert err.value.offset == kern.offset
    forged = bytearray(data)                                    # a changed image with a valid CRC
    payload = bytearray(data[kern.payload_offset:kern.end])
    payload[200] ^= 1
    forged[kern.offset:kern.end] = seg.pack(load(), seg.KERNEL, kern.seg_id, bytes(payload))
    with pytest.raises(CorruptFileError, match="does not match its image_hash"):
        agentdb.open_bytes(bytes(forged)).extract_kernel()
    assert not agentdb.rvf.verify(load(), bytes(forged))["ok"]  # and the seal names it


@pytest.mark.parametrize("call, message", [
    (lambda db: db.embed_kernel(1, 1, 0, b"", 80), "image cannot be empty"),
    (lambda db: db.embed_kernel(300, 1, 0, IMAGE, 80), "arch must be an integer in 0..255"),
    (lambda db: db.embed_kernel(1, 1, 0, IMAGE, 70000), "api_port must be an integer in 0..65535"),
    (lambda db: db.embed_kernel(1, 1, 0, "text", 80), "image must be bytes"),
    (lambda db: db.embed_ebpf(1, 1, 8, b"\x00" * 12), "whole 8-byte instructions"),
])
def test_bad_containers(call, message):
    db = agentdb.open(dim=2)
    with pytest.raises((ValueError, TypeError), match=message):
        call(db)
    assert db.extract_kernel() is None and db.extract_ebpf() is None


def test_freeze_lasts_across_reopen(tmp_path, package):
    path = tmp_path / "frozen.rvf"
    with agentdb.open(path, dim=2, metric="l2") as db:
        db.ingest([1, 2], [[1.0, 0.0], [0.0, 1.0]])
        epoch = db.freeze()
        assert isinstance(epoch, int) and epoch == agentdb.rvf.read(load(), path.read_bytes()).epoch
        with pytest.raises(ReadOnlyError, match="frozen"):
            db.ingest([3], [[1.0, 1.0]])
    with agentdb.open(path) as again:                           # the real tools' freeze is gone at close
        assert again.status()["frozen"] and sorted(again.ids()) == [1, 2]
        with pytest.raises(ReadOnlyError, match="frozen"):
            again.delete([1])
        child = again.derive(tmp_path / "child.rvf")
        child.ingest([3], [[1.0, 1.0]])                          # a derived child is writable
        assert len(child) == 3 and not child.status()["frozen"]
        child.close()
    assert real(package, [{"op": "openReadonly", "path": str(path)}, {"op": "status"}])[1]["totalVectors"] == 2
    assert agentdb.rvf.verify(load(), path.read_bytes())["ok"]
