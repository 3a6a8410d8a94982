"""agentdb.learn's optimizers and schedules against torch.optim (CPU, one thread, tests only):
100-step trajectories on a linear regression solved with kernel ops, schedules step by step,
bit-identical resumes from a state_dict, the same bits on both backends, and bad options."""
import json
import math
import warnings

import numpy as np
import pytest
import torch

from agentdb.errors import DimensionError, OptionError
from agentdb.learn import (SGD, Adam, AdamW, ConstantSchedule, CosineSchedule, Curriculum, LinearSchedule,
                           StepSchedule, TemperatureAnnealing, WarmupSchedule, make_schedule)
from agentdb.learn import optim, schedule
from support import bits, f32

torch.set_num_threads(1)
N, D, O = 64, 17, 3    # samples, features, outputs


def problem(seed=3):
    rng = np.random.default_rng(seed)
    x = f32(rng.standard_normal((N, D)))
    y = f32(x @ rng.standard_normal((D, O)) + 0.1 * rng.standard_normal((N, O)) + 0.5)
    return x, y, f32(rng.standard_normal((D, O)) * 0.1), np.zeros(O, np.float32)


def kernel_grads(kernel, x, y, w, b):
    """d/dW, d/db of mean((x W + b - y)^2), on the kernel: matmuls, axpy, sum_rows, scale."""
    pred = kernel.add(kernel.matmul(x, w, m=N, k=D, n=O), kernel.matmul(np.ones(N, np.float32), b, m=N, k=1, n=O))
    r = kernel.axpy(-1.0, y, pred)
    scale = 2.0 / (N * O)
    return [kernel.scale(kernel.matmul(x, r, m=D, k=N, n=O, trans_a=True), scale),
            kernel.scale(kernel.sum_rows(r, dim=O), scale)]


def run_ours(kernel, make, steps, schedule=None, state=None, start=0):
    """params after `steps` optimizer steps (from a saved state at step `start` when given)."""
    x, y, w0, b0 = problem()
    if state is not None:
        w0, b0 = (np.frombuffer(bytes.fromhex(h), np.float32) for h in state["params"])
    w, b = kernel.from_buffer(w0), kernel.from_buffer(b0)
    opt = make([w, b], kernel)
    if state is not None:
        opt.load_state_dict(json.loads(state["optimizer"]))
    trajectory = []
    for t in range(start, start + steps):
        if schedule is not None:
            schedule.apply(opt, t)
        opt.step(kernel_grads(kernel, x, y, w, b))
        trajectory.append(np.concatenate([w.read(), b.read()]))
    saved = {"params": [bytes(w.read()).hex(), bytes(b.read()).hex()], "optimizer": json.dumps(opt.state_dict())}
    return np.array(trajectory), saved


def run_torch(make, steps, scheduler=None):
    x, y, w0, b0 = (torch.from_numpy(a.copy()) for a in problem())
    w, b = w0.requires_grad_(), b0.requires_grad_()
    opt = make([w, b])
    sched = scheduler(opt) if scheduler else None
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w + b - y) ** 2).mean().backward()
        opt.step()
        if sched:
            sched.step()
        trajectory.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy()]))
    return np.array(trajectory)


CASES = {
    "sgd": (lambda p, k: SGD(p, lr=0.05, kernel=k), lambda p: torch.optim.SGD(p, lr=0.05, foreach=False)),
    "sgd-momentum": (lambda p, k: SGD(p, lr=0.02, momentum=0.9, kernel=k),
                     lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, foreach=False)),
    "sgd-dampening": (lambda p, k: SGD(p, lr=0.03, momentum=0.5, dampening=0.3, weight_decay=0.01, kernel=k),
                      lambda p: torch.optim.SGD(p, lr=0.03, momentum=0.5, dampening=0.3, weight_decay=0.01,
                                                foreach=False)),
    "sgd-nesterov": (lambda p, k: SGD(p, lr=0.02, momentum=0.9, nesterov=True, weight_decay=1e-3, kernel=k),
                     lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True, weight_decay=1e-3,
                                               foreach=False)),
    "adam": (lambda p, k: Adam(p, lr=0.01, kernel=k), lambda p: torch.optim.Adam(p, lr=0.01, foreach=False)),
    "adam-l2": (lambda p, k: Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, kernel=k),
                lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, foreach=False)),
    "adamw": (lambda p, k: AdamW(p, lr=0.01, weight_decay=0.1, kernel=k),
              lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, foreach=False)),
    "adam-low-beta": (lambda p, k: Adam(p, lr=0.01, betas=(0.3, 0.99), eps=1e-6, kernel=k),
                      lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.3, 0.99), eps=1e-6, foreach=False)),
}


