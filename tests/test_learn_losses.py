"""Losses: values and gradients against float64 NumPy references differentiated by central
finite differences, and against torch autograd (float32) on the same inputs; bit identity
between native and wasm; typed errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from agentdb.errors import DimensionError, NonFiniteError, OptionError
from agentdb.learn.losses import info_nce, local_contrastive, spectral_regularization, triplet
from support import arr, bits, f32, rel

torch.set_num_threads(1)
SHAPES = [(1, 3), (7, 17), (16, 97)]   # (rows, dim)


def central(fun, xs, h=1e-6):
    """Central differences of fun(*xs) (float64) with respect to each array of xs."""
    xs = [x.astype(np.float64).copy() for x in xs]
    grads = []
    for x in xs:
        g = np.zeros_like(x)
        for j in np.ndindex(x.shape):
            keep = x[j]
            x[j] = keep + h
            up = fun(*xs)
            x[j] = keep - h
            g[j] = (up - fun(*xs)) / (2 * h)
            x[j] = keep
        grads.append(g)
    return grads


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def info_nce64(a, p, neg=None, *, t):
    cand = unit(p) if neg is None else unit(np.concatenate([p, neg]))
    z = unit(a) @ cand.T / t
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(logp[:, :len(a)]))


def dist64(x, y, distance):
    if distance == "l2":
        return np.linalg.norm(x - y, axis=1)
    return 1 - np.sum(unit(x) * unit(y), axis=1)


def triplet64(a, p, n, *, margin, distance):
    return np.mean(np.maximum(dist64(a, p, distance) - dist64(a, n, distance) + margin, 0))


def contrastive64(x, y, labels, *, margin, distance):
    d = dist64(x, y, distance)
    return np.mean(labels * d ** 2 + (1 - labels) * np.maximum(margin - d, 0) ** 2) / 2


def spectral64(w, *, lam):
    e = w.T @ w - np.eye(w.shape[1])
    return lam * np.sum(e * e)


def check(got_loss, got_grads, ref, inputs, torch_fun, loss_tol=1e-6, grad_tol=1e-5):
    """Our loss and float32 grads against the float64 reference and its finite differences,
    and against torch autograd; returns the worst relative errors (fd, torch)."""
    want = ref(*[x.astype(np.float64) for x in inputs])
    # each loss is a difference of O(1) terms (1 - cos, log-sum-exp - logit), so its f32
    # rounding is absolute, a few eps of those terms, not relative to a small result
    assert abs(got_loss - want) <= loss_tol * max(abs(want), 1.0)
    fd = central(ref, inputs)
    ts = [torch.tensor(x, requires_grad=True) for x in inputs]
    torch_fun(*ts).backward()
    errors = [(rel(arr(ours), num), rel(arr(ours), t.grad.numpy())) for ours, num, t in zip(got_grads, fd, ts)]
    assert all(e < grad_tol for pair in errors for e in pair), errors
    return errors


def away_from_kink(gaps):
    """A margin halfway between two neighbouring sorted gap values (half the rows active), so
    no row sits within finite-difference reach of a hinge's kink."""
    gaps = np.sort(gaps)
    j = len(gaps) // 2
    return float(gaps[0] + 0.5 if len(gaps) == 1 else (gaps[j - 1] + gaps[j]) / 2)


@pytest.mark.parametrize("n,dim", SHAPES)
@pytest.mark.parametrize("temperature,extra", [(0.05, 0), (1.0, 0), (0.05, 5)])
def test_info_nce(kernel, rng, n, dim, temperature, extra):
    a = f32(rng.standard_normal((n, dim)))
    # noisy enough positives that at 1 / temperature = 20 the loss (and its gradient) is not ~0
    p = f32(a + (0.5 if temperature == 1 else 2.0) * rng.standard_normal((n, dim)))
    neg = f32(rng.standard_normal((extra, dim))) if extra else None
    loss, grads = info_nce(a, p, dim=dim, temperature=temperature, negatives=neg, kernel=kernel)
    assert (grads[2] is None) == (neg is None)
    inputs = [a, p] + ([neg] if extra else [])

    def ref(a, p, neg=None):
        return info_nce64(a, p, neg, t=temperature)

    def ours_in_torch(a, p, neg=None):   # MultipleNegativesRankingLoss with scale 1 / temperature
        cand = F.normalize(p if neg is None else torch.cat([p, neg]), dim=1)
        return F.cross_entropy(F.normalize(a, dim=1) @ cand.T / temperature, torch.arange(len(a)))

    # the 1 / temperature = 20 scale multiplies the f32 rounding of the cosines by 20
    check(loss, [g for g in grads if g is not None], ref, inputs, ours_in_torch, loss_tol=2e-6)


@pytest.mark.parametrize("n,dim", SHAPES)
@pytest.mark.parametrize("distance", ("l2", "cosine"))
def test_triplet(kernel, rng, n, dim, distance):
    a = f32(rng.standard_normal((n, dim)))
    p, neg = f32(a + 0.5 * rng.standard_normal((n, dim))), f32(a + rng.standard_normal((n, dim)))
    a64, p64, n64 = (x.astype(np.float64) for x in (a, p, neg))
    margin = max(away_from_kink(dist64(a64, n64, distance) - dist64(a64, p64, distance)), 0.0)
    loss, grads = triplet(a, p, neg, dim=dim, margin=margin, distance=distance, kernel=kernel)
    if distance == "l2":
        torch_loss = torch.nn.TripletMarginLoss(margin=margin, p=2, eps=0)
    else:
        torch_loss = torch.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda x, y: 1 - F.cosine_similarity(x, y), margin=margin)
    check(loss, grads, lambda a, p, n: triplet64(a, p, n, margin=margin, distance=distance), [a, p, neg],
          torch_loss)


