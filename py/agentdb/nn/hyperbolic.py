"""Poincaré-ball math, numerically stable near the boundary, with gradients: Möbius addition,
the exponential and logarithmic maps (at a point and at the origin), the geodesic distance and
projection into the ball, for the ball of curvature -c (c > 0, radius 1 / sqrt(c)).

The formulas are geoopt's (PoincareBall; geoopt/manifolds/stereographic/math.py with k = -c),
clamps included, except artanh's argument, which is clamped to 1 - 1e-15 instead of 1 - 1e-7:
each row is read as float32, computed in double in the kernel and rounded once, so points
within a few float32 steps of the boundary keep distinct (and monotone) distances where
geoopt's float32 ones collapse to one value. Where geoopt's expanded forms cancel even in
double (two distinct points both near the boundary: its Möbius denominator is then of order
|x - y|^2, and at |x| = 1 - 1e-7 its float64 distances are off by 8%), Möbius sums are formed from
x + y element by element and the distance is the closed form arcosh(1 + 2c|x - y|^2 / ((1 -
c|x|^2)(1 - c|y|^2))) / sqrt(c): such points keep distinct, ordered distances, to float32
rounding, and d(x, x) = 0. Every op is one kernel call over n paired rows
(n x dim, row-major: array.array, KBuffer, numpy arrays or lists of rows); a row gives the
same bits alone or in a batch, natively and in the browser. The *_backward functions give the
vector-Jacobian products (dL/d(each input) from dL/d(output)).

Points must be strictly inside the ball (ArgumentError otherwise; project_to_ball brings
rows in), values finite (NonFiniteError), shapes consistent (DimensionError). Results are
float32 array.array buffers (or the caller's `out`). As in geoopt's math functions, results
are not projected: compose with project_to_ball where a result may round onto the boundary.

>>> d = poincare_distance([0.0, 0.0], [0.5, 0.0], dim=2)
>>> round(d[0], 6)                       # 2 artanh(0.5) = ln 3
1.098612
"""

import math

from ..errors import ArgumentError, DimensionError
from ..kernel import load
from ..kernel.buffers import KBuffer
from ..kernel.hyperbolic_ops import curvature
from ..learn.lora import as_rows

__all__ = ["mobius_add", "exp_map", "exp_map0", "log_map", "log_map0", "poincare_distance", "project_to_ball",
           "mobius_add_backward", "exp_map_backward", "exp_map0_backward", "log_map_backward",
           "log_map0_backward", "poincare_distance_backward"]


def _rows(k, x, dim, name, n=None):
    view, rows = as_rows(k, x, dim, name)
    if n is not None and rows != n:
        raise DimensionError(f"{name} has {rows} rows, {n} expected (one per row of the other input)")
    return view, rows


def _points(k, x, dim, c, name, n=None):
    """x as finite rows strictly inside the ball of radius 1 / sqrt(c), else a typed error."""
    view, rows = _rows(k, x, dim, name, n)
    i = k.ball_check(view, dim=dim, c=c)
    if i >= 0:
        row = view.read(i * dim, (i + 1) * dim) if isinstance(view, KBuffer) else view[i * dim:(i + 1) * dim]
        norm = math.sqrt(math.fsum(float(v) * float(v) for v in row))
        raise ArgumentError(f"{name}: row {i} is not inside the Poincare ball of radius 1/sqrt(c) = "
                            f"{1 / math.sqrt(c):.9g}: its norm is {norm:.9g} (project_to_ball brings rows inside)")
    return view, rows


def _setup(c, kernel):
    return curvature(c), kernel or load()


def mobius_add(x, y, *, dim, c=1.0, out=None, kernel=None):
    """x (+) y, Möbius addition of paired rows (both inside the ball).

    >>> mobius_add([0.5, 0.0], [0.5, 0.0], dim=2).tolist()
    [0.800000011920929, 0.0]
    """
    c, k = _setup(c, kernel)
    x, n = _points(k, x, dim, c, "x")
    y, _ = _points(k, y, dim, c, "y", n)
    return k.mobius_add(x, y, dim=dim, c=c, out=out)


