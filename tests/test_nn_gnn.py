"""agentdb.nn.gnn: the GNN layer's forward and every gradient against torch autograd (float64),
backend parity, node-order independence, the JSON round trip and its errors."""
import array
import doctest

import numpy as np
import pytest
import torch

from agentdb import errors
from agentdb.errors import ArgumentError, DimensionError
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


def torch_reference(layer, x, hoods, g):
    """The same math in torch float64; (y, grads by name) from autograd of sum(y * g)."""
    D, H, hd = layer.out_dim, layer.heads, layer.head_dim
    t = {name: torch.tensor(np.asarray(buf, np.float64), requires_grad=True) for name, buf in
         layer.parameters().items()}
    xt = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    z = xt @ t["weight"].view(layer.in_dim, D)
    zh = z.view(-1, H, hd)
    s = (zh * t["att_src"].view(H, hd)).sum(-1)
    tt = (zh * t["att_dst"].view(H, hd)).sum(-1)
    rows = []
    for i, hood in enumerate(hoods):
        idx = torch.tensor(hood)
        e = torch.nn.functional.leaky_relu(s[i][None, :] + tt[idx], negative_slope=0.2)    # d x H
        alpha = torch.softmax(e, dim=0)
        rows.append((alpha[:, :, None] * zh[idx]).sum(0).reshape(D))
    h = torch.stack(rows)
    r = xt if "proj" not in t else xt @ t["proj"].view(layer.in_dim, D)
    y = torch.nn.functional.layer_norm(h + r, (D,), t["gamma"], t["beta"], eps=1e-5)
    (y * torch.tensor(np.asarray(g, np.float64).reshape(y.shape))).sum().backward()
    grads = {name: p.grad.numpy() for name, p in t.items()}
    grads["x"] = xt.grad.numpy()
    return y.detach().numpy(), grads


CASES = [(17, 8, 1, 12, 0.2), (8, 8, 2, 20, 0.15), (3, 12, 3, 9, 0.5), (3, 4, 4, 6, 0.0), (2, 6, 2, 9, 0.4), (97, 16, 4, 30, 0.1)]


@pytest.mark.parametrize("in_dim,out_dim,heads,n,p", CASES)
def test_forward_and_gradients_match_torch(kernel, rng, in_dim, out_dim, heads, n, p):
    layer = GNNLayer(in_dim, out_dim, heads, seed=int(rng.integers(1 << 32)), kernel=kernel)
    layer.gamma = array.array("f", f32(1 + 0.3 * rng.standard_normal(out_dim)).tobytes())   # not the identity
    layer.beta = array.array("f", f32(0.1 * rng.standard_normal(out_dim)).tobytes())
    adj, rows = random_graph(rng, n, p)
    x = f32(rng.standard_normal((n, in_dim)))
    y = layer.forward(x, adj)
    g = f32(rng.standard_normal(n * out_dim))
    grads = layer.backward(g)
    hoods = neighbourhoods(adj, n)
    ref_y, ref = torch_reference(layer, x, hoods, g)
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


def outputs(layer, x, adj, g):
    y = layer.forward(x, adj)
    grads = layer.backward(g)
    return [bits(y)] + [bits(grads[name]) for name in sorted(grads)]


def test_backends_agree_bit_for_bit(native, wasmhost, rng):
    adj, _ = random_graph(rng, 40, 0.15)
    x, g = f32(rng.standard_normal((40, 17))), f32(rng.standard_normal(40 * 12))
    a = outputs(GNNLayer(17, 12, 3, seed=9, kernel=native), x, adj, g)
    b = outputs(GNNLayer(17, 12, 3, seed=9, kernel=wasmhost), x, adj, g)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_permuting_nodes_permutes_outputs(kernel, rng):
    n = 30
    adj, rows = random_graph(rng, n, 0.2)
    x = f32(rng.standard_normal((n, 7)))
    layer = GNNLayer(7, 8, 2, seed=4, kernel=kernel)
    y = np.asarray(layer.forward(x, adj)).reshape(n, 8)
    dx = np.asarray(layer.backward(np.ones(n * 8, np.float32))["x"]).reshape(n, 7)
    new = rng.permutation(n)                       # old node i becomes new[i]
    old = np.argsort(new)
    x2 = x[old]
    rows2 = [[int(new[j]) for j in rows[old[q]]] for q in range(n)]   # each list in its own order
    edges2 = [(q, j) for q, r in enumerate(rows2) for j in r]
    y2 = np.asarray(layer.forward(x2, edges2)).reshape(n, 8)
    np.testing.assert_array_equal(bits(f32(y2[new])), bits(f32(y)))
    dx2 = np.asarray(layer.backward(np.ones(n * 8, np.float32))["x"]).reshape(n, 7)
    close(dx2[new], dx, rtol=1e-6)      # gradients sum over nodes in another order: close, not equal


def test_graph_alone_or_in_a_batch(kernel, rng):
    adj, rows = random_graph(rng, 12, 0.3)
    x, other = f32(rng.standard_normal((12, 9))), f32(rng.standard_normal((20, 9)))
    layer = GNNLayer(9, 9, 3, seed=6, kernel=kernel)
    alone = bits(layer.forward(x, adj))
    edges = [(i + 20, j + 20) for i, r in enumerate(rows) for j in r] + [(i, (i + 1) % 20) for i in range(20)]
    both = bits(layer.forward(np.concatenate([other, x]), edges))
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
    assert GNNLayer(3, 4, seed=1).weight != GNNLayer(3, 4, seed=2).weight
    assert GNNLayer(3, 4, seed=1).weight == GNNLayer(3, 4, seed=1).weight


def test_errors():
    with pytest.raises(errors.DimensionError):
        GNNLayer(3, 4, heads=3)
    with pytest.raises(errors.DimensionError):
        GNNLayer(0, 4)
    with pytest.raises(errors.OptionError):
        GNNLayer(3, 4, dropout=0.1)
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


def test_docstring_examples():
    assert doctest.testmod(gnn).failed == 0


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
