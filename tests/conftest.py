"""Shared fixtures: every kernel test runs on every backend, and a backend that cannot load
is a failure, not a skip (CI must prove both). Seeds are fixed; AGENTDB_TEST_SEED overrides."""
import numpy as np
import pytest

from agentdb.kernel import load
from support import HOST_BACKENDS, SEED


@pytest.fixture(params=HOST_BACKENDS)
def kernel(request):
    return load(request.param)


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
