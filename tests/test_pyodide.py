"""The browser home, proved in the real Pyodide runtime (web/node_modules/pyodide, run by
Node): the same package on the `browser` kernel backend gives the same bits as natively."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentdb.kernel import load
import embed_scenario
import memory_scenario
import parity_scenario
from agentdb.embed.minilm import find_model_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def package_zip(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "build"))
    import package_zip

    return package_zip.build(tmp_path_factory.mktemp("pkg") / "agentdb.zip")


def in_pyodide(package_zip, script, env=None):
    if shutil.which("node") is None or not (ROOT / "web" / "node_modules" / "pyodide").exists():
        pytest.fail("Pyodide is not installed: run build/setup.sh (npm install in web/)")
    done = subprocess.run(["node", str(ROOT / "tests" / "pyodide" / "run.mjs"), str(package_zip), str(script)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_same_bits_in_pyodide_as_natively(package_zip):
    browser = json.loads(in_pyodide(package_zip, Path(parity_scenario.__file__)).strip().splitlines()[-1])
    native = json.loads(json.dumps(parity_scenario.run(load("native"))))
    assert browser == native


def test_the_memory_scenario_is_the_same_in_pyodide(package_zip):
    browser = json.loads(in_pyodide(package_zip, Path(memory_scenario.__file__)).strip().splitlines()[-1])
    assert browser == json.loads(json.dumps(memory_scenario.run(load("native"))))


def test_minilm_gives_the_same_bits_in_pyodide(package_zip, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    native = embed_scenario.run(load("native"))     # derives the int8 model into the cache
    out = in_pyodide(package_zip, Path(embed_scenario.__file__),
                     env={"AGENTDB_MODEL_DIR": find_model_dir(), "XDG_CACHE_HOME": str(cache)})
    assert json.loads(out.strip().splitlines()[-1]) == native


def test_the_browser_package_imports_no_numpy_or_cffi(package_zip, tmp_path):
    script = tmp_path / "imports.py"
    script.write_text("import sys, agentdb\nagentdb.open(dim=2).ingest([1], [[1.0, 2.0]])\n"
                      "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'cffi', 'safetensors')))\n")
    assert in_pyodide(package_zip, script).strip().splitlines()[-1] == "[]"