def test_triplet_inactive_rows_have_zero_gradient(kernel):
    loss, grads = triplet([0, 0], [1, 0], [5, 0], dim=2, margin=1.0, kernel=kernel)
    assert loss == 0.0 and all(not any(g) for g in grads)


@pytest.mark.parametrize("n,dim", [(2, 3), (8, 17), (16, 97)])
@pytest.mark.parametrize("distance", ("l2", "cosine"))
def test_local_contrastive(kernel, rng, n, dim, distance):
    x = f32(rng.standard_normal((n, dim)))
    y = f32(x + rng.standard_normal((n, dim)))
    labels = np.arange(n) % 2
    d = dist64(x.astype(np.float64), y.astype(np.float64), distance)
    margin = away_from_kink(d[labels == 0])
    loss, grads = local_contrastive(x, y, labels.tolist(), dim=dim, margin=margin, distance=distance, kernel=kernel)
    lab = torch.tensor(labels, dtype=torch.float32)

    def ours_in_torch(x, y):
        dd = (x - y).norm(dim=1) if distance == "l2" else 1 - F.cosine_similarity(x, y)
        return (lab * dd ** 2 + (1 - lab) * torch.clamp(margin - dd, min=0) ** 2).mean() / 2

    check(loss, grads, lambda x, y: contrastive64(x, y, labels, margin=margin, distance=distance), [x, y],
          ours_in_torch)


@pytest.mark.parametrize("rows,cols", [(1, 1), (17, 5), (97, 33)])
def test_spectral_regularization(kernel, rng, rows, cols):
    w = f32(rng.standard_normal((rows, cols)) / np.sqrt(rows))
    loss, grad = spectral_regularization(w, rows=rows, cols=cols, lam=0.3, kernel=kernel)
    check(loss, [grad], lambda w: spectral64(w, lam=0.3), [w],
          lambda w: 0.3 * ((w.T @ w - torch.eye(cols)) ** 2).sum())
    s = np.linalg.svd(w.astype(np.float64), compute_uv=False)     # the singular-value form
    assert abs(loss - 0.3 * np.sum((s ** 2 - 1) ** 2) - 0.3 * max(cols - rows, 0)) < 1e-5 * max(loss, 1)


def test_identical_bits_across_backends(native, wasmhost, rng):
    n, dim = 9, 31
    a, p, neg = (f32(rng.standard_normal((n, dim))) for _ in range(3))
    w = f32(rng.standard_normal((dim, 7)))
    out = []
    for kernel in (native, wasmhost):
        runs = [info_nce(a, p, dim=dim, negatives=neg[:4], kernel=kernel),
                triplet(a, p, neg, dim=dim, margin=0.5, kernel=kernel),
                triplet(a, p, neg, dim=dim, margin=0.2, distance="cosine", kernel=kernel),
                local_contrastive(a, p, [1, 0] * 4 + [1], dim=dim, margin=8.0, kernel=kernel)]
        loss, grad = spectral_regularization(w, rows=dim, cols=7, lam=1.0, kernel=kernel)
        out.append([(run[0], [bits(g) for g in run[1] if g is not None]) for run in runs] + [(loss, [bits(grad)])])
    for (l1, g1), (l2, g2) in zip(*out):
        assert l1 == l2 and all(np.array_equal(x, y) for x, y in zip(g1, g2))


def test_zero_rows_get_zero_gradient(kernel):
    loss, (ga, gp, _) = info_nce([0, 0, 1, 0], [1, 0, 0, 1], dim=2, temperature=1.0, kernel=kernel)
    assert np.isfinite(loss) and list(ga[:2]) == [0.0, 0.0]


def test_bad_inputs_raise_typed_errors(kernel):
    good = [1.0, 0.0, 0.0, 1.0]
    for call in (lambda: info_nce(good, good[:2], dim=2, kernel=kernel),
                 lambda: info_nce(good, good, dim=3, kernel=kernel),
                 lambda: info_nce([], [], dim=2, kernel=kernel),
                 lambda: info_nce(good, good, dim=0, kernel=kernel),
                 lambda: info_nce(good, good, dim=2, negatives=[1.0], kernel=kernel),
                 lambda: triplet(good, good, good[:2], dim=2, kernel=kernel),
                 lambda: local_contrastive(good, good, [1], dim=2, kernel=kernel),
                 lambda: local_contrastive(good, good, [1, 2], dim=2, kernel=kernel),
                 lambda: spectral_regularization(good, rows=3, cols=2, lam=1, kernel=kernel)):
        with pytest.raises(DimensionError):
            call()
    for call in (lambda: info_nce(good, good, dim=2, temperature=0, kernel=kernel),
                 lambda: info_nce(good, good, dim=2, temperature=float("nan"), kernel=kernel),
                 lambda: triplet(good, good, good, dim=2, margin=-1, kernel=kernel),
                 lambda: triplet(good, good, good, dim=2, distance="l1", kernel=kernel),
                 lambda: local_contrastive(good, good, [1, 0], dim=2, distance="dot", kernel=kernel),
                 lambda: spectral_regularization(good, rows=2, cols=2, lam=-1, kernel=kernel)):
        with pytest.raises(OptionError):
            call()
    with pytest.raises(NonFiniteError, match="row 1, element 0"):
        info_nce(good, [1.0, 0.0, float("nan"), 1.0], dim=2, kernel=kernel)
