"""agentdb.nn.gnn: the GNN layer's forward and every gradient against torch autograd (float64),
with edge weights and dropout masks (the layer's mask handed to torch), backend and ISA-level
parity, node-order independence, dropout reproducibility, the JSON round trip and its errors."""
import array
import doctest
import math
import re

import numpy as np
import pytest
import torch

from agentdb import errors
from agentdb.errors import ArgumentError, DimensionError
from agentdb.kernel import load
from agentdb.learn.rng import SplitMix64
from agentdb.nn import gnn
from agentdb.nn.gnn import GNNLayer, neighbourhoods
from support import bits, f32


def close(ours, ref, rtol=1e-5):
    """Within rtol of the reference, relative to the reference's largest magnitude."""
    ours, ref = np.asarray(ours, dtype=np.float64).reshape(-1), np.asarray(ref, dtype=np.float64).reshape(-1)
    err = np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30)
    assert err <= rtol, err
    return err


def random_graph(rng, n, p):
    """CSR of a random directed graph: isolated nodes, self loops and repeated edges included."""
    rows = []
    for i in range(n):
        if i % 5 == 0:
            rows.append([])                           # isolated (only itself)
            continue
        t = [int(j) for j in np.flatnonzero(rng.random(n) < p)]
        rng.shuffle(t)
        if i % 3 == 0:
            t += [i] + t[:1]                          # a self loop and a repeat: dropped
        rows.append(t)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.uint32)
    return (list(offsets), [j for r in rows for j in r]), rows


def first_positions(adj, n):
    """Per node, the adjacency entry each kept neighbour comes from (the documented rule: the
    first occurrence of a target counts, self loops and later repeats are dropped)."""
    if isinstance(adj, tuple):
        offsets, targets = adj
        entries = [[(int(targets[p]), p) for p in range(offsets[i], offsets[i + 1])] for i in range(n)]
    else:
        entries = [[] for _ in range(n)]
        for p, (i, j) in enumerate(adj):
            entries[int(i)].append((int(j), p))
    out = []
    for i, row in enumerate(entries):
        seen, keep = {i}, []
        for j, p in row:
            if j not in seen:
                seen.add(j)
                keep.append(p)
        out.append(keep)
    return out


def torch_reference(layer, x, hoods, g, weights=None, positions=None, keep=None):
    """The same math in torch float64; (y, grads by name) from autograd of sum(y * g).
    weights: one per adjacency entry (positions from first_positions), keep: the layer's
    dropout multipliers in alpha layout (node, head, neighbourhood)."""
    D, H, hd = layer.out_dim, layer.heads, layer.head_dim
    t = {name: torch.tensor(np.asarray(buf, np.float64), requires_grad=True) for name, buf in
         layer.parameters().items()}
    if weights is not None:
        t["edge_weights"] = torch.tensor(np.asarray(weights, np.float64), requires_grad=True)
    xt = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    z = xt @ t["weight"].view(layer.in_dim, D)
    zh = z.view(-1, H, hd)
    s = (zh * t["att_src"].view(H, hd)).sum(-1)
    tt = (zh * t["att_dst"].view(H, hd)).sum(-1)
    rows, start = [], 0
    for i, hood in enumerate(hoods):
        idx, d = torch.tensor(hood), len(hood)
        e = torch.nn.functional.leaky_relu(s[i][None, :] + tt[idx], negative_slope=0.2)    # d x H
        coef = torch.softmax(e, dim=0)
        if weights is not None:
            w = torch.cat([torch.ones(1, dtype=torch.float64), t["edge_weights"][torch.tensor(positions[i],
                                                                                             dtype=torch.long)]])
            coef = coef * w[:, None]
        if keep is not None:
            coef = coef * torch.tensor(np.asarray(keep[start:start + H * d], np.float64)).view(H, d).T
        start += H * d
        rows.append((coef[:, :, None] * zh[idx]).sum(0).reshape(D))
    h = torch.stack(rows)
    r = xt if "proj" not in t else xt @ t["proj"].view(layer.in_dim, D)
    y = torch.nn.functional.layer_norm(h + r, (D,), t["gamma"], t["beta"], eps=1e-5)
    (y * torch.tensor(np.asarray(g, np.float64).reshape(y.shape))).sum().backward()
    grads = {name: p.grad.numpy() for name, p in t.items()}
    grads["x"] = xt.grad.numpy()
    return y.detach().numpy(), grads


