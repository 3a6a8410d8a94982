"""agentdb.nn.local_global: sparse (CSR) and local-global attention give the dense masked SDPA's
bits (nn.attention with the pattern as keep mask), forward, log-sum-exp and the three gradients;
they match torch's SDPA with the dense mask within 1e-5 relative (gradients included); the same
bits on every backend and ISA level and for a problem alone or in a batch; bad CSRs are typed
errors. LocalGlobalAttention (the module form: rows with heads across dim, compute at a position,
backward, JSON) gives the functional form's bits and torch's values."""
import numpy as np
import pytest
import torch

from agentdb.errors import ArgumentError, DimensionError, NonFiniteError
from agentdb.nn import attention as A
from agentdb.nn import local_global as LG
from support import assert_same_outputs, bits, rel

F = torch.nn.functional
TOL = 1e-5


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def arr(buf, shape):
    return np.frombuffer(memoryview(buf).cast("B"), np.float32).reshape(shape)


def csr_mask(indptr, indices, n_q, n_k):
    m = np.zeros((n_q, n_k), np.uint8)
    for i in range(n_q):
        m[i, indices[indptr[i]:indptr[i + 1]]] = 1
    return m


def random_csr(rng, n_q, n_k, density, empty=()):
    rows = [np.flatnonzero(rng.random(n_k) < density) if i not in empty else np.zeros(0, int) for i in range(n_q)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.uint32)
    return indptr, np.concatenate(rows).astype(np.uint32)


def assert_same_as_dense(kernel, rng, q, k, v, d, B, H, mask, causal, sparse, sparse_backward):
    """The sparse call's output, lse and gradients against the dense masked SDPA, bit for bit."""
    kw = dict(dim=d, batch=B, heads=H, kernel=kernel)
    want, want_lse = A.scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, return_lse=True, **kw)
    got, got_lse = sparse(q, k, v, return_lse=True, **kw)
    assert np.array_equal(bits(got), bits(want))
    assert np.array_equal(bits(got_lse), bits(want_lse))
    g = f32(rng, *arr(want, (B, H, -1, v.shape[-1])).shape)
    for name, ours, dense in zip("qkv", sparse_backward(q, k, v, g, **kw),
                                 A.attention_backward(q, k, v, g, mask=mask, causal=causal, **kw)):
        assert np.array_equal(bits(ours), bits(dense)), name
    return got


@pytest.mark.parametrize("B,H,n,d,dv,window,g", [(1, 1, 1, 1, 1, 0, 0), (2, 3, 70, 17, 9, 5, 2),
                                                  (1, 2, 200, 64, 64, 64, 3), (1, 1, 130, 7, 33, 0, 0),
                                                  (2, 1, 129, 20, 5, 300, 0), (1, 2, 150, 16, 16, 3, 150)])
@pytest.mark.parametrize("causal", [False, True])
def test_local_global_gives_the_dense_masked_bits(kernel, rng, B, H, n, d, dv, window, g, causal):
    q, k, v = f32(rng, B, H, n, d), f32(rng, B, H, n, d), f32(rng, B, H, n, dv)
    mask = A.local_global_mask(n, window=window, global_tokens=g)
    pattern = dict(window=window, global_tokens=g, causal=causal)
    assert_same_as_dense(kernel, rng, q, k, v, d, B, H, mask, causal,
                         lambda *a, **kw: LG.local_global_attention(*a, **pattern, **kw),
                         lambda *a, **kw: LG.local_global_backward(*a, **pattern, **kw))


