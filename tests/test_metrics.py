"""The metric registry (agentdb.metrics) is the one place a metric is defined: its kernel
codes are the header's, every alias resolves, and the layers agree with it."""
import re
from pathlib import Path

import numpy as np
import pytest

import agentdb
from agentdb import metrics
from agentdb.errors import OptionError

HEADER = (Path(__file__).resolve().parent.parent / "csrc" / "agentdb_kernel.h").read_text()


def test_kernel_codes_are_the_headers():
    defined = {name: int(code) for name, code in re.findall(r"#define AGK_METRIC_(\w+) (\d+)", HEADER)}
    assert defined == {"DOT": metrics.KERNEL_DOT, "L2": metrics.KERNEL_L2, "COS": metrics.KERNEL_COS}


def test_every_name_and_alias_opens_a_store_of_that_metric():
    for name, metric in metrics.BY_NAME.items():
        db = agentdb.open(dim=3, metric=name)
        assert db.metric == metric.name and db.status()["metric"] == metric.name
        again = agentdb.open_bytes(db.to_bytes())
        assert again.metric == metric.name          # through the manifest code and the options


@pytest.mark.parametrize("bad", ["hamming", "", None, 3, ["l2"]])
def test_unknown_metrics_are_option_errors(bad):
    with pytest.raises(OptionError, match="unknown metric"):
        metrics.get(bad)


def test_scores_and_distances_follow_the_registry():
    rows = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 2]], dtype=np.float32)
    q = np.array([1, 0.1, 0], dtype=np.float32)
    for metric in metrics.METRICS:
        db = agentdb.open(dim=3, metric=metric.name, index="flat")
        db.ingest([0, 1, 2], rows)
        res = db.query(q, k=3)
        scores = list(res.scores)
        assert scores == sorted(scores, reverse=metric.larger_is_closer)
        assert [h.distance for h in res] == sorted(h.distance for h in res)     # smaller is closer
        if metric.normalized:
            assert np.allclose(np.linalg.norm(db.get(2).vector), 1.0)
