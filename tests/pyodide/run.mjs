// Runs a Python script inside the real Pyodide runtime (web/node_modules/pyodide) with the
// agentdb package zip unpacked, as the browser worker does. Prints what the script prints.
// Usage: node run.mjs <agentdb.zip> <script.py> [stdin-json-file]
// Env AGENTDB_MODEL_DIR, XDG_CACHE_HOME: host folders mounted (NODEFS) for the script.
import { readFileSync } from "node:fs";
import { loadPyodide } from "../../web/node_modules/pyodide/pyodide.mjs";

const [zipPath, scriptPath] = process.argv.slice(2);
const pyodide = await loadPyodide({ stdout: (s) => console.log(s), stderr: (s) => console.error(s) });
pyodide.unpackArchive(new Uint8Array(readFileSync(zipPath)), "zip", { extractDir: "/home/pyodide/pkgs" });
pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/pkgs')");
// host folders the script may read (the model, the int8 model's cache) at the same paths
for (const name of ["AGENTDB_MODEL_DIR", "XDG_CACHE_HOME"]) {
  const dir = process.env[name];
  if (!dir) continue;
  pyodide.FS.mkdirTree(dir);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: dir }, dir);
  pyodide.runPython(`import os; os.environ[${JSON.stringify(name)}] = ${JSON.stringify(dir)}`);
}
try {
  await pyodide.runPythonAsync(readFileSync(scriptPath, "utf8"));
} catch (err) {
  console.error(String(err));
  process.exit(1);
}
