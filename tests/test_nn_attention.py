"""agentdb.nn.attention against torch (SDPA, MultiheadAttention with copied weights, autograd
gradients) within 1e-5 relative, and its determinism: flash == plain and chunked == whole bit
for bit, the same bits on every backend and ISA level, a problem alone or in a batch."""
import numpy as np
import pytest
import torch

from agentdb.errors import ArgumentError, DimensionError, NonFiniteError
from agentdb.nn import attention as A
from support import assert_same_outputs, bits, rel

F = torch.nn.functional
TOL = 1e-5


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def t64(x, grad=False):
    return torch.from_numpy(np.asarray(x, np.float64)).requires_grad_(grad)


def arr(buf, shape):
    return np.frombuffer(memoryview(buf).cast("B"), np.float32).reshape(shape)


@pytest.mark.parametrize("B,H,n_q,n_k,d,dv", [(1, 1, 1, 1, 1, 1), (2, 3, 70, 90, 17, 9), (1, 2, 64, 64, 64, 64),
                                               (3, 1, 5, 129, 3, 33), (1, 4, 130, 130, 32, 32)])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_and_gradients_match_torch(kernel, rng, B, H, n_q, n_k, d, dv, causal):
    q, k, v = f32(rng, B, H, n_q, d), f32(rng, B, H, n_k, d), f32(rng, B, H, n_k, dv)
    assert_forward_and_backward_match_torch(kernel, rng, q, k, v, d, B, H, {"is_causal": causal}, {"causal": causal})


def assert_forward_and_backward_match_torch(kernel, rng, q, k, v, d, B, H, torch_options, options, flash=False):
    """Our SDPA and its gradients against torch's in float64 (options: the same mask or causal
    flag as each side spells it; flash: the tiled backward)."""
    tq, tk, tv = t64(q, True), t64(k, True), t64(v, True)
    want = F.scaled_dot_product_attention(tq, tk, tv, **torch_options)
    got = A.scaled_dot_product_attention(q, k, v, dim=d, batch=B, heads=H, kernel=kernel, **options)
    assert rel(arr(got, want.shape), want.detach().numpy()) < TOL
    g = f32(rng, *want.shape)
    want.backward(t64(g))
    for ours, t in zip(A.attention_backward(q, k, v, g, dim=d, batch=B, heads=H, kernel=kernel, flash=flash,
                                            **options),
                       (tq, tk, tv)):
        assert rel(arr(ours, t.shape), t.grad.numpy()) < TOL


@pytest.mark.parametrize("kind", ["float", "bool", "bool-batch", "float-full"])
def test_masks_match_torch(kernel, rng, kind):
    B, H, n_q, n_k, d = 2, 3, 33, 70, 16
    q, k, v = f32(rng, B, H, n_q, d), f32(rng, B, H, n_k, d), f32(rng, B, H, n_k, d)
    if kind == "float":
        mask = f32(rng, n_q, n_k)
        mask[:, 5] = -np.inf
    elif kind == "float-full":
        mask = f32(rng, B, H, n_q, n_k)
    elif kind == "bool":
        mask = rng.random((n_q, n_k)) > 0.4
        mask[:, 0] = True
    else:
        mask = rng.random((B, 1, n_q, n_k)) > 0.4
        mask[..., 0] = True
    tm = torch.from_numpy(mask.astype(np.float64) if mask.dtype != bool else mask)
    assert_forward_and_backward_match_torch(kernel, rng, q, k, v, d, B, H, {"attn_mask": tm}, {"mask": mask})


@pytest.mark.parametrize("B,H,n_q,n_k,d,dv", [(1, 1, 1, 1, 1, 1), (2, 3, 130, 250, 17, 9), (1, 1, 241, 129, 64, 64),
                                               (1, 2, 61, 65, 3, 33), (1, 1, 300, 70, 5, 7)])   # 300: 2 query blocks
