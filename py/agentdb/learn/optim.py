"""Optimizers over float32 kernel buffers: SGD (momentum, Nesterov), Adam and AdamW, each with
torch.optim's update rule (one kernel call per parameter per step: agk_sgd_step_f32,
agk_adam_step_f32), so a trajectory follows torch's to float32 rounding and is the same bits
natively and in the browser. State (moments, step count, options) round-trips through a
JSON-able state_dict, and a resumed run gives the same bits as an uninterrupted one.

>>> from agentdb.kernel import load
>>> w = load().from_buffer([1.0, -2.0])
>>> opt = Adam([w], lr=0.1)
>>> opt.step([[0.5, 0.5]])
>>> [round(v, 4) for v in w.read()]
[0.9, -2.1]
"""

import base64

from ..errors import ArgumentError, DimensionError, OptionError
from ..kernel import KBuffer, load
from ..kernel.learn_ops import hyperparameter

FORMAT = 1   # state_dict layout version


def _kernel_of(params, kernel):
    """The kernel whose memory holds the params (KBuffers), or the given / default one."""
    if kernel is None:
        first = next((p for p in params if isinstance(p, KBuffer)), None)
        kernel = load(first._backend.name) if first is not None else load()
    for i, p in enumerate(params):
        if isinstance(p, KBuffer) and p._backend is not kernel._b:
            raise ArgumentError(f"params[{i}] lives in another kernel backend than {kernel.backend!r}; pass kernel=")
    return kernel


