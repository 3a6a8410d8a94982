"""Builds the browser client as a versioned ES module package that another web app copies or
imports: dist/agentdb-web-<version>/ (git-ignored; the version is pyproject.toml's) holds

  agentdb.js        the client, the one file an app imports; it finds the worker and its assets
                    relative to itself (import.meta.url), or under AgentDB.configure({ baseUrl })
  agentdb.d.ts      its types, declared by tsc from its JSDoc (editors, TypeScript apps)
  runtime-<hash>/   worker.js, storage.js, lease.js, agentdb.zip, python.snapshot and pyodide/,
                    named by a hash of their contents: no cache mixes the files of two builds
  models-<hash>/    all-MiniLM-L6-v2 (float32, int8, manifest.json), hashed apart: a new build of
                    the code keeps the same 150 MB of model files
  package.json      name, version, type module, exports, files, license (and which folders)
  README.md         how to import it

taken from a built site (build/build_site.py's web/dist; the files are hard links, not copies).
agentdb.js and worker.js are the site's with one line each pointed at the hashed folders.

Usage: python build/build_bundle.py [--site DIR] [--out DIR] [--pack] [--no-types]
  without --site the site is built first; --pack also writes agentdb-web-<version>.tgz beside
  the bundle (npm pack, offline); --no-types leaves out agentdb.d.ts (its compiler comes from
  npm through npx, pinned: fetched once, then cached).
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402
import build_site  # noqa: E402

NAME = "agentdb-web"
OUT = abi.ROOT / "dist"
RUNTIME = ("worker.js", "storage.js", "lease.js", "agentdb.zip", "python.snapshot", "pyodide")   # from the site
# the one line of each file that names where the others are (asserted present once)
WORKER_LINE = 'const WORKER = "./worker.js";'
MODELS_LINE = 'const MODELS = "./models/";'
TYPESCRIPT = "typescript@5.9.3"    # declares agentdb.d.ts (the checker web/jsconfig.json is run with)


def version():
    """pyproject.toml's version, which must be a semantic version (npm's rule) as well."""
    value = tomllib.loads((abi.ROOT / "pyproject.toml").read_text())["project"]["version"]
    if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", value):
        raise SystemExit(f"pyproject.toml's version {value!r} is not a semantic version npm accepts")
    return value


def build(site=None, out=OUT, types=True):
    """Writes out/agentdb-web-<version>/ from the built site (built now when site is None) and
    returns its path; types: with agentdb.d.ts. Building again replaces it."""
    site = pathlib.Path(site) if site is not None else build_site.build()
    bundle = pathlib.Path(out) / f"{NAME}-{version()}"
    if bundle.exists():
        shutil.rmtree(bundle)
    staging = bundle / "staging"
    models = link_tree(site / build_site.MODELS, staging / "models")
    models_dir = f"models-{build_site.digest(files_under(models), models)}"
    runtime = staging / "runtime"
    for name in RUNTIME:
        link_tree(site / name, runtime / name)
    repoint(runtime / "worker.js", MODELS_LINE, f'const MODELS = "../{models_dir}/";')
    runtime_dir = f"runtime-{build_site.digest(files_under(runtime), runtime)}"
    models.rename(bundle / models_dir)
    runtime.rename(bundle / runtime_dir)
    staging.rmdir()
    shutil.copy2(site / "agentdb.js", bundle / "agentdb.js")
    repoint(bundle / "agentdb.js", WORKER_LINE, f'const WORKER = "./{runtime_dir}/worker.js";')
    if types:
        declare(bundle)
    manifest = package_json(runtime_dir, models_dir, types)
    (bundle / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (bundle / "README.md").write_text(readme(manifest))
    return bundle


def package_json(runtime_dir, models_dir, types=True):
    """The bundle's package.json: an ES module package whose one entry point is agentdb.js
    (typed by agentdb.d.ts when types)."""
    project = tomllib.loads((abi.ROOT / "pyproject.toml").read_text())["project"]
    web = json.loads((build_site.WEB / "package.json").read_text())
    license_ = project.get("license")
    return {
        "name": NAME,
        "version": version(),
        "description": "agentdb in the browser: the vector memory database for AI agents as an ES module "
                       "(Python in Pyodide in a Web Worker, over the C kernel compiled to WebAssembly)",
        "type": "module",
        "main": "./agentdb.js",
        **({"types": "./agentdb.d.ts"} if types else {}),
        "exports": {".": {"types": "./agentdb.d.ts", "default": "./agentdb.js"} if types else "./agentdb.js",
                    "./package.json": "./package.json"},
        "files": ["agentdb.js", *(["agentdb.d.ts"] if types else []), f"{runtime_dir}/", f"{models_dir}/"],
        "sideEffects": False,
        # pyproject.toml grants none yet: npm's word for "no license granted"
        "license": (license_.get("text") if isinstance(license_, dict) else license_) or "UNLICENSED",
        "agentdb": {"runtime": f"{runtime_dir}/", "models": f"{models_dir}/", "pyodide": web["dependencies"]["pyodide"]},
    }


def readme(manifest):
    return f"""# {manifest['name']} {manifest['version']}