@pytest.mark.parametrize("options", ["causal", "mask", "keep"])
def test_tiled_backward_matches_torch_and_the_whole_bits(kernel, rng, B, H, n_q, n_k, d, dv, options):
    q, k, v = f32(rng, B, H, n_q, d), f32(rng, B, H, n_k, d), f32(rng, B, H, n_k, dv)
    if options == "causal":
        torch_options, options = {"is_causal": True}, {"causal": True}
    else:
        if options == "mask":
            mask = f32(rng, B, 1, n_q, n_k)
            mask[..., 3::5] = -np.inf
            tm = torch.from_numpy(mask.astype(np.float64))
        else:
            mask = rng.random((n_q, n_k)) > 0.3
            mask[:, 0] = True
            tm = torch.from_numpy(mask)
        torch_options, options = {"attn_mask": tm}, {"mask": mask}
    assert_forward_and_backward_match_torch(kernel, rng, q, k, v, d, B, H, torch_options, options, flash=True)
    if "mask" in options and n_q > 2:   # and a row with no key left (zeros; torch gives NaN)
        options["mask"][..., 1, :] = False if options["mask"].dtype == bool else -np.inf
    g = f32(rng, B, H, n_q, dv)
    kw = dict(dim=d, batch=B, heads=H, kernel=kernel, **options)
    whole = A.attention_backward(q, k, v, g, **kw)
    for ours, want in zip(A.attention_backward(q, k, v, g, flash=True, **kw), whole):
        assert np.array_equal(bits(ours), bits(want))


def test_tiled_backward_scratch_does_not_grow_with_length(kernel, rng):
    sizes = {kernel.sdpa_backward_scratch_len(n, m, 64, 64, flash=flash)
             for n in (1, 64, 1000, 100000) for m in (1, 7000) for flash in (False, True)}
    assert len(sizes) == 1   # one blocked backward: flash changes nothing
    assert sizes.pop() < 1000 * 1000   # below one 1000 x 1000 problem's P
    # a long problem through the bounded scratch: the gradients of a few rows against torch's
    n, d = 3000, 8
    q, k, v, g = f32(rng, n, d), f32(rng, n, d), f32(rng, n, d), f32(rng, n, d)
    got = A.attention_backward(q, k, v, g, dim=d, causal=True, flash=True, kernel=kernel)
    tq, tk, tv = t64(q, True), t64(k, True), t64(v, True)
    F.scaled_dot_product_attention(tq, tk, tv, is_causal=True).backward(t64(g))
    for ours, t in zip(got, (tq, tk, tv)):
        assert rel(arr(ours, (n, d)), t.grad.numpy()) < TOL


def test_fully_masked_row_is_zeros(kernel, rng):
    q, k, v = f32(rng, 3, 4), f32(rng, 5, 4), f32(rng, 5, 4)
    keep = np.ones((3, 5), bool)
    keep[1] = False
    out = arr(A.scaled_dot_product_attention(q, k, v, dim=4, mask=keep, kernel=kernel), (3, 4))
    assert not out[1].any() and out[0].any()


@pytest.mark.parametrize("flash", [False, True])
@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("masks", [None, "attn", "padding", "both", "causal"])
def test_multi_head_matches_torch(kernel, rng, cross, masks, flash):
    E, heads, B, n_q = 48, 4, 2, 37
    n_k = 53 if cross else n_q
    kdim = vdim = 40 if cross else E
    m = torch.nn.MultiheadAttention(E, heads, batch_first=True, kdim=kdim, vdim=vdim).double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * 0.2))
    mha = A.MultiHeadAttention(E, heads, kdim=kdim, vdim=vdim, flash=flash, kernel=kernel)
    mha.load_state_dict({name: t.detach().float().numpy() for name, t in m.state_dict().items()})
    x = f32(rng, B, n_q, E)
    y, z = (f32(rng, B, n_k, kdim), f32(rng, B, n_k, vdim)) if cross else (x, x)
    tx = t64(x, True)
    ty, tz = (t64(y, True), t64(z, True)) if cross else (tx, tx)
    attn = pad = None
    kw = {}
    if masks in ("attn", "both"):
        attn = rng.random((n_q, n_k)) < 0.3     # torch MHA: True = not allowed
        attn[:, 0] = False
        kw["attn_mask"] = torch.from_numpy(attn)
    if masks in ("padding", "both"):
        pad = np.zeros((B, n_k), bool)
        pad[0, -5:] = True
        kw["key_padding_mask"] = torch.from_numpy(pad)
    if masks == "causal":
        kw["attn_mask"] = torch.nn.Transformer.generate_square_subsequent_mask(n_q, dtype=torch.float64)
        kw["is_causal"] = True
    want = m(tx, ty, tz, need_weights=False, **kw)[0]
    got = mha.forward(x, y, z, batch=B, mask=attn, key_padding_mask=pad, causal=masks == "causal")
    assert rel(arr(got, want.shape), want.detach().numpy()) < TOL
    g = f32(rng, *want.shape)
    want.backward(t64(g))
    grads = mha.backward(g)
    if cross:
        checks = [("query", tx.grad), ("key", ty.grad), ("value", tz.grad),
                  ("q_proj_weight", m.q_proj_weight.grad), ("k_proj_weight", m.k_proj_weight.grad),
                  ("v_proj_weight", m.v_proj_weight.grad)]
    else:
        total = sum(np.frombuffer(grads[n], np.float32).astype(np.float64) for n in ("query", "key", "value"))
        assert rel(total, tx.grad.numpy()) < TOL
        w = np.concatenate([np.frombuffer(grads[f"{n}_proj_weight"], np.float32) for n in "qkv"])
        assert rel(w, m.in_proj_weight.grad.numpy()) < TOL
        checks = []
    checks += [("in_proj_bias", m.in_proj_bias.grad), ("out_proj.weight", m.out_proj.weight.grad),
               ("out_proj.bias", m.out_proj.bias.grad)]
    for name, want_grad in checks:
        assert rel(np.frombuffer(grads[name], np.float32), want_grad.numpy()) < TOL, name


