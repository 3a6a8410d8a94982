"""agentdb.nn.hyperbolic (csrc/hyperbolic.c): every op and its vector-Jacobian products against
a float64 torch reference of geoopt's formulas (checked against geoopt itself), near-boundary
points that keep distinct monotone distances, the same bits on every backend and ISA level and
for any batch size, and the typed errors."""
import doctest

import numpy as np
import pytest
import torch

from agentdb.errors import ArgumentError, DimensionError, NonFiniteError
from agentdb.kernel import hyperbolic_ops
from agentdb.nn import hyperbolic as hyp
from support import bits

DIMS = (1, 3, 17, 97, 384)
CURVATURES = (0.3, 1.0, 2.5)
TOL = 1e-5
MEASURED = {}     # op -> the largest relative error seen (printed with -s)


# ---- the float64 reference: geoopt's PoincareBall formulas (geoopt/manifolds/stereographic/math.py,
# _mobius_add, _expmap, _expmap0, _logmap, _logmap0, _dist, _project with k = -c), except that artanh's
# argument is clamped to 1 - 1e-15 (geoopt: 1 - 1e-7) and tanh is not clamped at 15 ----

def r_mobius_add(x, y, c):
    x2, y2, xy = (x * x).sum(-1, keepdim=True), (y * y).sum(-1, keepdim=True), (x * y).sum(-1, keepdim=True)
    num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
    return num / (1 + 2 * c * xy + c ** 2 * x2 * y2).clamp_min(1e-15)


def r_artanh(z):
    return torch.atanh(z.clamp(max=1 - 1e-15))


def r_lambda(x, c):
    return 2 / (1 - c * (x * x).sum(-1, keepdim=True)).clamp_min(1e-15)


def r_exp_map(x, u, c):
    sc = c ** 0.5
    un = u.norm(dim=-1, keepdim=True).clamp_min(1e-15)
    return r_mobius_add(x, torch.tanh(sc * (r_lambda(x, c) / 2 * un)) * u / (sc * un), c)


def r_log_map(x, y, c):
    sc = c ** 0.5
    sub = r_mobius_add(-x, y, c)
    sn = sub.norm(dim=-1, keepdim=True).clamp_min(1e-15)
    return 2 / sc * r_artanh(sc * sn) * sub / (r_lambda(x, c) * sn)


def r_distance(x, y, c):
    sc = c ** 0.5
    return 2 / sc * r_artanh(sc * r_mobius_add(-x, y, c).norm(dim=-1))


def r_project(x, c, eps):
    norm = x.norm(dim=-1, keepdim=True).clamp_min(1e-15)
    maxnorm = (1 - eps) / c ** 0.5
    return torch.where(norm > maxnorm, x / norm * maxnorm, x)


# ---- data ----

def ball(rng, n, dim, c, *, near=False):
    """n float32 points inside the ball of radius 1 / sqrt(c): uniform radii in [0, 0.999 R), or
    (near) at 1 - delta of R with delta from 1e-1 down to 1e-4.

    Why not closer here: when both operands of a Mobius addition are within delta of the
    boundary and nearly opposite (x near the boundary and exp_map's tanh saturated, or two
    near-boundary points close together for (-x) (+) y), geoopt's denominator
    1 + 2c<x,y> + c^2|x|^2|y|^2 is of order delta^2 and is computed by cancellation, so any float64
    evaluation, geoopt's and this float64 reference included, is off by about 1e-16 / delta^2
    (at delta = 1e-6, 1e-4 relative, against a 60-digit mpmath evaluation). Points down to a single
    float32 step from the boundary, against well-conditioned partners, are checked below
    (test_boundary_points_keep_distinct_monotone_distances)."""
    d = rng.standard_normal((n, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    frac = 1 - 10.0 ** -rng.uniform(1, 4, (n, 1)) if near else rng.random((n, 1)) * 0.999
    x = (d * frac / np.sqrt(np.float32(c))).astype(np.float32)
    c32 = np.float64(np.float32(c))
    inside = 1 - c32 * (x.astype(np.float64) ** 2).sum(1) > 0
    return x[inside] if inside.all() else ball(rng, n, dim, c, near=near)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, np.float64), dtype=torch.float64, requires_grad=grad)


