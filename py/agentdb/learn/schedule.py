"""Learning-rate schedules, temperature annealing and curriculum stages: pure functions of the
step number (no state of their own), so a resumed run recomputes the same values.

Each schedule's lr_at(step) is the closed form of a torch.optim.lr_scheduler where torch has
one (step counts the optimizer steps taken, torch's last_epoch):
    ConstantSchedule   lr (torch: ConstantLR with factor=1)
    LinearSchedule     LinearLR: lr * (start + (end - start) * min(step, total) / total)
    CosineSchedule     CosineAnnealingLR: min + (lr - min) (1 + cos(pi step / total)) / 2, then
                       min_lr from `total` on (torch's climbs back up, period 2 total)
    StepSchedule       StepLR: lr * gamma ** (step // step_size)
    WarmupSchedule     SequentialLR([LinearLR(start_factor, 1, warmup), after], [warmup]):
                       after.lr_at(0) * (start + (1 - start) step / warmup), then after.lr_at(step - warmup)

>>> s = WarmupSchedule(CosineSchedule(0.1, total_steps=100), warmup_steps=10)
>>> [round(s.lr_at(t), 4) for t in (0, 5, 10, 60, 110)]
[0.0, 0.05, 0.1, 0.05, 0.0]
"""

import math

from ..errors import OptionError
from ..kernel.learn_ops import hyperparameter


def _steps(name, value, lo=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise OptionError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


class Schedule:
    """A learning rate as a function of the step: lr_at(step); apply() sets an optimizer's lr."""

    def lr_at(self, step):
        """The learning rate for optimizer step number `step` (0 = the first)."""
        return self._at(_steps("step", step, 0))

    def apply(self, optimizer, step):
        """Sets optimizer.lr to lr_at(step) and returns it (call before each optimizer.step).

        >>> from agentdb.kernel import load
        >>> from agentdb.learn import SGD
        >>> opt = SGD([load().alloc(1)], lr=1.0)
        >>> StepSchedule(0.5, step_size=2).apply(opt, 3), opt.lr
        (0.05, 0.05)
        """
        optimizer.lr = self.lr_at(step)
        return optimizer.lr


class ConstantSchedule(Schedule):
    """The same lr at every step.

    >>> ConstantSchedule(0.01).lr_at(1000)
    0.01
    """

    def __init__(self, lr):
        self.lr = hyperparameter("lr", lr)

    def _at(self, step):
        return self.lr


class LinearSchedule(Schedule):
    """lr scaled from start_factor to end_factor linearly over total_steps, then held
    (torch.optim.lr_scheduler.LinearLR; the default decays to zero).

    >>> LinearSchedule(0.1, total_steps=4).lr_at(1)
    0.07500000000000001
    """

    def __init__(self, lr, *, total_steps, start_factor=1.0, end_factor=0.0):
        self.lr, self.total_steps = hyperparameter("lr", lr), _steps("total_steps", total_steps)
        self.start_factor = hyperparameter("start_factor", start_factor, 0.0, 1.0)
        self.end_factor = hyperparameter("end_factor", end_factor, 0.0, 1.0)

    def _at(self, step):
        t = min(step, self.total_steps) / self.total_steps
        return self.lr * (self.start_factor + (self.end_factor - self.start_factor) * t)


class CosineSchedule(Schedule):
    """Cosine annealing from lr to min_lr over total_steps, then min_lr
    (torch.optim.lr_scheduler.CosineAnnealingLR with T_max = total_steps, eta_min = min_lr).

    >>> CosineSchedule(1.0, total_steps=3, min_lr=0.1).lr_at(3)
    0.1
    """

    def __init__(self, lr, *, total_steps, min_lr=0.0):
        self.lr, self.total_steps = hyperparameter("lr", lr), _steps("total_steps", total_steps)
        self.min_lr = hyperparameter("min_lr", min_lr, 0.0, self.lr)

    def _at(self, step):
        if step >= self.total_steps:
            return self.min_lr
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * step / self.total_steps)) / 2