def exp_map(x, v, *, dim, c=1.0, out=None, kernel=None):
    """exp_x(v): the point reached from x (inside the ball) along the tangent vector v.

    >>> [round(t, 6) for t in exp_map([0.0, 0.0], [1.0, 0.0], dim=2)]   # tanh(1)
    [0.761594, 0.0]
    """
    c, k = _setup(c, kernel)
    x, n = _points(k, x, dim, c, "x")
    v, _ = _rows(k, v, dim, "v", n)
    return k.exp_map(v, x=x, dim=dim, c=c, out=out)


def exp_map0(v, *, dim, c=1.0, out=None, kernel=None):
    """exp_0(v) = tanh(sqrt(c) |v|) v / (sqrt(c) |v|), the exponential map at the origin.

    >>> [round(t, 6) for t in exp_map0([0.0, 2.0], dim=2, c=0.25)]   # 2 tanh(1)
    [0.0, 1.523188]
    """
    c, k = _setup(c, kernel)
    v, _ = _rows(k, v, dim, "v")
    return k.exp_map(v, dim=dim, c=c, out=out)


def log_map(x, y, *, dim, c=1.0, out=None, kernel=None):
    """log_x(y): the tangent vector at x pointing to y (both inside the ball); exp_map's inverse.

    >>> [round(t, 5) for t in log_map([0.1, 0.0], exp_map([0.1, 0.0], [0.3, -0.2], dim=2), dim=2)]
    [0.3, -0.2]
    """
    c, k = _setup(c, kernel)
    x, n = _points(k, x, dim, c, "x")
    y, _ = _points(k, y, dim, c, "y", n)
    return k.log_map(y, x=x, dim=dim, c=c, out=out)


def log_map0(y, *, dim, c=1.0, out=None, kernel=None):
    """log_0(y) = artanh(sqrt(c) |y|) y / (sqrt(c) |y|), the logarithmic map at the origin.

    >>> [round(t, 6) for t in log_map0([0.761594, 0.0], dim=2)]
    [1.0, 0.0]
    """
    c, k = _setup(c, kernel)
    y, _ = _points(k, y, dim, c, "y")
    return k.log_map(y, dim=dim, c=c, out=out)


def poincare_distance(x, y, *, dim, c=1.0, out=None, kernel=None):
    """The geodesic distance of each pair of rows, 2 / sqrt(c) artanh(sqrt(c) |(-x) (+) y|): n values.

    >>> near = 1 - 2 ** -23                       # two float32 steps from the boundary
    >>> d = poincare_distance([0.0, 0.0, 0.0, 0.0], [near, 0.0, 1 - 2 ** -22, 0.0], dim=2)
    >>> d[0] > d[1], round(d[0], 4)               # distinct and monotone, ln(2^24 - 1)
    (True, 16.6355)
    """
    c, k = _setup(c, kernel)
    x, n = _points(k, x, dim, c, "x")
    y, _ = _points(k, y, dim, c, "y", n)
    return k.poincare_distance(x, y, dim=dim, c=c, out=out)


def project_to_ball(x, *, dim, c=1.0, eps=1e-5, out=None, kernel=None):
    """Rows longer than (1 - eps) / sqrt(c) scaled to that length, the others unchanged
    (geoopt's project; its default eps is 4e-3 for float32). out may be x.

    >>> project_to_ball([3.0, 4.0], dim=2, eps=0.5).tolist()
    [0.30000001192092896, 0.4000000059604645]
    """
    c, k = _setup(c, kernel)
    x, _ = _rows(k, x, dim, "x")
    return k.project_to_ball(x, dim=dim, c=c, eps=eps, out=out)


def _grad(k, grad, dim, n, scalar=False):
    if scalar:
        g, rows = _rows(k, grad, 1, "grad")
        if rows != n:
            raise DimensionError(f"grad has {rows} values, {n} expected (one per distance)")
        return g
    return _rows(k, grad, dim, "grad", n)[0]