CASES = [(17, 8, 1, 12, 0.2), (8, 8, 2, 20, 0.15), (3, 12, 3, 9, 0.5), (3, 4, 4, 6, 0.0), (2, 6, 2, 9, 0.4), (97, 16, 4, 30, 0.1)]


@pytest.mark.parametrize("mode", ["plain", "weights", "dropout", "both"])
@pytest.mark.parametrize("in_dim,out_dim,heads,n,p", CASES)
def test_forward_and_gradients_match_torch(kernel, rng, in_dim, out_dim, heads, n, p, mode):
    dropout = 0.3 if mode in ("dropout", "both") else 0.0
    layer = GNNLayer(in_dim, out_dim, heads, seed=int(rng.integers(1 << 32)), dropout=dropout, kernel=kernel)
    layer.gamma = array.array("f", f32(1 + 0.3 * rng.standard_normal(out_dim)).tobytes())   # not the identity
    layer.beta = array.array("f", f32(0.1 * rng.standard_normal(out_dim)).tobytes())
    adj, rows = random_graph(rng, n, p)
    weights = f32(rng.uniform(0.0, 2.0, len(adj[1]))) if mode in ("weights", "both") else None
    x = f32(rng.standard_normal((n, in_dim)))
    y = layer.forward(x, adj, weights)
    keep = layer.last_keep
    assert (keep is None) == (dropout == 0)
    g = f32(rng.standard_normal(n * out_dim))
    grads = layer.backward(g)
    hoods = neighbourhoods(adj, n)
    ref_y, ref = torch_reference(layer, x, hoods, g, weights, first_positions(adj, n), keep)
    close(y, ref_y)
    assert sorted(grads) == sorted(ref)
    scale = np.abs(ref["weight"]).max()
    for name in ref:
        if np.abs(ref[name]).max() < 1e-10 * scale:
            # zero in exact math (all of i's logits in one LeakyReLU regime: softmax ignores s_i)
            assert np.abs(grads[name]).max() <= 1e-5 * scale
        else:
            close(grads[name], ref[name])


def test_edge_list_equals_csr(kernel, rng):
    adj, rows = random_graph(rng, 15, 0.3)
    edges = [(i, j) for i, r in enumerate(rows) for j in r]
    layer = GNNLayer(5, 6, 3, seed=2, kernel=kernel)
    x = f32(rng.standard_normal((15, 5)))
    a = bits(layer.forward(x, adj))
    assert np.array_equal(a, bits(layer.forward(x, edges)))
    assert np.array_equal(a, bits(layer.forward(x, np.array(edges, dtype=np.int64))))
    for dtype in (np.uint32, np.int64, np.int32, np.uint16):            # numpy CSR arrays, converted in C
        csr = (np.asarray(adj[0], dtype), np.asarray(adj[1], dtype))
        assert np.array_equal(a, bits(layer.forward(x, csr)))
    bad = np.asarray(adj[1], np.int64)
    bad[3] = -1
    with pytest.raises(ArgumentError):
        layer.forward(x, (np.asarray(adj[0], np.int64), bad))
    bad[3] = 15
    with pytest.raises(ArgumentError):
        layer.forward(x, (adj[0], bad))


def outputs(layer, x, adj, g, weights=None):
    y = layer.forward(x, adj, weights)
    grads = layer.backward(g)
    keep = [] if layer.last_keep is None else [bits(layer.last_keep)]
    return [bits(y)] + keep + [bits(grads[name]) for name in sorted(grads)]


def parity_outputs(kernel):
    rng = np.random.default_rng(5)
    adj, _ = random_graph(rng, 40, 0.15)
    x, g = f32(rng.standard_normal((40, 17))), f32(rng.standard_normal(40 * 12))
    w = f32(rng.uniform(0, 3, len(adj[1])))
    plain = outputs(GNNLayer(17, 12, 3, seed=9, kernel=kernel), x, adj, g)
    both = outputs(GNNLayer(17, 12, 3, seed=9, dropout=0.4, kernel=kernel), x, adj, g, w)
    return plain + both


def test_backends_agree_bit_for_bit(native, wasmhost):
    for u, v in zip(parity_outputs(native), parity_outputs(wasmhost), strict=True):
        np.testing.assert_array_equal(u, v)


