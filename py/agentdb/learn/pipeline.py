"""The training loop: batches, a validation split, gradient clipping, an LR schedule, EWC++,
early stopping, checkpoints that resume to the same bits, metrics and progress.

What it trains is an objective: `objective(batch, train)` takes a list of sample indices and
returns (loss, grads), the grads aligned with `params` (None when train is False). The loop
owns the order (a seeded shuffle per epoch, the same in both homes), the optimizer step and
the bookkeeping; the objective owns the model and the data.

>>> from agentdb.kernel import load
>>> k = load(); w = k.from_buffer([0.0])
>>> def objective(batch, train):          # (w - 3)^2, the same for every sample
...     d = w.read()[0] - 3.0
...     return d * d, ([[2.0 * d]] if train else None)
>>> report = TrainingPipeline([w], objective, 8, preset("quick_finetune", lr=0.25, epochs=20, optimizer="sgd")).train()
>>> round(w.read()[0], 3), report.steps
(3.0, 20)
"""
import base64
import dataclasses
import math
import time
from dataclasses import dataclass, field

from ..errors import DimensionError, OptionError
from .ewc import EWC
from .lora import copy_f32
from .optim import SGD, Adam, AdamW
from .rng import SplitMix64
from .schedule import make_schedule

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
CHECKPOINT_FORMAT = "agentdb.training-checkpoint"