@pytest.mark.parametrize("cross,masks", [(False, "causal"), (True, "both"), (False, None)])
def test_flash_multi_head_gives_the_plain_bits(kernel, rng, cross, masks):
    """MultiHeadAttention(flash=True) (tiled forward and backward, scratch fixed by the head dim)
    against flash=False, bit for bit, over lengths spanning several 120 x 64 blocks."""
    E, heads, B, n_q = 40, 5, 2, 250
    n_k, kdim = (197, 24) if cross else (n_q, E)
    state = {"q_proj_weight": f32(rng, E, E), "k_proj_weight": f32(rng, E, kdim), "v_proj_weight": f32(rng, E, kdim),
             "in_proj_bias": f32(rng, 3 * E), "out_proj.weight": f32(rng, E, E), "out_proj.bias": f32(rng, E)}
    x = f32(rng, B, n_q, E)
    y = f32(rng, B, n_k, kdim) if cross else None
    attn = rng.random((n_q, n_k)) < 0.3 if masks == "both" else None
    pad = np.zeros((B, n_k), bool) if masks == "both" else None
    if pad is not None:
        pad[1, -70:] = True
    g = f32(rng, B, n_q, E)
    res = []
    for flash in (False, True):
        mha = A.MultiHeadAttention(E, heads, kdim=kdim, vdim=kdim, flash=flash, kernel=kernel)
        mha.load_state_dict(state)
        out = mha.forward(x, y, batch=B, mask=attn, key_padding_mask=pad, causal=masks == "causal")
        res.append({"out": bits(out), **{n: bits(gr) for n, gr in mha.backward(g).items()}})
    assert res[0].keys() == res[1].keys()
    for name in res[0]:
        assert np.array_equal(res[0][name], res[1][name]), name


def problem(rng, B=2, H=3, n_q=203, n_k=150, d=20, dv=12):
    return f32(rng, B, H, n_q, d), f32(rng, B, H, n_k, d), f32(rng, B, H, n_k, dv), dict(dim=d, batch=B, heads=H)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_and_chunks_give_the_plain_bits(kernel, rng, causal):
    q, k, v, kw = problem(rng, n_k=203) if causal else problem(rng)
    mask = None if causal else f32(rng, 203, 150)
    plain = bits(A.scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, kernel=kernel, **kw))
    for block in (1, 7, 60, 64, 100, 256):
        assert np.array_equal(bits(A.flash_attention(q, k, v, mask=mask, causal=causal, block=block,
                                                     kernel=kernel, **kw)), plain), block
    if causal:
        stream = A.AttentionStream(k, v, causal=True, kernel=kernel, **kw)
        parts, r0 = [], 0
        for rows in (1, 50, 13, 64, 75):
            parts.append(arr(stream.process(np.ascontiguousarray(q[:, :, r0:r0 + rows])), (2, 3, rows, 12)))
            r0 += rows
        assert np.array_equal(bits(np.ascontiguousarray(np.concatenate(parts, axis=2))), plain)


def test_flash_scratch_does_not_grow_with_length(kernel):
    sizes = {kernel.sdpa_scratch_len(n, 64, 64, flash=True) for n in (1, 64, 1000, 100000)}
    assert len(sizes) == 1
    assert kernel.sdpa_scratch_len(100000, 64, 64) > 100 * sizes.pop()


