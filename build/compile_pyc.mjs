// Adds bytecode to agentdb.zip, compiled by the very Pyodide the site serves (its Python, its
// bytecode version), so the browser imports the package without compiling 50 modules first
// (~0.2 s of every cold start). The .pyc files are unchecked-hash ones: valid without a look
// at the sources, which stay in the zip for tracebacks. Entries get a fixed timestamp, so the
// same sources give the same zip (and the service worker's version does not change).
// Usage: node build/compile_pyc.mjs <agentdb.zip>   (build/build_site.py runs it)
import { readFileSync, writeFileSync } from "node:fs";
import { loadPyodide } from "../web/node_modules/pyodide/pyodide.mjs";

const [zipPath] = process.argv.slice(2);
const pyodide = await loadPyodide();
pyodide.unpackArchive(new Uint8Array(readFileSync(zipPath)), "zip", { extractDir: "/tmp/pkg" });
pyodide.runPython(`
import compileall, pathlib, py_compile, zipfile

root = pathlib.Path("/tmp/pkg")
if not compileall.compile_dir(str(root / "agentdb"), quiet=1,
                              invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH):
    raise SystemExit("compileall failed")
with zipfile.ZipFile("/tmp/out.zip", "w", zipfile.ZIP_DEFLATED) as zf:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
        zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
`);
writeFileSync(zipPath, pyodide.FS.readFile("/tmp/out.zip"));
