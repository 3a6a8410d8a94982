"""The agentdb command line: a thin layer over the library. Output is JSON on stdout; progress
on long work goes to stderr. Exit status 0 on success, 1 when `verify` finds damage, 2 on an
error (the message names it).

    agentdb create notes.rvf --dim 384 [--metric cosine] [--index hnsw|flat] [--compression none|scalar|product]
                   [--exist-ok]      (an existing file is refused unless --exist-ok)
    agentdb --version
    agentdb ingest notes.rvf data.jsonl|data.npy|data.csv [--batch 10000] [--first-id 0] [--dim N] [--metric m]
                  (a missing store is created: dim from --dim, else from the first vector)
    agentdb query notes.rvf --vector '[0.1, ...]' | --vector-file q.npy | --text 'words' [-k 10]
                  [--where '{"kind": "note"}'] [--exact]     (--text: embedded by the store's recorded embedder)
    agentdb inspect notes.rvf          segments, counts, lineage, options
    agentdb verify notes.rvf [--public-key HEX]   checksums, SHA-256 seals, their chain, signatures
    agentdb compact notes.rvf
    agentdb derive notes.rvf child.rvf [--kind snapshot|filter] [--where '{"kind": "note"}']
    agentdb freeze notes.rvf            read-only for good (a reopen stays frozen)
    agentdb export notes.rvf out.jsonl  {"id", "vector", "metadata"} per line (cosine: the unit-length rows)
    agentdb import notes.rvf in.jsonl   the same lines back (an alias of ingest), into a new or existing store
    agentdb mcp agent.rvf [--readonly] [--http 127.0.0.1:PORT] [--embedder minilm|hash] [--dim N]
                  a Model Context Protocol server over the memory (agentdb.mcp; stdio unless --http)

Input formats: JSONL lines {"id": ..., "vector": [...], "metadata": {...}} (other keys become
metadata too); .npy float arrays of shape (n, dim) with ids first-id, first-id + 1, ...; CSV with
an "id" column, vector columns named v0, v1, ... and any other column as metadata.
"""
import argparse
import csv
import itertools
import json
import os
import sys

from . import __version__
from . import open as open_store
from .errors import AgentDBError, ArgumentError, DimensionError, EmbedderError
from .rvf import read as read_rvf
from .rvf import segments as seg


def _print(value):
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def _progress(done):
    sys.stderr.write(f"\r{done:,} vectors ingested")
    sys.stderr.flush()


def _rows_progress(done, total):
    sys.stderr.write(f"\r{done:,}{f' of {total:,}' if total else ''} rows")
    sys.stderr.flush()


def _records_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                ident, vector = obj.pop("id"), obj.pop("vector")
            except (ValueError, KeyError) as exc:
                raise ArgumentError(f"{path}, line {n}: expected a JSON object with 'id' and 'vector' ({exc})") from None
            meta = obj.pop("metadata", {})
            yield ident, vector, {**obj, **meta}


def _records_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        vcols = sorted((c for c in reader.fieldnames or () if c[:1] == "v" and c[1:].isdigit()), key=lambda c: int(c[1:]))
        if "id" not in (reader.fieldnames or ()) or not vcols:
            raise ArgumentError(f"{path}: a CSV needs an 'id' column and vector columns v0, v1, ...")
        for row in reader:
            ident = row.pop("id")
            ident = int(ident) if ident.isdigit() else ident
            vector = [float(row.pop(c)) for c in vcols]
            yield ident, vector, {k: _scalar(v) for k, v in row.items()}