@pytest.mark.parametrize("n_q,n_k,density", [(33, 70, 0.3), (90, 200, 0.05), (64, 129, 0.9), (5, 1, 1.0)])
def test_csr_gives_the_dense_masked_bits_empty_rows_zeros(kernel, rng, n_q, n_k, density):
    B, H, d, dv = 2, 2, 12, 20
    empty = {0, n_q // 2} if n_q > 1 else set()
    indptr, indices = random_csr(rng, n_q, n_k, density, empty)
    q, k, v = f32(rng, B, H, n_q, d), f32(rng, B, H, n_k, d), f32(rng, B, H, n_k, dv)
    csr = dict(key_indptr=indptr, key_index=indices)
    mask = csr_mask(indptr, indices, n_q, n_k).tobytes()
    got = assert_same_as_dense(kernel, rng, q, k, v, d, B, H, mask, False,
                               lambda *a, **kw: LG.sparse_attention(*a, **csr, **kw),
                               lambda *a, **kw: LG.sparse_attention_backward(*a, **csr, **kw))
    out = arr(got, (B, H, n_q, dv))
    for i in empty:   # a query without keys: zeros, lse -inf, no gradient
        assert not out[:, :, i].any()
        _, lse = LG.sparse_attention(q, k, v, dim=d, batch=B, heads=H, return_lse=True, kernel=kernel, **csr)
        assert np.isneginf(arr(lse, (B, H, n_q))[:, :, i]).all()
        dq = LG.sparse_attention_backward(q, k, v, f32(rng, B, H, n_q, dv), dim=d, batch=B, heads=H,
                                          kernel=kernel, **csr)[0]
        assert not arr(dq, (B, H, n_q, d))[:, :, i].any()


@pytest.mark.parametrize("n,window,g,causal", [(100, 8, 2, False), (130, 64, 0, True), (70, 3, 70, False)])
def test_local_global_matches_torch_with_the_dense_mask(kernel, rng, n, window, g, causal):
    B, H, d, dv = 2, 2, 16, 24
    q, k, v = f32(rng, B, H, n, d), f32(rng, B, H, n, d), f32(rng, B, H, n, dv)
    keep = np.frombuffer(A.local_global_mask(n, window=window, global_tokens=g), np.uint8).reshape(n, n)
    if causal:
        keep = keep & np.tril(np.ones((n, n), np.uint8))
    tq, tk, tv = (torch.from_numpy(x.astype(np.float64)).requires_grad_(True) for x in (q, k, v))
    want = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.from_numpy(keep.astype(bool)))
    kw = dict(dim=d, batch=B, heads=H, window=window, global_tokens=g, causal=causal, kernel=kernel)
    assert rel(arr(LG.local_global_attention(q, k, v, **kw), want.shape), want.detach().numpy()) < TOL
    grad = f32(rng, *want.shape)
    want.backward(torch.from_numpy(grad.astype(np.float64)))
    for ours, t in zip(LG.local_global_backward(q, k, v, grad, **kw), (tq, tk, tv)):
        assert rel(arr(ours, t.shape), t.grad.numpy()) < TOL


def test_csr_matches_torch_with_the_dense_mask(kernel, rng):
    B, H, n_q, n_k, d, dv = 2, 3, 50, 90, 16, 8
    indptr, indices = random_csr(rng, n_q, n_k, 0.15)
    assert np.diff(indptr.astype(int)).min() > 0   # torch gives NaN for a query without keys
    q, k, v = f32(rng, B, H, n_q, d), f32(rng, B, H, n_k, d), f32(rng, B, H, n_k, dv)
    keep = torch.from_numpy(csr_mask(indptr, indices, n_q, n_k).astype(bool))
    tq, tk, tv = (torch.from_numpy(x.astype(np.float64)).requires_grad_(True) for x in (q, k, v))
    want = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=keep)
    kw = dict(dim=d, batch=B, heads=H, key_indptr=indptr, key_index=indices, kernel=kernel)
    assert rel(arr(LG.sparse_attention(q, k, v, **kw), want.shape), want.detach().numpy()) < TOL
    grad = f32(rng, *want.shape)
    want.backward(torch.from_numpy(grad.astype(np.float64)))
    for ours, t in zip(LG.sparse_attention_backward(q, k, v, grad, **kw), (tq, tk, tv)):
        assert rel(arr(ours, t.shape), t.grad.numpy()) < TOL


