"""agentdb.nn.graph_attention: GraphRoPEAttention against HF's RoPE + torch SDPA (masks, heads,
clamped positions) and EdgeFeaturedAttention against a torch GATConv-with-edge_dim reference
written here and, when installed, torch_geometric's GATConv(edge_dim=...) itself, outputs and
every gradient by autograd within 1e-5; the same bits on every backend and ISA level, a query
alone or among others; JSON round trips, the functional forms, typed errors."""
import doctest

import numpy as np
import pytest
import torch

from agentdb.errors import ArgumentError, DimensionError, NonFiniteError
from agentdb.nn import graph_attention as G
from support import assert_same_outputs, bits, rel
from test_nn_rope import apply_rotary_pos_emb, arr, f32, hf_cos_sin

F = torch.nn.functional
TOL = 1e-5


def t64(x, grad=False):
    return torch.from_numpy(np.asarray(x, np.float64)).requires_grad_(grad)


# ---- GraphRoPEAttention -------------------------------------------------------------------------

def rope_reference(q, k, v, qpos, kpos, H, mask):
    """HF's rotation of each head (its float32 tables), then torch SDPA, in float64."""
    n_q, D = q.shape
    hd = D // H
    qc, qs = (t.double()[None] for t in hf_cos_sin(qpos, hd))
    kc, ks = (t.double()[None] for t in hf_cos_sin(kpos, hd))
    tq, tk, tv = t64(q, True), t64(k, True), t64(v, True)
    qh = tq.view(n_q, H, hd).transpose(0, 1)[None]
    kh = tk.view(-1, H, hd).transpose(0, 1)[None]
    vh = tv.view(len(kpos), H, -1).transpose(0, 1)[None]
    qr, _ = apply_rotary_pos_emb(qh, qh, qc, qs)
    kr, _ = apply_rotary_pos_emb(kh, kh, kc, ks)
    out = F.scaled_dot_product_attention(qr, kr, vh, attn_mask=mask)
    return out[0].transpose(0, 1).reshape(n_q, -1), (tq, tk, tv)


@pytest.mark.parametrize("D,H,n_q,n_k,dv", [(2, 1, 1, 1, 1), (16, 2, 5, 9, 6), (64, 4, 33, 70, 64), (18, 1, 7, 3, 5)])
@pytest.mark.parametrize("mask_kind", [None, "bool", "float"])
def test_graph_rope_matches_torch(kernel, rng, D, H, n_q, n_k, dv, mask_kind):
    q, k, v = f32(rng, n_q, D), f32(rng, n_k, D), f32(rng, n_k, dv * H)
    qpos, kpos = rng.integers(0, 40, n_q), rng.integers(0, 40, n_k)
    mask = tmask = None
    if mask_kind == "bool":
        mask = rng.random((n_q, n_k)) > 0.4
        mask[:, 0] = True
        tmask = torch.from_numpy(mask)
    elif mask_kind == "float":
        mask = f32(rng, n_q, n_k)
        tmask = torch.from_numpy(mask.astype(np.float64))
    att = G.GraphRoPEAttention(D, max_position=64, heads=H, kernel=kernel)
    got = att.forward(q, k, v, query_positions=qpos, key_positions=kpos, mask=mask)
    want, leaves = rope_reference(q, k, v, qpos, kpos, H, tmask)
    assert rel(arr(got), want.detach().numpy()) < TOL
    g = f32(rng, n_q, dv * H)
    want.backward(t64(g))
    grads = att.backward(g)
    for name, leaf in zip(("queries", "keys", "values"), leaves):
        assert rel(arr(grads[name]), leaf.grad.numpy()) < TOL, name


