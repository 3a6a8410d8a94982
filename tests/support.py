"""Helpers shared by the tests (kept out of conftest.py so test modules can import them)."""
import os
import shutil
import tempfile

import numpy as np

HOST_BACKENDS = ("native", "wasmhost")
SEED = int(os.environ.get("AGENTDB_TEST_SEED", "20261125"))


def f32(a):
    return np.asarray(a, dtype=np.float32)


def bits(a):
    """The exact bits of a float32 result, for bit-identity checks."""
    return np.frombuffer(memoryview(a).cast("B"), dtype=np.uint32).copy()


MINILM_SHAPES = ((384, 1152), (384, 1536), (384, 384), (1536, 384))   # (k, n) of its Linears


def dense_outputs(kernel, seed, tokens=200):
    """Every dense-layer op on MiniLM's shapes (tokens rows) and odd ones, as name -> bits:
    backends and ISA levels must agree on all of them."""
    rng = np.random.default_rng(seed)
    out = {}
    shapes = [*MINILM_SHAPES, (1, 1), (17, 33), (200, 31), (450, 17)]
    for k, n in shapes:
        m = tokens if (k, n) in MINILM_SHAPES else int(rng.integers(1, 40))
        a = f32(rng.standard_normal((m, k)))
        w, bias = f32(rng.standard_normal((k, n)) / np.sqrt(k)), f32(rng.standard_normal(n))
        wq, scale = rng.integers(-127, 128, (k, n)).astype(np.int8), f32(rng.random(n) / 127)
        act = "gelu" if n == 1536 or n == 33 else None
        packed = kernel.pack_gemm(w, k=k, n=n)
        out[f"gemm {m}x{k}x{n}"] = bits(kernel.gemm(a, packed, k=k, n=n, bias=bias, act=act))
        out[f"gemm_i8 {m}x{k}x{n}"] = bits(kernel.gemm_i8(a, kernel.pack_gemm(wq, k=k, n=n), scale, k=k, n=n,
                                                           bias=bias, act=act))
    x = f32(rng.standard_normal((tokens, 384)) * 3)
    res = f32(rng.standard_normal((tokens, 384)))
    gamma, beta = f32(rng.standard_normal(384)), f32(rng.standard_normal(384))
    out["gelu_erf"] = bits(kernel.gelu_erf(x))
    out["layer_norm_rows"] = bits(kernel.layer_norm_rows(x, dim=384, gamma=gamma, beta=beta, residual=res))
    lengths = [tokens - 60, 0, 1, 17, 42]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.uint32)
    qkv = f32(rng.standard_normal((int(offsets[-1]), 1152)))
    ctx = kernel.attention(qkv, offsets, heads=12, head_dim=32)
    out["attention"] = bits(ctx)
    out["mean_pool"] = bits(kernel.mean_pool(ctx, offsets, dim=384))
    return out


def assert_same_dense_bits(kernel, other, seed):
    """Every dense op of dense_outputs gives the same bits on both kernels; returns the names."""
    got, want = dense_outputs(kernel, seed), dense_outputs(other, seed)
    assert got.keys() == want.keys()
    for name in got:
        assert np.array_equal(got[name], want[name]), name
    return got.keys()


def assert_same_outputs(outputs, kernel, other, seed):
    """outputs(kernel, seed) and outputs(other, seed), dicts of name -> bits, agree name by name."""
    got, want = outputs(kernel, seed), outputs(other, seed)
    assert got.keys() == want.keys()
    for name in want:
        assert np.array_equal(got[name], want[name]), name


def arr(x, shape=None):
    """A float32 buffer as a float64 numpy array (reshaped when shape is given)."""
    a = np.frombuffer(memoryview(x).cast("B"), dtype=np.float32).astype(np.float64)
    return a if shape is None else a.reshape(shape)


def rel(got, want):
    """Norm-wise relative error (0 when both are zero): the measure every gradient check uses."""
    got, want = np.ravel(got).astype(np.float64), np.ravel(want).astype(np.float64)
    scale = np.linalg.norm(want)
    return np.linalg.norm(got - want) / scale if scale else float(np.linalg.norm(got))


class StoreMachine:
    """What the Hypothesis state machines over a store share (mixed into a
    RuleBasedStateMachine): the backend and home chosen by the subclass, a folder of their own
    for a file store (a state machine gets no tmp_path), reopening, and the cleanup."""
    backend = "native"
    on_file = False

    def open_store(self, prefix, filename, **options):
        import agentdb

        self.kernel = agentdb.kernel.load(self.backend)
        self.folder = tempfile.mkdtemp(prefix=prefix) if self.on_file else None
        self.path = os.path.join(self.folder, filename) if self.on_file else None
        self.db = agentdb.open(self.path, kernel=self.kernel, **options)

    def reopen_store(self):
        """In memory: to_bytes() then open_bytes(); a file: close, then agentdb.open again
        (the options come back from the store, not from here)."""
        import agentdb

        if self.path is None:
            old = self.db
            self.db = agentdb.open_bytes(old.to_bytes(), kernel=self.kernel)
            old.close()
        else:
            self.db.close()
            self.db = agentdb.open(self.path, kernel=self.kernel)

    def teardown(self):
        self.db.close()
        if self.folder is not None:
            shutil.rmtree(self.folder)


def run_in_pyodide(script, tmp_path):
    """What the script prints last (parsed as JSON) when run in the real Pyodide (Node) over
    the package zip, as the browser worker runs it; fails when Pyodide is not installed."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import pytest

    root = Path(__file__).resolve().parent.parent
    if shutil.which("node") is None or not (root / "web" / "node_modules" / "pyodide").exists():
        pytest.fail("Pyodide is not installed: run build/setup.sh (npm install in web/)")
    sys.path.insert(0, str(root / "build"))
    import package_zip

    bundle = package_zip.build(Path(tmp_path) / "agentdb.zip")
    done = subprocess.run(["node", str(root / "tests" / "pyodide" / "run.mjs"), str(bundle), str(script)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