def test_batch_size_independence(kernel, rng):
    q, k, v, kw = problem(rng, B=5, H=2)
    whole = arr(A.scaled_dot_product_attention(q, k, v, causal=True, kernel=kernel, **kw), (5, 2, 203, 12))
    for b in (0, 3):
        alone = A.scaled_dot_product_attention(q[b:b + 1], k[b:b + 1], v[b:b + 1], causal=True, kernel=kernel,
                                               **{**kw, "batch": 1})
        assert np.array_equal(bits(alone), bits(np.ascontiguousarray(whole[b])))
        head = A.scaled_dot_product_attention(q[b, 1], k[b, 1], v[b, 1], causal=True, kernel=kernel, dim=20)
        assert np.array_equal(bits(head), bits(np.ascontiguousarray(whole[b, 1])))


@pytest.mark.parametrize("n_k", [128, 384])
def test_half_tile_key_counts_match_torch_and_give_the_flash_bits(kernel, rng, n_k):
    """Key counts whose last tile is exactly half full run their own kernel instance (constant
    GEMM sizes): the same softmax as torch's, and the same bits as the flash form's."""
    q, k, v, kw = problem(rng, n_q=50, n_k=n_k)
    mask = f32(rng, 50, n_k)
    plain = A.scaled_dot_product_attention(q, k, v, mask=mask, kernel=kernel, **kw)
    flash = A.flash_attention(q, k, v, mask=mask, block=7, kernel=kernel, **kw)
    assert np.array_equal(bits(plain), bits(flash))
    want = torch.nn.functional.scaled_dot_product_attention(t64(q), t64(k), t64(v), attn_mask=t64(mask))
    assert rel(arr(plain, (2, 3, 50, 12)), want.numpy()) < TOL


def outputs(kernel, seed):
    rng = np.random.default_rng(seed)
    res = {}
    for n_q, n_k, d, dv in ((1, 1, 1, 1), (17, 33, 3, 5), (130, 200, 64, 64), (61, 65, 97, 17), (20, 128, 16, 8)):
        q, k, v = f32(rng, 2, 2, n_q, d), f32(rng, 2, 2, n_k, d), f32(rng, 2, 2, n_k, dv)
        kw = dict(dim=d, batch=2, heads=2, kernel=kernel)
        res[f"sdpa {n_q}x{n_k}x{d}"] = bits(A.scaled_dot_product_attention(q, k, v, causal=n_q == n_k, **kw))
        mask = f32(rng, n_q, n_k)
        res[f"masked {n_q}x{n_k}"] = bits(A.flash_attention(q, k, v, mask=mask, block=16, **kw))
        g = f32(rng, 2, 2, n_q, dv)
        for name, grad in zip("qkv", A.attention_backward(q, k, v, g, mask=mask, **kw)):
            res[f"d{name} {n_q}x{n_k}"] = bits(grad)
        for name, grad in zip("qkv", A.attention_backward(q, k, v, g, causal=n_q == n_k, flash=True, **kw)):
            res[f"tiled d{name} {n_q}x{n_k}"] = bits(grad)
    mha = A.MultiHeadAttention(24, 3, kernel=kernel)
    mha.load_state_dict({"in_proj_weight": f32(rng, 72, 24), "in_proj_bias": f32(rng, 72),
                         "out_proj.weight": f32(rng, 24, 24), "out_proj.bias": f32(rng, 24)})
    x = f32(rng, 2, 41, 24)
    res["mha"] = bits(mha.forward(x, batch=2, causal=True))
    for name, grad in sorted(mha.backward(f32(rng, 2, 41, 24)).items()):
        res[f"mha {name}"] = bits(grad)
    flash = A.MultiHeadAttention(24, 3, kdim=10, vdim=10, flash=True, kernel=kernel)
    flash.load_state_dict({"q_proj_weight": f32(rng, 24, 24), "k_proj_weight": f32(rng, 24, 10),
                           "v_proj_weight": f32(rng, 24, 10), "out_proj.weight": f32(rng, 24, 24)})
    kv = f32(rng, 2, 150, 10)
    res["flash mha"] = bits(flash.forward(f32(rng, 2, 130, 24), kv, batch=2))
    for name, grad in sorted(flash.backward(f32(rng, 2, 130, 24)).items()):
        res[f"flash mha {name}"] = bits(grad)
    return res


