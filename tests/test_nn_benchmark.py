"""agentdb.nn.benchmark: benchmark_attention times every op at every length on the kernel it is
given (the same seeded work in every home), and refuses bad settings; the worker serves it."""
import doctest
import json

import pytest

import agentdb.nn.benchmark
from agentdb import ArgumentError, worker_api
from agentdb.nn.benchmark import OPS, benchmark_attention


def test_every_op_and_length_is_timed(kernel):
    rows = benchmark_attention(lengths=(8, 24), heads=2, head_dim=4, repeat=2, kernel=kernel)
    assert [(r["op"], r["length"]) for r in rows] == [(op, n) for n in (8, 24) for op in OPS]
    for r in rows:
        assert r["ms"] > 0 and r["tokens_per_s"] == pytest.approx(r["length"] / (r["ms"] / 1000))


@pytest.mark.parametrize("settings", [{"heads": 0}, {"head_dim": 1.5}, {"repeat": True}, {"lengths": (0,)},
                                      {"ops": ("sdpa", "fft")}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ArgumentError):
        benchmark_attention(**{"lengths": (8,), "heads": 1, "head_dim": 4, **settings})


def test_the_worker_runs_it():
    rows = json.loads(worker_api.handle("nn", json.dumps({"module": "benchmark", "function": "benchmark_attention",
                                                          "args": {"lengths": [8], "heads": 1, "head_dim": 4,
                                                                   "ops": ["sdpa"]}})))["value"]
    assert [(r["op"], r["length"]) for r in rows] == [("sdpa", 8)]


def test_docstring_examples():
    assert doctest.testmod(agentdb.nn.benchmark).failed == 0