def test_isa_levels_agree_bit_for_bit(level_kernel):
    for u, v in zip(parity_outputs(level_kernel), parity_outputs(load("native")), strict=True):
        np.testing.assert_array_equal(u, v)


def test_eval_is_no_dropout_bit_for_bit(kernel, rng):
    adj, _ = random_graph(rng, 25, 0.2)
    x, g = f32(rng.standard_normal((25, 6))), f32(rng.standard_normal(25 * 8))
    w = f32(rng.uniform(0, 2, len(adj[1])))
    want = outputs(GNNLayer(6, 8, 2, seed=3, kernel=kernel), x, adj, g, w)
    layer = GNNLayer(6, 8, 2, seed=3, dropout=0.5, kernel=kernel).eval()
    assert not layer.training
    for _ in range(2):                                 # eval draws nothing: every call the same
        for u, v in zip(outputs(layer, x, adj, g, w), want, strict=True):
            np.testing.assert_array_equal(u, v)
    assert layer.train().training and layer.train(False) is layer
    plain = GNNLayer(6, 8, 2, seed=3, kernel=kernel)
    unit = bits(plain.forward(x, adj, np.ones(len(adj[1]))))   # weights of 1 are no weights
    np.testing.assert_array_equal(unit, bits(plain.forward(x, adj)))


def test_dropout_masks_come_from_the_seeded_stream(kernel, rng):
    p, n, H = 0.3, 30, 2
    adj, _ = random_graph(rng, n, 0.3)
    x = f32(rng.standard_normal((n, 5)))
    a, b = (GNNLayer(5, 6, H, seed=21, dropout=p, kernel=kernel) for _ in range(2))
    ref = SplitMix64(21)
    for _ in range(5 * 6 + 6 + 6 + 5 * 6):           # the weights' draws (W, a_src, a_dst, P) come first
        ref.next()
    count = sum(len(h) for h in neighbourhoods(adj, n)) * H
    scale = float(f32(1 / (1 - p)))
    for _ in range(2):
        ya, yb = a.forward(x, adj), b.forward(x, adj)
        assert ya.tobytes() == yb.tobytes() and a.last_keep.tobytes() == b.last_keep.tobytes()
        want = [0.0 if (ref.next() >> 40) < math.ceil(p * 2 ** 24) else scale for _ in range(count)]
        assert a.last_keep.tolist() == want
    dropped = np.mean(np.asarray(a.last_keep) == 0)
    assert abs(dropped - p) < 0.1, dropped
    first = GNNLayer(5, 6, H, seed=21, dropout=p, kernel=kernel)
    assert first.forward(x, adj).tobytes() != a.forward(x, adj).tobytes()     # the stream moves on
    assert GNNLayer(5, 6, H, seed=22, dropout=p, kernel=kernel).forward(x, adj).tobytes() != \
        GNNLayer(5, 6, H, seed=21, dropout=p, kernel=kernel).forward(x, adj).tobytes()


def test_edge_weights_follow_the_adjacency_entries(kernel, rng):
    adj, rows = random_graph(rng, 15, 0.3)
    w = f32(rng.uniform(0, 2, len(adj[1])))
    edges = [(i, j) for i, r in enumerate(rows) for j in r]
    layer = GNNLayer(5, 6, 3, seed=2, kernel=kernel)
    x = f32(rng.standard_normal((15, 5)))
    a = bits(layer.forward(x, adj, w))
    assert np.array_equal(a, bits(layer.forward(x, edges, list(map(float, w)))))
    w2 = w.copy()
    for i, hood in enumerate(first_positions(adj, 15)):      # dropped repeats and self loops count for nothing
        for p in set(range(adj[0][i], adj[0][i + 1])) - set(hood):
            w2[p] = 7.0
    assert np.array_equal(a, bits(layer.forward(x, adj, w2)))
    assert not np.array_equal(a, bits(layer.forward(x, adj)))