class StepSchedule(Schedule):
    """lr multiplied by gamma every step_size steps (torch.optim.lr_scheduler.StepLR).

    >>> StepSchedule(1.0, step_size=10, gamma=0.5).lr_at(25)
    0.25
    """

    def __init__(self, lr, *, step_size, gamma=0.1):
        self.lr, self.step_size = hyperparameter("lr", lr), _steps("step_size", step_size)
        self.gamma = hyperparameter("gamma", gamma)

    def _at(self, step):
        return self.lr * self.gamma ** (step // self.step_size)


class WarmupSchedule(Schedule):
    """A linear warmup from start_factor * after.lr_at(0) to after.lr_at(0) over warmup_steps,
    then the `after` schedule from its step 0 (torch: SequentialLR of LinearLR and `after`).

    >>> WarmupSchedule(ConstantSchedule(0.2), warmup_steps=4).lr_at(1)
    0.05
    """

    def __init__(self, after, *, warmup_steps, start_factor=0.0):
        if not isinstance(after, Schedule):
            raise OptionError(f"after must be a Schedule, got {type(after).__name__}")
        self.after, self.warmup_steps = after, _steps("warmup_steps", warmup_steps)
        self.start_factor = hyperparameter("start_factor", start_factor, 0.0, 1.0)

    def _at(self, step):
        if step >= self.warmup_steps:
            return self.after.lr_at(step - self.warmup_steps)
        return self.after.lr_at(0) * (self.start_factor + (1 - self.start_factor) * step / self.warmup_steps)


SCHEDULES = {"constant": ConstantSchedule, "linear": LinearSchedule, "cosine": CosineSchedule,
             "step": StepSchedule}


def make_schedule(kind, lr, *, warmup_steps=0, **options):
    """A schedule by name ('constant', 'linear', 'cosine', 'step') with its options, behind a
    linear warmup when warmup_steps > 0 (how presets and configs name them).

    >>> make_schedule("cosine", 0.1, total_steps=90, warmup_steps=10).lr_at(10)
    0.1
    """
    if kind not in SCHEDULES:
        raise OptionError(f"unknown schedule {kind!r}: expected one of {sorted(SCHEDULES)}")
    try:
        schedule = SCHEDULES[kind](lr, **options)
    except TypeError as exc:
        raise OptionError(f"schedule {kind!r}: {exc}") from None
    return WarmupSchedule(schedule, warmup_steps=warmup_steps) if warmup_steps else schedule


class TemperatureAnnealing:
    """A temperature (of a contrastive loss, of sampling) moving from `initial` to `final` over
    `steps` steps, then held: decay 'linear', 'exponential' (geometric: initial *
    (final / initial) ** (t / steps)) or 'cosine' (final + (initial - final) (1 + cos(pi t / steps)) / 2).

    >>> TemperatureAnnealing(1.0, 0.25, 2, decay="exponential").temperature_at(1)
    0.5
    """

    DECAYS = ("linear", "exponential", "cosine")

    def __init__(self, initial, final, steps, decay="linear"):
        self.initial = hyperparameter("initial", initial)
        self.final = hyperparameter("final", final)
        if self.initial <= 0 or self.final <= 0:
            raise OptionError(f"temperatures must be > 0, got initial={initial!r}, final={final!r}")
        self.steps = _steps("steps", steps)
        if decay not in self.DECAYS:
            raise OptionError(f"unknown decay {decay!r}: expected one of {self.DECAYS}")
        self.decay = decay

    def temperature_at(self, step):
        """The temperature at step number `step` (0 = initial; final from `steps` on)."""
        t = min(_steps("step", step, 0), self.steps) / self.steps
        if self.decay == "linear":
            return self.initial + (self.final - self.initial) * t
        if self.decay == "exponential":
            return self.initial * (self.final / self.initial) ** t
        return self.final + (self.initial - self.final) * (1 + math.cos(math.pi * t)) / 2


class Curriculum:
    """Curriculum stages: each stage lasts `steps` optimizer steps (the last one may omit it:
    it lasts forever) and admits the samples whose difficulty is at most its
    `max_difficulty`. Stages are given in order, e.g.
    [{"steps": 100, "max_difficulty": 0.3}, {"steps": 200, "max_difficulty": 0.7}, {"max_difficulty": 1.0}].

    >>> c = Curriculum(stages=[{"steps": 10, "max_difficulty": 0.5}, {"max_difficulty": 1.0}])
    >>> c.stage_at(9), c.stage_at(10), c.select([0.9, 0.1, 0.5, 0.7], step=0).tolist()
    (0, 1, [1, 2])
    """

    def __init__(self, stages):
        if not isinstance(stages, (list, tuple)) or not stages:
            raise OptionError("stages must be a non-empty list of {'steps': n, 'max_difficulty': d} dicts")
        self.stages, self._ends, end = [], [], 0
        for i, stage in enumerate(stages):
            last = i == len(stages) - 1
            if not isinstance(stage, dict) or set(stage) - {"steps", "max_difficulty"} or \
                    "max_difficulty" not in stage or "steps" not in stage and not last:
                raise OptionError(f"stages[{i}] must be {{'steps': n, 'max_difficulty': d}} (steps optional on the "
                                  f"last stage), got {stage!r}")
            limit = stage["max_difficulty"]
            if isinstance(limit, bool) or not isinstance(limit, (int, float)) or math.isnan(limit):
                raise OptionError(f"stages[{i}]['max_difficulty'] must be a number, got {limit!r}")
            end = end + _steps(f"stages[{i}]['steps']", stage["steps"]) if "steps" in stage else math.inf
            self.stages.append(dict(stage))
            self._ends.append(end)

    def stage_at(self, step):
        """The index of the stage that optimizer step `step` belongs to (the last one past the end)."""
        step = _steps("step", step, 0)
        return next((i for i, end in enumerate(self._ends) if step < end), len(self.stages) - 1)

    def difficulty_at(self, step):
        """The largest difficulty admitted at step `step`."""
        return self.stages[self.stage_at(step)]["max_difficulty"]

    def select(self, difficulties, step, *, kernel=None):
        """Indices (uint32, ascending) of the samples admitted at `step`: difficulty <= the
        stage's max_difficulty (NaN never); difficulties: one float per sample, any float64
        buffer or list. One kernel pass (mask_range), no loop per sample."""
        if kernel is None:
            from ..kernel import load

            kernel = load()
        limit = self.difficulty_at(step)
        mask = kernel.mask_range(difficulties, -math.inf, limit)
        return kernel.bitmap_rows(mask, len(difficulties))