def test_graph_rope_compute_and_positions(kernel, rng):
    D, n = 8, 6
    q, k, v = f32(rng, D), f32(rng, n, D), f32(rng, n, 3)
    att = G.GraphRoPEAttention(D, max_position=4, kernel=kernel)
    one = att.compute(q, k.tolist(), v.tolist())                # @ruvector: query at 0, keys at 0 .. n - 1
    clamped = att.forward(q, k, v, query_positions=[0], key_positions=[0, 1, 2, 3, 3, 3])
    assert np.array_equal(bits(one), bits(clamped))
    want, _ = rope_reference(q[None], k, v, [0], [0, 1, 2, 3, 3, 3], 1, None)
    assert rel(arr(one), want.detach().numpy()) < TOL
    keep = [True, False, True, True, False, True]
    masked = att.compute(q, k, v, key_positions=[3, 1, 2, 0, 1, 2], mask=keep)
    idx = [i for i in range(n) if keep[i]]
    want, _ = rope_reference(q[None], k[idx], v[idx], [0], [[3, 1, 2, 0, 1, 2][i] for i in idx], 1, None)
    assert rel(arr(masked), want.detach().numpy()) < TOL
    # relative positions: shifting every position by the same amount keeps the output
    a = att.compute(q, k[:3], v[:3], query_position=0, key_positions=[0, 1, 2])
    big = G.GraphRoPEAttention(D, max_position=2000, kernel=kernel)
    b = big.compute(q, k[:3], v[:3], query_position=1000, key_positions=[1000, 1001, 1002])
    assert rel(arr(a), arr(b)) < 1e-5


def test_a_query_alone_or_among_others_gives_the_same_bits(kernel, rng):
    D, H = 16, 2
    q, k, v = f32(rng, 9, D), f32(rng, 20, D), f32(rng, 20, 8)
    qpos, kpos = rng.integers(0, 30, 9), rng.integers(0, 30, 20)
    att = G.GraphRoPEAttention(D, max_position=32, heads=H, kernel=kernel)
    whole = arr(att.forward(q, k, v, query_positions=qpos, key_positions=kpos), (9, 8))
    for i in (0, 4, 8):
        alone = att.compute(q[i], k, v, query_position=int(qpos[i]), key_positions=kpos)
        assert np.array_equal(bits(alone), bits(whole[i].copy()))


# ---- EdgeFeaturedAttention ----------------------------------------------------------------------

def gat_reference(x, src, dst, ea, w, H, slope=0.2):
    """GATConv(edge_dim=...) written out: self loops removed, one per node added with the mean
    of its incoming edge features, logits a_src . z_j + a_dst . z_i + a_edge . W_e f, LeakyReLU,
    softmax over each node's incoming edges, sum of alpha z_j, + bias."""
    n = x.shape[0]
    src, dst = torch.as_tensor(src), torch.as_tensor(dst)
    keep = src != dst
    s, d, f = src[keep], dst[keep], ea[keep]
    count = torch.zeros(n, dtype=torch.float64).index_add_(0, d, torch.ones(len(d), dtype=torch.float64))
    loop = torch.zeros(n, ea.shape[1], dtype=torch.float64).index_add_(0, d, f) / count.clamp(min=1)[:, None]
    s, d, f = torch.cat([s, torch.arange(n)]), torch.cat([d, torch.arange(n)]), torch.cat([f, loop])
    C = w["bias"].shape[0] // H
    z = (x @ w["lin.weight"].view(H * C, -1).T).view(n, H, C)
    ze = (f @ w["lin_edge.weight"].view(H * C, -1).T).view(-1, H, C)
    att = {name: w[name].view(1, H, C) for name in ("att_src", "att_dst", "att_edge")}
    logit = (z[s] * att["att_src"]).sum(-1) + (z[d] * att["att_dst"]).sum(-1) + (ze * att["att_edge"]).sum(-1)
    logit = F.leaky_relu(logit, slope)
    alpha = torch.zeros_like(logit)
    for i in range(n):
        sel = d == i
        alpha = alpha.masked_scatter(sel[:, None].expand_as(alpha), torch.softmax(logit[sel], dim=0))
    out = torch.zeros(n, H, C, dtype=torch.float64).index_add_(0, d, alpha[..., None] * z[s])
    return out.reshape(n, H * C) + w["bias"]