def _scalar(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _records_npy(path, first_id):
    import numpy as np   # native only, and only for .npy input

    x = np.load(path)
    if x.ndim != 2:
        raise DimensionError(f"{path}: expected an array of shape (n, dim), got {x.shape}")
    for i, row in enumerate(x.astype("float32")):
        yield first_id + i, row, {}


def _records(path, first_id):
    """(id, vector, metadata) of each row of a .npy, .csv or .jsonl file, lazily."""
    if path.endswith(".npy"):
        return _records_npy(path, first_id)
    if path.endswith(".csv"):
        return _records_csv(path)
    return _records_jsonl(path)


def _ingest_file(args):
    """ingest / import: into the store, created when missing (dim from --dim, else from the
    first vector of the source)."""
    records = iter(_records(args.source, args.first_id))
    first = next(records, None)
    if first is not None:
        records = itertools.chain([first], records)
    options = {}
    if not os.path.exists(args.path) or os.path.getsize(args.path) == 0:
        dim = args.dim or (len(first[1]) if first is not None else None)
        if dim is None:
            raise ArgumentError(f"{args.path} does not exist and {args.source} holds no vector: pass --dim to create it")
        options = {"dim": dim, "metric": args.metric or "cosine"}
    elif args.dim is not None or args.metric is not None:
        options = {"dim": args.dim, "metric": args.metric}      # checked against the file's
    with open_store(args.path, **options) as db:
        n = _ingest(db, records, args.batch)
        return {"ingested": n, "count": len(db)}


def _ingest(db, records, batch):
    total = 0
    chunk = []

    def flush():
        nonlocal total, chunk
        if chunk:
            db.ingest([r[0] for r in chunk], [list(map(float, r[1])) for r in chunk], metadata=[r[2] for r in chunk])
            total += len(chunk)
            _progress(total)
            chunk = []

    for record in records:
        chunk.append(record)
        if len(chunk) >= batch:
            flush()
    flush()
    if total:
        sys.stderr.write("\n")
    return total


def export_records(db, out, *, progress=None):
    """Writes {"id", "vector", "metadata"} per line (vectors as stored) to the path out;
    returns how many. progress(done, total) every 10000 lines."""
    ids = db.ids()
    with open(out, "w", encoding="utf-8") as fh:
        for n, ident in enumerate(ids, 1):
            rec = db.get(ident)
            fh.write(json.dumps({"id": ident, "vector": list(rec.vector), "metadata": rec.metadata}) + "\n")
            if progress is not None and (n % 10_000 == 0 or n == len(ids)):
                progress(n, len(ids))
    return len(ids)


def _inspect(path):
    from .kernel import load

    with open(path, "rb") as fh:
        data = fh.read()
    contents = read_rvf(load(), data)
    return {
        "path": path, "bytes": len(data), "dim": contents.dim, "metric": contents.metric, "epoch": contents.epoch,
        "live_vectors": len(contents.ids), "deleted_ids": len(contents.deleted), "profile": contents.profile,
        "file_id": contents.identity.file_id.hex(), "parent_id": contents.identity.parent_id.hex(),
        "lineage_depth": contents.identity.depth, "options": contents.options,
        "metadata_records": len(contents.records), "seals": len(contents.seals),
        "embedded": sorted(seg.type_name(t) for t in contents.containers),
        "segments": [{"type": s.name, "id": s.seg_id, "offset": s.offset, "payload_bytes": s.payload_length}
                     for s in contents.segments],
    }


def _verify(path, public_key):
    """Every check of rvf.verify: checksums, seals, their chain and signatures."""
    from .kernel import load
    from .persist.files import writer_active
    from .rvf import verify

    active = writer_active(path)          # before reading: a commit may be under way
    with open(path, "rb") as fh:
        data = fh.read()
    key = bytes.fromhex(public_key) if public_key else None
    return {"path": path, **verify(load(), data, public_key=key, writer_active=active)}


def _text_vector(db, text):
    """The store's own embedding of a text, by the embedder it records (MiniLM or the hashing
    one; a store of another model's vectors is queried with --vector)."""
    from .embed import embedder_for

    if db.embedder is None:
        raise EmbedderError("this store has no recorded embedder, so no text can be embedded like its vectors; "
                            "query it with --vector")
    try:
        return embedder_for(db.embedder, kernel=db.kernel).embed([text])
    except EmbedderError as exc:
        raise type(exc)(f"{exc} (or query it with --vector: the model's embedding of your text)") from None


def _exchange(args):
    """export-model, import-model, export-dataset, import-dataset (agentdb.io)."""
    from . import io as aio
    from .io.transfer import model_bytes, model_from_bytes

    if args.command in ("export-dataset", "import-dataset"):
        import agentdb.memory

        fmt = _format_of(args.out if args.command == "export-dataset" else args.source, args.format,
                         DATASET_SUFFIXES, "dataset")
        with agentdb.memory.open(args.path, readonly=args.command == "export-dataset") as mem:
            if args.command == "import-dataset":
                return aio.import_dataset(mem, args.source, format=fmt, replace=args.replace, progress=_rows_progress)
            kinds = tuple(k.strip() for k in args.kinds.split(",")) if args.kinds else None
            counts = aio.export_dataset(mem, args.out, format=fmt, progress=_rows_progress,
                                        **({"kinds": kinds} if kinds else {}))
            return {"out": args.out, "format": fmt, **counts}
    if args.command == "export-model":
        fmt = _format_of(args.out, args.format, MODEL_SUFFIXES, "model")
        with open_store(args.path, readonly=True) as db:
            data = model_bytes(aio.from_memory(db), fmt, align=args.align, base_model=args.base_model)
        with open(args.out, "wb") as fh:
            fh.write(data)
        return {"out": args.out, "format": fmt, "bytes": len(data)}
    with open(args.source, "rb") as fh:
        data = fh.read()
    with open_store(args.path) as db:
        return aio.to_memory(model_from_bytes(data, kernel=db.kernel), db, replace=args.replace)


def _json_option(text, option, expected):
    """A JSON option's value; a parse error names the option and what it expects."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"{option} is not valid JSON ({exc.msg} at column {exc.colno} of {text[:60]!r}); "
                            f"expected {expected}") from None


COMMANDS = ("create", "ingest", "import", "query", "inspect", "verify", "compact", "derive", "freeze", "export",
            "export-model", "import-model", "export-dataset", "import-dataset", "mcp")
MODEL_SUFFIXES = {".safetensors": "safetensors", ".json": "json", ".bin": "binary", ".zip": "huggingface"}
DATASET_SUFFIXES = {".jsonl": "jsonl", ".csv": "csv", ".txt": "pretrain"}


def _format_of(path, given, suffixes, what):
    """--format, else the one the file name's suffix names."""
    if given:
        return given
    fmt = suffixes.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise ArgumentError(f"cannot tell the {what} format from {path!r}: pass --format "
                            f"({', '.join(f'{k} for {v}' for k, v in suffixes.items())})")
    return fmt


def parser():
    """The command line's argparse parser (every option with its help)."""
    ap = argparse.ArgumentParser(prog="agentdb", description="agentdb: vector memory in .rvf files")
    ap.add_argument("--version", action="version", version=f"agentdb {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create", help="create an empty store file")
    p.add_argument("path")
    p.add_argument("--dim", type=int, required=True, help="the vectors' dimension, 1..65535 (required)")
    p.add_argument("--metric", default="cosine", help="cosine (default), dot or l2")
    p.add_argument("--index", default="hnsw", help="hnsw (default: a graph) or flat (exact scans)")
    p.add_argument("--compression", default="none", help="none (default), scalar (int8) or product (PQ)")
    p.add_argument("--exist-ok", action="store_true", help="open an existing file as it is instead of refusing")
    for name, help_text in (("ingest", "add vectors from .jsonl, .npy or .csv"), ("import", "ingest a .jsonl export")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("path")
        p.add_argument("source")
        p.add_argument("--batch", type=int, default=10_000, help="vectors per commit (default 10000)")
        p.add_argument("--first-id", type=int, default=0, help="id of the first row of a .npy file (default 0)")
        p.add_argument("--dim", type=int, help="dimension, when the store is created (default: the first vector's)")
        p.add_argument("--metric", help="cosine (default), dot or l2, when the store is created")
    p = sub.add_parser("query", help="nearest neighbours of a vector")
    p.add_argument("path")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--vector", help="a JSON list of floats")
    group.add_argument("--vector-file", help="a .npy file holding one vector")
    group.add_argument("--text", help="a text, embedded by the embedder the store records (MiniLM or the hashing one)")
    p.add_argument("-k", type=int, default=10, help="how many hits (default 10)")
    p.add_argument("--where", help="""a JSON metadata filter, e.g. '{"kind": "note"}'""")
    p.add_argument("--exact", action="store_true", help="scan every row instead of walking the graph")
    for name, help_text in (("inspect", "segments, counts, lineage and options"),
                            ("compact", "drop deleted vectors"), ("freeze", "make the file read-only for good")):
        sub.add_parser(name, help=help_text).add_argument("path")
    p = sub.add_parser("verify", help="check every segment's checksum and SHA-256 seal, and the signatures")
    p.add_argument("path")
    p.add_argument("--public-key", help="hex Ed25519 public key every commit must be signed by")
    p = sub.add_parser("derive", help="a child file recorded as this one's lineage")
    p.add_argument("path")
    p.add_argument("child")
    p.add_argument("--kind", choices=("snapshot", "filter"), default="snapshot",
                   help="snapshot (default: every live vector) or filter (those matching --where)")
    p.add_argument("--where", help="a JSON metadata filter (--kind filter)")
    p = sub.add_parser("export", help="write {id, vector, metadata} lines (a cosine store's vectors as stored: "
                                      "unit length)")
    p.add_argument("path")
    p.add_argument("out", help="the .jsonl file to write")
    p = sub.add_parser("export-model", help="what the store learned (adapters, EWC, patterns) to a model file")
    p.add_argument("path")
    p.add_argument("out", help="the file to write (.safetensors, .json, .bin, .zip: the format, unless --format)")
    p.add_argument("--format", choices=("safetensors", "json", "binary", "huggingface", "peft"),
                   help="safetensors, json, binary, huggingface or peft (both zips)")
    p.add_argument("--align", type=int, help="64: tensors on 64-byte boundaries (safetensors)")
    p.add_argument("--base-model", help="a PEFT adapter's base_model_name_or_path")
    p = sub.add_parser("import-model", help="put a model file's adapters and patterns into the store")
    p.add_argument("path")
    p.add_argument("source", help="a model file in any export format (told by its bytes)")
    p.add_argument("--replace", action="store_true", help="overwrite adapters and patterns of the same names")
    p = sub.add_parser("export-dataset", help="the memory's episodes, feedback and triplets to a dataset file")
    p.add_argument("path")
    p.add_argument("out", help="the file to write (.jsonl, .csv, .txt for pre-training text, unless --format)")
    p.add_argument("--format", choices=("jsonl", "csv", "pretrain"), help="jsonl, csv or pretrain (text)")
    p.add_argument("--kinds", help="comma-separated: episode, feedback, triplet (default: all)")
    p = sub.add_parser("import-dataset", help="a dataset file's records into the memory (one commit)")
    p.add_argument("path")
    p.add_argument("source", help="a .jsonl, .csv or pre-training .txt dataset")
    p.add_argument("--format", choices=("jsonl", "csv", "pretrain"), help="jsonl, csv or pretrain (text)")
    p.add_argument("--replace", action="store_true", help="overwrite records with the same ids")
    p = sub.add_parser("mcp", help="serve the memory to MCP clients (stdio, or HTTP with --http)")
    p.add_argument("path", help="the .rvf file (created when missing)")
    p.add_argument("--readonly", action="store_true", help="open without the lock, beside a writer; no writing tools")
    p.add_argument("--http", metavar="HOST:PORT", help="serve HTTP instead of stdio: streamable HTTP at http://HOST:PORT/mcp, HTTP+SSE at /sse")
    p.add_argument("--embedder", choices=("minilm", "hash"), help="a new file's embedder: minilm (default) or hash")
    p.add_argument("--dim", type=int, help="the hash embedder's dimension (default 384)")
    return ap


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:      # the reader went away (| head): finish quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (AgentDBError, ValueError, TypeError, KeyError, OSError) as exc:
        sys.stderr.write(f"agentdb {args.command}: {type(exc).__name__}: {exc}\n")
        return 2


def _run(args):
    if args.command == "create":
        if not args.exist_ok and os.path.exists(args.path) and os.path.getsize(args.path) > 0:
            raise ArgumentError(f"{args.path} already exists; pass --exist-ok to open it as it is")
        with open_store(args.path, dim=args.dim, metric=args.metric, index=args.index,
                        compression=args.compression) as db:
            _print(db.status())
    elif args.command in ("ingest", "import"):
        _print(_ingest_file(args))
    elif args.command == "query":
        if args.vector_file:
            import numpy as np

            vector = np.load(args.vector_file).astype("float32").ravel()
        elif args.vector is not None:
            vector = _json_option(args.vector, "--vector", "a JSON list of numbers, e.g. '[0.1, 0.2]'")
        with open_store(args.path, readonly=True) as db:
            if args.text is not None:
                vector = _text_vector(db, args.text)
            where = _json_option(args.where, "--where", "a JSON filter object") if args.where else None
            res = db.query(vector, k=args.k, where=where, exact=args.exact)
            _print([{"id": h.id, "score": h.score, "metadata": h.metadata} for h in res])
    elif args.command == "inspect":
        _print(_inspect(args.path))
    elif args.command == "verify":
        report = _verify(args.path, args.public_key)
        _print(report)
        return 0 if report["ok"] else 1
    elif args.command == "compact":
        with open_store(args.path) as db:
            _print(db.compact())
    elif args.command == "derive":
        with open_store(args.path, readonly=True) as db:
            where = _json_option(args.where, "--where", "a JSON filter object") if args.where else None
            child = db.derive(args.child, kind=args.kind, where=where)
            _print({"child": args.child, "count": len(child), "file_id": child.file_id, "parent_id": child.parent_id,
                    "lineage_depth": child.lineage_depth})
            child.close()
    elif args.command == "freeze":
        with open_store(args.path) as db:
            _print({"frozen": True, "epoch": db.freeze()})
    elif args.command in ("export-model", "import-model", "export-dataset", "import-dataset"):
        _print(_exchange(args))
    elif args.command == "export":
        with open_store(args.path, readonly=True) as db:
            _print({"exported": export_records(db, args.out), "out": args.out})
    elif args.command == "mcp":
        from .mcp import serve

        return serve(args.path, readonly=args.readonly, http=args.http, embedder=args.embedder, dim=args.dim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
