"""agentdb.nn.rope and the kernel's sin/cos: the sin/cos correctly rounded against float64
math.sin / math.cos (large angles and angles next to multiples of pi/2 included), the tables
against HF transformers' formula (theta bits included), apply_rope against HF's
apply_rotary_pos_emb, the interleaved form against Meta's complex-number form and partial rotary
against GPT-NeoX's split, gradients against torch autograd; the same bits on every backend and
ISA level, a row alone or in a batch; typed errors."""
import doctest
import math

import numpy as np
import pytest
import torch

from agentdb.errors import ArgumentError, DimensionError, NonFiniteError, OptionError
from agentdb.kernel import rope_ops
from agentdb.nn import rope as R
from support import assert_same_outputs, bits, rel

TOL = 1e-5


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def arr(buf, shape=None):
    a = np.frombuffer(memoryview(buf).cast("B"), np.float32)
    return a.reshape(shape) if shape else a


# ---- HF transformers' RoPE (modeling_llama.py), written out in torch --------------------------

def hf_inv_freq(dim, base):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def hf_cos_sin(positions, dim, base=10000.0):
    """LlamaRotaryEmbedding.forward: freqs = inv_freq x positions (float32), emb = cat(freqs, freqs)."""
    inv = hf_inv_freq(dim, base)
    pos = torch.as_tensor(np.asarray(positions, np.float32))
    freqs = (inv[None, :, None] @ pos.reshape(-1)[None, None, :]).transpose(1, 2)[0]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
    cos, sin = cos.unsqueeze(unsqueeze_dim), sin.unsqueeze(unsqueeze_dim)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def meta_rotary(x, cos_half, sin_half):
    """Meta's llama apply_rotary_emb: pairs (2i, 2i + 1) as complex numbers times e^(i theta)."""
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(xc * torch.complex(cos_half, sin_half)).flatten(-2)


def full(table, shape):
    """Our half tables (n x dim/2) as HF's (n x dim, the halves equal), in float64."""
    t = torch.from_numpy(arr(table).astype(np.float64)).reshape(*shape)
    return torch.cat((t, t), dim=-1)


# ---- sin / cos ----------------------------------------------------------------------------------

def ulps(kernel, x):
    x = np.ascontiguousarray(x, np.float32)
    s, c = kernel.sincos(x)
    worst = []
    for got, ref in ((arr(s), np.sin(x.astype(np.float64))), (arr(c), np.cos(x.astype(np.float64)))):
        spacing = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
        worst.append(float(np.max(np.abs(got.astype(np.float64) - ref) / spacing)))
    return worst


def angle_sets(rng):
    near = (np.arange(1, 2 ** 20 + 1, 37, dtype=np.float64) * (math.pi / 2)).astype(np.float32)
    return {"[-pi, pi]": rng.uniform(-math.pi, math.pi, 200_000), "tiny": rng.uniform(-1e-3, 1e-3, 20_000),
            "to 1e6": rng.uniform(-1e6, 1e6, 200_000), "log to 3e38": np.exp(rng.uniform(-80, 88, 200_000)),
            "next to k pi/2": np.concatenate([near, np.nextafter(near, np.float32(np.inf)),
                                              np.nextafter(near, np.float32(0))])}


def test_sincos_is_correctly_rounded(kernel, rng):
    for name, x in angle_sets(rng).items():
        s_ulp, c_ulp = ulps(kernel, x)
        assert s_ulp <= 0.5001 and c_ulp <= 0.5001, (name, s_ulp, c_ulp)
    s, c = kernel.sincos([0.0, -0.0, float("inf"), float("nan")])
    assert bits(s)[:2].tolist() == [0, 0x80000000] and arr(c)[:2].tolist() == [1.0, 1.0]
    assert np.isnan(arr(s)[2:]).all() and np.isnan(arr(c)[2:]).all()


def test_sincos_for_math_values(kernel):
    x = [0.5, 1.0, 2.0, 3.0, 100.0, 12345.678, 1e6, 1e9, -7.0]
    s, c = kernel.sincos(x)
    for i, v in enumerate(np.asarray(x, np.float32).astype(np.float64)):
        assert arr(s)[i] == np.float32(math.sin(v)) and arr(c)[i] == np.float32(math.cos(v)), v