def arr(x, shape):
    return np.frombuffer(memoryview(x).cast("B"), dtype=np.float32).astype(np.float64).reshape(shape)


def row_rel(got, want):
    """The relative error of a batch of rows: the larger of the norm-wise error of the whole batch
    (the measure support.rel and every gradient check use) and the worst row's own norm-wise error
    among rows at least 1e-3 of the largest. Rows far below that are a vanishing gradient (tanh
    saturated), rounding noise in any float64 evaluation and not a fair relative measure."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    got, want = got.reshape(len(want), -1), want.reshape(len(want), -1)
    err, scale = np.linalg.norm(got - want, axis=1), np.linalg.norm(want, axis=1)
    whole = np.linalg.norm(err) / np.linalg.norm(scale) if scale.any() else np.linalg.norm(err)
    big = scale >= 1e-3 * scale.max()
    return float(max(whole, np.max(err[big] / scale[big]) if big.any() else 0.0))


def check(name, got, want):
    e = row_rel(got, want)
    MEASURED[name] = max(MEASURED.get(name, 0.0), e)
    assert e <= TOL, f"{name}: relative error {e:.3g}"


def cases(rng, dim, c):
    """(x, y, v): interior pairs, near-boundary pairs and a near-boundary x with an interior y;
    tangent vectors at x of Riemannian length lam_x |v| from 0.01 to 10 / sqrt(c) (so tanh
    nears saturation but exp_x(v) stays well-conditioned: see ball())."""
    n = 24
    x = np.concatenate([ball(rng, n, dim, c), ball(rng, n, dim, c, near=True), ball(rng, n, dim, c, near=True)])
    y = np.concatenate([ball(rng, n, dim, c), ball(rng, n, dim, c, near=True), ball(rng, n, dim, c)])
    lam = 2 / (1 - np.float32(c) * (x.astype(np.float64) ** 2).sum(1, keepdims=True))
    d = rng.standard_normal((3 * n, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    v = (d * rng.uniform(0.01, 10, (3 * n, 1)) / (lam * np.sqrt(c))).astype(np.float32)
    return x, y, v


# ---- accuracy against the reference (and the reference against geoopt) ----

def test_reference_is_geoopts_formulas():
    geoopt_math = pytest.importorskip("geoopt.manifolds.stereographic.math")
    rng = np.random.default_rng(3)
    for c in CURVATURES:
        x, y, v = (t64(a) for a in cases(rng, 17, c))
        x, y, v = x[:24], y[:24], v[:24] / 4         # geoopt's clamps (artanh 1 - 1e-7, tanh 15) do not bite
        k = torch.tensor(-c, dtype=torch.float64)
        for ours, theirs in ((r_mobius_add(x, y, c), geoopt_math.mobius_add(x, y, k=k)),
                             (r_exp_map(x, v, c), geoopt_math.expmap(x, v, k=k)),
                             (r_exp_map(x * 0, v, c), geoopt_math.expmap0(v, k=k)),
                             (r_log_map(x, y, c), geoopt_math.logmap(x, y, k=k)),
                             (r_log_map(x * 0, y, c), geoopt_math.logmap0(y, k=k)),
                             (r_distance(x, y, c), geoopt_math.dist(x, y, k=k)),
                             (r_project(x * 3, c, 1e-5), geoopt_math.project(x * 3, k=k, eps=1e-5))):
            assert torch.allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("c", CURVATURES)
@pytest.mark.parametrize("dim", DIMS)
def test_ops_and_gradients_match_the_reference(kernel, rng, dim, c):
    x, y, v = cases(rng, dim, c)
    n = len(x)
    cf = float(np.float32(c))        # the kernel computes with c as a float32
    g = rng.standard_normal((n, dim)).astype(np.float32)
    gd = rng.standard_normal(n).astype(np.float32)
    tx, ty, tv, tg, tgd = t64(x, True), t64(y, True), t64(v, True), t64(g), t64(gd)

    # the two-point ops: the output, then both gradients
    for name, ref, b, tb, second in (("mobius_add", r_mobius_add, y, ty, "dy"), ("exp_map", r_exp_map, v, tv, "dv"),
                                     ("log_map", r_log_map, y, ty, "dy")):
        out = ref(tx, tb, cf)
        dx, db = torch.autograd.grad(out, (tx, tb), tg)
        check(name, arr(getattr(hyp, name)(x, b, dim=dim, c=c, kernel=kernel), (n, dim)), out.detach().numpy())
        kx, kb = getattr(hyp, f"{name}_backward")(x, b, g, dim=dim, c=c, kernel=kernel)
        check(f"{name} dx", arr(kx, (n, dim)), dx.numpy())
        check(f"{name} {second}", arr(kb, (n, dim)), db.numpy())

    out = r_exp_map(tx * 0, tv, cf)
    (dv,) = torch.autograd.grad(out, (tv,), tg)
    check("exp_map0", arr(hyp.exp_map0(v, dim=dim, c=c, kernel=kernel), (n, dim)), out.detach().numpy())
    check("exp_map0 dv", arr(hyp.exp_map0_backward(v, g, dim=dim, c=c, kernel=kernel), (n, dim)), dv.numpy())

    out = r_log_map(tx * 0, ty, cf)
    (dy,) = torch.autograd.grad(out, (ty,), tg)
    check("log_map0", arr(hyp.log_map0(y, dim=dim, c=c, kernel=kernel), (n, dim)), out.detach().numpy())
    check("log_map0 dy", arr(hyp.log_map0_backward(y, g, dim=dim, c=c, kernel=kernel), (n, dim)), dy.numpy())

    out = r_distance(tx, ty, cf)
    dx, dy = torch.autograd.grad(out, (tx, ty), tgd)
    check("poincare_distance", arr(hyp.poincare_distance(x, y, dim=dim, c=c, kernel=kernel), (n, 1)),
          out.detach().numpy().reshape(n, 1))
    kx, ky = hyp.poincare_distance_backward(x, y, gd, dim=dim, c=c, kernel=kernel)
    check("poincare_distance dx", arr(kx, (n, dim)), dx.numpy())
    check("poincare_distance dy", arr(ky, (n, dim)), dy.numpy())

    outside = np.concatenate([x * 3, x, v]).astype(np.float32)
    want = r_project(t64(outside), cf, float(np.float32(1e-5))).numpy()
    check("project_to_ball", arr(hyp.project_to_ball(outside, dim=dim, c=c, kernel=kernel), want.shape), want)


def test_print_measured_errors(capsys):
    # runs after the accuracy tests in file order: a record of the worst errors (pytest -s shows it)
    with capsys.disabled():
        for name, e in sorted(MEASURED.items()):
            print(f"  {name:24s} max relative error {e:.2e}")


@pytest.mark.parametrize("c", CURVATURES)
def test_boundary_points_keep_distinct_monotone_distances(kernel, c):
    """Points 1, 2, ..., 64 float32 steps inside the boundary: 64 distinct, strictly decreasing
    distances from the origin and from an interior point, each the reference's to 1e-6
    (geoopt's artanh clamp at 1 - 1e-7 gives float32 users one value for all of them)."""
    dim = 17
    radius = np.float32(1 / np.sqrt(np.float32(c)))
    r = np.float32(radius)
    steps = []
    while len(steps) < 64:             # successive float32 values just below the radius
        r = np.nextafter(r, np.float32(0))
        if 1 - np.float64(np.float32(c)) * np.float64(r) ** 2 > 0:
            steps.append(r)
    y = np.zeros((64, dim), np.float32)
    y[:, 0] = steps
    cf = float(np.float32(c))
    for x0 in (np.zeros(dim, np.float32), np.linspace(-0.3, 0.3, dim, dtype=np.float32) / np.float32(np.sqrt(dim))):
        x = np.tile(x0, (64, 1))
        d = arr(hyp.poincare_distance(x, y, dim=dim, c=c, kernel=kernel), (64,))
        assert len(set(d.tolist())) == 64 and np.all(np.diff(d) < 0)
        want = r_distance(t64(x), t64(y), cf).numpy()
        assert np.all(np.abs(d - want) <= 1e-6 * want)
        # the gradients stay finite and match too
        dx, dy = hyp.poincare_distance_backward(x, y, np.ones(64, np.float32), dim=dim, c=c, kernel=kernel)
        tx, ty = t64(x, True), t64(y, True)
        rx, ry = torch.autograd.grad(r_distance(tx, ty, cf).sum(), (tx, ty))
        check("poincare_distance dx (boundary)", arr(dx, (64, dim)), rx.numpy())
        check("poincare_distance dy (boundary)", arr(dy, (64, dim)), ry.numpy())
    # and log_0 of those points grows with them
    lengths = np.linalg.norm(arr(hyp.log_map0(y, dim=dim, c=c, kernel=kernel), (64, dim)), axis=1)
    assert np.all(np.diff(lengths) < 0)


def test_geoopt_float32_collapses_where_we_do_not():
    geoopt_math = pytest.importorskip("geoopt.manifolds.stereographic.math")
    steps = [np.float32(1)]
    for _ in range(32):
        steps.append(np.nextafter(steps[-1], np.float32(0)))
    y = np.zeros((32, 3), np.float32)
    y[:, 0] = steps[1:]
    for other in (0.0, 0.5):          # from the origin, and from 0.5 e2
        x = np.zeros_like(y)
        x[:, 1] = other
        theirs = geoopt_math.dist(torch.tensor(x), torch.tensor(y), k=torch.tensor(-1.0)).numpy()
        ours = hyp.poincare_distance(x, y, dim=3)
        # measured: geoopt 31 and 17 distinct values of 32; ours 32, decreasing as the points move in
        assert len(set(theirs.tolist())) < 32 and len(set(ours.tolist())) == 32
        assert np.all(np.diff(np.asarray(ours)) < 0)


def mp_distance(x, y):
    """arcosh(1 + 2|x - y|^2 / ((1 - |x|^2)(1 - |y|^2))) at 60 digits (c = 1): the exact distance of
    the float32 rows."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    out = []
    for a, b in zip(x, y):
        a, b = [mpmath.mpf(float(t)) for t in a], [mpmath.mpf(float(t)) for t in b]
        uu = sum((p - q) ** 2 for p, q in zip(a, b))
        out.append(float(mpmath.acosh(1 + 2 * uu / ((1 - sum(p * p for p in a)) * (1 - sum(q * q for q in b))))))
    return np.array(out)


def mp_mobius(a, b):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    out = []
    for p, q in zip(a, b):
        p, q = [mpmath.mpf(float(t)) for t in p], [mpmath.mpf(float(t)) for t in q]
        pq, pp, qq = sum(s * t for s, t in zip(p, q)), sum(s * s for s in p), sum(t * t for t in q)
        out.append([float(((1 + 2 * pq + qq) * s + (1 - pp) * t) / (1 + 2 * pq + pp * qq)) for s, t in zip(p, q)])
    return np.array(out)


def test_distinct_points_near_the_boundary_keep_distinct_ordered_distances(kernel):
    """Pairs of points both at |x| = 1 - 1e-6 .. 1 - 1e-7 (the 16 float32 radii there): along one
    ray, and at one radius a growing angle apart. Our distances are strictly ordered, d(x, x) = 0,
    and each is the 60-digit value to 1e-6 (measured: 4.5e-8; before the closed form,
    geoopt's Mobius form in double: 1.4e-4). Measured for geoopt 0.5.1: in float32 the 16 points
    on a ray give 2 distinct distances (0 and 16.635532, artanh's clamp) and the angles 1
    (16.635532, where the truth is 8.4 .. 14.1); in float64 its angle distances at 1 - 1e-7 are off
    by 8%."""
    geoopt_math = pytest.importorskip("geoopt.manifolds.stereographic.math")
    dim, radii, r = 3, [], np.float32(1 - 1e-7)
    while r >= np.float32(1 - 1e-6):
        radii.append(r)
        r = np.nextafter(r, np.float32(0))
    radii = np.array(radii[::-1])
    assert len(radii) == 16
    x = np.zeros((16, dim), np.float32)
    x[:, 0] = radii[0]
    y = np.zeros((16, dim), np.float32)
    y[:, 0] = radii                                   # the first pair is x with itself
    ours = arr(hyp.poincare_distance(x, y, dim=dim, kernel=kernel), (16,))
    assert ours[0] == 0 and np.all(np.diff(ours) > 0)
    assert np.all(np.abs(ours[1:] - mp_distance(x, y)[1:]) <= 1e-6 * mp_distance(x, y)[1:])
    theirs = geoopt_math.dist(torch.tensor(x), torch.tensor(y), k=torch.tensor(-1.0)).numpy()
    assert len(set(theirs.tolist())) <= 2
    angles = np.linspace(0, 1e-3, 16)[1:]
    for radius in (radii[0], radii[-1]):
        x = np.zeros((15, dim), np.float32)
        x[:, 0] = radius
        y = np.zeros((15, dim), np.float32)
        y[:, 0], y[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
        ours = arr(hyp.poincare_distance(x, y, dim=dim, kernel=kernel), (15,))
        want = mp_distance(x, y)
        assert np.all(np.diff(ours) > 0) and np.all(np.abs(ours - want) <= 1e-6 * want)
        theirs = geoopt_math.dist(torch.tensor(x), torch.tensor(y), k=torch.tensor(-1.0)).numpy()
        assert len(set(theirs.tolist())) == 1
        # (-x) (+) y, the Mobius sum the distance is the norm of, to 1e-6 too
        got = arr(hyp.mobius_add(-x, y, dim=dim, kernel=kernel), (15, dim))
        mob = mp_mobius(-x, y)
        assert np.max(np.linalg.norm(got - mob, axis=1) / np.linalg.norm(mob, axis=1)) <= 1e-6
        # and the gradients stay finite
        dx, dy = hyp.poincare_distance_backward(x, y, np.ones(15, np.float32), dim=dim, kernel=kernel)
        assert np.isfinite(arr(dx, (15, dim))).all() and np.isfinite(arr(dy, (15, dim))).all()


# ---- the same bits: backends, ISA levels, batch sizes ----

def outputs(k, seed=11):
    """Every op's bits on mixed inputs (interior, near the boundary, odd dims), name -> bits."""
    rng = np.random.default_rng(seed)
    out = {}
    for dim in (1, 7, 17, 384):
        for c in (0.3, 1.0, 2.5):
            x, y, v = cases(rng, dim, c)
            n = len(x)
            g = rng.standard_normal((n, dim)).astype(np.float32)
            gd = rng.standard_normal(n).astype(np.float32)
            tag = f"{dim} {c}"
            out[f"mobius {tag}"] = bits(k.mobius_add(x, y, dim=dim, c=c))
            out[f"exp {tag}"] = bits(k.exp_map(v, x=x, dim=dim, c=c))
            out[f"exp0 {tag}"] = bits(k.exp_map(v, dim=dim, c=c))
            out[f"log {tag}"] = bits(k.log_map(y, x=x, dim=dim, c=c))
            out[f"log0 {tag}"] = bits(k.log_map(y, dim=dim, c=c))
            out[f"dist {tag}"] = bits(k.poincare_distance(x, y, dim=dim, c=c))
            out[f"project {tag}"] = bits(k.project_to_ball(v, dim=dim, c=c, eps=1e-3))
            for name, pair in (("mobius", k.mobius_add_backward(x, y, g, dim=dim, c=c)),
                               ("exp", k.exp_map_backward(v, g, x=x, dim=dim, c=c)),
                               ("exp0", (None, k.exp_map_backward(v, g, dim=dim, c=c)[1])),
                               ("log", k.log_map_backward(y, g, x=x, dim=dim, c=c)),
                               ("log0", (None, k.log_map_backward(y, g, dim=dim, c=c)[1])),
                               ("dist", k.poincare_distance_backward(x, y, gd, dim=dim, c=c))):
                for which, grad in zip(("dx", "dy"), pair):
                    if grad is not None:
                        out[f"{name} {which} {tag}"] = bits(grad)
    return out


def assert_same(got, want):
    assert got.keys() == want.keys()
    for name in got:
        assert np.array_equal(got[name], want[name]), name


def test_native_and_wasmhost_give_the_same_bits(native, wasmhost):
    assert_same(outputs(native), outputs(wasmhost))


def test_every_isa_level_gives_the_wasm_bits(level_kernel, wasmhost):
    assert_same(outputs(level_kernel, 5), outputs(wasmhost, 5))


def test_a_row_alone_or_in_any_batch_has_the_same_bits(kernel, rng):
    dim, c = 17, 0.7
    x, y, v = cases(rng, dim, c)
    n = len(x)
    g = rng.standard_normal((n, dim)).astype(np.float32)
    gd = rng.standard_normal(n).astype(np.float32)
    perm = rng.permutation(n)

    def ops(x, y, v, g, gd):
        return [kernel.mobius_add(x, y, dim=dim, c=c), kernel.exp_map(v, x=x, dim=dim, c=c),
                kernel.log_map(y, x=x, dim=dim, c=c), kernel.poincare_distance(x, y, dim=dim, c=c),
                kernel.project_to_ball(v, dim=dim, c=c), *kernel.mobius_add_backward(x, y, g, dim=dim, c=c),
                *kernel.exp_map_backward(v, g, x=x, dim=dim, c=c), *kernel.log_map_backward(y, g, x=x, dim=dim, c=c),
                *kernel.poincare_distance_backward(x, y, gd, dim=dim, c=c)]

    whole = [bits(o) for o in ops(x, y, v, g, gd)]
    shuffled = [bits(o) for o in ops(x[perm], y[perm], v[perm], g[perm], gd[perm])]
    for i in (0, 5, n - 1):
        alone = [bits(o) for o in ops(x[i:i + 1], y[i:i + 1], v[i:i + 1], g[i:i + 1], gd[i:i + 1])]
        for w, a in zip(whole, alone):
            per_row = len(w) // n
            assert np.array_equal(w[i * per_row:(i + 1) * per_row], a)
    for w, s in zip(whole, shuffled):
        per_row = len(w) // n
        assert np.array_equal(w.reshape(n, per_row)[perm], s.reshape(n, per_row))


def test_origin_variants_equal_an_explicit_zero_point(kernel, rng):
    dim, c = 17, 1.3
    _, y, v = cases(rng, dim, c)
    zero = np.zeros_like(y)
    g = rng.standard_normal(y.shape).astype(np.float32)
    assert np.array_equal(bits(kernel.exp_map(v, dim=dim, c=c)), bits(kernel.exp_map(v, x=zero, dim=dim, c=c)))
    assert np.array_equal(bits(kernel.log_map(y, dim=dim, c=c)), bits(kernel.log_map(y, x=zero, dim=dim, c=c)))
    assert np.array_equal(bits(kernel.exp_map_backward(v, g, dim=dim, c=c)[1]),
                          bits(kernel.exp_map_backward(v, g, x=zero, dim=dim, c=c)[1]))


def test_inputs_as_lists_kbuffers_and_out(kernel):
    x = kernel.from_buffer([0.1, 0.2, -0.3, 0.0])
    y = [[0.2, 0.1], [0.0, 0.5]]
    want = hyp.mobius_add([0.1, 0.2, -0.3, 0.0], [0.2, 0.1, 0.0, 0.5], dim=2, kernel=kernel).tolist()
    assert hyp.mobius_add(x, y, dim=2, kernel=kernel).tolist() == want
    out = kernel.alloc(4)
    assert hyp.mobius_add(x, y, dim=2, kernel=kernel, out=out) is out and out.read().tolist() == want
    p = np.array([3.0, 4.0, 0.1, 0.0], np.float32)
    hyp.project_to_ball(p, dim=2, eps=0.5, kernel=kernel, out=p)      # in place
    assert p.tolist() == [np.float32(0.3), np.float32(0.4), np.float32(0.1), 0.0]


# ---- errors ----

def test_errors(kernel):
    inside, outside = [0.1, 0.2], [0.6, 0.9]
    for bad_c in (0, -1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ArgumentError, match="curvature"):
            hyp.mobius_add(inside, inside, dim=2, c=bad_c, kernel=kernel)
    with pytest.raises(ArgumentError, match="row 1 is not inside"):
        hyp.poincare_distance(inside * 2, inside + outside, dim=2, kernel=kernel)
    with pytest.raises(ArgumentError, match="not inside"):
        hyp.exp_map(outside, inside, dim=2, kernel=kernel)
    with pytest.raises(ArgumentError, match="not inside"):
        hyp.log_map0([1.0, 0.0], dim=2, kernel=kernel)              # on the boundary
    with pytest.raises(ArgumentError, match="not inside"):
        hyp.mobius_add(inside, [0.5, 0.5], dim=2, c=2.5, kernel=kernel)   # inside for c = 1, not 2.5
    hyp.exp_map0([10.0, 10.0], dim=2, kernel=kernel)                 # tangent vectors may be long
    with pytest.raises(NonFiniteError, match="row 0, element 1"):
        hyp.log_map([0.1, float("nan")], inside, dim=2, kernel=kernel)
    with pytest.raises(NonFiniteError):
        hyp.exp_map0_backward(inside, [float("inf"), 0.0], dim=2, kernel=kernel)
    with pytest.raises(DimensionError):
        hyp.mobius_add([0.1, 0.2, 0.3], inside, dim=2, kernel=kernel)
    with pytest.raises(DimensionError, match="rows"):
        hyp.mobius_add(inside * 2, inside, dim=2, kernel=kernel)
    with pytest.raises(DimensionError):
        hyp.poincare_distance_backward(inside, inside, [1.0, 2.0], dim=2, kernel=kernel)
    with pytest.raises(DimensionError):
        hyp.log_map_backward(inside, inside, [1.0], dim=2, kernel=kernel)
    with pytest.raises(DimensionError):
        hyp.exp_map0(inside, dim=0, kernel=kernel)
    for eps in (-0.1, 1.0, float("nan")):
        with pytest.raises(ArgumentError, match="eps"):
            hyp.project_to_ball(inside, dim=2, eps=eps, kernel=kernel)
    with pytest.raises(ArgumentError, match="both"):
        kernel.poincare_distance(None, inside, dim=2)
    with pytest.raises(ArgumentError, match="out must not be"):
        buf = kernel.from_buffer(inside)
        kernel.mobius_add(buf, inside, dim=2, out=buf)


def test_doctests_and_docstrings(kernel):
    assert doctest.testmod(hyperbolic_ops, extraglobs={"k": kernel}).failed == 0
    assert doctest.testmod(hyp).failed == 0
    for name in hyp.__all__:
        assert ">>>" in getattr(hyp, name).__doc__, name
    public = [name for name, obj in vars(hyperbolic_ops.HyperbolicOps).items()
              if not name.startswith("_") and callable(obj)]
    assert len(public) == 10 and all(">>>" in getattr(hyperbolic_ops.HyperbolicOps, n).__doc__ for n in public)
