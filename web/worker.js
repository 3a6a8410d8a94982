// The agentdb worker: Pyodide and the stores live here, so the page never blocks.
// Messages: {id, op, args, buffer?} in; {id, ok: true, value} or {id, ok: false, error: {name, message}} out;
// {progress: {stage, done, total}} events carry no id.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const ready = (async () => {
  postMessage({ progress: { stage: "runtime", done: 0, total: 3 } });
  const pyodide = await loadPyodide({ indexURL: new URL("./pyodide/", import.meta.url).href });
  postMessage({ progress: { stage: "package", done: 1, total: 3 } });
  const zip = await (await fetch(new URL("./agentdb.zip", import.meta.url))).arrayBuffer();
  pyodide.unpackArchive(new Uint8Array(zip), "zip", { extractDir: "/home/pyodide/pkgs" });
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/pkgs')");
  const handle = pyodide.pyimport("agentdb.worker_api").handle;
  postMessage({ progress: { stage: "ready", done: 3, total: 3 } });
  return { pyodide, handle };
})();

function errorOf(err) {
  // a Python exception arrives as PythonError whose message ends with "ClassName: text"
  const text = String(err && err.message || err);
  const m = text.match(/\n?(\w+(?:Error|Exception|Warning)): ([^\n]*)\n?$/);
  return m ? { name: m[1], message: m[2] } : { name: err && err.name || "Error", message: text };
}

self.onmessage = async (event) => {
  const { id, op, args, buffer } = event.data;
  try {
    const { pyodide, handle } = await ready;
    if (op === "runPython") {          // tests and the demo's console: run code, return its JSON value
      const value = await pyodide.runPythonAsync(args.code);
      postMessage({ id, ok: true, value: value === undefined ? null : String(value) });
      return;
    }
    const out = handle(op, JSON.stringify(args), buffer === undefined ? undefined : buffer);
    if (typeof out === "string") {
      postMessage({ id, ok: true, value: JSON.parse(out) });
    } else {
      const bytes = out.toJs();    // exportRvf: bytes -> Uint8Array (one copy), transferred
      out.destroy();
      postMessage({ id, ok: true, value: bytes }, [bytes.buffer]);
    }
  } catch (err) {
    postMessage({ id, ok: false, error: errorOf(err) });
  }
};
