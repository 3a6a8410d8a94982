"""agentdb's seals: the SHA-256 of every committed segment, a chain over the file's history
that survives reopening, Ed25519 signatures the `cryptography` package accepts; verify()
names the segment that fails, including changes the real tools' CRC cannot see."""
import hashlib
import struct

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import agentdb
from agentdb.kernel import load
from agentdb.rvf import ed25519, read, verify
from agentdb.rvf import segments as seg
from agentdb.rvf.seal import DOMAIN
from agentdb.store.store import open_log

KEY = bytes(range(100, 132))
PUBLIC = ed25519.public_key(KEY)


def history(path, rng, **options):
    """A file with every commit kind, reopened in the middle."""
    x = rng.standard_normal((300, 8)).astype(np.float32)
    with agentdb.open(path, dim=8, brute_force_rows=50, **options) as db:
        db.ingest([f"a{i}" for i in range(200)], x[:200], metadata=[{"n": i} for i in range(200)])
        db.delete(["a1", "a2"])
    with agentdb.open(path, **options) as db:                    # the chain goes on after a reopen
        db.ingest(["b1", "b2"], x[200:202], delete=["a3"])
        db.ingest([f"c{i}" for i in range(98)], x[202:300])      # an INDEX commit follows (graph stale)
    return path.read_bytes()


def walk(data):
    out, at = [], 0
    while at < len(data):
        s = seg.read_header(data, at)
        out.append(s)
        at = s.end
    return out


def test_a_history_verifies_and_every_segment_is_sealed(tmp_path, rng):
    data = history(tmp_path / "h.rvf", rng)
    report = verify(load(), data)
    assert report["ok"] and report["problems"] == [] and report["unsealed"] == []
    segments = walk(data)
    kinds = {s.name for s in segments}
    assert {"vec", "meta", "journal", "index", "witness", "manifest"} <= kinds
    commits = sum(s.name == "witness" for s in segments)
    assert report["seals"] == commits and report["signed_by"] == []
    # everything but the last commit's WITNESS and MANIFEST (and the last seal) is sealed
    assert report["sealed"] == len(segments) - 3


@pytest.mark.parametrize("kind", ["vec", "meta", "journal", "index", "witness", "manifest"])
def test_a_flipped_byte_names_its_segment(tmp_path, rng, kind):
    data = bytearray(history(tmp_path / "h.rvf", rng))
    target = [s for s in walk(bytes(data)) if s.name == kind][0]
    data[target.payload_offset + target.payload_length // 2] ^= 0x04
    report = verify(load(), bytes(data))
    assert not report["ok"]
    named = [p for p in report["problems"] if p["offset"] == target.offset]
    assert named and all(p["segment"] == kind and p["id"] == target.seg_id for p in named)
    assert any("SHA-256" in p["problem"] or "content hash" in p["problem"] for p in named)


def test_a_change_with_a_valid_crc_is_caught_only_by_the_seal(tmp_path, rng):
    data = bytearray(history(tmp_path / "h.rvf", rng))
    vec = [s for s in walk(bytes(data)) if s.name == "vec"][0]
    payload = bytearray(data[vec.payload_offset:vec.end])
    payload[-4:] = struct.pack("<f", 42.0)                       # a forged vector, CRC recomputed
    data[vec.offset:vec.end] = seg.pack(load(), seg.VEC, vec.seg_id, bytes(payload))
    read(load(), bytes(data))                                    # the real tools' checks pass
    report = verify(load(), bytes(data))
    assert [(p["offset"], p["segment"], p["problem"]) for p in report["problems"]] == \
        [(vec.offset, "vec", f"segment {vec.seg_id} (vec) fails its SHA-256 seal")]


def test_signatures_are_real_ed25519_over_the_chain(tmp_path, rng):
    data = history(tmp_path / "s.rvf", rng, signing_key=KEY)
    assert verify(load(), data, public_key=PUBLIC)["ok"]
    assert agentdb.open(tmp_path / "s.rvf", readonly=True).verify(public_key=PUBLIC)["signed_by"] == [PUBLIC.hex()]
    # recompute every seal independently and check its signature with `cryptography`
    prev, seals = bytes(32), 0
    for s in walk(data):
        payload = data[s.payload_offset:s.end]
        if s.name != "meta" or payload[:4] != b"AGMD" or struct.unpack_from("<H", payload, 6)[0] != 3:
            continue
        (count,) = struct.unpack_from("<I", payload, 8)
        entries = payload[12:12 + 49 * count]
        for i in range(count):
            seg_id, offset, seg_type, digest = struct.unpack_from("<QQB32s", entries, 49 * i)
            block = data[offset:seg.read_header(data, offset).end]
            assert hashlib.sha256(block).digest() == digest and block[5] == seg_type
        tail = payload[12 + 49 * count:]
        assert tail[:32] == prev and tail[32:64] == hashlib.sha256(DOMAIN + prev + entries).digest()
        assert tail[64] == 1 and tail[65:97] == PUBLIC
        Ed25519PublicKey.from_public_bytes(PUBLIC).verify(tail[97:161], tail[32:64])   # raises if forged
        prev, seals = tail[32:64], seals + 1
    assert seals >= 4


def test_a_resealed_forgery_fails_the_key_check(tmp_path, rng):
    path = tmp_path / "f.rvf"
    history(path, rng, signing_key=KEY)
    forger = bytes(32)
    with agentdb.open(path, signing_key=forger) as db:           # someone else's commit
        db.ingest(["evil"], rng.standard_normal((1, 8)))
    report = verify(load(), path.read_bytes(), public_key=PUBLIC)
    assert not report["ok"] and report["signed_by"] == sorted([PUBLIC.hex(), ed25519.public_key(forger).hex()])
    assert {p["problem"] for p in report["problems"]} == {"the seal is not signed by the given public key"}
    assert verify(load(), path.read_bytes())["ok"]                # consistent, just not all yours


def test_the_browser_home_seals_and_signs_the_same_bytes(tmp_path, rng, monkeypatch):
    monkeypatch.setattr("agentdb.store.store.secrets.token_bytes", lambda n: bytes(range(n)))
    x = rng.standard_normal((40, 4)).astype(np.float32)
    on_disk = agentdb.open(tmp_path / "d.rvf", dim=4, signing_key=KEY)
    in_chunks = open_log(dim=4, signing_key=KEY)
    for db in (on_disk, in_chunks):
        db.ingest(range(40), x)
        db.delete([5])
        db.close()
    image = b"".join(chunk for _, _, chunk in in_chunks.take_commits())
    assert image == (tmp_path / "d.rvf").read_bytes()
    assert verify(load(), image, public_key=PUBLIC)["ok"]


def test_unsealed_files_and_bad_keys(rng):
    db = agentdb.open(dim=4)
    db.ingest([1], rng.standard_normal((1, 4)))
    plain = agentdb.rvf.write(load(), dim=4, metric="l2", ids=[1], rows=bytes(16), sealed=False)
    report = verify(load(), plain)
    assert report["ok"] and report["seals"] == 0
    assert verify(load(), plain, public_key=PUBLIC)["problems"][0]["problem"] == "the file carries no signed seals"
    with pytest.raises(ValueError, match="32-byte Ed25519 private key"):
        agentdb.open(dim=4, signing_key=b"short")
    assert agentdb.open(dim=4, signing_key=KEY).status()["signed_by"] == PUBLIC.hex()
