"""Assembles the static site in web/dist (git-ignored): the pages from web/ and kernel.wasm.

Usage: python build/build_site.py   (builds kernel.wasm first if it is missing)
"""
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import abi  # noqa: E402
import build_wasm  # noqa: E402

WEB = abi.ROOT / "web"
DIST = WEB / "dist"


def build():
    if DIST.exists():
        shutil.rmtree(DIST)
    DIST.mkdir(parents=True)
    for path in WEB.iterdir():
        if path.is_file() and path.suffix in (".html", ".js", ".css", ".webmanifest"):
            shutil.copy2(path, DIST / path.name)
    wasm = build_wasm.DEFAULT_OUT if build_wasm.DEFAULT_OUT.exists() else build_wasm.build()
    shutil.copy2(wasm, DIST / "kernel.wasm")
    return DIST


if __name__ == "__main__":
    print(build())