def test_permuting_nodes_permutes_outputs(kernel, rng):
    n = 30
    adj, rows = random_graph(rng, n, 0.2)
    wrows = [list(rng.uniform(0, 2, len(r))) for r in rows]
    x = f32(rng.standard_normal((n, 7)))
    layer = GNNLayer(7, 8, 2, seed=4, dropout=0.5, kernel=kernel).eval()
    y = np.asarray(layer.forward(x, adj, [v for r in wrows for v in r])).reshape(n, 8)
    dx = np.asarray(layer.backward(np.ones(n * 8, np.float32))["x"]).reshape(n, 7)
    new = rng.permutation(n)                       # old node i becomes new[i]
    old = np.argsort(new)
    x2 = x[old]
    rows2 = [[int(new[j]) for j in rows[old[q]]] for q in range(n)]   # each list in its own order
    edges2 = [(q, j) for q, r in enumerate(rows2) for j in r]
    w2 = [v for q in range(n) for v in wrows[old[q]]]
    y2 = np.asarray(layer.forward(x2, edges2, w2)).reshape(n, 8)
    np.testing.assert_array_equal(bits(f32(y2[new])), bits(f32(y)))
    dx2 = np.asarray(layer.backward(np.ones(n * 8, np.float32))["x"]).reshape(n, 7)
    close(dx2[new], dx, rtol=1e-6)      # gradients sum over nodes in another order: close, not equal


def test_graph_alone_or_in_a_batch(kernel, rng):
    adj, rows = random_graph(rng, 12, 0.3)
    x, other = f32(rng.standard_normal((12, 9))), f32(rng.standard_normal((20, 9)))
    w = list(rng.uniform(0, 2, len(adj[1])))
    layer = GNNLayer(9, 9, 3, seed=6, kernel=kernel)
    alone = bits(layer.forward(x, adj, w))
    edges = [(i + 20, j + 20) for i, r in enumerate(rows) for j in r] + [(i, (i + 1) % 20) for i in range(20)]
    both = bits(layer.forward(np.concatenate([other, x]), edges, w + [0.5] * 20))
    np.testing.assert_array_equal(both[20 * 9:], alone)


def test_json_round_trip_is_bit_exact(kernel, rng):
    for in_dim, out_dim, heads in ((5, 6, 3), (4, 4, 1)):
        a = GNNLayer(in_dim, out_dim, heads, seed=11, kernel=kernel)
        a.gamma[0] = float("nan")      # odd payloads survive too
        a.beta[1] = -0.0
        b = GNNLayer.from_json(a.to_json(), kernel=kernel)
        assert (b.in_dim, b.out_dim, b.heads) == (in_dim, out_dim, heads)
        for name, buf in a.parameters().items():
            np.testing.assert_array_equal(bits(buf), bits(b.parameters()[name]))
    a = GNNLayer(4, 4, 2, seed=12, dropout=0.35, kernel=kernel)
    x, adj = f32(rng.standard_normal((6, 4))), [(i, (i + 1) % 6) for i in range(6)]
    a.forward(x, adj)                                 # the dropout stream has moved on
    b = GNNLayer.from_json(a.to_json(), kernel=kernel)
    assert b.dropout == 0.35 and b.training
    for _ in range(2):                                # and b continues it where a is
        assert a.forward(x, adj).tobytes() == b.forward(x, adj).tobytes()
    assert GNNLayer(3, 4, seed=1).weight != GNNLayer(3, 4, seed=2).weight
    assert GNNLayer(3, 4, seed=1).weight == GNNLayer(3, 4, seed=1).weight


