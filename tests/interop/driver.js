// Drives a real @ruvector/rvf-node build for tests/test_rvf_interop.py.
// Usage: node driver.js <package> '<json steps>'; prints one JSON result per step.
const pkg = process.argv[2];
const { RvfDatabase } = require(pkg);
const steps = JSON.parse(process.argv[3]);
let db = null;
const out = [];
for (const s of steps) {
  switch (s.op) {
    case "create": db = RvfDatabase.create(s.path, { dimension: s.dim, metric: s.metric || "l2", profile: s.profile || 0 }); out.push(null); break;
    case "open": db = RvfDatabase.open(s.path); out.push(null); break;
    case "openReadonly": db = RvfDatabase.openReadonly(s.path); out.push(null); break;
    case "ingest": out.push(db.ingestBatch(new Float32Array(s.vectors), s.ids)); break;
    case "delete": out.push(db.delete(s.ids)); break;
    case "compact": out.push(db.compact()); break;
    case "query": out.push(db.query(new Float32Array(s.vector), s.k, {})); break;
    case "status": out.push(db.status()); break;
    case "segments": out.push(db.segments()); break;
    case "lineage": out.push({ fileId: db.fileId(), parentId: db.parentId(), depth: db.lineageDepth() }); break;
    case "close": db.close(); db = null; out.push(null); break;
    case "ingestRaw": {   // float32 rows from a raw file, in batches; reports the seconds it took
      const raw = require("fs").readFileSync(s.file);
      const all = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
      const t = process.hrtime.bigint();
      for (let start = 0; start < s.n; start += s.batch) {
        const end = Math.min(s.n, start + s.batch);
        const ids = Array.from({ length: end - start }, (_, i) => start + i + 1);
        db.ingestBatch(all.subarray(start * s.dim, end * s.dim), ids);
      }
      out.push(Number(process.hrtime.bigint() - t) / 1e9);
      break;
    }
    case "timedOpen": {   // seconds to open read-only, and to answer the first query (if asked)
      let t = process.hrtime.bigint();
      db = RvfDatabase.openReadonly(s.path);
      const open = Number(process.hrtime.bigint() - t) / 1e9;
      t = process.hrtime.bigint();
      if (s.vector) db.query(new Float32Array(s.vector), 1, {});
      out.push({ open, query: s.vector ? Number(process.hrtime.bigint() - t) / 1e9 : null });
      break;
    }
    case "embedKernel": out.push(db.embedKernel(s.arch, s.kernelType, s.flags, new Uint8Array(s.image), s.apiPort, s.cmdline)); break;
    case "embedEbpf": out.push(db.embedEbpf(s.programType, s.attachType, s.maxDimension, new Uint8Array(s.bytecode),
                                            s.btf ? new Uint8Array(s.btf) : undefined)); break;
    case "extractKernel": { const k = db.extractKernel(); out.push(k && { header: Array.from(k.header), image: Array.from(k.image) }); break; }
    case "extractEbpf": { const e = db.extractEbpf(); out.push(e && { header: Array.from(e.header), payload: Array.from(e.payload) }); break; }
    default: throw new Error("unknown op " + s.op);
  }
}
if (db) db.close();
process.stdout.write(JSON.stringify(out));
