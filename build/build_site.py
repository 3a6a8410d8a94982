"""Assembles the static site in web/dist (git-ignored): the pages and scripts from web/,
kernel.wasm, the Pyodide runtime from web/node_modules (npm, pinned), and agentdb.zip (the
pure-Python package the worker unpacks, with bytecode compiled by that Pyodide), and
python.snapshot (that Pyodide's memory with the package imported: the worker's fast start).

Usage: python build/build_site.py   (builds kernel.wasm first if it is missing)
"""
import hashlib
import json
import pathlib
import shutil
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402
import build_wasm  # noqa: E402
import package_zip  # noqa: E402

WEB = abi.ROOT / "web"
DIST = WEB / "dist"
PYODIDE = WEB / "node_modules" / "pyodide"
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")


def build():
    if DIST.exists():
        shutil.rmtree(DIST)
    DIST.mkdir(parents=True)
    for path in WEB.iterdir():
        if path.is_file() and path.suffix in (".html", ".js", ".css", ".webmanifest"):
            shutil.copy2(path, DIST / path.name)
    wasm = build_wasm.DEFAULT_OUT if build_wasm.DEFAULT_OUT.exists() else build_wasm.build()
    shutil.copy2(wasm, DIST / "kernel.wasm")
    if not PYODIDE.exists():
        raise SystemExit("web/node_modules/pyodide is missing: run build/setup.sh (npm install in web/)")
    (DIST / "pyodide").mkdir()
    for name in PYODIDE_FILES:
        shutil.copy2(PYODIDE / name, DIST / "pyodide" / name)
    package_zip.build(DIST / "agentdb.zip")
    add_bytecode(DIST / "agentdb.zip")
    run_node("make_snapshot.mjs", DIST / "agentdb.zip", DIST / "python.snapshot")
    write_service_worker()
    return DIST


def add_bytecode(zip_path):
    """Compiles the package's bytecode into the zip with the served Pyodide."""
    run_node("compile_pyc.mjs", zip_path)


def run_node(script, *args):
    """Runs one of build/'s Node scripts (they load the served Pyodide)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise SystemExit("node is missing: run build/setup.sh")
    subprocess.run([node, str(abi.ROOT / "build" / script), *map(str, args)], check=True)


def write_service_worker():
    """Fills sw.js with every asset's path and a version hashed from their contents."""
    assets = sorted(p.relative_to(DIST).as_posix() for p in DIST.rglob("*") if p.is_file() and p.name != "sw.js")
    digest = hashlib.sha256()
    for name in assets:
        digest.update(name.encode() + (DIST / name).read_bytes())
    sw = DIST / "sw.js"
    sw.write_text(sw.read_text().replace("__VERSION__", digest.hexdigest()[:16])
                  .replace("__ASSETS__", json.dumps(["./"] + [f"./{a}" for a in assets])))


if __name__ == "__main__":
    print(build())