# ---- tables ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [2, 8, 18, 64, 128, 256])
@pytest.mark.parametrize("base", [10000.0, 500000.0])
def test_tables_match_hf(kernel, rng, dim, base):
    positions = np.concatenate([np.arange(70), rng.integers(0, 8192, 50)]).astype(np.float32)
    cos, sin = R.rope_tables(positions, dim=dim, base=base, kernel=kernel)
    want_cos, want_sin = hf_cos_sin(positions, dim, base)
    h = dim // 2
    assert rel(arr(cos), want_cos[:, :h].numpy()) < TOL and rel(arr(sin), want_sin[:, :h].numpy()) < TOL
    # theta is HF's formula correctly rounded (the power in double, rounded to float32, then
    # 1 / it), so our table of position 1 is our sin/cos of that theta; torch's float32 pow is
    # off by an ulp now and then (1 of 128 thetas at dim 256), never at head dims 64 and 128
    e32 = (np.arange(0, dim, 2) / np.float32(dim)).astype(np.float32)
    theta = np.float32(1.0) / np.array([base ** float(e) for e in e32], np.float32)
    c1, s1 = R.rope_tables([1.0], dim=dim, base=base, kernel=kernel)
    s2, c2 = kernel.sincos(theta)
    assert np.array_equal(bits(c1), bits(c2)) and np.array_equal(bits(s1), bits(s2))
    if dim in (64, 128):
        assert np.array_equal(theta, hf_inv_freq(dim, base).numpy())


def test_large_positions_keep_their_accuracy(kernel, rng):
    dim = 64
    positions = np.concatenate([rng.integers(0, 10 ** 6, 200), rng.integers(10 ** 6, 2 ** 24, 50),
                                [1e6, 2 ** 24 - 1, 3e9]]).astype(np.float32)
    cos, sin = R.rope_tables(positions, dim=dim, kernel=kernel)
    angle = (positions[:, None] * hf_inv_freq(dim, 10000.0).numpy()[None, :]).astype(np.float64)  # float32 products
    for got, want in ((cos, np.cos(angle)), (sin, np.sin(angle))):
        err = np.abs(arr(got, angle.shape).astype(np.float64) - want)
        assert np.all(err <= 0.5001 * np.spacing(np.abs(want).astype(np.float32)))


# ---- apply and its backward ---------------------------------------------------------------------

@pytest.mark.parametrize("B,H,S,D,per_batch", [(1, 1, 1, 2, False), (2, 3, 17, 64, False), (3, 2, 9, 18, True),
                                               (1, 4, 130, 128, False)])
