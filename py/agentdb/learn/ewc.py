"""EWC++: elastic weight consolidation with an online Fisher (Kirkpatrick et al. 2017;
Schwarz et al. 2018; Chaudhry et al. 2018), so training a new task keeps the weights that
mattered for earlier ones.

After task t, with weights w_t and per-sample gradients g_1..g_N of its loss at w_t:

    F_new = (1/N) sum_s g_s * g_s                 (diagonal empirical Fisher, element-wise)
    F     = decay * F + F_new                     (F = F_new after the first task)
    w*    = w_t                                   (the anchor moves to the latest weights)

and while training later tasks the loss gains

    penalty(w)      = lam / 2 * sum_i F_i (w_i - w*_i)^2
    penalty_grad(w) = lam * F * (w - w*)

Fisher values come from real gradients, not from weight magnitudes (ruvllm's EwcManager
uses |w| * lam). With the task loss a mean over samples, lam = 1 is the Laplace
approximation's weight; larger values protect old tasks more.
"""

import json
import math

from ..errors import ArgumentError, DimensionError, OptionError
from ..kernel import load
from .lora import copy_f32, decode_f32, encode_f32, f32_view, read_document, zeros_f32

FORMAT, VERSION = "agentdb.ewc", 1


class EWC:
    """Online EWC over a list of float32 parameter buffers.

    >>> ewc = EWC(lam=2.0)
    >>> ewc.register_task([[1.0, 1.0]], [[[1.0, 0.0]], [[3.0, 0.0]]])   # two samples' grads
    >>> ewc.penalty([[2.0, 5.0]])        # F = [5, 0]: only the first weight is held
    5.0
    >>> ewc.penalty_grad([[2.0, 5.0]])[0].tolist()
    [10.0, 0.0]
    """

    def __init__(self, *, lam=1.0, decay=0.9, kernel=None):
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
            raise OptionError(f"lam must be a non-negative finite number, got {lam!r}")
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay <= 1:
            raise OptionError(f"decay must be a number in [0, 1], got {decay!r}")
        self.lam, self.decay = float(lam), float(decay)
        self.kernel = kernel if kernel is not None else load()
        self.fisher, self.anchor = [], []
        self.tasks = self.samples = 0

    def _params(self, params):
        views = [f32_view(p, f"params[{i}]") for i, p in enumerate(params)]
        if self.anchor:
            shapes = [len(v) for v in views]
            if shapes != [len(a) for a in self.anchor]:
                raise DimensionError(f"params have lengths {shapes}, the registered task's are "
                                     f"{[len(a) for a in self.anchor]}")
        return views

    def register_task(self, params, grads_batches):
        """Consolidates a finished task: params are its final weights (a list of buffers) and
        grads_batches an iterable of per-sample gradients, each a list aligned with params.
        (A mini-batch's mean gradient also works, but the square of a mean underestimates the
        mean of squares.)

        >>> ewc = EWC(); ewc.register_task([[0.0]], [[[2.0]]]); ewc.fisher[0].tolist()
        [4.0]
        """
        k, params = self.kernel, self._params(params)
        if not params:
            raise ArgumentError("register_task needs at least one parameter buffer")
        fisher, count = [zeros_f32(len(p)) for p in params], 0
        for s, grads in enumerate(grads_batches):
            if len(grads) != len(params):
                raise DimensionError(f"sample {s} has {len(grads)} gradient buffers, {len(params)} expected")
            for i, (f, g) in enumerate(zip(fisher, grads)):
                g = f32_view(g, f"sample {s} gradient {i}", len(f))
                k.add(f, k.mul(g, g), out=f)
            count += 1
        if not count:
            raise ArgumentError("register_task needs the gradients of at least one sample")
        for i, f in enumerate(fisher):
            k.scale(f, 1.0 / count, out=f)
            k.check_finite(f, name=f"Fisher of params[{i}]")
        if self.fisher:
            fisher = [k.axpy(self.decay, old, new, out=new) for old, new in zip(self.fisher, fisher)]
        self.fisher, self.anchor = fisher, [copy_f32(p) for p in params]
        self.tasks += 1
        self.samples += count

    def _weighted_diffs(self, params):
        k, params = self.kernel, self._params(params)
        diffs = [k.axpy(-1.0, a, p) for p, a in zip(params, self.anchor)]
        return diffs, [k.mul(f, d) for f, d in zip(self.fisher, diffs)]

    def penalty(self, params):
        """lam / 2 * sum F (w - w*)^2 (0.0 before any task).

        >>> EWC().penalty([[1.0, 2.0]])
        0.0
        """
        if not self.fisher:
            return 0.0
        diffs, weighted = self._weighted_diffs(params)
        return self.lam / 2 * sum(self.kernel.dot(fd, d) for fd, d in zip(weighted, diffs))

    def penalty_grad(self, params):
        """lam * F * (w - w*), one buffer per parameter (zeros before any task); add it to the
        task's gradients before the optimizer step.

        >>> EWC().penalty_grad([[1.0, 2.0]])[0].tolist()
        [0.0, 0.0]
        """
        if not self.fisher:
            return [zeros_f32(len(p)) for p in self._params(params)]
        return [self.kernel.scale(fd, self.lam, out=fd) for fd in self._weighted_diffs(params)[1]]

    def stats(self):
        """Counts and Fisher summary: tasks, samples, parameters, lam, decay, fisher_mean.

        >>> EWC(lam=5).stats()["lam"]
        5.0
        """
        k, size = self.kernel, sum(len(f) for f in self.fisher)
        total = sum(k.sum_rows(f, dim=1)[0] for f in self.fisher)
        return {"tasks": self.tasks, "samples": self.samples, "parameters": size, "lam": self.lam,
                "decay": self.decay, "fisher_mean": total / size if size else 0.0}

    def to_json(self):
        """A JSON text of the settings, counts, Fisher and anchor (exact float32 bits).

        >>> EWC.from_json(EWC(lam=3).to_json()).lam
        3.0
        """
        return json.dumps({"format": FORMAT, "version": VERSION, "lam": self.lam, "decay": self.decay,
                           "tasks": self.tasks, "samples": self.samples,
                           "lengths": [len(f) for f in self.fisher],
                           "fisher": [encode_f32(f) for f in self.fisher],
                           "anchor": [encode_f32(a) for a in self.anchor]})

    @classmethod
    def from_json(cls, text, *, kernel=None):
        """The EWC state to_json wrote (bit for bit).

        >>> EWC.from_json(EWC(decay=0.5).to_json()).decay
        0.5
        """
        lam, decay, tasks, samples, lengths, fisher, anchor = read_document(
            text, FORMAT, VERSION, ("lam", "decay", "tasks", "samples", "lengths", "fisher", "anchor"))
        ewc = cls(lam=lam, decay=decay, kernel=kernel)
        lists = (lengths, fisher, anchor)
        if not all(isinstance(v, int) for v in (tasks, samples)) or not all(isinstance(v, list) for v in lists) \
                or not len(lengths) == len(fisher) == len(anchor) or not all(isinstance(n, int) for n in lengths):
            raise ArgumentError("not an EWC JSON document: counts or buffer lists are malformed")
        ewc.tasks, ewc.samples = tasks, samples
        ewc.fisher = [decode_f32(f, n, f"fisher[{i}]") for i, (f, n) in enumerate(zip(fisher, lengths))]
        ewc.anchor = [decode_f32(a, n, f"anchor[{i}]") for i, (a, n) in enumerate(zip(anchor, lengths))]
        return ewc
