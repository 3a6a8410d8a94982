"""agentdb.learn.pipeline: the training loop over a real least-squares problem: it learns,
checkpoints resume to the same bits, early stopping keeps the best epoch, clipping bounds the
step, EWC keeps a first task, and presets and options are checked."""
import json
import math

import numpy as np
import pytest

from agentdb.errors import OptionError
from agentdb.learn.pipeline import PRESETS, TrainingConfig, TrainingPipeline, preset

DIM = 17


def regression(kernel, seed=0, n=200, noise=0.05, w_true=None):
    """(params [w], objective, data): mean squared error of X w against y."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    w_true = rng.standard_normal(DIM).astype(np.float32) if w_true is None else w_true
    y = (x @ w_true + noise * rng.standard_normal(n)).astype(np.float32)
    w = kernel.alloc(DIM)

    def objective(batch, train):
        xb, yb = x[batch], y[batch]
        r = xb @ np.frombuffer(w.read(), np.float32) - yb
        loss = float(np.mean(r * r))
        return loss, ([(2.0 / len(batch)) * (xb.T @ r).astype(np.float32)] if train else None)

    return w, objective, (x, y, w_true)


def mse(w, data):
    x, y, _ = data
    r = x @ np.frombuffer(w.read(), np.float32) - y
    return float(np.mean(r * r))


def test_it_learns_and_reports(kernel):
    w, objective, data = regression(kernel)
    before = mse(w, data)
    seen = []
    report = TrainingPipeline([w], objective, 200, preset("quick_finetune", lr=0.05, epochs=5),
                              progress=seen.append).train()
    assert mse(w, data) < before / 50
    assert report.steps == 5 * math.ceil(200 / 16) == len(report.metrics) == len(seen)
    assert report.loss_history[-1] < report.loss_history[0] and len(report.loss_history) == 5
    assert seen[-1]["step"] == report.steps and seen[-1]["eta_s"] == 0
    assert all({"loss", "lr", "grad_norm", "eta_s", "epoch"} <= set(event) for event in seen)


def test_a_checkpoint_resumes_to_the_same_bits(kernel):
    config = preset("deep_training", epochs=4, warmup_steps=5, batch_size=32, checkpoint_interval=8)
    w, objective, _ = regression(kernel, seed=1)
    whole = TrainingPipeline([w], objective, 200, config)
    report = whole.train()
    saved = json.loads(json.dumps(whole.saved[1]))              # step 16: mid-epoch, through JSON
    assert saved["step"] == 16 and 16 % whole.batches_per_epoch
    w2, objective2, _ = regression(kernel, seed=1)
    resumed = TrainingPipeline([w2], objective2, 200, config).resume(saved)
    again = resumed.train()
    assert w2.read().tobytes() == w.read().tobytes()
    assert again.loss_history == report.loss_history and again.val_loss_history == report.val_loss_history
    assert again.metrics == report.metrics and again.best_val_loss == report.best_val_loss
    with pytest.raises(OptionError):
        TrainingPipeline([w2], objective2, 200, config.replace(lr=0.5)).resume(saved)


def test_early_stopping_keeps_the_best_epoch(kernel):
    # validation rows follow another w: training on the rest makes their loss worse
    w, objective, (x, y, w_true) = regression(kernel, seed=2, n=120)
    pipeline = TrainingPipeline([w], objective, 120, TrainingConfig(
        lr=0.02, epochs=40, batch_size=20, optimizer="sgd", validation_split=0.25, early_stopping_patience=3))
    y[pipeline.val] = x[pipeline.val] @ -w_true
    report = pipeline.train()
    assert report.early_stopped and report.epochs < 40
    best = int(np.argmin(report.val_loss_history))
    assert report.epochs == best + 1 + 3
    val_now = float(np.mean((x[pipeline.val] @ np.frombuffer(w.read(), np.float32) - y[pipeline.val]) ** 2))
    assert val_now == pytest.approx(report.best_val_loss, rel=1e-5)     # the best epoch's weights


def test_clipping_bounds_the_global_gradient_norm(kernel):
    w, objective, _ = regression(kernel, seed=3)
    pipeline = TrainingPipeline([w], objective, 200, TrainingConfig(
        lr=1.0, epochs=1, batch_size=200, optimizer="sgd", gradient_clip=0.5))
    report = pipeline.train()
    assert report.metrics[0]["grad_norm"] > 0.5                        # the raw norm is reported
    assert float(np.linalg.norm(np.frombuffer(w.read(), np.float32))) == pytest.approx(0.5, rel=1e-4)


def test_ewc_keeps_the_first_task(kernel):
    def forgetting(use_ewc):
        # noise 1: the per-sample gradients at the optimum are what the empirical Fisher sees
        w, task1, data1 = regression(kernel, seed=4, noise=1.0)
        first = TrainingPipeline([w], task1, 200, TrainingConfig(lr=0.05, epochs=6, batch_size=20, ewc_lambda=5.0))
        first.train()
        ewc = first.consolidate()
        learned = mse(w, data1)
        w2, task2, _ = regression(kernel, seed=5)                   # task 2 goes on from task 1's w
        w2.write(w.read().tobytes())
        TrainingPipeline([w2], task2, 200, TrainingConfig(lr=0.05, epochs=6, batch_size=20),
                         ewc=ewc if use_ewc else None).train()
        return mse(w2, data1) - learned, ewc

    with_ewc, ewc = forgetting(True)
    without, _ = forgetting(False)
    assert ewc.tasks == 1 and ewc.penalty(ewc.anchor) == 0
    assert 0 <= with_ewc < 0.5 * without, (with_ewc, without)


def test_presets_and_options():
    assert PRESETS["quick_finetune"].lr == 0.01 and PRESETS["continual_learning"].ewc_lambda == 5000
    assert preset("federated_average", epochs=1).batch_size == 64
    for bad in ({"batch_size": 0}, {"lr": float("nan")}, {"optimizer": "lion"}, {"schedule": "zigzag"},
                {"validation_split": 1.0}, {"gradient_clip": -1}, {"epochs": True}):
        with pytest.raises(OptionError):
            TrainingConfig(**bad)
    with pytest.raises(OptionError, match="unknown training option"):
        preset("quick_finetune", learning_rate=0.1)
    with pytest.raises(OptionError, match="unknown preset"):
        preset("slow_finetune")