def test_pattern_is_the_masks_rows(kernel):
    for n, w, g, causal in ((1, 0, 0, False), (9, 2, 3, False), (70, 64, 1, True), (5, 9, 9, True)):
        indptr, indices = LG.local_global_pattern(n, window=w, global_tokens=g, causal=causal, kernel=kernel)
        want = np.frombuffer(A.local_global_mask(n, window=w, global_tokens=g), np.uint8).reshape(n, n)
        if causal:
            want = want & np.tril(np.ones((n, n), np.uint8))
        assert np.array_equal(csr_mask(np.asarray(indptr), np.asarray(indices), n, n), want)
    assert len(LG.local_global_pattern(4096, window=64, kernel=kernel)[1]) == 4096 * 129 - 2 * (64 * 65 // 2)


def heads_major(x, n, H):
    """n rows of H heads (n x H*hd, the module's layout) as 1 x H x n x hd (the functional one)."""
    return np.ascontiguousarray(x.reshape(n, H, -1).transpose(1, 0, 2))


@pytest.mark.parametrize("n_q,n_k,H,d,dv,window,g,causal", [(1, 1, 1, 1, 1, 0, 0, False),
                                                             (150, 150, 3, 48, 24, 7, 2, True),
                                                             (70, 130, 2, 16, 10, 64, 3, False)])
def test_module_gives_the_functional_bits_and_torchs_values(kernel, rng, n_q, n_k, H, d, dv, window, g, causal):
    q, k, v = f32(rng, n_q, d), f32(rng, n_k, d), f32(rng, n_k, dv)
    att = LG.LocalGlobalAttention(d, window, g, H, causal=causal, kernel=kernel)
    got = att.forward(q, k, v)
    grad = f32(rng, n_q, dv)
    grads = att.backward(grad)
    kw = dict(dim=d // H, heads=H, window=window, global_tokens=g, causal=causal, kernel=kernel)
    hq, hk, hv = heads_major(q, n_q, H), heads_major(k, n_k, H), heads_major(v, n_k, H)
    want = LG.local_global_attention(hq, hk, hv, **kw)
    assert np.array_equal(bits(heads_major(arr(got, (n_q, dv)), n_q, H)), bits(want))
    for name, x, n, ours in zip("qkv", (q, k, v), (n_q, n_k, n_k),
                                LG.local_global_backward(hq, hk, hv, heads_major(grad, n_q, H), **kw)):
        mine = arr(grads[{"q": "queries", "k": "keys", "v": "values"}[name]], x.shape)
        assert np.array_equal(bits(heads_major(mine, n, H)), bits(ours)), name
    # torch: per head, SDPA with the pattern as its boolean mask
    indptr, indices = LG.local_global_pattern(n_q, n_k, window=window, global_tokens=g, causal=causal)
    keep = torch.from_numpy(csr_mask(np.asarray(indptr), np.asarray(indices), n_q, n_k).astype(bool))
    tq, tk, tv = (torch.from_numpy(x.astype(np.float64)).requires_grad_(True) for x in (q, k, v))
    split = lambda t, n: t.reshape(n, H, -1).transpose(0, 1)  # noqa: E731
    ref = F.scaled_dot_product_attention(split(tq, n_q), split(tk, n_k), split(tv, n_k), attn_mask=keep)
    ref = ref.transpose(0, 1).reshape(n_q, dv)
    assert rel(arr(got, (n_q, dv)), ref.detach().numpy()) < TOL
    ref.backward(torch.from_numpy(grad.astype(np.float64)))
    for name, t in (("queries", tq), ("keys", tk), ("values", tv)):
        assert rel(arr(grads[name], t.shape), t.grad.numpy()) < TOL, name


def test_compute_is_the_forward_row_at_its_position(kernel, rng):
    n, d, dv = 90, 12, 6
    keys, values, queries = f32(rng, n, d), f32(rng, n, dv), f32(rng, n, d)
    for window, g, causal in ((4, 2, False), (0, 0, True), (100, 1, False)):
        att = LG.LocalGlobalAttention(d, window, g, 2, causal=causal, kernel=kernel)
        rows = arr(att.forward(queries, keys, values), (n, dv))
        all_grads = att.backward(np.ones((n, dv), np.float32))
        for p in (0, 1, n // 2, n - 1):
            one = att.compute(queries[p], keys, values, **({} if p == n // 2 else {"position": p}))
            assert np.array_equal(bits(one), bits(np.ascontiguousarray(rows[p]))), (window, p)
            grads = att.backward(np.ones(dv, np.float32))
            assert np.array_equal(bits(grads["queries"]), bits(np.ascontiguousarray(arr(all_grads["queries"],
                                                                                         (n, d))[p])))
            assert len(grads["keys"]) == n * d and len(grads["values"]) == n * dv
        # a query past the keys attends only the global ones (and keys within window of it)
        assert LG.local_global_compute(queries[0], keys, values, dim=d, window=window, global_tokens=g, heads=2,
                                       causal=causal, position=n + window + 5, kernel=kernel).tobytes() == \
            att.compute(queries[0], keys, values, position=n + window + 5).tobytes()


def test_module_json_round_trip_and_errors(kernel, rng):
    att = LG.LocalGlobalAttention(8, 3, 2, 4, causal=True, kernel=kernel)
    again = LG.LocalGlobalAttention.from_json(att.to_json(), kernel=kernel)
    assert (again.dim, again.window, again.global_tokens, again.heads, again.causal) == (8, 3, 2, 4, True)
    x = f32(rng, 20, 8)
    assert att.forward(x).tobytes() == again.forward(x).tobytes()
    for text in ("{}", "not json", att.to_json().replace('"version": 1', '"version": 2'),
                 '{"format": "agentdb.local_global_attention", "version": 1, "dim": 8}'):
        with pytest.raises(ArgumentError):
            LG.LocalGlobalAttention.from_json(text)
    with pytest.raises(DimensionError):
        LG.LocalGlobalAttention(10, 1, heads=3, kernel=kernel)
    for bad in (-1, 1.5, True):
        with pytest.raises(ArgumentError):
            LG.LocalGlobalAttention(8, bad, kernel=kernel)
        with pytest.raises(ArgumentError):
            LG.LocalGlobalAttention(8, 1, bad, kernel=kernel)
    for bad in (0, -2, 2.0):
        with pytest.raises(DimensionError):
            LG.LocalGlobalAttention(bad, 1, kernel=kernel)
    with pytest.raises(ArgumentError, match="forward"):
        LG.LocalGlobalAttention(8, 1, kernel=kernel).backward([0.0] * 8)
    with pytest.raises(DimensionError):
        att.compute(x[:2], x, x)                        # two query rows
    with pytest.raises(DimensionError):
        att.forward(x, x, f32(rng, 20, 5))              # values 5 wide: not divisible by 4 heads
    with pytest.raises(DimensionError):
        att.forward(f32(rng, 20, 5))                    # 100 values: not rows of dim 8
    with pytest.raises(ArgumentError):
        att.compute(x[0], x, x, position=-1)
    with pytest.raises(NonFiniteError):
        att.forward(np.full((2, 8), np.nan, np.float32))
    _ = att.forward(x)
    with pytest.raises(DimensionError):
        att.backward([0.0] * 7)


def outputs(kernel, seed):
    rng = np.random.default_rng(seed)
    res = {}
    att = LG.LocalGlobalAttention(24, 5, 2, 3, causal=True, kernel=kernel)
    x = f32(rng, 140, 24)
    res["module"] = bits(att.forward(x))
    for name, grad in sorted(att.backward(f32(rng, 140, 24)).items()):
        res[f"module {name}"] = bits(grad)
    res["module compute"] = bits(att.compute(x[3], x, x))
    for n, d, dv, w, g in ((1, 1, 1, 0, 0), (17, 3, 5, 2, 1), (200, 64, 64, 64, 2), (65, 97, 17, 7, 0)):
        q, k, v = f32(rng, 2, 2, n, d), f32(rng, 2, 2, n, d), f32(rng, 2, 2, n, dv)
        kw = dict(dim=d, batch=2, heads=2, window=w, global_tokens=g, causal=n % 2 == 1, kernel=kernel)
        res[f"lg {n}x{d}"] = bits(LG.local_global_attention(q, k, v, **kw))
        for name, grad in zip("qkv", LG.local_global_backward(q, k, v, f32(rng, 2, 2, n, dv), **kw)):
            res[f"lg d{name} {n}"] = bits(grad)
        indptr, indices = random_csr(rng, n, n + 3, 0.2, {0})
        k2, v2 = f32(rng, 2, 2, n + 3, d), f32(rng, 2, 2, n + 3, dv)
        csr = dict(dim=d, batch=2, heads=2, key_indptr=indptr, key_index=indices, kernel=kernel)
        res[f"csr {n}x{d}"] = bits(LG.sparse_attention(q, k2, v2, **csr))
        for name, grad in zip("qkv", LG.sparse_attention_backward(q, k2, v2, f32(rng, 2, 2, n, dv), **csr)):
            res[f"csr d{name} {n}"] = bits(grad)
    return res


def test_backends_agree_bit_for_bit(native, wasmhost):
    assert_same_outputs(outputs, native, wasmhost, 7)


def test_every_isa_level_agrees_with_wasm(level_kernel, wasmhost):
    assert_same_outputs(outputs, level_kernel, wasmhost, 8)


def test_batch_size_independence(kernel, rng):
    B, H, n, d = 4, 2, 150, 20
    q, k, v = f32(rng, B, H, n, d), f32(rng, B, H, n, d), f32(rng, B, H, n, d)
    kw = dict(dim=d, window=9, global_tokens=2, causal=True, kernel=kernel)
    whole = arr(LG.local_global_attention(q, k, v, batch=B, heads=H, **kw), (B, H, n, d))
    grads = [arr(x, (B, H, n, d)) for x in LG.local_global_backward(q, k, v, q, batch=B, heads=H, **kw)]
    for b in (0, 3):
        alone = LG.local_global_attention(q[b:b + 1], k[b:b + 1], v[b:b + 1], batch=1, heads=H, **kw)
        assert np.array_equal(bits(alone), bits(np.ascontiguousarray(whole[b])))
        head = LG.local_global_attention(q[b, 1], k[b, 1], v[b, 1], **kw)
        assert np.array_equal(bits(head), bits(np.ascontiguousarray(whole[b, 1])))
        for ours, g in zip(LG.local_global_backward(q[b, 1], k[b, 1], v[b, 1], q[b, 1], **kw), grads):
            assert np.array_equal(bits(ours), bits(np.ascontiguousarray(g[b, 1])))


def test_errors(kernel):
    x = [0.0] * 8   # 4 rows of dim 2

    def csr(indptr, indices):
        return LG.sparse_attention(x, x, x, dim=2, key_indptr=indptr, key_index=indices, kernel=kernel)

    csr([0, 1, 1, 2, 4], [0, 3, 1, 2])   # fine: an empty row
    with pytest.raises(DimensionError):
        csr([0, 1, 2], [0, 1])                         # indptr not n_q + 1
    for indptr, indices, row in (([1, 1, 2, 3, 4], [0, 1, 2, 3], 0),   # not from 0
                                 ([0, 2, 1, 3, 4], [0, 1, 2, 3], 1),   # decreasing
                                 ([0, 1, 2, 3, 3], [0, 1, 2, 3], 3),   # last offset short of the entries
                                 ([0, 1, 2, 3, 5], [0, 1, 2, 3], 3),   # past the entries
                                 ([0, 1, 2, 3, 4], [0, 1, 4, 3], 2),   # key out of range
                                 ([0, 2, 2, 2, 2], [1, 0], 0),         # not increasing
                                 ([0, 2, 2, 2, 2], [1, 1], 0)):        # a repeated key
        with pytest.raises(ArgumentError, match=f"row {row}"):
            csr(indptr, indices)
    with pytest.raises(ArgumentError, match="out of range"):
        csr([0, 1, 2, 3, 4], [0, 1, 4, 3])
    for bad in (-1, 1.5, True):
        with pytest.raises(ArgumentError):
            LG.local_global_attention(x, x, x, dim=2, window=bad, kernel=kernel)
        with pytest.raises(ArgumentError):
            LG.local_global_attention(x, x, x, dim=2, window=1, global_tokens=bad, kernel=kernel)
    with pytest.raises(DimensionError):
        LG.local_global_attention(x, x, x[:6], dim=2, window=1, heads=2, kernel=kernel)
    with pytest.raises(NonFiniteError):
        LG.local_global_attention(x[:7] + [float("nan")], x, x, dim=2, window=1, kernel=kernel)
    with pytest.raises(DimensionError):
        LG.local_global_backward(x, x, x, [1.0] * 3, dim=2, window=1, kernel=kernel)
    with pytest.raises(NonFiniteError):
        LG.local_global_backward(x, x, x, [float("inf")] * 8, dim=2, window=1, kernel=kernel)
    with pytest.raises(ArgumentError):
        LG.local_global_attention(x, x, x, dim=2, window=1, scale=float("nan"), kernel=kernel)


def test_docstring_examples(kernel):
    import doctest

    from agentdb.kernel import sparse_attention_ops
    for module in (LG, sparse_attention_ops):
        assert doctest.testmod(module, extraglobs={"k": kernel}, verbose=False).failed == 0
    assert all(">>>" in (getattr(LG, name).__doc__ or "") for name in LG.__all__)


def test_worker_answers_agentdb_nn_local_global():
    """AgentDB.nn.localGlobal.localGlobalAttention({...}) in the browser: the worker's nn op with
    the module camelCased, keywords snake_cased by the client; the native bits come back."""
    import json

    from agentdb import worker_api

    q, k, v = [0.1, -0.3, 0.7, 0.2, 0.4, 0.0], [0.5, 0.1, -0.2, 0.9, 0.3, 0.3], [1.0, 2.0, 3.0, -1.0, 0.5, 0.25]
    for module in ("localGlobal", "local_global"):
        got = json.loads(worker_api._op_nn({"module": module, "function": "local_global_attention",
                                            "args": {"q": q, "k": k, "v": v, "dim": 2, "window": 1}}, None))
        assert bytes.fromhex(got["value"]["f32"]) == LG.local_global_attention(q, k, v, dim=2, window=1).tobytes()
    got = json.loads(worker_api._op_nn({"module": "localGlobal", "function": "sparse_attention", "args": {
        "q": q, "k": k, "v": v, "dim": 2, "key_indptr": [0, 1, 1, 3], "key_index": [2, 0, 1]}}, None))
    want = LG.sparse_attention(q, k, v, dim=2, key_indptr=[0, 1, 1, 3], key_index=[2, 0, 1])
    assert bytes.fromhex(got["value"]["f32"]) == want.tobytes()
    with pytest.raises(AttributeError):
        worker_api._op_nn({"module": "localGlobal", "function": "_run", "args": {}}, None)
    with pytest.raises(AttributeError):   # classes are reached through their functional forms
        worker_api._op_nn({"module": "localGlobal", "function": "LocalGlobalAttention", "args": {}}, None)
    args = {"query": q[:2], "keys": k, "values": v, "dim": 2, "window": 1, "global_tokens": 1, "position": 1}
    got = json.loads(worker_api._op_nn({"module": "localGlobal", "function": "local_global_compute", "args": args},
                                       None))
    want = LG.LocalGlobalAttention(2, 1, 1).compute(q[:2], k, v, position=1)
    assert bytes.fromhex(got["value"]["f32"]) == want.tobytes()
