"""Zips the pure-Python agentdb package (with kernel.wasm) for Pyodide's unpackArchive.

Usage: python build/package_zip.py OUT.zip. Leaves out the native extension and caches: in
the browser the kernel is kernel.wasm, and nothing may import numpy or cffi. Leaves out the
native-only subpackages too (the MCP server and the Ray cluster: no stdio, sockets or Ray in a
page).
"""
import pathlib
import sys
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402
import build_wasm  # noqa: E402

PACKAGE = abi.ROOT / "py" / "agentdb"
NATIVE_ONLY = ("mcp", "cluster")


def build(out):
    if not build_wasm.DEFAULT_OUT.exists():
        build_wasm.build()
    out = pathlib.Path(out)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE.rglob("*")):
            inside = path.relative_to(PACKAGE)
            if inside.parts[0] in NATIVE_ONLY:
                continue
            if path.is_file() and (path.suffix == ".py" or path.name == "kernel.wasm"):
                zf.write(path, pathlib.PurePosixPath("agentdb", inside.as_posix()))
    return out


if __name__ == "__main__":
    print(build(sys.argv[1]))
