"""Shared fixtures: every kernel test runs on every backend, and a backend that cannot load
is a failure, not a skip (CI must prove both). Seeds are fixed; AGENTDB_TEST_SEED overrides."""
import sys
from pathlib import Path

import numpy as np
import pytest

from agentdb.kernel import load
from support import HOST_BACKENDS, SEED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "build"))
from isa_kernel import LEVELS, cpu_has, load_level  # noqa: E402


@pytest.fixture(params=HOST_BACKENDS)
def kernel(request):
    return load(request.param)


@pytest.fixture(scope="session", params=list(LEVELS))
def level_kernel(request, tmp_path_factory):
    """The kernel built for one native ISA level (built once per run: ~15 s each)."""
    level = request.param
    if not cpu_has(level):
        pytest.skip(f"this CPU cannot run {level}")
    kernel = load_level(level, tmp_path_factory.mktemp(level))
    assert kernel.isa == level
    return kernel


@pytest.fixture
def native():
    return load("native")


@pytest.fixture
def wasmhost():
    return load("wasmhost")


@pytest.fixture
def rng(request):
    # one stream per test, stable across runs and independent of test order
    return np.random.default_rng([SEED, sum(map(ord, request.node.nodeid))])