def assert_close(ours, theirs):
    """Each step's parameters within 1e-5 of torch's, relative to their size."""
    scale = np.abs(theirs).max(axis=1, keepdims=True)
    assert np.all(np.abs(ours - theirs) <= 1e-5 * scale)


@pytest.mark.parametrize("case", CASES)
def test_trajectory_matches_torch_for_100_steps(kernel, case):
    ours, theirs = run_ours(kernel, CASES[case][0], 100)[0], run_torch(CASES[case][1], 100)
    assert np.abs(theirs[-1] - theirs[0]).max() > 0.1      # the parameters really moved
    assert_close(ours, theirs)


def test_scheduled_trajectory_matches_torch(kernel):
    sched = WarmupSchedule(CosineSchedule(0.02, total_steps=90, min_lr=1e-3), warmup_steps=10, start_factor=0.1)
    ours = run_ours(kernel, lambda p, k: AdamW(p, lr=0.02, kernel=k), 100, schedule=sched)[0]

    def torch_schedule(opt):
        return torch.optim.lr_scheduler.SequentialLR(opt, [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=10),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=90, eta_min=1e-3)], milestones=[10])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = run_torch(lambda p: torch.optim.AdamW(p, lr=0.02, foreach=False), 100, torch_schedule)
    assert_close(ours, theirs)


@pytest.mark.parametrize("case", ["sgd-nesterov", "adam-l2", "adamw"])
def test_same_bits_on_both_backends(native, wasmhost, case):
    a, b = run_ours(native, CASES[case][0], 40)[0], run_ours(wasmhost, CASES[case][0], 40)[0]
    assert np.array_equal(bits(a), bits(b))


@pytest.mark.parametrize("case", ["sgd-momentum", "sgd-nesterov", "adam", "adamw"])
def test_resume_from_state_dict_equals_an_uninterrupted_run(native, wasmhost, case):
    make = CASES[case][0]
    whole = run_ours(native, make, 60)[0]
    first, saved = run_ours(native, make, 30)
    for kernel in (native, wasmhost):      # a checkpoint written natively resumes in wasm too
        rest = run_ours(kernel, make, 30, state=saved, start=30)[0]
        assert np.array_equal(bits(np.concatenate([first, rest])), bits(whole))


def test_zero_state_is_a_fresh_optimizer(kernel):
    x, y, w0, b0 = problem()
    w, b = kernel.from_buffer(w0), kernel.from_buffer(b0)
    opt = Adam([w, b], lr=0.01, kernel=kernel)
    opt.step(kernel_grads(kernel, x, y, w, b))
    opt.zero_state()
    fresh = Adam([kernel.from_buffer(w.read()), kernel.from_buffer(b.read())], lr=0.01, kernel=kernel)
    for o in (opt, fresh):
        o.step(kernel_grads(kernel, x, y, *o.params))
    assert all(np.array_equal(bits(p.read()), bits(q.read())) for p, q in zip(opt.params, fresh.params))
    assert opt.state_dict() == fresh.state_dict()


def torch_lrs(make_scheduler, steps, lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make_scheduler(opt)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            lrs.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
    return lrs


LR = torch.optim.lr_scheduler
SCHEDULES = {
    "constant": (ConstantSchedule(0.1), lambda o: LR.ConstantLR(o, factor=1.0), 20),
    "linear": (LinearSchedule(0.1, total_steps=20, start_factor=1.0, end_factor=0.1),
               lambda o: LR.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=20), 40),
    "linear-up": (LinearSchedule(0.1, total_steps=7, start_factor=0.25, end_factor=1.0),
                  lambda o: LR.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=7), 15),
    "cosine": (CosineSchedule(0.1, total_steps=30, min_lr=1e-3), lambda o: LR.CosineAnnealingLR(o, 30, 1e-3), 31),
    "step": (StepSchedule(0.1, step_size=7, gamma=0.5), lambda o: LR.StepLR(o, step_size=7, gamma=0.5), 40),
    "warmup-cosine": (WarmupSchedule(CosineSchedule(0.1, total_steps=20), warmup_steps=5, start_factor=0.1),
                      lambda o: LR.SequentialLR(o, [LR.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
                                                    LR.CosineAnnealingLR(o, 20)], milestones=[5]), 26),
    "warmup-step": (make_schedule("step", 0.1, step_size=4, gamma=0.7, warmup_steps=3),
                    lambda o: LR.SequentialLR(o, [LR.LinearLR(o, start_factor=1e-8, end_factor=1.0, total_iters=3),
                                                  LR.StepLR(o, step_size=4, gamma=0.7)], milestones=[3]), 20),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_match_torch(name):
    ours, make, steps = SCHEDULES[name]
    theirs = torch_lrs(make, steps)
    assert np.allclose([ours.lr_at(t) for t in range(steps)], theirs, rtol=1e-9, atol=1e-9)


