"""Zips the pure-Python agentdb package (with kernel.wasm) for Pyodide's unpackArchive.

Usage: python build/package_zip.py OUT.zip. Leaves out the native extension and caches: in
the browser the kernel is kernel.wasm, and nothing may import numpy or cffi.
"""
import pathlib
import sys
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402
import build_wasm  # noqa: E402

PACKAGE = abi.ROOT / "py" / "agentdb"


def build(out):
    if not build_wasm.DEFAULT_OUT.exists():
        build_wasm.build()
    out = pathlib.Path(out)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and (path.suffix == ".py" or path.name == "kernel.wasm"):
                zf.write(path, pathlib.PurePosixPath("agentdb", path.relative_to(PACKAGE).as_posix()))
    return out


if __name__ == "__main__":
    print(build(sys.argv[1]))