def test_backends_agree_bit_for_bit(native, wasmhost):
    assert_same_outputs(outputs, native, wasmhost, 7)


def test_every_isa_level_agrees_with_wasm(level_kernel, wasmhost):
    assert_same_outputs(outputs, level_kernel, wasmhost, 8)


def test_local_global_mask(kernel, rng):
    keep = A.local_global_mask(6, window=1, global_tokens=2)
    m = np.frombuffer(keep, np.uint8).reshape(6, 6)
    assert m[:2].all() and m[:, :2].all() and m[4, 5] and m[4, 3] and not m[5, 3]
    q, k, v = f32(rng, 6, 4), f32(rng, 6, 4), f32(rng, 6, 4)
    want = F.scaled_dot_product_attention(t64(q), t64(k), t64(v), attn_mask=torch.from_numpy(m.astype(bool)))
    got = A.scaled_dot_product_attention(q, k, v, dim=4, mask=keep, kernel=kernel)
    assert rel(arr(got, (6, 4)), want.numpy()) < TOL


def test_errors(kernel):
    q = [0.0] * 8
    with pytest.raises(DimensionError):
        A.scaled_dot_product_attention(q, q, q, dim=3, kernel=kernel)
    with pytest.raises(DimensionError):
        A.scaled_dot_product_attention(q, q, q, dim=0, kernel=kernel)
    with pytest.raises(DimensionError):
        A.scaled_dot_product_attention(q, q, q, dim=2, mask=[0.0] * 5, kernel=kernel)
    with pytest.raises(NonFiniteError):
        A.scaled_dot_product_attention(q[:7] + [float("nan")], q, q, dim=2, kernel=kernel)
    with pytest.raises(NonFiniteError):
        A.scaled_dot_product_attention(q, q, q, dim=2, mask=[float("inf")] + [0.0] * 15, kernel=kernel)
    with pytest.raises(ArgumentError):
        A.flash_attention(q, q, q, dim=2, block=0, kernel=kernel)
    with pytest.raises(ArgumentError):
        A.scaled_dot_product_attention(q, q, q, dim=2, scale=float("nan"), kernel=kernel)
    with pytest.raises(DimensionError):
        A.attention_backward(q, q, q, [1.0] * 3, dim=2, kernel=kernel)
    with pytest.raises(ArgumentError):
        A.MultiHeadAttention(10, 3, kernel=kernel)
    mha = A.MultiHeadAttention(4, 2, kernel=kernel)
    with pytest.raises(ArgumentError):
        mha.backward([0.0] * 4)
    with pytest.raises(ArgumentError):
        mha.load_state_dict({"bogus": [1.0]})
    with pytest.raises(DimensionError):
        mha.load_state_dict({"out_proj.weight": [1.0] * 3})
    with pytest.raises(DimensionError):
        mha.forward([0.0] * 6)
    with pytest.raises(DimensionError):
        A.AttentionStream(q, q, dim=2, kernel=kernel).process([0.0] * 3)


def test_docstring_examples(kernel):
    import doctest

    from agentdb.kernel import attention_ops
    for module in (A, attention_ops):
        assert doctest.testmod(module, extraglobs={"k": kernel}, verbose=False).failed == 0
    public = [obj for name, obj in vars(A).items() if name in A.__all__]
    methods = [getattr(cls, name) for cls in (A.AttentionStream, A.MultiHeadAttention) for name in vars(cls)
               if not name.startswith("_")]
    assert all(">>>" in (obj.__doc__ or "") for obj in public + methods)


def test_multi_head_attention_refuses_a_nan_in_any_of_its_inputs(kernel, rng):
    """Self-attention scans its one input once; a cross-attention key or value holding a NaN is
    still refused, by name."""
    mha = A.MultiHeadAttention(8, 2, kernel=kernel)
    x = f32(rng, 1, 5, 8)
    bad = x.copy()
    bad[0, 3, 1] = np.nan
    with pytest.raises(NonFiniteError, match="^q: element 25 is nan"):
        mha.forward(bad)
    for name, args in (("k", (x, bad, x)), ("v", (x, x, bad))):
        with pytest.raises(NonFiniteError, match=f"^{name}: element 25 is nan"):
            mha.forward(*args)
    assert len(mha.forward(x)) == 40
