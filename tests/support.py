"""Helpers shared by the tests (kept out of conftest.py so test modules can import them)."""
import os

import numpy as np

HOST_BACKENDS = ("native", "wasmhost")
SEED = int(os.environ.get("AGENTDB_TEST_SEED", "20261125"))


def f32(a):
    return np.asarray(a, dtype=np.float32)


def bits(a):
    """The exact bits of a float32 result, for bit-identity checks."""
    return np.frombuffer(memoryview(a).cast("B"), dtype=np.uint32).copy()