def test_apply_matches_hf_and_autograd(kernel, rng, B, H, S, D, per_batch):
    q, k = f32(rng, B, H, S, D), f32(rng, B, H, S, D)
    positions = rng.integers(0, 4096, (B, S) if per_batch else S).astype(np.float32)
    cos, sin = R.rope_tables(positions, dim=D, kernel=kernel)
    hc, hs = hf_cos_sin(positions, D)
    hc, hs = (hc.reshape(B, S, D), hs.reshape(B, S, D)) if per_batch else (hc[None], hs[None])
    want_q, want_k = apply_rotary_pos_emb(torch.from_numpy(q), torch.from_numpy(k), hc, hs)
    kw = dict(dim=D, batch=B, heads=H, kernel=kernel)
    assert rel(arr(R.apply_rope(q, cos, sin, **kw)), want_q.numpy()) < TOL
    assert rel(arr(R.apply_rope(k, cos, sin, **kw)), want_k.numpy()) < TOL
    # autograd of HF's expression, in float64 over our tables
    tshape = (B if per_batch else 1, S, D // 2)
    fc, fs = full(cos, tshape), full(sin, tshape)
    tq = torch.from_numpy(q.astype(np.float64)).requires_grad_(True)
    out, _ = apply_rotary_pos_emb(tq, tq, fc, fs)
    assert rel(arr(R.apply_rope(q, cos, sin, **kw)), out.detach().numpy()) < TOL
    g = f32(rng, B, H, S, D)
    out.backward(torch.from_numpy(g.astype(np.float64)))
    assert rel(arr(R.apply_rope_backward(g, cos, sin, **kw)), tq.grad.numpy()) < TOL


def test_same_bits_as_hf_when_the_tables_are_the_same(kernel, rng):
    # x * cos + rotate_half(x) * sin is a product, a product and an add in float32 on both sides
    q = f32(rng, 2, 3, 11, 32)
    cos, sin = R.rope_tables(np.arange(11), dim=32, kernel=kernel)
    fc, fs = (full(t, (1, 11, 16)).float() for t in (cos, sin))
    want, _ = apply_rotary_pos_emb(torch.from_numpy(q), torch.from_numpy(q), fc, fs)
    got = R.apply_rope(q, cos, sin, dim=32, batch=2, heads=3, kernel=kernel)
    assert np.array_equal(bits(got), bits(np.ascontiguousarray(want.numpy())))


def test_interleaved_matches_meta_complex_form(kernel, rng):
    B, H, S, D = 2, 2, 13, 20
    x = f32(rng, B, H, S, D)
    cos, sin = R.rope_tables(np.arange(S), dim=D, kernel=kernel)
    tc, ts = (torch.from_numpy(arr(t, (S, D // 2)).astype(np.float64)) for t in (cos, sin))
    tx = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    want = meta_rotary(tx, tc, ts)
    kw = dict(dim=D, batch=B, heads=H, interleaved=True, kernel=kernel)
    assert rel(arr(R.apply_rope(x, cos, sin, **kw)), want.detach().numpy()) < TOL
    g = f32(rng, B, H, S, D)
    want.backward(torch.from_numpy(g.astype(np.float64)))
    assert rel(arr(R.apply_rope_backward(g, cos, sin, **kw)), tx.grad.numpy()) < TOL


def test_partial_rotary_matches_neox_split(kernel, rng):
    B, H, S, D, rot = 1, 2, 7, 24, 8
    x = f32(rng, B, H, S, D)
    cos, sin = R.rope_tables(np.arange(S), dim=rot, kernel=kernel)
    tx = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    fc, fs = full(cos, (1, S, rot // 2)), full(sin, (1, S, rot // 2))
    x_rot, _ = apply_rotary_pos_emb(tx[..., :rot], tx[..., :rot], fc, fs)
    want = torch.cat((x_rot, tx[..., rot:]), dim=-1)
    kw = dict(dim=D, batch=B, heads=H, rotary_dim=rot, kernel=kernel)
    got = R.apply_rope(x, cos, sin, **kw)
    assert rel(arr(got), want.detach().numpy()) < TOL
    assert np.array_equal(arr(got, x.shape)[..., rot:], x[..., rot:])
    g = f32(rng, B, H, S, D)
    want.backward(torch.from_numpy(g.astype(np.float64)))
    assert rel(arr(R.apply_rope_backward(g, cos, sin, **kw)), tx.grad.numpy()) < TOL
    for positions in (np.arange(S), np.arange(S, dtype=np.float64), list(range(S))):
        assert np.array_equal(bits(R.rope(x, positions, **kw)), bits(got))


def test_rotation_preserves_norms_and_relative_positions(kernel, rng):
    # q_m . k_n depends on m - n only: the property RoPE is built for
    D = 16
    q, k = f32(rng, D), f32(rng, D)
    dots = []
    for m, n in ((5, 2), (103, 100), (1003, 1000)):
        qm = arr(R.rope(q, [m], dim=D, kernel=kernel)).astype(np.float64)
        kn = arr(R.rope(k, [n], dim=D, kernel=kernel)).astype(np.float64)
        assert abs(np.linalg.norm(qm) - np.linalg.norm(q)) < 1e-5 * np.linalg.norm(q)
        dots.append(qm @ kn)
    assert np.allclose(dots, dots[0], rtol=1e-5, atol=1e-5)


def test_a_row_alone_or_in_a_batch_gives_the_same_bits(kernel, rng):
    B, H, S, D = 3, 2, 10, 34
    x = f32(rng, B, H, S, D)
    positions = rng.integers(0, 10 ** 6, S).astype(np.float32)
    cos, sin = R.rope_tables(positions, dim=D, kernel=kernel)
    whole = arr(R.apply_rope(x, cos, sin, dim=D, batch=B, heads=H, kernel=kernel), x.shape)
    back = arr(R.apply_rope_backward(x, cos, sin, dim=D, batch=B, heads=H, kernel=kernel), x.shape)
    for b, h, s in ((0, 0, 0), (2, 1, 9), (1, 0, 4)):
        c1, s1 = R.rope_tables(positions[s:s + 1], dim=D, kernel=kernel)
        assert np.array_equal(bits(c1), bits(arr(cos, (S, D // 2))[s].copy()))
        row = np.ascontiguousarray(x[b, h, s])
        assert np.array_equal(bits(R.apply_rope(row, c1, s1, dim=D, kernel=kernel)), bits(whole[b, h, s].copy()))
        assert np.array_equal(bits(R.apply_rope_backward(row, c1, s1, dim=D, kernel=kernel)),
                              bits(back[b, h, s].copy()))


def outputs(kernel, seed):
    rng = np.random.default_rng(seed)
    res = {}
    x = np.concatenate([rng.uniform(-1e6, 1e6, 5000), np.exp(rng.uniform(-80, 88, 5000))]).astype(np.float32)
    res["sin"], res["cos"] = (bits(t) for t in kernel.sincos(x))
    positions = np.concatenate([np.arange(40), rng.integers(0, 10 ** 7, 40)]).astype(np.float32)
    for D in (2, 18, 64, 130):
        cos, sin = R.rope_tables(positions, dim=D, base=500000.0 if D == 130 else 10000.0, kernel=kernel)
        res[f"cos {D}"], res[f"sin {D}"] = bits(cos), bits(sin)
        q = f32(rng, 2, 3, 80, D)
        for inter in (False, True):
            kw = dict(dim=D, batch=2, heads=3, interleaved=inter, kernel=kernel)
            res[f"apply {D} {inter}"] = bits(R.apply_rope(q, cos, sin, **kw))
            res[f"back {D} {inter}"] = bits(R.apply_rope_backward(q, cos, sin, **kw))
    return res


def test_backends_agree_bit_for_bit(native, wasmhost):
    assert_same_outputs(outputs, native, wasmhost, 7)


def test_every_isa_level_agrees_with_wasm(level_kernel, wasmhost):
    assert_same_outputs(outputs, level_kernel, wasmhost, 8)


def test_errors(kernel):
    cos, sin = R.rope_tables([0, 1], dim=4, kernel=kernel)
    with pytest.raises(DimensionError):
        R.rope_tables([0, 1], dim=3, kernel=kernel)
    with pytest.raises(DimensionError):
        R.rope_tables([0, 1], dim=0, kernel=kernel)
    with pytest.raises(OptionError):
        R.rope_tables([0, 1], dim=4, base=0.5, kernel=kernel)
    with pytest.raises(OptionError):
        R.rope_tables([0, 1], dim=4, base=float("nan"), kernel=kernel)
    with pytest.raises(NonFiniteError):
        R.rope_tables([0, float("inf")], dim=4, kernel=kernel)
    with pytest.raises(DimensionError):
        R.rope_tables([0, "a"], dim=4, kernel=kernel)
    with pytest.raises(NonFiniteError):
        R.apply_rope([0.0] * 7 + [float("nan")], cos, sin, dim=4, kernel=kernel)
    with pytest.raises(DimensionError):
        R.apply_rope([0.0] * 7, cos, sin, dim=4, kernel=kernel)
    with pytest.raises(DimensionError):
        R.apply_rope([0.0] * 12, cos, sin, dim=4, kernel=kernel)     # 3 positions, 2 table rows
    with pytest.raises(DimensionError):
        R.apply_rope([0.0] * 8, cos, sin, dim=4, rotary_dim=6, kernel=kernel)
    with pytest.raises(DimensionError):
        R.apply_rope([0.0] * 8, cos, sin, dim=4, rotary_dim=3, kernel=kernel)
    with pytest.raises(DimensionError):
        R.apply_rope_backward([0.0] * 8, cos, sin[:3], dim=4, kernel=kernel)
    with pytest.raises(ArgumentError):
        kernel.rope_apply([0.0] * 4, cos, sin, dim=4, tab_row=[2])
    with pytest.raises(DimensionError):
        kernel.rope_apply([0.0] * 12, cos, sin, dim=4)


def test_docstring_examples(kernel):
    for module in (R, rope_ops):
        assert doctest.testmod(module, extraglobs={"k": kernel}, verbose=False).failed == 0
    assert all(">>>" in (getattr(R, name).__doc__ or "") for name in R.__all__)
