"""Build steps that pyproject.toml cannot declare: the cffi kernel and kernel.wasm."""
import pathlib
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent


class BuildWithWasm(build_py):
    """Also compiles kernel.wasm into the package when clang is present (the wasmhost and
    browser backends need it; the native backend does not)."""

    def run(self):
        super().run()
        sys.path.insert(0, str(ROOT / "build"))
        import build_wasm

        if not any(shutil.which(c) for c in ("clang", "clang-14", "clang-15", "clang-16")):
            self.announce("clang not found: kernel.wasm not built (apt-get install -y clang lld)", level=3)
            return
        build_wasm.build(ROOT / "py" / "agentdb" / "kernel" / "kernel.wasm")
        target = pathlib.Path(self.build_lib) / "agentdb" / "kernel" / "kernel.wasm"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "py" / "agentdb" / "kernel" / "kernel.wasm", target)


setup(
    cffi_modules=["build/build_native.py:ffibuilder"],
    cmdclass={"build_py": BuildWithWasm},
)