def mobius_add_backward(x, y, grad, *, dim, c=1.0, kernel=None):
    """(dL/dx, dL/dy) of x (+) y, given grad = dL/d(x (+) y).

    >>> dx, dy = mobius_add_backward([0.0, 0.0], [0.5, 0.0], [1.0, 0.0], dim=2)
    >>> [round(t, 6) for t in dx], [round(t, 6) for t in dy]
    ([0.75, 0.0], [1.0, 0.0])
    """
    c, k = _setup(c, kernel)
    x, n = _points(k, x, dim, c, "x")
    y, _ = _points(k, y, dim, c, "y", n)
    return k.mobius_add_backward(x, y, _grad(k, grad, dim, n), dim=dim, c=c)


def exp_map_backward(x, v, grad, *, dim, c=1.0, kernel=None):
    """(dL/dx, dL/dv) of exp_x(v), given grad = dL/d(exp_x(v)).

    >>> dx, dv = exp_map_backward([0.0, 0.0], [0.0, 0.0], [1.0, 0.0], dim=2)
    >>> dx.tolist(), dv.tolist()
    ([1.0, 0.0], [1.0, 0.0])
    """
    c, k = _setup(c, kernel)
    x, n = _points(k, x, dim, c, "x")
    v, _ = _rows(k, v, dim, "v", n)
    return k.exp_map_backward(v, _grad(k, grad, dim, n), x=x, dim=dim, c=c)


def exp_map0_backward(v, grad, *, dim, c=1.0, kernel=None):
    """dL/dv of exp_0(v), given grad = dL/d(exp_0(v)).

    >>> [round(t, 6) for t in exp_map0_backward([1.0, 0.0], [1.0, 0.0], dim=2)]   # sech(1)^2
    [0.419974, 0.0]
    """
    c, k = _setup(c, kernel)
    v, n = _rows(k, v, dim, "v")
    return k.exp_map_backward(v, _grad(k, grad, dim, n), dim=dim, c=c)[1]


def log_map_backward(x, y, grad, *, dim, c=1.0, kernel=None):
    """(dL/dx, dL/dy) of log_x(y), given grad = dL/d(log_x(y)).

    >>> dx, dy = log_map_backward([0.0, 0.0], [0.0, 0.0], [1.0, 0.0], dim=2)
    >>> dx.tolist(), dy.tolist()
    ([-1.0, 0.0], [1.0, 0.0])
    """
    c, k = _setup(c, kernel)
    x, n = _points(k, x, dim, c, "x")
    y, _ = _points(k, y, dim, c, "y", n)
    return k.log_map_backward(y, _grad(k, grad, dim, n), x=x, dim=dim, c=c)


def log_map0_backward(y, grad, *, dim, c=1.0, kernel=None):
    """dL/dy of log_0(y), given grad = dL/d(log_0(y)).

    >>> [round(t, 6) for t in log_map0_backward([0.5, 0.0], [1.0, 0.0], dim=2)]   # 1 / (1 - 0.25)
    [1.333333, 0.0]
    """
    c, k = _setup(c, kernel)
    y, n = _points(k, y, dim, c, "y")
    return k.log_map_backward(y, _grad(k, grad, dim, n), dim=dim, c=c)[1]


def poincare_distance_backward(x, y, grad, *, dim, c=1.0, kernel=None):
    """(dL/dx, dL/dy) of the distances, given grad = dL/d(distance), one value per row.

    >>> dx, dy = poincare_distance_backward([0.0, 0.0], [0.5, 0.0], [1.0], dim=2)
    >>> [round(t, 6) for t in dx], [round(t, 6) for t in dy]
    ([-2.0, 0.0], [2.666667, 0.0])
    """
    c, k = _setup(c, kernel)
    x, n = _points(k, x, dim, c, "x")
    y, _ = _points(k, y, dim, c, "y", n)
    return k.poincare_distance_backward(x, y, _grad(k, grad, dim, n, scalar=True), dim=dim, c=c)
