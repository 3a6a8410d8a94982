"""verify(): every check agentdb can make of .rvf bytes, naming each failing segment.

- every segment from the start of the file: header (flags, checksum and compression bytes,
  reserved and trailing fields are zero in every file the real tools or agentdb write), and the
  real tools' content hash;
- the reader's checks (the manifest the real tools would use, its directory, VEC payloads);
- agentdb's seals (seal.py): each sealed segment's SHA-256, the chain from the first seal to
  the last, and the Ed25519 signatures (with public_key: all by that key).
A file without seals (the real tools', or sealed=False) is checked as far as its CRCs go, and
the report says it has no seals. Outside every check: header timestamps, and the final
MANIFEST's own segment id (no later manifest lists it).
"""
from ..errors import AgentDBError, ArgumentError
from . import meta
from . import seal as sealing
from . import segments as seg
from .file import read, tail_state


def verify(kernel, data, *, public_key=None, writer_active=False):
    """{"ok", "segments", "seals", "sealed", "unsealed", "unfinished_tail_bytes", "signed_by",
    "problems"}: problems are {"offset", "segment", "id", "problem"}; unsealed lists the
    segments before the last seal that no seal covers (the last commit's WITNESS and MANIFEST
    are never sealed). writer_active=True (another process holds the file's lock) checks the
    file up to its last complete commit, as readers see it, when the bytes after it are a
    commit still being written; unfinished_tail_bytes counts them. Without a writer such
    bytes are damage and are reported."""
    data = bytes(data)
    if public_key is not None and len(public_key) != 32:
        raise ArgumentError(f"an Ed25519 public key is 32 bytes, got {len(public_key)}")
    problems, walked, seals, at = [], {}, [], 0
    # with a writer at work, the last complete commit, as a reader sees it, when the bytes
    # after it look like the commit being written: no reader uses them yet
    try:
        contents = read(kernel, data)
        complete = tail_state(kernel, data, contents)[0]
    except AgentDBError as exc:
        contents, complete = exc, len(data)
    unfinished = len(data) - complete if writer_active and _unfinished(kernel, data, complete) else 0
    if unfinished:
        data = data[:complete]
        if contents.skipped_manifests:
            contents.skipped_manifests = 0          # the unfinished commit's, not a damaged one
    while at < len(data):
        try:
            s = seg.read_header(data, at)
        except AgentDBError as exc:
            problems.append({"offset": at, "segment": None, "id": None, "problem": str(exc)})
            break
        walked[at] = s
        if any(data[at + 6:at + 8]) or any(data[at + 32:at + 40]) or any(data[at + 56:at + 64]):
            problems.append({"offset": at, "segment": s.name, "id": s.seg_id,
                             "problem": "header fields that every writer leaves zero are not zero"})
        if not seg.verify(kernel, data, s):
            problems.append({"offset": at, "segment": s.name, "id": s.seg_id, "problem": "content hash mismatch"})
        elif s.seg_type == seg.META:
            try:
                decoded = meta.decode(memoryview(data)[s.payload_offset:s.end], s.payload_offset)
            except AgentDBError as exc:
                problems.append({"offset": at, "segment": s.name, "id": s.seg_id, "problem": str(exc)})
                decoded = None
            if decoded is not None and decoded[0] == meta.SEAL:
                seals.append((s, decoded[1]))
        at = s.end
    if isinstance(contents, AgentDBError):
        problems.append({"offset": getattr(contents, "offset", None), "segment": None, "id": None,
                         "problem": str(contents)})
    elif contents.skipped_manifests:
        problems.append({"offset": contents.manifest_offset, "segment": "manifest", "id": None,
                         "problem": "a later manifest is incomplete (a torn write)"})
    seal_problems, sealed = sealing.check(data, seals, public_key)
    for offset, problem in seal_problems:
        s = walked.get(offset)
        problems.append({"offset": offset, "segment": s.name if s else None, "id": s.seg_id if s else None,
                         "problem": problem})
    for p in problems:                 # name the segment wherever the offset is one
        if p["segment"] is None and p["offset"] in walked:
            p["segment"], p["id"] = walked[p["offset"]].name, walked[p["offset"]].seg_id
    if public_key is not None and not seals:
        problems.append({"offset": None, "segment": None, "id": None, "problem": "the file carries no signed seals"})
    last = seals[-1][0].offset if seals else -1
    unsealed = [{"offset": o, "segment": s.name, "id": s.seg_id} for o, s in walked.items()
                if o < last and o not in sealed]
    problems.sort(key=lambda p: (p["offset"] is None, p["offset"] or 0))
    return {"ok": not problems, "segments": len(walked), "seals": len(seals), "sealed": len(sealed),
            "unsealed": unsealed, "unfinished_tail_bytes": unfinished, "signed_by": sorted({s.public_key.hex() for _, s in seals
                                                       if s.sig_algo == sealing.ED25519}),
            "problems": problems}


def _unfinished(kernel, data, complete):
    """Whether the bytes after offset `complete` can be an unfinished commit: whole segments
    that check out and are no manifest, then at most one cut off by the end of the data.
    Anything else there (a bad header, a whole segment failing its hash, a whole manifest the
    reader had to skip) is damage, which verify reports even with a writer at work."""
    at = complete
    while at < len(data):
        if len(data) - at < seg.HEADER_SIZE:
            return data[at:at + 4] == seg.MAGIC_BYTES[:len(data) - at]
        if data[at:at + 4] != seg.MAGIC_BYTES:
            return False
        if at + seg.HEADER_SIZE + int.from_bytes(data[at + 16:at + 24], "little") > len(data):
            return True
        try:
            s = seg.read_header(data, at)
        except AgentDBError:
            return False
        if s.seg_type == seg.MANIFEST or not seg.verify(kernel, data, s):
            return False
        at = s.end
    return at > complete
