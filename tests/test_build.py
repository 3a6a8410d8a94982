"""The ABI is written once (csrc/agentdb_kernel.h): both builds must expose exactly it."""
import sys
from pathlib import Path

import wasmtime

from agentdb.kernel import _native
from agentdb.kernel.wasmhost import WASM_PATH

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build"))
import abi  # noqa: E402


def test_wasm_exports_exactly_the_header():
    module = wasmtime.Module.from_file(wasmtime.Engine(), str(WASM_PATH))
    funcs = {e.name for e in module.exports if isinstance(e.type, wasmtime.FuncType)}
    assert funcs == set(abi.function_names())
    assert {e.name for e in module.exports} >= {"memory", "__heap_base"}


def test_native_extension_has_every_function_and_constant():
    for name in abi.function_names():
        assert callable(getattr(_native.lib, name)), name
    for name, value in abi.constants().items():
        assert getattr(_native.lib, name) == value


def test_wasm_is_freestanding():
    module = wasmtime.Module.from_file(wasmtime.Engine(), str(WASM_PATH))
    assert list(module.imports) == []  # no libc, no host functions


def test_python_error_codes_match_the_header():
    from agentdb.kernel import codes as kernel_codes

    codes = {v: k for k, v in abi.constants().items() if k.startswith("AGK_E_")}
    assert set(kernel_codes.CODES) == set(codes) and codes[kernel_codes.E_NONFINITE] == "AGK_E_NONFINITE"
    assert kernel_codes.PQ_TABLE_WIDTH == 256 and kernel_codes.I8_MAX_DIM == 32768


def test_test_modules_have_unique_basenames():
    # tests/ and e2e/ are not packages and .ci/run collects both in one pytest run, so two
    # modules with one basename stop the whole suite at collection
    names = [p.name for d in ("tests", "e2e") for p in (ROOT / d).glob("test_*.py")]
    assert sorted(names) == sorted(set(names))


def test_browser_zip_leaves_out_the_native_only_subpackages(tmp_path):
    import zipfile

    import package_zip

    names = zipfile.ZipFile(package_zip.build(tmp_path / "agentdb.zip")).namelist()
    assert "agentdb/store/store.py" in names and "agentdb/kernel/kernel.wasm" in names
    assert not [n for n in names if n.split("/")[1] in ("mcp", "cluster")]
