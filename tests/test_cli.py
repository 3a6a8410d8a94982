"""The command line, over real files: create, ingest from .npy / .jsonl / .csv, query, inspect,
verify (which finds a flipped byte), compact, export and import; and every command is in the README."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import agentdb
from agentdb import cli

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, (json.loads(out.out) if out.out.strip() else None), out.err


def test_a_full_session(tmp_path, capsys):
    store = tmp_path / "notes.rvf"
    assert run(capsys, "create", store, "--dim", 4, "--metric", "l2")[0] == 0
    x = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    np.save(tmp_path / "v.npy", x)
    status, out, err = run(capsys, "ingest", store, tmp_path / "v.npy", "--batch", 7)
    assert (status, out["ingested"]) == (0, 30) and "30 vectors ingested" in err
    (tmp_path / "more.jsonl").write_text("\n".join(json.dumps({"id": 100 + i, "vector": [i, 0, 0, 0], "kind": "j"})
                                                    for i in range(3)) + "\n")
    (tmp_path / "more.csv").write_text("id,v0,v1,v2,v3,kind,n\n200,9,9,9,9,c,5\n201,8,8,8,8,c,6\n")
    assert run(capsys, "ingest", store, tmp_path / "more.jsonl")[1]["count"] == 33
    assert run(capsys, "ingest", store, tmp_path / "more.csv")[1]["count"] == 35
    status, hits, _ = run(capsys, "query", store, "--vector", "[9, 9, 9, 9]", "-k", 2)
    assert [h["id"] for h in hits] == [200, 201] and hits[0]["metadata"] == {"kind": "c", "n": 5}
    hits = run(capsys, "query", store, "--vector", "[2, 0, 0, 0]", "-k", 5, "--where", '{"kind": "j"}', "--exact")[1]
    assert [h["id"] for h in hits] == [102, 101, 100]
    info = run(capsys, "inspect", store)[1]
    assert info["live_vectors"] == 35 and info["dim"] == 4 and info["segments"][0]["type"] == "meta"
    assert run(capsys, "verify", store)[1]["ok"]
    out = tmp_path / "all.jsonl"
    assert run(capsys, "export", store, out)[1]["exported"] == 35
    copy = tmp_path / "copy.rvf"
    run(capsys, "create", copy, "--dim", 4, "--metric", "l2")
    assert run(capsys, "import", copy, out)[1]["count"] == 35
    assert run(capsys, "query", copy, "--vector", "[9, 9, 9, 9]", "-k", 1)[1][0]["metadata"] == {"kind": "c", "n": 5}
    assert run(capsys, "compact", store)[1]["removed"] == 0


def test_verify_finds_a_flipped_byte_and_errors_exit_2(tmp_path, capsys):
    store = tmp_path / "bad.rvf"
    run(capsys, "create", store, "--dim", 2, "--metric", "l2")
    (tmp_path / "v.jsonl").write_text('{"id": 1, "vector": [1, 2]}\n')
    run(capsys, "ingest", store, tmp_path / "v.jsonl")
    raw = bytearray(store.read_bytes())
    raw[raw.index(b"\x00\x00\x80\x3f") + 2] ^= 0x10          # inside the VEC payload
    store.write_bytes(bytes(raw))
    status, report, _ = run(capsys, "verify", store)
    assert status == 1 and not report["ok"]
    assert any(p.get("segment") == "vec" and p["problem"] == "content hash mismatch" for p in report["problems"])
    status, _, err = run(capsys, "query", store, "--vector", "[1, 2]")
    assert status == 2 and "CorruptFileError" in err and "fails its content hash" in err
    status, _, err = run(capsys, "ingest", tmp_path / "missing.rvf", tmp_path / "nowhere.jsonl")
    assert status == 2 and "No such file" in err and not (tmp_path / "missing.rvf").exists()


def test_the_console_script_runs(tmp_path):
    done = subprocess.run([sys.executable, "-m", "agentdb", "create", str(tmp_path / "x.rvf"), "--dim", "3"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["dim"] == 3


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_every_command_is_documented(command):
    assert f"agentdb {command} " in (ROOT / "README.md").read_text()


def test_text_queries_on_an_agent_memory(tmp_path, capsys):
    import agentdb.memory

    path = tmp_path / "agent.rvf"
    with agentdb.memory.open(path) as mem:
        mem.store_episode("s", "fix the flaky integration test", reward=0.9, success=True)
        mem.remember("buy oat milk on the way home")
        want = mem.retrieve_episodes("flaky test", k=1)
    status, hits, _ = run(capsys, "query", path, "--text", "flaky test", "-k", 1, "--where", '{"kind": "episode"}')
    assert status == 0 and [h["id"] for h in hits] == [want[0]["id"]] and hits[0]["score"] == want[0]["similarity"]
    plain = tmp_path / "plain.rvf"
    run(capsys, "create", plain, "--dim", 4)
    status, _, err = run(capsys, "query", plain, "--text", "anything")
    assert status == 2 and "no recorded embedder" in err


def test_verify_checks_signatures(tmp_path, capsys):
    import agentdb
    from agentdb.rvf import ed25519

    key = bytes(range(32))
    path = tmp_path / "signed.rvf"
    with agentdb.open(path, dim=2, signing_key=key) as db:
        db.ingest([1, 2], [[1.0, 0.0], [0.0, 1.0]])
    public = ed25519.public_key(key).hex()
    status, report, _ = run(capsys, "verify", path, "--public-key", public)
    assert status == 0 and report["signed_by"] == [public] and report["seals"] == 2     # ingest, INDEX
    status, report, _ = run(capsys, "verify", path, "--public-key", ed25519.public_key(bytes(32)).hex())
    assert status == 1 and "not signed by the given public key" in report["problems"][0]["problem"]


def test_derive_and_freeze(tmp_path, capsys):
    store = tmp_path / "p.rvf"
    run(capsys, "create", store, "--dim", 2, "--metric", "l2")
    (tmp_path / "v.jsonl").write_text("".join(json.dumps({"id": i, "vector": [i, 1], "kind": "ab"[i % 2]}) + "\n"
                                              for i in range(10)))
    run(capsys, "ingest", store, tmp_path / "v.jsonl")
    status, out, _ = run(capsys, "derive", store, tmp_path / "c.rvf", "--kind", "filter", "--where", '{"kind": "a"}')
    info = run(capsys, "inspect", store)[1]
    assert status == 0 and out["count"] == 5 and out["lineage_depth"] == 1 and out["parent_id"] == info["file_id"]
    assert run(capsys, "freeze", store)[0] == 0
    status, _, err = run(capsys, "ingest", store, tmp_path / "v.jsonl")
    assert status == 2 and "frozen" in err
    assert run(capsys, "inspect", store)[1]["options"]["frozen"] is True


def test_create_refuses_an_existing_file_unless_exist_ok(tmp_path, capsys):
    store = tmp_path / "notes.rvf"
    assert run(capsys, "create", store, "--dim", 4)[0] == 0
    before = store.read_bytes()
    status, out, err = run(capsys, "create", store, "--dim", 4)
    assert status == 2 and out is None and "already exists; pass --exist-ok" in err
    assert store.read_bytes() == before
    status, out, _ = run(capsys, "create", store, "--dim", 4, "--exist-ok")
    assert status == 0 and out["dim"] == 4


def test_bad_json_options_name_the_option_and_what_it_expects(tmp_path, capsys):
    store = tmp_path / "notes.rvf"
    run(capsys, "create", store, "--dim", 2, "--metric", "l2")
    status, _, err = run(capsys, "query", store, "--vector", "[0.1, ...]")
    assert status == 2 and "ArgumentError: --vector is not valid JSON" in err and "a JSON list of numbers" in err
    status, _, err = run(capsys, "query", store, "--vector", "[0.1, 0.2]", "--where", "{kind: note}")
    assert status == 2 and "--where is not valid JSON" in err and "a JSON filter object" in err
    status, _, err = run(capsys, "derive", store, tmp_path / "child.rvf", "--kind", "filter", "--where", "kind=note")
    assert status == 2 and "--where is not valid JSON" in err


def test_version(capsys):
    import agentdb

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"agentdb {agentdb.__version__}"


def test_import_creates_a_missing_store_from_the_first_vector_or_dim(tmp_path, capsys):
    lines = tmp_path / "notes.jsonl"
    lines.write_text("\n".join(json.dumps({"id": i, "vector": [i, 1, 0], "kind": "n"}) for i in range(4)) + "\n")
    status, out, _ = run(capsys, "import", tmp_path / "other.rvf", lines)          # the README's form
    assert status == 0 and out == {"ingested": 4, "count": 4}
    assert run(capsys, "inspect", tmp_path / "other.rvf")[1]["dim"] == 3
    status, out, _ = run(capsys, "import", tmp_path / "l2.rvf", lines, "--dim", 3, "--metric", "l2")
    assert status == 0 and run(capsys, "inspect", tmp_path / "l2.rvf")[1]["metric"] == "l2"
    status, _, err = run(capsys, "import", tmp_path / "l2.rvf", lines, "--dim", 5)     # checked against the file
    assert status == 2 and "3-dimensional" in err
    (tmp_path / "empty.jsonl").write_text("")
    status, _, err = run(capsys, "import", tmp_path / "none.rvf", tmp_path / "empty.jsonl")
    assert status == 2 and "pass --dim" in err and not (tmp_path / "none.rvf").exists()


def test_every_option_says_what_it_does():
    import argparse

    subparsers = [a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)][0]
    missing = [f"{name} {opt.option_strings[0]}" for name, sub in subparsers.choices.items()
               for opt in sub._actions if opt.option_strings and opt.dest != "help" and not opt.help]
    assert not missing, missing


def test_the_readmes_command_sequence_runs_as_written(tmp_path):
    """The README's shell block, verbatim, in an empty folder: every command succeeds and
    the filtered query finds what its filter names (the old sequence matched nothing)."""
    [block] = re.findall(r"```sh\n(cat > notes.jsonl.*?)```", (ROOT / "README.md").read_text(), re.S)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    decoder, outputs, text = json.JSONDecoder(), [], done.stdout.strip()
    while text:
        value, end = decoder.raw_decode(text)
        outputs.append(value)
        text = text[end:].strip()
    [hits] = [out for out in outputs if isinstance(out, list)]
    assert [h["id"] for h in hits] == ["n1"] and hits[0]["metadata"]["kind"] == "note"
    assert agentdb.open(tmp_path / "todo.rvf", readonly=True).ids() == ["t1", "t2"]
    assert len(agentdb.open(tmp_path / "other.rvf", readonly=True)) == 3


def test_models_and_datasets_go_out_and_back_in(tmp_path, capsys):
    import agentdb.learn
    import agentdb.memory
    from agentdb.embed import HashEmbedder

    src, dst = tmp_path / "agent.rvf", tmp_path / "other.rvf"
    with agentdb.memory.open(src, embedder=HashEmbedder(16)) as mem:
        mem.store.set_adapter("query", agentdb.learn.LoRA(16, 16, rank=2, seed=5))
        mem.store_episode("s", "parse a date", output="strptime", reward=0.9, success=True)
        want_a = mem.store.adapter("query").a
    agentdb.memory.open(dst, embedder=HashEmbedder(16)).close()
    for out, fmt in (("m.safetensors", None), ("m.json", None), ("m.bin", None), ("m.zip", None), ("p.zip", "peft")):
        status, report, _ = run(capsys, "export-model", src, tmp_path / out, *(["--format", fmt] if fmt else []))
        assert status == 0 and report["bytes"] == (tmp_path / out).stat().st_size > 0
    status, report, _ = run(capsys, "import-model", dst, tmp_path / "p.zip")
    assert status == 0 and report == {"adapters": 1, "patterns": 0}
    status, _, err = run(capsys, "import-model", dst, tmp_path / "m.bin")
    assert status == 2 and "ArgumentError" in err                      # the adapter is there: --replace
    assert run(capsys, "import-model", dst, tmp_path / "m.bin", "--replace")[0] == 0
    status, report, _ = run(capsys, "export-dataset", src, tmp_path / "e.csv")
    assert status == 0 and report["episode"] == 1
    status, report, _ = run(capsys, "import-dataset", dst, tmp_path / "e.csv")
    assert status == 0 and report == {"stored": 1, "skipped": 0}
    status, _, err = run(capsys, "export-model", src, tmp_path / "m.onnx")
    assert status == 2 and "--format" in err
    with agentdb.memory.open(dst) as mem:
        assert mem.store.adapter("query").a == want_a and mem.get_episode("episode:1")["task"] == "parse a date"
