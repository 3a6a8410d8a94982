"""The Kernel's ops for training (agentdb.learn): transpose, axpy, row-wise dots, scales and
sums, log, batched softmax and cross-entropy, matmul over the packed GEMM, the SGD / Adam
updates in torch.optim's order, and (internal, for agentdb.learn.losses) unit rows, their
backward step and InfoNCE in one call (a mixin of core.Kernel; formulas in
csrc/agentdb_kernel.h).
"""

import math
import numbers
import threading

from ..errors import ArgumentError, DimensionError, OptionError
from .buffers import U32_MAX, KBuffer, Ptr, as_view, new_array, u32

SGD_NESTEROV, SGD_FIRST = 1, 2   # AGK_SGD_* flags
MATMUL_TRANS_A, MATMUL_TRANS_B = 1, 2   # AGK_MATMUL_* flags
# floats of matmul scratch a thread keeps for its next call (4 MiB); larger needs are one-off
MATMUL_KEEP = 1 << 20


def hyperparameter(name, value, lo=0.0, hi=math.inf, *, hi_open=False):
    """A finite float hyperparameter in [lo, hi] (or [lo, hi)), or OptionError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not lo <= value <= hi or \
            hi_open and value == hi or not math.isfinite(value):
        span = f"[{lo}, {hi})" if hi_open else f"[{lo}, {hi}]"
        raise OptionError(f"{name} must be a finite number in {span}, got {value!r}")
    return float(value)


class LearnOps:
    """Training math: what agentdb.learn's layers, losses and optimizers run on."""

    def _apart(self, out, *inputs):
        # these ops read their inputs while they write out, so out must be another buffer
        for name, x in inputs:
            if out is not None and (out is x or isinstance(out, KBuffer) and isinstance(x, KBuffer)
                                    and out.handle is x.handle):
                raise ArgumentError(f"out must not be the same buffer as {name}")

    def _out_f32(self, out, length, name="out"):
        """_out for float32."""
        return self._out(out, "f", length, name)

    def _rows_of(self, x, dim, name):
        self._dims(dim=dim)
        x = self._in(x, "f", name)
        return x, self._rows(x, dim, name)

    def transpose(self, x, *, rows, cols, out=None):
        """x^T: x is rows x cols (row-major), the result cols x rows.

        >>> k.transpose([1, 2, 3, 4, 5, 6], rows=2, cols=3).tolist()
        [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        """
        self._dims(rows=rows, cols=cols)
        x = self._sized(x, "f", rows * cols, "x")
        out = self._out_f32(out, u32(rows * cols, "output length"))
        self._apart(out, ("x", x))
        self._call("agk_transpose_f32", Ptr(x, "f"), rows, cols, self._out_ptr(out, "f"))
        return out

    def axpy(self, alpha, x, y, *, out=None):
        """y + alpha * x, element-wise (a multiply, then an add); out may be y (or x).

        >>> k.axpy(2, [1, 2], [10, 20]).tolist()
        [12.0, 24.0]
        """
        px, py, n = self._pair(x, y)
        out = self._out_f32(out, n)
        self._call("agk_axpy_f32", float(alpha), px, py, n, self._out_ptr(out, "f"))
        return out

    def row_dots(self, a, b, *, dim, out=None):
        """dot(a row i, b row i) for paired rows (n x dim each): n values, each in dot()'s order.

        >>> k.row_dots([1, 2, 3, 4], [1, 1, 2, 0], dim=2).tolist()
        [3.0, 6.0]
        """
        a, n = self._rows_of(a, dim, "a")
        b = self._sized(b, "f", len(a), "b")
        out = self._out_f32(out, n)
        self._call("agk_row_dots_f32", Ptr(a, "f"), Ptr(b, "f"), n, dim, self._out_ptr(out, "f"))
        return out

    def scale_rows(self, x, s, *, dim, out=None):
        """Row i of x (n x dim) times s[i]; out may be x.

        >>> k.scale_rows([1, 2, 3, 4], [10, -1], dim=2).tolist()
        [10.0, 20.0, -3.0, -4.0]
        """
        x, n = self._rows_of(x, dim, "x")
        s = self._sized(s, "f", n, "s (one scale per row)")
        out = self._out_f32(out, len(x))
        self._apart(out, ("s", s))
        self._call("agk_scale_rows_f32", Ptr(x, "f"), Ptr(s, "f"), n, dim, self._out_ptr(out, "f"))
        return out

    def sum_rows(self, x, *, dim, out=None):
        """The dim column sums of x (n x dim), rows added in order from zero.

        >>> k.sum_rows([1, 2, 3, 4, 5, 6], dim=2).tolist()
        [9.0, 12.0]
        """
        x, n = self._rows_of(x, dim, "x")
        out = self._out_f32(out, dim)
        self._apart(out, ("x", x))
        self._call("agk_sum_rows_f32", Ptr(x, "f"), n, dim, self._out_ptr(out, "f"))
        return out

    def log(self, a, *, out=None):
        """Natural log, element-wise, within 2 ulp (the kernel's own polynomial, not libm):
        log(0) = -inf, a negative or NaN element gives NaN.

        >>> [round(v, 5) for v in k.log([1, 2.718282, 0.5])]
        [0.0, 1.0, -0.69315]
        """
        return self._unary("agk_log_f32", a, out)

    def softmax_rows(self, x, *, dim, out=None):
        """softmax() of each row of x (n x dim), the same bits as row by row; out may be x.

        >>> [round(v, 4) for v in k.softmax_rows([0, 0, 1, 3], dim=2)]
        [0.5, 0.5, 0.1192, 0.8808]
        """
        x, n = self._rows_of(x, dim, "x")
        out = self._out_f32(out, len(x))
        self._call("agk_softmax_rows_f32", Ptr(x, "f"), n, dim, self._out_ptr(out, "f"))
        return out

    def softmax_xent_rows(self, logits, targets, *, dim, grad=None):
        """Softmax cross-entropy of each row of logits (n x dim) against its class in targets
        (n uint32 values below dim), computed stably (the max subtracted, log-sum-exp with
        log()). Returns (mean loss as a float, grad) with grad = (softmax - onehot) / n, the
        gradient of the mean loss with respect to the logits.

        >>> loss, grad = k.softmax_xent_rows([0, 0, 0, 0], [0, 1], dim=2)
        >>> round(loss, 6), grad.tolist()
        (0.693147, [-0.25, 0.25, 0.25, -0.25])
        """
        logits, n = self._rows_of(logits, dim, "logits")
        if n == 0:
            raise DimensionError("logits has no rows")
        targets = self._sized(targets, "I", n, "targets (one class per row)")
        values = targets.read() if isinstance(targets, KBuffer) else targets
        if max(values) >= dim:
            i = next(i for i, t in enumerate(values) if t >= dim)
            raise ArgumentError(f"targets[{i}] = {values[i]} is not a class below dim = {dim}")
        grad = self._out_f32(grad, len(logits), "grad")
        self._apart(grad, ("logits", logits))
        loss = memoryview(new_array("f", 1))
        self._checked("agk_softmax_xent_rows_f32", Ptr(logits, "f"), Ptr(targets, "I"), n, dim,
                      self._out_ptr(grad, "f"), Ptr(loss, "f", True))
        return loss[0], grad

    # the two steps of a cosine's normalisation (agentdb.learn.losses), one kernel call each
    def _unit_rows(self, x, *, dim, inv=None, out=None):
        """The unit rows of x (n x dim) and their inverse norms: (inv, u) with inv[i] =
        1 / |x_i| (computed in double from the float32 squared norm, then rounded; 0 for a zero
        row) and u row i = x row i * inv[i]. out may be x.

        >>> inv, u = k._unit_rows([3, 4, 0, 0], dim=2)
        >>> inv.tolist(), u.tolist()
        ([0.20000000298023224, 0.0], [0.6000000238418579, 0.800000011920929, 0.0, 0.0])
        """
        x, n = self._rows_of(x, dim, "x")
        inv = self._out_f32(inv, n, "inv")
        out = self._out_f32(out, len(x))
        self._apart(inv, ("x", x), ("out", out))
        self._call("agk_unit_rows_f32", Ptr(x, "f"), n, dim, self._out_ptr(inv, "f"), self._out_ptr(out, "f"))
        return inv, out

    def _unit_backward(self, u, du, inv, *, dim, out=None):
        """dL/dx from dL/du through u = x / |x| (u and inv from _unit_rows):
        (du - u (u . du)) * inv row by row, the bits of row_dots, scale_rows, axpy(-1) and
        scale_rows in turn. out may be du.

        >>> k._unit_backward([1, 0], [2, 3], [0.5], dim=2).tolist()
        [0.0, 1.5]
        """
        u, n = self._rows_of(u, dim, "u")
        du = self._sized(du, "f", len(u), "du")
        inv = self._sized(inv, "f", n, "inv (one per row)")
        out = self._out_f32(out, len(u))
        self._apart(out, ("inv", inv))
        self._call("agk_unit_backward_f32", Ptr(u, "f"), Ptr(du, "f"), Ptr(inv, "f"), n, dim,
                   self._out_ptr(out, "f"))
        return out

    def _info_nce(self, anchors, positives, negatives, *, dim, inv_temperature):
        """InfoNCE over unit rows, forward and backward in one kernel call (agentdb.learn.losses
        checks the rows first; the math is info_nce's, step by step): (loss, d_anchors,
        d_positives, d_negatives or None) for n anchors and positives and m extra negatives.

        >>> loss, ga, gp, gn = k._info_nce([1, 0, 0, 1], [1, 0, 0, 1], None, dim=2, inv_temperature=1.0)
        >>> round(loss, 4), gn is None
        (0.3133, True)
        """
        anchors, n = self._rows_of(anchors, dim, "anchors")
        positives = self._sized(positives, "f", len(anchors), "positives")
        negatives = self._in(negatives, "f", "negatives")
        m = 0 if negatives is None else self._rows(negatives, dim, "negatives")
        length = self._call("agk_info_nce_scratch_len", n, m, dim) & U32_MAX
        if length == 0:
            raise DimensionError(f"InfoNCE scratch for {n} + {m} rows of {dim} exceeds the kernel's 4 GiB buffers")
        scratch = self._matmul_scratch(length)
        loss = memoryview(new_array("f", 1))
        ga, gp = self._out_f32(None, len(anchors)), self._out_f32(None, len(anchors))
        gn = self._out_f32(None, m * dim) if m else None
        self._call("agk_info_nce_f32", Ptr(anchors, "f"), Ptr(positives, "f"), Ptr(negatives, "f"), n, m, dim,
                   float(inv_temperature), Ptr(scratch, "f", True), Ptr(loss, "f", True), self._out_ptr(ga, "f"),
                   self._out_ptr(gp, "f"), self._out_ptr(gn, "f") if m else Ptr(None, "f"))
        return loss[0], ga, gp, gn

    def matmul(self, a, b, *, m, k, n, trans_a=False, trans_b=False, out=None):
        """op(a) @ op(b), an m x n row-major matrix: op(a) is m x k (a itself, or a k x m a
        transposed with trans_a), op(b) k x n (or an n x k b with trans_b). One kernel call
        that packs op(b) (and transposes a) into scratch the calling thread keeps, then runs
        the packed GEMM, so each element sums over p in order from 0, a multiply then an add.

        >>> k.matmul([1, 2, 3, 4], [1, 0, 0, 1], m=2, k=2, n=2, trans_a=True).tolist()
        [1.0, 3.0, 2.0, 4.0]
        """
        if not (type(m) is type(k) is type(n) is int and 0 < m <= U32_MAX and 0 < k <= U32_MAX and 0 < n <= U32_MAX):
            self._dims(m=m, k=k, n=n)      # the checks (and their messages) for anything unusual
        a = self._sized(a, "f", m * k, "a")
        b = self._sized(b, "f", k * n, "b")
        out = self._out_f32(out, u32(m * n, "output length"))
        if not trans_a:        # the GEMM reads a while it writes out (a transposed copy is apart)
            self._distinct(out, ("a", a))
        scratch = self._matmul_scratch(self.gemm_packed_len(k, n) + (m * k if trans_a else 0))
        flags = (MATMUL_TRANS_A if trans_a else 0) | (MATMUL_TRANS_B if trans_b else 0)
        self._call("agk_matmul_f32", Ptr(a, "f"), Ptr(b, "f"), m, k, n, flags, Ptr(scratch, "f", True),
                   self._out_ptr(out, "f"))
        return out

    def _matmul_scratch(self, length):
        """A KBuffer of at least `length` floats (matmul's and _info_nce's), the calling thread's
        own (a kernel call lets go of the GIL, so threads sharing one would race); kept up to
        MATMUL_KEEP floats."""
        local = self.__dict__.get("_learn_local") or self.__dict__.setdefault("_learn_local", threading.local())
        buf = getattr(local, "scratch", None)
        if buf is None or len(buf) < length:
            buf = self.alloc(u32(length, "matmul scratch length"))
            if length <= MATMUL_KEEP:
                local.scratch = buf
        return buf

    def _state(self, x, n, name):
        """A buffer the kernel updates in place, of n floats."""
        if x is None:
            raise ArgumentError(f"{name} is missing: the update needs a buffer of {n} floats")
        x = self._sized(x if isinstance(x, KBuffer) else as_view(x, "f", name=name, writable=True), "f", n, name)
        return Ptr(x, "f", True)

    def sgd_step(self, param, grad, velocity, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, first=False):
        """One torch.optim.SGD step on param, in place: grad (+ weight_decay * param), the
        momentum buffer velocity (set to that grad when `first`; unused and may be None when
        momentum is 0), Nesterov's look-ahead when `nesterov`, then param -= lr * update.

        >>> p = k.from_buffer([1.0, 2.0])
        >>> k.sgd_step(p, [0.5, -1.0], None, lr=0.1)
        >>> [round(v, 6) for v in p.read()]
        [0.95, 2.1]
        """
        lr, momentum, weight_decay = (hyperparameter(name, value) for name, value in
                                      (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)))
        dampening = hyperparameter("dampening", dampening, 0.0, 1.0)
        if nesterov and (momentum == 0 or dampening != 0):
            raise OptionError("nesterov needs momentum > 0 and dampening = 0")
        grad = self._in(grad, "f", "grad")
        n = u32(len(grad), "vector length")
        p = self._state(param, n, "param")
        v = self._state(velocity, n, "velocity (momentum's buffer)") if momentum else Ptr(None, "f")
        flags = (SGD_NESTEROV if nesterov else 0) | (SGD_FIRST if first else 0)
        self._call("agk_sgd_step_f32", p, Ptr(grad, "f"), v, n, lr, momentum, 1.0 - dampening, weight_decay, flags)

    def adam_step(self, param, grad, m, v, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, step, weight_decay=0.0,
                  decoupled=False):
        """One torch.optim.Adam step (AdamW's with decoupled=True) on param, in place, with
        its moment buffers m and v; `step` counts from 1. Adam adds weight_decay * param to
        the gradient, AdamW multiplies param by 1 - lr * weight_decay first. The bias
        corrections are computed here in double, as torch does, and passed as floats.

        >>> p, m, v = k.from_buffer([1.0]), k.alloc(1), k.alloc(1)
        >>> k.adam_step(p, [4.0], m, v, lr=0.1, step=1)
        >>> round(p.read()[0], 6)
        0.9
        """
        lr, eps, weight_decay = (hyperparameter(name, value) for name, value in
                                 (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)))
        beta1, beta2 = (hyperparameter(name, value, hi=1.0, hi_open=True) for name, value in
                        (("beta1", beta1), ("beta2", beta2)))
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise OptionError(f"step must be a positive integer (the update's number, from 1), got {step!r}")
        grad = self._in(grad, "f", "grad")
        n = u32(len(grad), "vector length")
        bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
        l2, decay = (0.0, 1 - lr * weight_decay) if decoupled else (weight_decay, 1.0)
        self._call("agk_adam_step_f32", self._state(param, n, "param"), Ptr(grad, "f"), self._state(m, n, "m"),
                   self._state(v, n, "v"), n, 1 - beta1, beta2, 1 - beta2, lr / bc1, bc2 ** 0.5, eps, l2, decay)
