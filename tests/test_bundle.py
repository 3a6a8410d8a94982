"""build/build_bundle.py over a small stand-in site (the real JS files, placeholder bytes for
Pyodide, the package, the snapshot and the model): the package.json it writes describes the
files it wrote, its version is pyproject.toml's, the folders are named by their contents, the
client and the worker point at them, and npm pack (offline) packs exactly the listed files.
e2e/test_bundle_browser.py runs the real bundle in Chromium."""
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build"))
import build_bundle  # noqa: E402

MODEL = "models/all-MiniLM-L6-v2/"


def make_site(folder):
    """A site with build_site.py's layout: web/'s JS as is, small stand-ins for the rest."""
    for name in ("agentdb.js", "worker.js", "storage.js", "lease.js", "app.js", "index.html"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "web" / name, folder / name)
    for name in ("agentdb.zip", "python.snapshot", "kernel.wasm", "sw.js", "pyodide/pyodide.mjs",
                 "pyodide/pyodide.asm.wasm", MODEL + "manifest.json", MODEL + "model.safetensors"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode())
    return folder


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path / "site")


@pytest.fixture(scope="module")
def typed(tmp_path_factory):
    """A bundle with agentdb.d.ts (tsc runs once, 5-10 s) and the site it was built from."""
    site = make_site(tmp_path_factory.mktemp("site"))
    return site, build_bundle.build(site, tmp_path_factory.mktemp("out"))


def test_the_package_json_describes_the_bundle(typed, tmp_path):
    site, bundle = typed
    manifest = json.loads((bundle / "package.json").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert bundle.name == f"agentdb-web-{version}" and manifest["name"] == "agentdb-web"
    assert manifest["version"] == version and manifest["type"] == "module" and manifest["license"]
    assert manifest["exports"] == {".": {"types": "./agentdb.d.ts", "default": "./agentdb.js"},
                                   "./package.json": "./package.json"}
    runtime, models = manifest["agentdb"]["runtime"], manifest["agentdb"]["models"]
    assert manifest["files"] == ["agentdb.js", "agentdb.d.ts", runtime, models] and manifest["types"] == "./agentdb.d.ts"
    assert manifest["agentdb"]["pyodide"] == json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]["pyodide"]
    # what is on disk is what the package lists, and nothing of the app's own pages
    assert sorted(p.name + "/" * p.is_dir() for p in bundle.iterdir()) == sorted(
        manifest["files"] + ["package.json", "README.md"])
    files = tree(bundle)
    assert {f[len(runtime):] for f in files if f.startswith(runtime)} == {
        "worker.js", "storage.js", "lease.js", "agentdb.zip", "python.snapshot", "pyodide/pyodide.mjs",
        "pyodide/pyodide.asm.wasm"}
    assert {f[len(models):] for f in files if f.startswith(models)} == {MODEL[7:] + "manifest.json",
                                                                       MODEL[7:] + "model.safetensors"}
    # the client points at the runtime's worker, the worker at the models; every relative import
    # of either is a file of the bundle
    client, worker = files["agentdb.js"].decode(), files[runtime + "worker.js"].decode()
    assert f'const WORKER = "./{runtime}worker.js";' in client
    assert f'const MODELS = "../{models}";' in worker
    for base, text in (("", client), (runtime, worker)):
        for target in re.findall(r'^import .* from "(\./[^"]+)";', text, re.M):
            assert (bundle / base / target).resolve().is_file(), target
    # only those two lines differ from the site's files, which stay as they were
    assert client.replace(f"./{runtime}worker.js", "./worker.js") == (site / "agentdb.js").read_text()
    assert worker.replace(f"../{models}", "./models/") == (site / "worker.js").read_text()
    assert tree(site) == tree(make_site(tmp_path / "again"))
    assert manifest["version"] in files["README.md"].decode()
    types = files["agentdb.d.ts"].decode()
    assert "export class AgentDB" in types and "static configure(" in types and "export type Hits" in types


def test_without_types(site, tmp_path):
    manifest = json.loads((build_bundle.build(site, tmp_path / "out", types=False) / "package.json").read_text())
    assert "types" not in manifest and manifest["exports"]["."] == "./agentdb.js"
    assert manifest["files"] == ["agentdb.js", manifest["agentdb"]["runtime"], manifest["agentdb"]["models"]]


def test_the_folders_are_named_by_their_contents(site, tmp_path):
    first = build_bundle.build(site, tmp_path / "out", types=False)
    before = tree(first)
    assert tree(build_bundle.build(site, tmp_path / "out", types=False)) == before   # again: the same bundle
    names = lambda b: json.loads((b / "package.json").read_text())["agentdb"]         # noqa: E731
    old = names(first)
    (site / "agentdb.zip").unlink()
    (site / "agentdb.zip").write_bytes(b"another build of the package")
    new = names(build_bundle.build(site, tmp_path / "out", types=False))
    assert new["runtime"] != old["runtime"] and new["models"] == old["models"]   # the model stays cached
    (site / MODEL / "manifest.json").write_text("{}")
    newer = names(build_bundle.build(site, tmp_path / "out", types=False))
    assert newer["models"] != new["models"] and newer["runtime"] != new["runtime"]   # the worker names them


def test_npm_pack_offline_packs_what_the_package_lists(typed, tmp_path):
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: run build/setup.sh")
    _, bundle = typed
    tarball, listed = build_bundle.pack(bundle)
    assert tarball == bundle.parent / f"{bundle.name}.tgz" and tarball.is_file()
    with tarfile.open(tarball) as tf:
        packed = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
    assert sorted(packed) == sorted(f"package/{f}" for f in listed)
    assert {name[len("package/"):]: data for name, data in packed.items()} == tree(bundle)
    # an app installs the tarball (offline) and imports the package by its name, through exports
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "an-app", "private": true, "type": "module"}')
    subprocess.run(["npm", "install", "--offline", "--no-audit", "--no-fund", str(tarball)], cwd=app, check=True,
                   capture_output=True)
    assert tree(app / "node_modules" / "agentdb-web") == tree(bundle)
    out = subprocess.run(["node", "-e", 'import("agentdb-web").then((m) => console.log(typeof m.AgentDB.open))'],
                         cwd=app, check=True, capture_output=True, text=True).stdout
    assert out.strip() == "function"
    # and a TypeScript app gets the client's types through exports
    (app / "app.ts").write_text("""import { AgentDB, type Hits } from "agentdb-web";
const base: URL = AgentDB.configure({ baseUrl: "/static/agentdb-web/" });
const db: AgentDB = await AgentDB.open("notes", { dim: 3, metric: "cosine" });
const hits: Hits = await db.query([1, 0, 0], { k: 1 });
// @ts-expect-error: a store's name is a string
await AgentDB.open(3);
export { base, hits };
""")
    subprocess.run(["npx", "--yes", "-p", build_bundle.TYPESCRIPT, "tsc", "--noEmit", "--strict", "--target", "es2022",
                    "--module", "es2022", "--moduleResolution", "bundler", "--lib", "es2022,dom", "app.ts"],
                   cwd=app, check=True)


def test_a_version_npm_refuses_is_an_error(monkeypatch):
    monkeypatch.setattr(build_bundle.tomllib, "loads", lambda _: {"project": {"version": "0.2.dev1"}})
    with pytest.raises(SystemExit, match="semantic version"):
        build_bundle.version()
