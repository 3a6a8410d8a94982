"""The Kernel's Poincaré-ball ops (agentdb.nn.hyperbolic runs on them): Möbius addition, the
exponential and logarithmic maps (at a point, or at the origin when x is None), the geodesic
distance, projection into the ball, their vector-Jacobian products, and the inside-the-ball
check, over n paired rows of dim float32 values and a curvature -c (a mixin of core.Kernel;
formulas in csrc/agentdb_kernel.h, each row worked in double and rounded once).

These check shapes and c only; agentdb.nn.hyperbolic also checks that the values are finite
and the points inside the ball.
"""

import math
import numbers

from ..errors import ArgumentError
from .buffers import Ptr


def curvature(c):
    """c as a float for the kernel: a finite number > 0 (the ball's curvature is -c), else
    ArgumentError."""
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not math.isfinite(c) or not c > 0:
        raise ArgumentError(f"curvature c must be a finite number > 0 (the ball has curvature -c), got {c!r}")
    return float(c)


class HyperbolicOps:
    """Poincaré-ball math: what agentdb.nn.hyperbolic's functions call."""

    def _hyp_pair(self, x, y, dim, xname, yname):
        """(x or None, y, n): y as n x dim rows, x (optional) of the same length."""
        y, n = self._rows_of(y, dim, yname)
        x = self._sized(x, "f", len(y), xname)
        return x, y, n

    def _hyp_out(self, out, length, *inputs, name="out"):
        out = self._out_f32(out, length, name)
        self._apart(out, *inputs)
        return out

    def ball_check(self, x, *, dim, c=1.0):
        """The index of the first row of x (n x dim) on or outside the ball of radius
        1 / sqrt(c) (1 - c |x|^2 <= 0 in double, or NaN), or -1 when every row is inside.

        >>> k.ball_check([0.5, 0.5, 0.9, 0.9], dim=2), k.ball_check([0.1, 0.2], dim=2)
        (1, -1)
        """
        x, n = self._rows_of(x, dim, "x")
        i = self._call("agk_ball_check_f32", Ptr(x, "f"), n, dim, curvature(c)) & 0xFFFFFFFF
        return -1 if i >= n else i

    def mobius_add(self, x, y, *, dim, c=1.0, out=None):
        """x (+) y, Möbius addition row by row (n x dim each).

        >>> k.mobius_add([0.5, 0.0], [0.5, 0.0], dim=2).tolist()
        [0.800000011920929, 0.0]
        """
        x, y, n = self._hyp_pair(x, y, dim, "x", "y")
        out = self._hyp_out(out, len(y), ("x", x), ("y", y))
        self._call("agk_mobius_add_f32", Ptr(x, "f"), Ptr(y, "f"), n, dim, curvature(c), self._out_ptr(out, "f"))
        return out

    def exp_map(self, v, *, x=None, dim, c=1.0, out=None):
        """exp_x(v), the point reached from x along the tangent vector v (x None: the origin).

        >>> [round(t, 6) for t in k.exp_map([1.0, 0.0], dim=2)]
        [0.761594, 0.0]
        """
        x, v, n = self._hyp_pair(x, v, dim, "x", "v")
        out = self._hyp_out(out, len(v), ("x", x), ("v", v))
        self._call("agk_exp_map_f32", Ptr(x, "f"), Ptr(v, "f"), n, dim, curvature(c), self._out_ptr(out, "f"))
        return out

    def log_map(self, y, *, x=None, dim, c=1.0, out=None):
        """log_x(y), the tangent vector at x pointing to y (x None: the origin).

        >>> [round(t, 6) for t in k.log_map([0.761594, 0.0], dim=2)]
        [1.0, 0.0]
        """
        x, y, n = self._hyp_pair(x, y, dim, "x", "y")
        out = self._hyp_out(out, len(y), ("x", x), ("y", y))
        self._call("agk_log_map_f32", Ptr(x, "f"), Ptr(y, "f"), n, dim, curvature(c), self._out_ptr(out, "f"))
        return out

    def poincare_distance(self, x, y, *, dim, c=1.0, out=None):
        """The geodesic distance of each pair of rows: n values.

        >>> [round(t, 6) for t in k.poincare_distance([0.0, 0.0], [0.5, 0.0], dim=2)]
        [1.098612]
        """
        x, y, n = self._hyp_pair(x, y, dim, "x", "y")
        if x is None:
            raise ArgumentError("poincare_distance needs both x and y")
        out = self._hyp_out(out, n, ("x", x), ("y", y))
        self._call("agk_poincare_distance_f32", Ptr(x, "f"), Ptr(y, "f"), n, dim, curvature(c),
                   self._out_ptr(out, "f"))
        return out

    def project_to_ball(self, x, *, dim, c=1.0, eps=1e-5, out=None):
        """geoopt's projection: rows longer than (1 - eps) / sqrt(c) scaled to that length, the
        others copied; out may be x. eps in [0, 1).

        >>> k.project_to_ball([3.0, 4.0, 0.1, 0.0], dim=2, eps=0.5).tolist()
        [0.30000001192092896, 0.4000000059604645, 0.10000000149011612, 0.0]
        """
        x, n = self._rows_of(x, dim, "x")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 <= eps < 1:
            raise ArgumentError(f"eps must be a number in [0, 1), got {eps!r}")
        out = self._out_f32(out, len(x))
        self._call("agk_project_to_ball_f32", Ptr(x, "f"), n, dim, curvature(c), float(eps), self._out_ptr(out, "f"))
        return out

    def _hyp_backward(self, fname, x, y, grad, dim, c, names, *, want_dx=True, scalar_grad=False):
        x, y, n = self._hyp_pair(x, y, dim, *names)
        grad = self._sized(grad, "f", n if scalar_grad else len(y), "grad")
        dx = self._out_f32(None, len(y)) if x is not None and want_dx else None
        dy = self._out_f32(None, len(y))
        self._call(fname, Ptr(x, "f"), Ptr(y, "f"), Ptr(grad, "f"), n, dim, curvature(c),
                   self._out_ptr(dx, "f") if dx is not None else Ptr(None, "f"), self._out_ptr(dy, "f"))
        return dx, dy

    def mobius_add_backward(self, x, y, grad, *, dim, c=1.0):
        """(dL/dx, dL/dy) of x (+) y given grad = dL/d(x (+) y), row by row.

        >>> [v.tolist() for v in k.mobius_add_backward([0.0, 0.0], [0.0, 0.0], [1.0, 2.0], dim=2)]
        [[1.0, 2.0], [1.0, 2.0]]
        """
        if x is None:
            raise ArgumentError("mobius_add_backward needs both x and y")
        return self._hyp_backward("agk_mobius_add_backward_f32", x, y, grad, dim, c, ("x", "y"))

    def exp_map_backward(self, v, grad, *, x=None, dim, c=1.0, want_dx=True):
        """(dL/dx or None, dL/dv) of exp_x(v) given grad = dL/d(exp_x(v)); dL/dx is None for
        the origin (x None) or with want_dx=False.

        >>> dx, dv = k.exp_map_backward([0.0, 0.0], [1.0, 0.0], dim=2)
        >>> dx, dv.tolist()
        (None, [1.0, 0.0])
        """
        return self._hyp_backward("agk_exp_map_backward_f32", x, v, grad, dim, c, ("x", "v"), want_dx=want_dx)

    def log_map_backward(self, y, grad, *, x=None, dim, c=1.0, want_dx=True):
        """(dL/dx or None, dL/dy) of log_x(y) given grad = dL/d(log_x(y)); dL/dx is None for
        the origin (x None) or with want_dx=False.

        >>> dx, dy = k.log_map_backward([0.0, 0.0], [1.0, 0.0], dim=2)
        >>> dx, dy.tolist()
        (None, [1.0, 0.0])
        """
        return self._hyp_backward("agk_log_map_backward_f32", x, y, grad, dim, c, ("x", "y"), want_dx=want_dx)

    def poincare_distance_backward(self, x, y, grad, *, dim, c=1.0):
        """(dL/dx, dL/dy) of the distances given grad = dL/d(distance), one value per row.

        >>> [[round(t, 6) for t in v] for v in k.poincare_distance_backward([0.0, 0.0], [0.5, 0.0], [1.0], dim=2)]
        [[-2.0, 0.0], [2.666667, 0.0]]
        """
        if x is None:
            raise ArgumentError("poincare_distance_backward needs both x and y")
        return self._hyp_backward("agk_poincare_distance_backward_f32", x, y, grad, dim, c, ("x", "y"),
                                  scalar_grad=True)