class Optimizer:
    """What SGD, Adam and AdamW share: the parameters (float32 buffers updated in place, KBuffers
    for zero-copy steps), `lr` (schedulers set it between steps), the step count, per-parameter
    state buffers and their state_dict."""

    kind = "Optimizer"

    def __init__(self, params, *, lr, kernel=None, **options):
        self.params = list(params)
        if not self.params:
            raise OptionError("params is empty: an optimizer needs at least one buffer")
        self.kernel = _kernel_of(self.params, kernel)
        self.lr = lr
        self._set_options(**options)
        self.steps = 0
        self.state = [{name: self.kernel.alloc(len(p)) for name in self._buffer_names()} for p in self.params]

    @property
    def lr(self):
        """The learning rate of the next step (a finite number >= 0)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = hyperparameter("lr", value)

    def step(self, grads):
        """Applies one update to every parameter, given its gradient (grads[i] matches params[i]).

        >>> from agentdb.kernel import load
        >>> w = load().from_buffer([1.0])
        >>> SGD([w], lr=0.5).step([[2.0]])
        >>> w.read().tolist()
        [0.0]
        """
        grads = list(grads)
        if len(grads) != len(self.params):
            raise DimensionError(f"{len(grads)} gradients for {len(self.params)} parameters")
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if len(g) != len(p):
                raise DimensionError(f"grads[{i}] holds {len(g)} values, params[{i}] {len(p)}")
        self.steps += 1
        for p, g, state in zip(self.params, grads, self.state):
            self._update(p, g, state)

    def zero_state(self):
        """Forgets the moments and the step count, as a fresh optimizer (options and lr stay).

        >>> from agentdb.kernel import load
        >>> opt = Adam([load().from_buffer([1.0])])
        >>> opt.step([[1.0]]); opt.zero_state(); opt.steps
        0
        """
        self.steps = 0
        for state in self.state:
            for buf in state.values():
                buf.write(bytes(buf.nbytes))

    def state_dict(self):
        """The optimizer's state as plain JSON-able values: kind, options, lr, step count and
        each parameter's buffers (little-endian float32, base64).

        >>> import json
        >>> from agentdb.kernel import load
        >>> json.loads(json.dumps(SGD([load().alloc(2)], lr=0.1).state_dict()))["kind"]
        'SGD'
        """
        return {"kind": self.kind, "format": FORMAT, "lr": self.lr, "steps": self.steps, "options": self._options(),
                "state": [{name: base64.b64encode(buf.read().tobytes()).decode("ascii") for name, buf in state.items()}
                          for state in self.state]}

    def load_state_dict(self, state):
        """Restores a state_dict() of the same kind over the same parameter shapes; the next step
        is then the one the saved optimizer would have taken (the same bits).

        >>> from agentdb.kernel import load
        >>> a = SGD([load().alloc(1)], lr=0.1, momentum=0.9)
        >>> b = SGD([load().alloc(1)], lr=1.0)
        >>> b.load_state_dict(a.state_dict()); b.momentum, b.lr
        (0.9, 0.1)
        """
        if not isinstance(state, dict) or state.get("kind") != self.kind or state.get("format") != FORMAT:
            raise OptionError(f"not a {self.kind} state_dict (format {FORMAT})")
        steps, buffers = state.get("steps"), state.get("state")
        if not isinstance(steps, int) or steps < 0 or not isinstance(buffers, list) or \
                len(buffers) != len(self.params):
            raise OptionError(f"the state_dict holds state for {len(buffers or [])} parameters with steps = "
                              f"{steps!r}; this optimizer has {len(self.params)}")
        before, options = self._options(), state.get("options")
        if not isinstance(options, dict) or set(options) != set(before):
            raise OptionError(f"a {self.kind} state_dict's options are {sorted(before)}, got {options!r:.80}")
        try:
            self._set_options(**options)
            decoded = [self._decode(i, p, saved) for i, (p, saved) in enumerate(zip(self.params, buffers))]
            self.lr = state.get("lr")
        except Exception:
            self._set_options(**before)
            raise
        names, self.steps = self._buffer_names(), steps
        self.state = [{name: self.kernel.alloc(len(p)) for name in names} for p in self.params]
        for bufs, raw in zip(self.state, decoded):
            for name, data in raw.items():
                bufs[name].write(data)

    def _decode(self, i, p, saved):
        names = self._buffer_names()
        if not isinstance(saved, dict) or set(saved) != set(names):
            raise OptionError(f"state[{i}] should hold buffers {list(names)}, got {saved!r:.80}")
        try:
            raw = {name: base64.b64decode(saved[name], validate=True) for name in names}
        except (TypeError, ValueError):
            raise OptionError(f"state[{i}]'s buffers are not base64 text") from None
        for name, data in raw.items():
            if len(data) != 4 * len(p):
                raise DimensionError(f"state[{i}][{name!r}] holds {len(data) / 4:g} floats, params[{i}] {len(p)}")
        return raw

    def __repr__(self):
        options = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        return f"{self.kind}(lr={self.lr!r}, {options}, steps={self.steps})"

    # subclasses: _set_options(**options), _options() -> dict, _buffer_names(), _update(p, g, state)


class SGD(Optimizer):
    """Stochastic gradient descent, torch.optim.SGD's rule: weight decay added to the gradient,
    a momentum buffer (the gradient itself on the first step, then b * momentum + (1 - dampening)
    * g), Nesterov's look-ahead g + momentum * b, then param -= lr * update.

    >>> from agentdb.kernel import load
    >>> w = load().from_buffer([1.0])
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> opt.step([[1.0]]); opt.step([[1.0]])
    >>> round(w.read()[0], 6)   # 1 - 0.1 - 0.1 * 1.9
    0.71
    """

    kind = "SGD"

    def __init__(self, params, *, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False, kernel=None):
        super().__init__(params, lr=lr, kernel=kernel, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)

    def _set_options(self, *, momentum, dampening, weight_decay, nesterov):
        momentum, dampening = hyperparameter("momentum", momentum), hyperparameter("dampening", dampening, 0.0, 1.0)
        weight_decay = hyperparameter("weight_decay", weight_decay)
        if not isinstance(nesterov, bool):
            raise OptionError(f"nesterov must be True or False, got {nesterov!r}")
        if nesterov and (momentum == 0 or dampening != 0):
            raise OptionError("nesterov needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening, self.weight_decay, self.nesterov = momentum, dampening, weight_decay, nesterov

    def _options(self):
        return {"momentum": self.momentum, "dampening": self.dampening, "weight_decay": self.weight_decay,
                "nesterov": self.nesterov}

    def _buffer_names(self):
        return ("velocity",) if self.momentum else ()

    def _update(self, p, g, state):
        self.kernel.sgd_step(p, g, state.get("velocity"), lr=self.lr, momentum=self.momentum,
                             dampening=self.dampening, weight_decay=self.weight_decay, nesterov=self.nesterov,
                             first=self.steps == 1)


class Adam(Optimizer):
    """Adam, torch.optim.Adam's rule: L2 weight decay added to the gradient, m and v the running
    moments (m.lerp_(g, 1 - beta1); v = v * beta2 + (1 - beta2) g^2), bias-corrected, then
    param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).

    >>> from agentdb.kernel import load
    >>> w = load().from_buffer([3.0])
    >>> opt = Adam([w], lr=0.5, betas=(0.8, 0.99))
    >>> opt.step([[100.0]])
    >>> round(w.read()[0], 5)   # the first step moves lr, whatever the gradient's size
    2.5
    """

    kind = "Adam"
    decoupled = False

    def __init__(self, params, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, kernel=None):
        super().__init__(params, lr=lr, kernel=kernel, betas=betas, eps=eps, weight_decay=weight_decay)

    def _set_options(self, *, betas, eps, weight_decay):
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise OptionError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = tuple(hyperparameter(f"betas[{i}]", b, 0.0, 1.0, hi_open=True) for i, b in enumerate(betas))
        self.eps, self.weight_decay = hyperparameter("eps", eps), hyperparameter("weight_decay", weight_decay)

    def _options(self):
        return {"betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay}

    def _buffer_names(self):
        return ("m", "v")

    def _update(self, p, g, state):
        self.kernel.adam_step(p, g, state["m"], state["v"], lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
                              eps=self.eps, step=self.steps, weight_decay=self.weight_decay,
                              decoupled=self.decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay, torch.optim.AdamW's rule: param *= 1 - lr * weight_decay
    before the Adam step (the gradient itself is not decayed).

    >>> from agentdb.kernel import load
    >>> w = load().from_buffer([1.0])
    >>> AdamW([w], lr=0.1, weight_decay=0.5).step([[0.0]])
    >>> round(w.read()[0], 6)   # decayed by 1 - 0.05; a zero gradient moves nothing else
    0.95
    """

    kind = "AdamW"
    decoupled = True

    def __init__(self, params, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, kernel=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, kernel=kernel)