def graph(rng, n, extra):
    """A random directed graph with a duplicate edge, and node n - 1 without edges but a self
    loop (which GATConv drops before adding its own)."""
    src, dst = list(rng.integers(0, n - 1, extra)), list(rng.integers(0, n - 1, extra))
    src += [src[0], n - 1]
    dst += [dst[0], n - 1]
    return src, dst


def torch_weights(att, grad=False):
    return {name: t64(np.frombuffer(buf, np.float32), grad) for name, buf in att.parameters().items()}


@pytest.mark.parametrize("n,din,de,H,out_dim", [(2, 1, 1, 1, None), (7, 5, 3, 1, 4), (12, 8, 4, 3, 9)])
def test_edge_featured_matches_torch(kernel, rng, n, din, de, H, out_dim):
    src, dst = graph(rng, n, 3 * n)
    x, ea = f32(rng, n, din), f32(rng, len(src), de)
    att = G.EdgeFeaturedAttention(din, de, H, out_dim=out_dim, seed=4, kernel=kernel)
    att.load_state_dict({"bias": f32(rng, att.out_dim)})
    got = att.forward(x, (src, dst), ea)
    w = torch_weights(att, True)
    tx, te = t64(x, True), t64(ea, True)
    want = gat_reference(tx, src, dst, te, w, H)
    assert rel(arr(got), want.detach().numpy()) < TOL
    g = f32(rng, n, att.out_dim)
    want.backward(t64(g))
    grads = att.backward(g)
    assert rel(arr(grads["x"]), tx.grad.numpy()) < TOL
    assert rel(arr(grads["edge_attr"]), te.grad.numpy()) < TOL
    for name, t in w.items():
        assert rel(arr(grads[name]), t.grad.numpy()) < TOL, name


@pytest.mark.parametrize("H", [1, 2])
def test_edge_featured_matches_torch_geometric(kernel, rng, H):
    pyg = pytest.importorskip("torch_geometric.nn")
    n, din, de, C = 9, 6, 3, 4
    src, dst = graph(rng, n, 25)
    x, ea = f32(rng, n, din), f32(rng, len(src), de)
    conv = pyg.GATConv(din, C, heads=H, edge_dim=de).double()
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * 0.5))
    att = G.EdgeFeaturedAttention(din, de, H, out_dim=H * C, kernel=kernel)
    att.load_state_dict({name: t.detach().float().numpy() for name, t in conv.state_dict().items()})
    tx, te = t64(x, True), t64(ea, True)
    want = conv(tx, torch.tensor([src, dst]), te)
    assert rel(arr(att.forward(x, (src, dst), ea)), want.detach().numpy()) < TOL
    g = f32(rng, n, H * C)
    want.backward(t64(g))
    grads = att.backward(g)
    assert rel(arr(grads["x"]), tx.grad.numpy()) < TOL and rel(arr(grads["edge_attr"]), te.grad.numpy()) < TOL
    for name, p in conv.named_parameters():
        assert rel(arr(grads[name]), p.grad.numpy()) < TOL, name


def test_edge_featured_compute_is_a_star(kernel, rng):
    att = G.EdgeFeaturedAttention(4, 2, 2, seed=9, kernel=kernel)
    node, nbrs, feats = f32(rng, 4), f32(rng, 3, 4), f32(rng, 3, 2)
    one = att.compute(node.tolist(), nbrs.tolist(), feats.tolist())
    x = np.concatenate([node[None], nbrs])
    star = arr(att.forward(x, ([1, 2, 3], [0, 0, 0]), feats), (4, 4))
    assert np.array_equal(bits(one), bits(star[0].copy()))
    # the node's output depends on its own neighbourhood only: the same bits in a larger graph
    big = np.concatenate([x, f32(rng, 3, 4)])
    more = arr(att.forward(big, ([1, 2, 3, 4, 6], [0, 0, 0, 5, 4]), np.concatenate([feats, f32(rng, 2, 2)])), (7, 4))
    assert np.array_equal(bits(one), bits(more[0].copy()))


