"""Fuzzing the reader (in CI, seeded): whatever happens to a file's bytes — a flipped byte
anywhere, a cut anywhere, junk appended — opening it either refuses with CorruptFileError or
gives a state the file really had at one of its commits. Never another exception, never a
state that never existed; verify() always answers with a report."""
import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentdb
from agentdb import CorruptFileError
from agentdb.kernel import load
from agentdb.rvf import segments as seg

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def state(db):
    return tuple(sorted((i, json.dumps(db.get(i).metadata, sort_keys=True), bytes(db.get(i).vector))
                        for i in db.ids()))


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A file with every kind of commit, and the state after each one."""
    path = tmp_path_factory.mktemp("fuzz") / "f.rvf"
    x = np.random.default_rng(11).standard_normal((40, 5)).astype(np.float32)
    states = []
    db = agentdb.open(path, dim=5, brute_force_rows=8, signing_key=bytes(32))
    states.append(state(db))
    steps = [lambda: db.ingest([f"d{i}" for i in range(20)], x[:20], metadata=[{"n": i, "t": "ab"[i % 2]}
                                                                            for i in range(20)]),
             lambda: db.delete(["d1", "d2"]),
             lambda: db.ingest(["e1", "d3"], x[20:22], metadata=[{"n": 99}, {"n": -3}], delete=["d4"]),
             lambda: db.embed_ebpf(1, 1, 5, bytes(16)),
             lambda: db.ingest([f"f{i}" for i in range(18)], x[22:40])]
    for step in steps:
        step()
        states.append(state(db))
    db.close()
    return path.read_bytes(), set(states)


def opens_as_a_real_state(data, states):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # a rebuilt index says so; that is allowed
            db = agentdb.open_bytes(data)
    except CorruptFileError:
        return True
    return state(db) in states


@SETTINGS
@given(st.data())
def test_a_flipped_byte_is_refused_or_harmless(history, data):
    raw, states = history
    at = data.draw(st.integers(0, len(raw) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(raw)
    damaged[at] ^= 1 << bit
    assert opens_as_a_real_state(bytes(damaged), states)
    assert isinstance(agentdb.rvf.verify(load(), bytes(damaged))["ok"], bool)


@SETTINGS
@given(st.data())
def test_a_cut_anywhere_opens_at_a_commit_or_is_refused(history, data):
    raw, states = history
    assert opens_as_a_real_state(raw[:data.draw(st.integers(0, len(raw)))], states)


@SETTINGS
@given(st.binary(min_size=1, max_size=300), st.booleans())
def test_junk_before_or_after_is_refused_or_ignored(history, junk, before):
    raw, states = history
    assert opens_as_a_real_state(junk + raw if before else raw + junk, states)


def test_the_fuzz_sees_every_flip_in_the_verify_report(history):
    raw, _ = history
    final = seg.scan_manifests(raw)[0]
    headers, at = [], 0
    while at < len(raw):
        headers.append(at)
        at = seg.read_header(raw, at).end
    # outside every check (docs): header timestamps, and the final manifest's own id
    blind = {h + i for h in headers for i in range(24, 32)} | {final + i for i in range(8, 16)}
    for at in range(0, len(raw), 7):                  # a sweep: any other changed byte fails verify
        if at in blind:
            continue
        damaged = bytearray(raw)
        damaged[at] ^= 0x20
        report = agentdb.rvf.verify(load(), bytes(damaged))
        assert not report["ok"], f"a flip at byte {at} went unnoticed"
