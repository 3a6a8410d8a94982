"""The Kernel's element-wise and row math (SimdOps): add, mul, normalise, activations,
softmax, layer norm, finite checks (a mixin of core.Kernel).
"""

import math

from ..errors import DimensionError, NonFiniteError
from .buffers import U32_MAX, KBuffer, Ptr, as_view, u32


class MathOps:
    """Element-wise and per-row float32 math."""

    # ---- SIMD math (SimdOps) ----------------------------------------------------------------------

    def _pair(self, a, b):
        a, b = self._in(a, "f", "a"), self._in(b, "f", "b")
        if len(a) != len(b):
            raise DimensionError(f"vectors differ in length: {len(a)} and {len(b)}")
        return Ptr(a, "f"), Ptr(b, "f"), u32(len(a), "vector length")

    def dot(self, a, b):
        """Inner product, accumulated in float32 in the kernel's fixed order."""
        return self._call("agk_dot_f32", *self._pair(a, b))

    def cosine(self, a, b):
        """Cosine similarity; 0.0 when either vector is zero."""
        return self._call("agk_cos_f32", *self._pair(a, b))

    def l2sq(self, a, b):
        """Squared Euclidean distance."""
        return self._call("agk_l2_f32", *self._pair(a, b))

    def l2_distance(self, a, b):
        """Euclidean distance (SimdOps.l2Distance)."""
        return math.sqrt(self.l2sq(a, b))

    def matvec(self, mat, v, *, rows, cols, out=None):
        """out[r] = dot(mat[r], v) for a rows x cols row-major matrix."""
        mat, v = self._in(mat, "f", "mat"), self._in(v, "f", "v")
        if len(mat) != rows * cols or len(v) != cols:
            raise DimensionError(f"matvec needs a {rows}x{cols} matrix ({rows * cols} values) and {cols} "
                                 f"values, got {len(mat)} and {len(v)}")
        out = self._out(out, "f", rows)
        self._call("agk_matvec_f32", Ptr(mat, "f"), u32(rows, "rows"), u32(cols, "cols"), Ptr(v, "f"),
                   self._out_ptr(out, "f"))
        return out

    def _binary(self, fname, a, b, out):
        pa, pb, n = self._pair(a, b)
        out = self._out(out, "f", n)
        self._call(fname, pa, pb, n, self._out_ptr(out, "f"))
        return out

    def _unary(self, fname, a, out, *extra):
        a = self._in(a, "f", "a")
        n = u32(len(a), "vector length")
        out = self._out(out, "f", n)
        self._call(fname, Ptr(a, "f"), *extra, n, self._out_ptr(out, "f"))
        return out

    def add(self, a, b, *, out=None):
        """a + b, element-wise.

        >>> k.add([1, 2], [3, 4]).tolist()
        [4.0, 6.0]
        """
        return self._binary("agk_add_f32", a, b, out)

    def mul(self, a, b, *, out=None):
        """a * b, element-wise."""
        return self._binary("agk_mul_f32", a, b, out)

    def scale(self, a, s, *, out=None):
        """a * s for a scalar s."""
        return self._unary("agk_scale_f32", a, out, float(s))

    def normalize(self, a, *, out=None):
        """a / |a|; a zero vector stays zero."""
        return self._unary("agk_normalize_f32", a, out)

    def normalize_in_place(self, a):
        """Normalises a writable buffer or KBuffer in place and returns its squared norm before
        (one call: a non-finite result also reveals NaN or infinity in the input)."""
        a = a if isinstance(a, KBuffer) else as_view(a, "f", name="a", writable=True)
        return self._call("agk_normalize_f32", Ptr(a, "f", True), u32(len(a), "vector length"), Ptr(a, "f", True))

    def query_preparer(self, raw, q, *, normalize):
        """A call that prepares the query in KBuffer raw into KBuffer q as searches read it
        (normalised when `normalize`), its arguments bound once; it returns |raw|^2, which is
        not finite when an element is not. HNSW searches do the same step themselves."""
        if len(raw) != len(q):
            raise DimensionError(f"query buffers differ in length: {len(raw)} and {len(q)}")
        return self._b.bind("agk_prepare_query_f32", (Ptr(raw, "f"), u32(len(raw), "vector length"),
                                                      int(bool(normalize)), Ptr(q, "f", True)), scalars_only=True)

    def relu(self, a, *, out=None):
        """max(a, 0), element-wise."""
        return self._unary("agk_relu_f32", a, out)

    def gelu(self, a, *, out=None):
        """GELU, tanh approximation."""
        return self._unary("agk_gelu_f32", a, out)

    def sigmoid(self, a, *, out=None):
        """1 / (1 + exp(-a)), element-wise."""
        return self._unary("agk_sigmoid_f32", a, out)

    def exp(self, a, *, out=None):
        """exp(a), element-wise, within a few ulp (the kernel's own polynomial, not libm)."""
        return self._unary("agk_exp_f32", a, out)

    def softmax(self, a, *, out=None):
        """exp(a - max(a)) / sum(...): never overflows.

        >>> [round(v, 4) for v in k.softmax([1, 2, 3])]
        [0.09, 0.2447, 0.6652]
        """
        return self._unary("agk_softmax_f32", a, out)

    def layer_norm(self, a, *, gamma=None, beta=None, eps=1e-5, out=None):
        """(a - mean) / sqrt(var + eps) * gamma + beta (population variance)."""
        a = self._in(a, "f", "a")
        n = u32(len(a), "vector length")
        gamma, beta = self._in(gamma, "f", "gamma"), self._in(beta, "f", "beta")
        for name, v in (("gamma", gamma), ("beta", beta)):
            if v is not None and len(v) != n:
                raise DimensionError(f"{name} has {len(v)} values, input has {n}")
        out = self._out(out, "f", n)
        self._call("agk_layernorm_f32", Ptr(a, "f"), n, Ptr(gamma, "f"), Ptr(beta, "f"), float(eps),
                   self._out_ptr(out, "f"))
        return out

    def normalize_rows(self, x, *, dim):
        """Normalises each row of x (a writable buffer or KBuffer) in place."""
        n = self._rows(self._in(x, "f", "x"), dim, "x")
        self._call("agk_normalize_rows_f32", self._out_ptr(x, "f"), n, dim)
        return x

    def norms_sq(self, x, *, dim, out=None):
        """|row|^2 for each row of x (n x dim)."""
        x = self._in(x, "f", "x")
        n = self._rows(x, dim, "x")
        out = self._out(out, "f", n)
        self._call("agk_norms_sq_f32", Ptr(x, "f"), n, dim, self._out_ptr(out, "f"))
        return out

    def find_nonfinite(self, a):
        """Index of the first NaN or infinity in a, or -1."""
        a = self._in(a, "f", "a")
        n = u32(len(a), "vector length")
        i = self._call("agk_find_nonfinite_f32", Ptr(a, "f"), n) & U32_MAX
        return -1 if i == n else i

    def refuse_query(self, q, *, name="query", dim=None):
        """Raises NonFiniteError for a query (or m x dim queries) whose squared norm was not
        finite: naming its NaN or infinity, or saying the norm overflowed."""
        self.check_finite(q, name=name, dim=dim)
        raise NonFiniteError(f"{name}: a squared norm overflows float32; scale the vector down")

    def check_finite(self, a, *, name="vector", dim=None):
        """Raises NonFiniteError naming the first NaN or infinity (and its row when dim is given)."""
        i = self.find_nonfinite(a)
        if i >= 0:
            value = self._in(a, "f", name)[i] if not isinstance(a, KBuffer) else a.read(i, i + 1)[0]
            where = f"row {i // dim}, element {i % dim}" if dim else f"element {i}"
            raise NonFiniteError(f"{name}: {where} is {value}")