def test_cosine_holds_its_minimum_after_the_end():
    s = CosineSchedule(0.1, total_steps=10, min_lr=0.01)
    assert s.lr_at(10) == s.lr_at(500) == 0.01 and s.lr_at(0) == 0.1


@pytest.mark.parametrize("decay", TemperatureAnnealing.DECAYS)
def test_temperature_annealing(decay):
    t = TemperatureAnnealing(1.0, 0.05, 100, decay=decay)
    values = [t.temperature_at(s) for s in range(120)]
    assert values[0] == 1.0 and math.isclose(values[100], 0.05) and values[119] == values[100]
    assert all(a >= b for a, b in zip(values, values[1:]))
    mid = {"linear": 0.525, "exponential": math.sqrt(0.05), "cosine": 0.525}[decay]
    assert math.isclose(values[50], mid)


def test_curriculum_stages_admit_harder_samples_over_time(kernel):
    c = Curriculum(stages=[{"steps": 5, "max_difficulty": 0.2}, {"steps": 5, "max_difficulty": 0.6},
                           {"max_difficulty": 1.0}])
    difficulties = np.array([0.9, 0.1, 0.6, float("nan"), 0.2, 0.61], np.float64)
    assert [c.stage_at(s) for s in (0, 4, 5, 9, 10, 10**6)] == [0, 0, 1, 1, 2, 2]
    assert list(c.select(difficulties, 0, kernel=kernel)) == [1, 4]
    assert list(c.select(difficulties, 7, kernel=kernel)) == [1, 2, 4]
    assert list(c.select(difficulties, 10, kernel=kernel)) == [0, 1, 2, 4, 5]     # NaN never


def test_bad_options_raise_option_error(kernel):
    p = [kernel.alloc(3)]
    bad = [lambda: SGD(p, lr=-1), lambda: SGD(p, lr=0.1, nesterov=True), lambda: SGD(p, lr=0.1, momentum=-0.5),
           lambda: SGD(p, lr=0.1, nesterov=1), lambda: SGD([], lr=0.1), lambda: Adam(p, betas=(1.0, 0.9)),
           lambda: Adam(p, betas=0.9), lambda: Adam(p, eps=-1e-8), lambda: AdamW(p, weight_decay=float("nan")),
           lambda: setattr(Adam(p), "lr", float("inf")), lambda: Adam(p).load_state_dict(SGD(p, lr=1).state_dict()),
           lambda: CosineSchedule(0.1, total_steps=0), lambda: StepSchedule(0.1, step_size=2.5),
           lambda: CosineSchedule(0.1, total_steps=5, min_lr=0.2), lambda: make_schedule("cyclic", 0.1),
           lambda: make_schedule("cosine", 0.1, steps=3), lambda: ConstantSchedule(0.1).lr_at(-1),
           lambda: TemperatureAnnealing(1.0, 0.0, 10), lambda: TemperatureAnnealing(1.0, 0.1, 10, decay="step"),
           lambda: Curriculum(stages=[]), lambda: Curriculum(stages=[{"max_difficulty": 0.5}, {"steps": 1}]),
           lambda: Curriculum(stages=[{"steps": 0, "max_difficulty": 0.5}])]
    for i, make in enumerate(bad):
        with pytest.raises(OptionError):
            make()
            pytest.fail(f"case {i} raised nothing")
    opt = Adam(p, kernel=kernel)
    state = opt.state_dict()
    state["state"][0]["m"] = state["state"][0]["m"][:8]
    with pytest.raises(DimensionError, match="state\\[0\\]\\['m'\\] holds 1.5 floats, params\\[0\\] 3"):
        opt.load_state_dict(state)
    assert opt.betas == (0.9, 0.999)
    with pytest.raises(DimensionError, match="grads\\[0\\] holds 2 values, params\\[0\\] 3"):
        opt.step([[1.0, 2.0]])


def test_docstrings_run(kernel):
    import doctest

    import agentdb.learn

    for module in (agentdb.learn, optim, schedule):
        assert doctest.testmod(module).failed == 0