def test_errors():
    with pytest.raises(errors.DimensionError):
        GNNLayer(3, 4, heads=3)
    with pytest.raises(errors.DimensionError):
        GNNLayer(0, 4)
    for bad in (1.0, -0.1, "0.1", True, float("nan")):
        with pytest.raises(errors.OptionError):
            GNNLayer(3, 4, dropout=bad)
    layer = GNNLayer(2, 2)
    with pytest.raises(errors.ArgumentError):
        layer.backward([0.0] * 4)                               # no forward yet
    x = [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(errors.DimensionError):
        layer.forward([[1.0, 0.0, 0.0]], [])
    with pytest.raises(errors.DimensionError):
        layer.forward([], [])
    with pytest.raises(errors.NonFiniteError):
        layer.forward([[float("nan"), 0.0]], [])
    for adj in ([(0, 2)], [(-1, 0)], [(0, 1, 1)], [(0.5, 1)], ([0, 1], [1]), ([0, 2, 1], [1, 0]),
                ([0, 1, 1], [5]), ([1, 1, 1], [0]), 7):
        with pytest.raises(errors.ArgumentError):
            layer.forward(x, adj)
    for weights, error in (([1.0, 2.0], errors.DimensionError), ([], errors.DimensionError),
                           ([float("nan")], errors.NonFiniteError), ([float("inf")], errors.NonFiniteError),
                           ([-0.5], errors.ArgumentError), (["a"], errors.ArgumentError)):
        with pytest.raises(error):
            layer.forward(x, [(0, 1)], weights)
    with pytest.raises(errors.DimensionError):
        layer.forward(x, ([0, 1, 1], [1]), [1.0, 1.0])
    layer.forward(x, [(0, 1)])
    with pytest.raises(errors.DimensionError):
        layer.backward([0.0] * 3)
    with pytest.raises(errors.NonFiniteError):
        layer.backward([0.0, float("inf"), 0.0, 0.0])
    with pytest.raises(errors.ArgumentError):
        GNNLayer.from_json('{"format": "agentdb.lora", "version": 1}')
    doc = GNNLayer(2, 2).to_json().replace('"weight": "', '"weight": "AAAA')
    with pytest.raises(errors.DimensionError):
        GNNLayer.from_json(doc)
    for state in ('"-1"', '"x"', "7", str(1 << 64).join('""')):
        doc = re.sub(r'"rng_state": "[0-9]+"', '"rng_state": ' + state, GNNLayer(2, 2).to_json())
        with pytest.raises(errors.ArgumentError):
            GNNLayer.from_json(doc)
    with pytest.raises(errors.OptionError):
        GNNLayer.from_json(GNNLayer(2, 2).to_json().replace('"dropout": 0.0', '"dropout": 1.5'))


def test_docstring_examples(kernel):
    from agentdb.kernel import gnn_ops

    assert doctest.testmod(gnn).failed == 0
    assert doctest.testmod(gnn_ops, extraglobs={"k": kernel}).failed == 0
    missing = [name for name, obj in vars(gnn_ops.GnnOps).items() if not name.startswith("_")
               and callable(obj) and ">>>" not in (obj.__doc__ or "")]
    assert not missing, missing


def test_kernel_ops_refuse_bad_graphs(kernel):
    st, z = [0.0] * 4, [1.0, 2.0]
    with pytest.raises(errors.KernelError):
        kernel.gat_forward(st, z, [0, 1, 2], [0, 2], n=2, heads=1, head_dim=1, slope=0.2)      # neighbour >= n
    with pytest.raises(errors.KernelError):
        kernel.gat_forward(st, z, [0, 2, 1], [0, 1], n=2, heads=1, head_dim=1, slope=0.2)      # offsets decrease
    with pytest.raises(errors.DimensionError):
        kernel.gat_forward(st, z, [0, 1, 3], [0, 1], n=2, heads=1, head_dim=1, slope=0.2)      # nbr too short
    with pytest.raises(errors.DimensionError):
        kernel.gat_forward(st[:3], z, [0, 1, 2], [0, 1], n=2, heads=1, head_dim=1, slope=0.2)


def test_hierarchical_forward_is_the_levels_stars_in_turn(kernel):
    from agentdb.nn.gnn import hierarchical_forward

    top, bottom = GNNLayer(4, 4, heads=2, seed=7, kernel=kernel), GNNLayer(4, 4, seed=8, kernel=kernel)
    q = [0.3, -0.2, 0.9, 0.1]
    levels = [[[1.0, 0.0, 0.0, 0.5]], [[0.0, 1.0, 0.0, 0.0], [0.2, 0.2, 0.2, 0.2], [-1.0, 0.5, 0.0, 1.0]]]
    got = hierarchical_forward(q, levels, [top, bottom.to_json()])
    step = top.forward([q] + levels[0], [(0, 1)])[:4]
    want = bottom.forward([list(step)] + levels[1], [(0, 1), (0, 2), (0, 3)])[:4]
    assert got.tobytes() == want.tobytes()
    alone = hierarchical_forward(q, [[]], [top])                  # no rows at a level: the query by itself
    assert alone.tobytes() == top.forward([q], [])[:4].tobytes()
    with pytest.raises(ArgumentError):
        hierarchical_forward(q, levels, [top])
    with pytest.raises(ArgumentError):
        hierarchical_forward(q, [[]], [GNNLayer(4, 2, kernel=kernel)])
    with pytest.raises(DimensionError):
        hierarchical_forward([1.0, 2.0], [[]], [top])