def test_json_round_trips_and_functional_forms(kernel, rng):
    att = G.EdgeFeaturedAttention(5, 3, 1, seed=2, kernel=kernel)
    src, dst = graph(rng, 6, 10)
    x, ea = f32(rng, 6, 5), f32(rng, len(src), 3)
    y = att.forward(x, (src, dst), ea)
    again = G.EdgeFeaturedAttention.from_json(att.to_json(), kernel=kernel)
    assert np.array_equal(bits(again.forward(x, (src, dst), ea)), bits(y))
    state = {name: list(buf) for name, buf in att.parameters().items()}
    for weights in (state, att.to_json()):
        out = G.edge_featured_attention(x.tolist(), [src, dst], ea.tolist(), node_dim=5, edge_dim=3,
                                        weights=weights, kernel=kernel)
        assert np.array_equal(bits(out), bits(y))
    flat = G.edge_featured_attention(x, np.array([src, dst]), ea, node_dim=5, edge_dim=3, weights=state,
                                     kernel=kernel)
    assert np.array_equal(bits(flat), bits(y))
    r = G.GraphRoPEAttention(8, 16, 2, kernel=kernel)
    assert G.GraphRoPEAttention.from_json(r.to_json()).to_json() == r.to_json()
    q, k, v = f32(rng, 3, 8), f32(rng, 5, 8), f32(rng, 5, 4)
    want = r.forward(q, k, v, query_positions=[1, 2, 3], key_positions=[0, 1, 2, 3, 20])
    got = G.graph_rope_attention(q.tolist(), k.tolist(), v.tolist(), dim=8, heads=2, max_position=16,
                                 query_positions=[1, 2, 3], key_positions=[0, 1, 2, 3, 20], kernel=kernel)
    assert np.array_equal(bits(got), bits(want))


def outputs(kernel, seed):
    rng = np.random.default_rng(seed)
    res = {}
    r = G.GraphRoPEAttention(64, 128, 4, kernel=kernel)
    q, k, v = f32(rng, 20, 64), f32(rng, 70, 64), f32(rng, 70, 12)
    keep = rng.random((20, 70)) > 0.3
    res["rope"] = bits(r.forward(q, k, v, query_positions=rng.integers(0, 200, 20),
                                 key_positions=rng.integers(0, 200, 70), mask=keep))
    for name, grad in r.backward(f32(rng, 20, 12)).items():
        res[f"rope d{name}"] = bits(grad)
    e = G.EdgeFeaturedAttention(7, 3, 3, out_dim=6, seed=1, kernel=kernel)
    src, dst = graph(rng, 10, 30)
    res["gat"] = bits(e.forward(f32(rng, 10, 7), (src, dst), f32(rng, len(src), 3)))
    for name, grad in sorted(e.backward(f32(rng, 10, 6)).items()):
        res[f"gat {name}"] = bits(grad)
    return res


def test_backends_agree_bit_for_bit(native, wasmhost):
    assert_same_outputs(outputs, native, wasmhost, 7)


def test_every_isa_level_agrees_with_wasm(level_kernel, wasmhost):
    assert_same_outputs(outputs, level_kernel, wasmhost, 8)


def test_distance_to_position():
    assert [G.distance_to_position(d, 20) for d in (0, 5, 8, 9, 16, 17, 32)] == [0, 5, 8, 12, 12, 13, 13]
    with pytest.raises(ArgumentError):
        G.distance_to_position(-1, 20)