agentdb's browser client as an ES module: `agentdb.js` starts a Web Worker (`{manifest['agentdb']['runtime']}`)
running the agentdb Python package in Pyodide {manifest['agentdb']['pyodide']}; text is embedded by
all-MiniLM-L6-v2 (`{manifest['agentdb']['models']}`, fetched on first use).

Serve this folder with your app (or from a CDN that sends `Access-Control-Allow-Origin`) and import it:

```js
import {{ AgentDB }} from "/static/{manifest['name']}/agentdb.js";
const db = await AgentDB.open("notes", {{ dim: 384 }});
await db.memory.remember({{ note: "the car would not start this morning" }});
await db.memory.recall({{ query: "vehicle engine failure", k: 1 }});
```

The worker and its files are found relative to `agentdb.js` (`import.meta.url`). When
`agentdb.js` is served from elsewhere (a bundler copied it into your build), say where this folder is
before the first call: `AgentDB.configure({{ baseUrl: "/static/{manifest['name']}/" }})`.
The hashed folders' names change with their contents, so they can be cached forever.
""" + ("`agentdb.d.ts` declares the client's types for editors and TypeScript.\n" if "types" in manifest else "")


def declare(bundle):
    """agentdb.d.ts beside agentdb.js: tsc's declarations from its JSDoc."""
    npx = shutil.which("npx")
    if npx is None:
        raise SystemExit("npx is missing: run build/setup.sh")
    subprocess.run([npx, "--yes", "-p", TYPESCRIPT, "tsc", "agentdb.js", "--allowJs", "--declaration",
                    "--emitDeclarationOnly", "--target", "es2022", "--module", "es2022", "--lib", "es2022,dom",
                    "--outDir", "."], cwd=bundle, check=True)


def pack(bundle):
    """npm pack of the bundle, offline, beside it; the tarball's path and npm's file list."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is missing: run build/setup.sh")
    done = subprocess.run([npm, "pack", "--offline", "--json", "--pack-destination", str(bundle.parent)],
                          cwd=bundle, check=True, capture_output=True, text=True)
    info = json.loads(done.stdout)[0]
    return bundle.parent / info["filename"], [f["path"] for f in info["files"]]


def link_tree(src, dst):
    """dst as a copy of the file or folder src made of hard links (copies across file systems)."""
    paths = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
    for path in paths:
        target = dst / path.relative_to(src) if path != src else dst
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
    return dst


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def repoint(path, line, replacement):
    """Replaces the one line that names a folder (a new file: the old may be a hard link)."""
    text = path.read_text()
    if text.count(line) != 1:
        raise SystemExit(f"{path.name}: expected the line {line!r} once")
    path.unlink()
    path.write_text(text.replace(line, replacement))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", help="a built site (web/dist) to take the files from; default: build it now")
    parser.add_argument("--out", default=str(OUT), help="the folder the bundle goes in (default: dist/)")
    parser.add_argument("--pack", action="store_true", help="also npm pack it into a .tgz beside it")
    parser.add_argument("--no-types", dest="types", action="store_false", help="without agentdb.d.ts")
    args = parser.parse_args(argv)
    bundle = build(args.site, args.out, args.types)
    print(bundle)
    if args.pack:
        print(pack(bundle)[0])


if __name__ == "__main__":
    main()
