"""The browser's agentdb.zip carries bytecode compiled by the served Pyodide, so a cold start
imports the package without compiling it; the same sources give the same zip."""
import json
import struct
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build"))
import build_site  # noqa: E402
import package_zip  # noqa: E402


def _pyodide_python():
    lock = json.loads((build_site.PYODIDE / "pyodide-lock.json").read_text())
    return lock["info"]["python"]          # e.g. "3.14.0"


def test_every_module_has_unchecked_bytecode_for_the_served_python(tmp_path):
    zip_path = package_zip.build(tmp_path / "agentdb.zip")
    build_site.add_bytecode(zip_path)
    tag = "cpython-" + "".join(_pyodide_python().split(".")[:2])
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        sources = [n for n in names if n.endswith(".py")]
        assert len(sources) > 40
        for src in sources:
            folder, _, module = src.rpartition("/")
            pyc = f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc"
            assert pyc in names, pyc
            flags = struct.unpack_from("<I", zf.read(pyc), 4)[0]
            assert flags == 0b01, (pyc, flags)     # hash-based, source never checked
    first = zip_path.read_bytes()
    build_site.add_bytecode(package_zip.build(zip_path))
    assert zip_path.read_bytes() == first