@dataclass(frozen=True)
class TrainingConfig:
    """How to train. gradient_clip: the largest global gradient norm (None: no clipping);
    early_stopping_patience: epochs without a better validation loss before stopping (None:
    never); checkpoint_interval: steps between checkpoints (None: none); ewc_lambda: the EWC++
    penalty's weight when an EWC is given."""
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 10
    schedule: str = "constant"
    warmup_steps: int = 0
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    gradient_clip: float = None
    early_stopping_patience: int = None
    validation_split: float = 0.0
    checkpoint_interval: int = None
    ewc_lambda: float = 0.0
    seed: int = 0

    def __post_init__(self):
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OptionError(f"{name} must be a positive integer, got {value!r}")
        for name in ("warmup_steps", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise OptionError(f"{name} must be a non-negative integer, got {value!r}")
        for name in ("early_stopping_patience", "checkpoint_interval"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise OptionError(f"{name} must be None or a positive integer, got {value!r}")
        for name in ("lr", "weight_decay", "ewc_lambda"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise OptionError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.gradient_clip is not None and not (isinstance(self.gradient_clip, (int, float)) and
                                                   math.isfinite(self.gradient_clip) and self.gradient_clip > 0):
            raise OptionError(f"gradient_clip must be None or a positive number, got {self.gradient_clip!r}")
        if not isinstance(self.validation_split, (int, float)) or not 0 <= self.validation_split < 1:
            raise OptionError(f"validation_split must be in [0, 1), got {self.validation_split!r}")
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"unknown optimizer {self.optimizer!r}: expected one of {sorted(OPTIMIZERS)}")
        make_schedule(self.schedule, self.lr, warmup_steps=self.warmup_steps, **self._schedule_options(100))

    def _schedule_options(self, total_steps):
        if self.schedule == "step":                      # decays once per epoch
            return {"step_size": max(1, total_steps // self.epochs)}
        return {"total_steps": total_steps} if self.schedule in ("linear", "cosine") else {}

    def replace(self, **overrides):
        """A copy with some fields changed (checked like the original).

        >>> TrainingConfig().replace(epochs=2).epochs
        2
        """
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise OptionError(f"unknown training option(s) {sorted(unknown)}: the options are "
                              f"{[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **overrides)


# the originals' TrainingFactory presets (ANCHOR-API: ruvllm), by name
PRESETS = {
    "quick_finetune": TrainingConfig(lr=0.01, epochs=3, batch_size=16, schedule="constant"),
    "deep_training": TrainingConfig(lr=1e-3, epochs=50, batch_size=32, schedule="cosine", warmup_steps=500,
                                    early_stopping_patience=5, validation_split=0.1),
    "continual_learning": TrainingConfig(lr=5e-4, epochs=10, batch_size=32, schedule="cosine", ewc_lambda=5000),
    "federated_average": TrainingConfig(lr=1e-4, epochs=5, batch_size=64, schedule="linear", ewc_lambda=2000),
}


def preset(name, **overrides):
    """The TrainingConfig of a preset (quick_finetune, deep_training, continual_learning,
    federated_average), with overrides.

    >>> preset("deep_training").early_stopping_patience
    5
    """
    if name not in PRESETS:
        raise OptionError(f"unknown preset {name!r}: expected one of {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides)


@dataclass
class TrainingReport:
    """What train() did: per-epoch mean losses, the best validation loss (None without a
    validation split), whether it stopped early, and the step metrics (loss, grad_norm, lr)."""
    epochs: int
    steps: int
    final_loss: float
    best_val_loss: float
    duration_s: float
    loss_history: list = field(default_factory=list)
    val_loss_history: list = field(default_factory=list)
    early_stopped: bool = False
    metrics: list = field(default_factory=list)
    checkpoints: int = 0


def _params_text(params):
    return [base64.b64encode(p.read().tobytes() if hasattr(p, "read") else memoryview(p).cast("B")).decode("ascii")
            for p in params]


def _restore_params(params, texts):
    for p, text in zip(params, texts):
        data = base64.b64decode(text)
        if len(data) != len(p) * 4:
            raise DimensionError(f"a checkpoint's parameter holds {len(data) // 4} values, the model's {len(p)}")
        if hasattr(p, "write"):
            p.write(data)
        else:
            memoryview(p).cast("B")[:] = data


class TrainingPipeline:
    """Trains `params` (float32 buffers updated in place) on n_samples samples of `objective`.

    ewc: an agentdb.learn.EWC holding earlier tasks, whose penalty joins the loss; without one,
    a config with ewc_lambda > 0 starts an empty EWC(lam=ewc_lambda). consolidate() registers
    the task just trained in it, so the next pipeline given the same EWC keeps what this one
    learned (the continual_learning preset). progress(dict) is called after every step with
    step, total_steps, epoch, loss, lr, grad_norm and eta_s.
    """

    def __init__(self, params, objective, n_samples, config=None, *, ewc=None, progress=None, kernel=None):
        self.params = list(params)
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise OptionError(f"n_samples must be a positive integer, got {n_samples!r}")
        self.objective, self.n_samples = objective, n_samples
        self.config = config if config is not None else TrainingConfig()
        if not isinstance(self.config, TrainingConfig):
            raise OptionError(f"config must be a TrainingConfig (see preset()), got {type(config).__name__}")
        if ewc is not None and not isinstance(ewc, EWC):
            raise OptionError(f"ewc must be an agentdb.learn.EWC, got {type(ewc).__name__}")
        c = self.config
        self.progress = progress
        order = SplitMix64(c.seed).shuffled(range(n_samples))
        n_val = int(n_samples * c.validation_split)
        if n_val and n_val == n_samples:
            raise OptionError(f"validation_split {c.validation_split} leaves no training samples of {n_samples}")
        self.val, self.train_set = sorted(order[:n_val]), sorted(order[n_val:])
        self.batches_per_epoch = -(-len(self.train_set) // c.batch_size)
        self.total_steps = self.batches_per_epoch * c.epochs
        self.schedule = make_schedule(c.schedule, c.lr, warmup_steps=c.warmup_steps,
                                      **c._schedule_options(self.total_steps))
        options = {"weight_decay": c.weight_decay} if c.weight_decay or c.optimizer != "adamw" else {}
        self.optimizer = OPTIMIZERS[c.optimizer](self.params, lr=c.lr, kernel=kernel, **options)
        self.kernel = self.optimizer.kernel
        self.ewc = ewc if ewc is not None or not c.ewc_lambda else EWC(lam=c.ewc_lambda, kernel=self.kernel)
        self.step, self.epoch_losses = 0, []       # epoch_losses: this epoch's so far
        self.best_val, self.bad_epochs, self.best_params = None, 0, None
        self.report = TrainingReport(0, 0, float("nan"), None, 0.0)
        self.saved = []

    # ---- one step ---------------------------------------------------------------------------

    def _epoch_order(self, epoch):
        return SplitMix64(self.config.seed * 1_000_003 + epoch + 1).shuffled(self.train_set)

    def _grad_norm(self, grads):
        return math.sqrt(sum(self.kernel.norms_sq(g, dim=len(g))[0] for g in grads if len(g)))

    def _step(self, batch):
        loss, grads = self.objective(batch, True)
        grads = list(grads)
        if len(grads) != len(self.params):
            raise DimensionError(f"the objective gave {len(grads)} gradients for {len(self.params)} parameters")
        if self.ewc is not None and self.ewc.tasks:
            loss += self.ewc.penalty(self.params)
            grads = [self.kernel.add(g, pg) for g, pg in zip(grads, self.ewc.penalty_grad(self.params))]
        norm = self._grad_norm(grads)
        clip = self.config.gradient_clip
        if clip is not None and norm > clip:             # torch's clip_grad_norm_: one global scale
            grads = [self.kernel.scale(g, clip / (norm + 1e-6)) for g in grads]
        lr = self.schedule.lr_at(self.step)
        self.optimizer.lr = lr
        self.optimizer.step(grads)
        self.step += 1
        return loss, norm, lr

    def _validate(self):
        if not self.val:
            return None
        size = self.config.batch_size
        total = 0.0
        for at in range(0, len(self.val), size):
            batch = self.val[at:at + size]
            total += self.objective(batch, False)[0] * len(batch)
        return total / len(self.val)

    # ---- the loop -----------------------------------------------------------------------------

    def train(self):
        """Runs (or, after resume(), continues) to the last epoch or an early stop; returns the
        TrainingReport. With a validation split the parameters end as they were at the best
        validation loss."""
        c, report = self.config, self.report
        began, first_step = time.monotonic(), self.step
        while self.step < self.total_steps and not report.early_stopped:
            epoch, first = divmod(self.step, self.batches_per_epoch)
            order = self._epoch_order(epoch)
            for b in range(first, self.batches_per_epoch):
                loss, norm, lr = self._step(order[b * c.batch_size:(b + 1) * c.batch_size])
                self.epoch_losses.append(loss)
                report.metrics.append({"step": self.step, "epoch": epoch, "loss": loss, "grad_norm": norm, "lr": lr})
                if c.checkpoint_interval and self.step % c.checkpoint_interval == 0:
                    self.saved.append(self.checkpoint())
                if self.progress is not None:
                    per_step = (time.monotonic() - began) / (self.step - first_step)
                    self.progress({"stage": "train", "step": self.step, "total_steps": self.total_steps,
                                   "epoch": epoch, "loss": loss, "lr": lr, "grad_norm": norm,
                                   "eta_s": per_step * (self.total_steps - self.step)})
            self._end_epoch(epoch, self.epoch_losses)
            self.epoch_losses = []
        report.steps, report.checkpoints = self.step, len(self.saved)
        report.duration_s += time.monotonic() - began
        if self.best_params is not None and report.best_val_loss is not None:
            _restore_params(self.params, self.best_params)
        return report

    def _end_epoch(self, epoch, losses):
        report = self.report
        report.epochs = epoch + 1
        if losses:
            report.loss_history.append(sum(losses) / len(losses))
            report.final_loss = losses[-1]
        val = self._validate()
        if val is None:
            return
        report.val_loss_history.append(val)
        if self.best_val is None or val < self.best_val:
            self.best_val, self.bad_epochs, self.best_params = val, 0, _params_text(self.params)
            report.best_val_loss = val
        else:
            self.bad_epochs += 1
            patience = self.config.early_stopping_patience
            report.early_stopped = patience is not None and self.bad_epochs >= patience

    def consolidate(self, *, max_samples=256):
        """Registers the trained task in the EWC (its diagonal Fisher from the per-sample
        gradients of up to max_samples training samples, spread evenly); returns the EWC."""
        if self.ewc is None:
            raise OptionError("consolidate() needs an EWC: pass ewc= or a config with ewc_lambda > 0")
        stride = max(1, len(self.train_set) // max_samples)
        samples = self.train_set[::stride][:max_samples]
        self.ewc.register_task(self.params, ([copy_f32(g) for g in self.objective([i], True)[1]] for i in samples))
        return self.ewc

    # ---- checkpoints ------------------------------------------------------------------------

    def checkpoint(self):
        """The whole training state as JSON-able values: resume() from it continues exactly as
        this run goes on (the same bits)."""
        r = self.report
        return {"format": CHECKPOINT_FORMAT, "version": 1, "step": self.step, "params": _params_text(self.params),
                "optimizer": self.optimizer.state_dict(), "best_val": self.best_val, "bad_epochs": self.bad_epochs,
                "epoch_losses": list(self.epoch_losses),
                "best_params": self.best_params, "config": dataclasses.asdict(self.config),
                "report": {"loss_history": list(r.loss_history), "val_loss_history": list(r.val_loss_history),
                           "metrics": list(r.metrics), "final_loss": r.final_loss, "best_val_loss": r.best_val_loss,
                           "epochs": r.epochs}}

    def resume(self, checkpoint):
        """Continues from checkpoint() of a pipeline over the same params, objective and config."""
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise OptionError("not a training checkpoint (checkpoint() makes one)")
        if checkpoint["config"] != dataclasses.asdict(self.config):
            raise OptionError("the checkpoint was made with another TrainingConfig")
        _restore_params(self.params, checkpoint["params"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.step, self.best_val, self.bad_epochs = checkpoint["step"], checkpoint["best_val"], checkpoint["bad_epochs"]
        self.best_params, self.epoch_losses = checkpoint["best_params"], list(checkpoint["epoch_losses"])
        saved = checkpoint["report"]
        self.report = TrainingReport(saved["epochs"], self.step, saved["final_loss"], saved["best_val_loss"], 0.0,
                                     list(saved["loss_history"]), list(saved["val_loss_history"]),
                                     metrics=list(saved["metrics"]))
        return self