def test_errors(kernel):
    with pytest.raises(DimensionError):
        G.GraphRoPEAttention(6, heads=2, kernel=kernel)                # head dim 3: odd
    with pytest.raises(DimensionError):
        G.GraphRoPEAttention(0, kernel=kernel)
    r = G.GraphRoPEAttention(4, 8, kernel=kernel)
    with pytest.raises(ArgumentError):
        r.backward([0.0])
    with pytest.raises(DimensionError):
        r.forward([0.0] * 3, [0.0] * 4, [1.0])
    with pytest.raises(NonFiniteError):
        r.forward([float("nan")] + [0.0] * 3, [0.0] * 4, [1.0])
    with pytest.raises(ArgumentError):
        r.forward([0.0] * 4, [0.0] * 4, [1.0], key_positions=[-1])
    with pytest.raises(DimensionError):
        r.forward([0.0] * 4, [0.0] * 4, [1.0], key_positions=[1, 2])
    with pytest.raises(DimensionError):
        r.forward([0.0] * 4, [0.0] * 4, [1.0], mask=[True, False])
    with pytest.raises(ArgumentError):
        G.GraphRoPEAttention.from_json('{"format": "x"}')
    e = G.EdgeFeaturedAttention(2, 1, kernel=kernel)
    with pytest.raises(ArgumentError):
        e.forward([[1, 0], [0, 1]], ([0], [2]), [[1.0]])             # target 2 of 2 nodes
    with pytest.raises(DimensionError):
        e.forward([[1, 0], [0, 1]], ([0], [1]), [[1.0], [2.0]])      # two features, one edge
    with pytest.raises(ArgumentError):
        e.forward([[1, 0], [0, 1]], ([0, 1], [1]), [[1.0]])
    with pytest.raises(NonFiniteError):
        e.forward([[1, float("inf")], [0, 1]], ([0], [1]), [[1.0]])
    with pytest.raises(ArgumentError):
        e.load_state_dict({"lin.bias": [0.0]})
    with pytest.raises(DimensionError):
        e.load_state_dict({"bias": [0.0]})
    with pytest.raises(ArgumentError):
        e.backward([0.0] * 4)
    _ = e.forward([[1, 0], [0, 1]], ([0], [1]), [[1.0]])
    with pytest.raises(DimensionError):
        e.backward([0.0] * 3)
    with pytest.raises(DimensionError):
        G.EdgeFeaturedAttention(4, 2, heads=3, kernel=kernel)


def test_docstring_examples(kernel):
    assert doctest.testmod(G, verbose=False).failed == 0
    public = [getattr(G, name) for name in G.__all__]
    methods = [getattr(cls, name) for cls in (G.GraphRoPEAttention, G.EdgeFeaturedAttention) for name in vars(cls)
               if not name.startswith("_") and callable(getattr(cls, name))]
    assert all(">>>" in (obj.__doc__ or "") for obj in public + methods)


def test_the_worker_nn_op_reaches_the_functional_forms():
    import json

    from agentdb import worker_api
    from agentdb.nn import rope

    def call(module, function, **args):
        return json.loads(worker_api.handle("nn", json.dumps({"module": module, "function": function,
                                                              "args": args}), None))["value"]

    q, k, v = [[0.1, -0.3, 0.7, 0.2]], [[0.5, 0.1, -0.2, 0.9], [0.3, 0.3, 0.1, 0.0]], [[1.0], [2.0]]
    got = call("graph_attention", "graph_rope_attention", queries=q, keys=k, values=v, dim=4,
               key_positions=[1, 3])
    assert bytes.fromhex(got["f32"]) == G.graph_rope_attention(q, k, v, dim=4, key_positions=[1, 3]).tobytes()
    att = G.EdgeFeaturedAttention(2, 1, seed=3)
    weights = {name: list(buf) for name, buf in att.parameters().items()}
    got = call("graph_attention", "edge_featured_attention", x=[[1, 0], [0, 1]], edge_index=[[0], [1]],
               edge_attr=[[0.5]], node_dim=2, edge_dim=1, weights=weights)
    assert bytes.fromhex(got["f32"]) == att.forward([[1, 0], [0, 1]], ([0], [1]), [[0.5]]).tobytes()
    cos, sin = call("rope", "rope_tables", positions=[0, 5, 1e6], dim=8)
    want = rope.rope_tables([0, 5, 1e6], dim=8)
    assert bytes.fromhex(cos["f32"]) == want[0].tobytes() and bytes.fromhex(sin["f32"]) == want[1].tobytes()
    got = call("rope", "rope", x=[1, 2, 3, 4], positions=[7], dim=4)
    assert bytes.fromhex(got["f32"]) == rope.rope([1, 2, 3, 4], [7], dim=4).tobytes()
    with pytest.raises(AttributeError):
        call("graph_attention", "GraphRoPEAttention")
