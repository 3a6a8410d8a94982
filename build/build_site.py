"""Assembles the static site in web/dist (git-ignored): the pages and scripts from web/,
kernel.wasm, the Pyodide runtime from web/node_modules (npm, pinned), and agentdb.zip (the
pure-Python package the worker unpacks, with bytecode compiled by that Pyodide),
python.snapshot (that Pyodide's memory with the package imported: the worker's fast start)
and the all-MiniLM-L6-v2 model under models/ (its small files, the float32 weights and the
int8 variant derived once into build/.models; the big files are hard links, not copies).

Usage: python build/build_site.py   (builds kernel.wasm first if it is missing)
"""
import hashlib
import json
import os
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
MODELS = "models"                          # dist/models/<name>/: the worker fetches the model from here
MODEL_FILES = ("vocab.txt", "config.json", "tokenizer_config.json", "special_tokens_map.json",
               "sentence_bert_config.json")   # what MiniLM(model_dir=...) reads besides the weights
MODEL_CACHE = abi.ROOT / "build" / ".models"   # the derived int8 weights (git-ignored)


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
    add_model(DIST / MODELS)
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


def add_model(out):
    """all-MiniLM-L6-v2 under out/<name>/: the files MiniLM reads, the float32 weights, the
    int8 variant and manifest.json (each file's size, and which weights file each identity
    loads: the worker's download progress and its one list of files)."""
    from agentdb.embed import minilm, quantize

    try:
        source = pathlib.Path(minilm.find_model_dir())
    except minilm.ModelMissingError as err:
        raise SystemExit(f"the site serves {minilm.NAME}: {err}") from None
    folder = out / minilm.NAME
    folder.mkdir(parents=True)
    f32 = source / minilm.WEIGHTS
    # the int8 file is derived once (~9 s) per float32 file and quantize.py version
    stat = f32.stat()
    key = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:".encode()
                         + pathlib.Path(quantize.__file__).read_bytes()).hexdigest()[:16]
    int8 = MODEL_CACHE / f"{minilm.INT8_NAME}-{key}.safetensors"
    if not int8.exists():
        MODEL_CACHE.mkdir(exist_ok=True)
        for stale in MODEL_CACHE.glob(f"{minilm.INT8_NAME}-*.safetensors"):
            stale.unlink()
        print(f"deriving {int8.name} (once)", file=sys.stderr)
        quantize.derive_int8(f32, int8)
    for name in MODEL_FILES:
        shutil.copy2(source / name, folder / name)
    for src, name in ((f32, minilm.WEIGHTS), (int8, minilm.INT8_WEIGHTS)):
        try:
            os.link(src, folder / name)         # 90 MB: no copy per build
        except OSError:                         # another file system
            shutil.copy2(src, folder / name)
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir())}
    (folder / "manifest.json").write_text(json.dumps({
        "files": files, "weights": {minilm.NAME: minilm.WEIGHTS, minilm.INT8_NAME: minilm.INT8_WEIGHTS}}))


def write_service_worker():
    """Fills sw.js with the assets' paths and versions hashed from their contents: the app's,
    and the model's apart (a new build of the app keeps the 150 MB of model files cached).
    The int8 weights are not precached: the service worker caches them on first use."""
    from agentdb.embed import minilm

    paths = sorted(p.relative_to(DIST).as_posix() for p in DIST.rglob("*") if p.is_file() and p.name != "sw.js")
    app = [p for p in paths if not p.startswith(MODELS + "/")]
    model = [p for p in paths if p.startswith(MODELS + "/")]
    sw = DIST / "sw.js"
    sw.write_text(sw.read_text().replace("__VERSION__", digest(app)).replace("__MODEL_VERSION__", digest(model))
                  .replace("__ASSETS__", json.dumps(["./"] + [f"./{a}" for a in app]))
                  .replace("__MODEL_ASSETS__", json.dumps([f"./{a}" for a in model
                                                           if not a.endswith("/" + minilm.INT8_WEIGHTS)])))


def digest(paths, root=DIST):
    """16 hex digits of a hash of these files' names and contents (paths relative to root)."""
    h = hashlib.sha256()
    for name in paths:
        h.update(name.encode())
        with open(pathlib.Path(root) / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


if __name__ == "__main__":
    print(build())
