// Makes python.snapshot: the memory of the served Pyodide right after it imported agentdb's
// worker API. The worker restores it instead of starting Python and importing the package
// (~3 s of every cold start here -> ~0.3 s). Pyodide checks the snapshot's build id against its
// own when restoring. What a snapshot cannot carry is redone by the worker after the restore:
// the unpacked package files (Emscripten keeps files outside wasm memory) and the seed of
// `random`'s shared generator (it would be the build's in every tab). Python's string-hash
// seed is fixed at start-up, so every tab shares the build's (it only guards a server against
// keys crafted to collide).
// Usage: node build/make_snapshot.mjs <agentdb.zip> <python.snapshot>   (build/build_site.py runs it)
import { readFileSync, writeFileSync } from "node:fs";
import { loadPyodide } from "../web/node_modules/pyodide/pyodide.mjs";

const [zipPath, outPath] = process.argv.slice(2);
const pyodide = await loadPyodide({ _makeSnapshot: true });
pyodide.unpackArchive(new Uint8Array(readFileSync(zipPath)), "zip", { extractDir: "/home/pyodide/pkgs" });
pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/pkgs'); import agentdb.worker_api");
writeFileSync(outPath, pyodide.makeMemorySnapshot());
