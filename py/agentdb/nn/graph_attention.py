"""Graph attention: @ruvector/attention's GraphRoPeAttention(dim, maxPosition?) and
EdgeFeaturedAttention(nodeDim, edgeDim, heads?), each with `compute(q, keys, values)`, a
batched forward, an explicit backward and a functional form for the browser's `nn` op, the same
bits in every home (kernel ops, and per-edge steps in Python in one fixed order).

GraphRoPEAttention: dot-product attention whose queries and keys are rotated by RoPE
(agentdb.nn.rope) at their positions (node order, hop distance: any non-negative integer,
clamped to max_position - 1 as @ruvector's GraphRoPE does), per head of dim / heads, scale
1 / sqrt(dim / heads), softmax over the keys left by a mask (an adjacency: bool n_q x n_k, true =
attend, or additive floats), through nn.attention's kernel SDPA:
  out_i = sum_j softmax_j(R(p_i) q_i . R(p_j) k_j / sqrt(d) + mask_ij) v_j.

EdgeFeaturedAttention: PyG's GATConv(node_dim, out_dim / heads, heads, edge_dim=edge_dim)
(concat, LeakyReLU slope 0.2, self loops added with the mean of a node's incoming edge features,
bias): for node i and its neighbours j (edge j -> i, then the self loop),
  z = x W^T, e_ij = LeakyReLU(a_src . z_j + a_dst . z_i + a_edge . W_e f_ji)   (per head)
  alpha_ij = softmax over i's incoming edges, out_i = sum_j alpha_ij z_j (heads concatenated) + b.
Weights load from GATConv's state_dict names (lin.weight, lin_edge.weight, att_src, att_dst,
att_edge, bias).

Not yet: attention dropout, GATConv's concat=False (head mean) and residual options.
"""

import array
import json
import math

from ..errors import ArgumentError, DimensionError, NonFiniteError, OptionError
from ..kernel import load
from ..learn.lora import as_rows, decode_f32, encode_f32, f32_view, read_document, zeros_f32
from ..learn.rng import SplitMix64
from .attention import _mask_strides, _mask_view

__all__ = ["GraphRoPEAttention", "EdgeFeaturedAttention", "graph_rope_attention", "edge_featured_attention",
           "distance_to_position"]

NEGATIVE_SLOPE = float(array.array("f", [0.2])[0])   # GATConv's default, as a float32 value


def _count(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DimensionError(f"{name} must be a positive integer, got {value!r}")
    return value


def _finite_grad(kernel, g, name="grad_out"):
    i = kernel.find_nonfinite(g)
    if i >= 0:
        raise NonFiniteError(f"{name}: element {i} is {g[i]}")


def distance_to_position(distance, max_distance):
    """A hop distance as a RoPE position (@ruvector's GraphRoPE.distance_to_position): distances
    up to 8 as they are, longer ones 8 + ceil(log2 d), at most max_distance.

    >>> [distance_to_position(d, 20) for d in (0, 5, 8, 16, 1000)]
    [0, 5, 8, 12, 18]
    """
    for name, x in (("distance", distance), ("max_distance", max_distance)):
        if not isinstance(x, int) or isinstance(x, bool) or x < 0:
            raise ArgumentError(f"{name} must be a non-negative integer, got {x!r}")
    if distance <= 8:
        return distance
    return 8 + min((distance - 1).bit_length(), max(max_distance - 8, 0))


class GraphRoPEAttention:
    """Scaled dot-product attention with RoPE on queries and keys by position (see the module
    docstring); no weights. forward() takes n_q queries and n_k keys (rows of dim) and values
    (rows of any width divisible by heads); backward() returns the gradients of the last forward.

    >>> att = GraphRoPEAttention(4, max_position=16)
    >>> [round(v, 4) for v in att.compute([1, 0, 0, 0], [[1, 0, 0, 0], [0, 1, 0, 0]], [[1, 2], [3, 4]])]
    [1.7551, 2.7551]
    """

    FORMAT, VERSION = "agentdb.graph_rope_attention", 1

    def __init__(self, dim, max_position=512, heads=1, *, base=10000.0, kernel=None):
        self.dim, self.heads = _count(dim, "dim"), _count(heads, "heads")
        self.max_position = _count(max_position, "max_position")
        if dim % heads or (dim // heads) % 2:
            raise DimensionError(f"dim / heads must be an even integer (RoPE rotates pairs), got {dim} / {heads}")
        self.kernel = kernel or load()
        self.head_dim, self.base = dim // heads, float(base)
        self._cos, self._sin = self.kernel.rope_table(array.array("f", range(max_position)), dim=self.head_dim,
                                                      base=base)
        self._cache = None

    def _positions(self, positions, n, default, name):
        if positions is None:
            positions = default
        positions = list(positions)
        if len(positions) != n:
            raise DimensionError(f"{name} holds {len(positions)} positions, {n} expected")
        rows = array.array("I")
        for i, p in enumerate(positions):
            if isinstance(p, bool) or not hasattr(p, "__index__") or int(p.__index__()) < 0:
                raise ArgumentError(f"{name}[{i}] is {p!r}, not a non-negative integer position")
            rows.extend([min(int(p.__index__()), self.max_position - 1)] * self.heads)
        return rows

    def _rotate(self, x, tab_row, transpose=False):
        return self.kernel.rope_apply(x, self._cos, self._sin, dim=self.head_dim, tab_row=tab_row,
                                      transpose=transpose)

    def forward(self, queries, keys, values, *, query_positions=None, key_positions=None, mask=None):
        """The n_q x dv outputs (array.array): queries n_q x dim, keys n_k x dim, values n_k x dv
        (rows, nested lists or flat buffers); positions default to 0 for every query and 0 .. n_k
        - 1 for the keys (@ruvector's compute). mask: n_q x n_k, bool (true = attend) or additive.

        >>> att = GraphRoPEAttention(2, max_position=4)
        >>> att.forward([[1, 0]], [[1, 0], [1, 0]], [[0.0], [1.0]], key_positions=[0, 0]).tolist()
        [0.5]
        """
        kern, H, hd, D = self.kernel, self.heads, self.head_dim, self.dim
        q, n_q = as_rows(kern, queries, D, "queries")
        k, n_k = as_rows(kern, keys, D, "keys")
        if not n_q or not n_k:
            raise DimensionError(f"attention needs queries and keys: got {n_q} and {n_k} rows")
        nested = isinstance(values, (list, tuple)) and values and isinstance(values[0], (list, tuple))
        v, _ = as_rows(kern, values, len(values[0]) if nested else 1, "values")
        if len(v) == 0 or len(v) % n_k or (len(v) // n_k) % H:
            raise DimensionError(f"values hold {len(v)} values: not n_k = {n_k} rows of a width divisible by "
                                 f"heads = {H}")
        dv = len(v) // n_k
        qrow = self._positions(query_positions, n_q, [0] * n_q, "query_positions")
        krow = self._positions(key_positions, n_k, range(n_k), "key_positions")
        qr, kr = self._rotate(q, qrow), self._rotate(k, krow)
        fmask, keep = _mask_view(kern, mask)
        mstr = _mask_strides(len(fmask if fmask is not None else keep), 1, H, n_q, n_k) if mask is not None \
            else [0, 0, 0]
        layout = [D, 0, hd, D, 0, hd, dv, 0, dv // H, dv, 0, dv // H, *mstr]
        out, lse = zeros_f32(n_q * dv), zeros_f32(H * n_q)
        kern.sdpa(qr, kr, v, batch=1, heads=H, n_q=n_q, n_k=n_k, d=hd, dv=dv // H, layout=layout,
                  scale=1.0 / math.sqrt(hd), mask=fmask, keep=keep, out=out, lse=lse)
        self._cache = (qr, kr, v, out, lse, layout, fmask, keep, qrow, krow, n_q, n_k, dv)
        return out

    def compute(self, query, keys, values, *, query_position=0, key_positions=None, mask=None):
        """One query (dim values) against keys[] and values[] (@ruvector's compute and
        computeWithPositions; mask: n_k bools, true = keep, as computeWithMask, except that a
        kept key keeps its position where @ruvector renumbers the kept keys 0, 1, ...).

        >>> GraphRoPEAttention(2).compute([1, 0], [[1, 0]], [[3.0, 4.0]]).tolist()
        [3.0, 4.0]
        """
        if mask is not None and isinstance(mask, (list, tuple)):
            mask = bytes(1 if m else 0 for m in mask)
        return self.forward(query, keys, values, query_positions=[query_position], key_positions=key_positions,
                            mask=mask)

    def backward(self, grad_out):
        """{"queries", "keys", "values"}: the gradients of the last forward() against grad_out
        (n_q x dv): SDPA's backward on the rotated rows, then the transposed rotation.

        >>> att = GraphRoPEAttention(2)
        >>> _ = att.forward([[1, 0]], [[1, 0], [0, 1]], [[1.0], [2.0]])
        >>> [round(v, 4) for v in att.backward([1.0])["values"]]
        [0.7862, 0.2138]
        """
        if self._cache is None:
            raise ArgumentError("backward() needs a forward() first")
        qr, kr, v, out, lse, layout, fmask, keep, qrow, krow, n_q, n_k, dv = self._cache
        kern, H, hd = self.kernel, self.heads, self.head_dim
        g = f32_view(grad_out, "grad_out", n_q * dv)
        _finite_grad(kern, g)
        dq, dk, dval = kern.sdpa_backward(qr, kr, v, out, g, lse, batch=1, heads=H, n_q=n_q, n_k=n_k, d=hd,
                                          dv=dv // H, layout=layout, scale=1.0 / math.sqrt(hd), mask=fmask,
                                          keep=keep)
        return {"queries": self._rotate(dq, qrow, True), "keys": self._rotate(dk, krow, True), "values": dval}

    def to_json(self):
        """The configuration as JSON text (there are no weights).

        >>> GraphRoPEAttention.from_json(GraphRoPEAttention(8, 64, 2).to_json()).heads
        2
        """
        return json.dumps({"format": self.FORMAT, "version": self.VERSION, "dim": self.dim,
                           "max_position": self.max_position, "heads": self.heads, "base": self.base})

    @classmethod
    def from_json(cls, text, *, kernel=None):
        """The attention to_json wrote.

        >>> GraphRoPEAttention.from_json(GraphRoPEAttention(4, 8).to_json()).max_position
        8
        """
        dim, max_position, heads, base = read_document(text, cls.FORMAT, cls.VERSION,
                                                       ("dim", "max_position", "heads", "base"))
        return cls(dim, max_position, heads, base=base, kernel=kernel)


def graph_rope_attention(queries, keys, values, *, dim, heads=1, max_position=512, base=10000.0,
                         query_positions=None, key_positions=None, mask=None, kernel=None):
    """GraphRoPEAttention(dim, max_position, heads, base=base).forward(...) in one call (the
    browser's `nn` op reaches functions only).

    >>> graph_rope_attention([1, 0], [1, 0], [5.0], dim=2).tolist()
    [5.0]
    """
    return GraphRoPEAttention(dim, max_position, heads, base=base, kernel=kernel).forward(
        queries, keys, values, query_positions=query_positions, key_positions=key_positions, mask=mask)


_GAT_NAMES = ("lin.weight", "lin_edge.weight", "att_src", "att_dst", "att_edge", "bias")


def _edge_index(edge_index, n):
    """(sources, targets) of PyG's 2 x E edge_index (a pair of sequences, or 2E values: the
    sources, then the targets)."""
    try:
        pair = [list(edge_index[0]), list(edge_index[1])] if len(edge_index) == 2 else None
    except TypeError:
        pair = None
    if pair is None:
        flat = list(memoryview(edge_index).cast("B").cast(memoryview(edge_index).format).tolist()) \
            if not isinstance(edge_index, (list, tuple)) else list(edge_index)
        if len(flat) % 2:
            raise ArgumentError(f"edge_index holds {len(flat)} values, not 2 x E")
        pair = [flat[:len(flat) // 2], flat[len(flat) // 2:]]
    if len(pair[0]) != len(pair[1]):
        raise ArgumentError(f"edge_index rows differ in length: {len(pair[0])} sources, {len(pair[1])} targets")
    for row, what in zip(pair, ("source", "target")):
        for e, i in enumerate(row):
            if isinstance(i, bool) or not hasattr(i, "__index__") or not 0 <= int(i.__index__()) < n:
                raise ArgumentError(f"edge {e} {what} is {i!r}, not a node index below n = {n}")
    return [int(i) for i in pair[0]], [int(i) for i in pair[1]]


class EdgeFeaturedAttention:
    """GAT attention over a node's neighbours with edge features in the logits (PyG's GATConv
    with edge_dim; see the module docstring): node_dim inputs, out_dim outputs (default
    node_dim) as `heads` heads of out_dim / heads concatenated. Weights (float32 array.array,
    GATConv's names and layouts: lin.weight out_dim x node_dim, lin_edge.weight out_dim x
    edge_dim, att_* out_dim, bias out_dim) are Glorot-uniform from `seed`, bias zeros.

    >>> att = EdgeFeaturedAttention(3, 2, heads=1, seed=1)
    >>> y = att.forward([[1, 0, 0], [0, 1, 0], [0, 0, 1]], ([1, 2], [0, 0]), [[1, 0], [0, 1]])
    >>> len(y), sorted(att.backward([1.0] * 9))[:3]
    (9, ['att_dst', 'att_edge', 'att_src'])
    """

    FORMAT, VERSION = "agentdb.edge_featured_attention", 1

    def __init__(self, node_dim, edge_dim, heads=1, *, out_dim=None, seed=0, kernel=None):
        self.node_dim, self.edge_dim = _count(node_dim, "node_dim"), _count(edge_dim, "edge_dim")
        self.heads = _count(heads, "heads")
        self.out_dim = node_dim if out_dim is None else _count(out_dim, "out_dim")
        if self.out_dim % heads:
            raise DimensionError(f"out_dim = {self.out_dim} is not a multiple of heads = {heads}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ArgumentError(f"seed must be a non-negative integer, got {seed!r}")
        self.kernel, self.seed, self.head_dim = kernel or load(), seed, self.out_dim // heads
        rng = SplitMix64(seed)

        def uniform(count, bound):
            out = zeros_f32(count)
            for p in range(count):
                out[p] = (rng.next() >> 40) * 2.0 ** -23 * bound - bound
            return out

        D, hd = self.out_dim, self.head_dim
        self.weights = {"lin.weight": uniform(D * node_dim, math.sqrt(6.0 / (node_dim + D))),
                        "lin_edge.weight": uniform(D * edge_dim, math.sqrt(6.0 / (edge_dim + D)))}
        for name in ("att_src", "att_dst", "att_edge"):
            self.weights[name] = uniform(D, math.sqrt(6.0 / (hd + 1)))
        self.weights["bias"] = zeros_f32(D)
        self._cache = None

    def parameters(self):
        """The weights by GATConv's state_dict names (the buffers themselves).

        >>> sorted(EdgeFeaturedAttention(2, 2).parameters())[:2]
        ['att_dst', 'att_edge']
        """
        return self.weights

    def load_state_dict(self, state):
        """Copies weights given under GATConv's names (flat buffers, numpy arrays or tensors'
        .numpy()); names not given keep their values.

        >>> EdgeFeaturedAttention(2, 1).load_state_dict({"bias": [0.5, 0.5]})
        """
        unknown = set(state) - set(_GAT_NAMES)
        if unknown:
            raise ArgumentError(f"unknown weight names {sorted(unknown)}: expected some of {list(_GAT_NAMES)}")
        for name, value in state.items():
            data = f32_view(value, name, len(self.weights[name]))
            _finite_grad(self.kernel, data, name)
            self.weights[name] = array.array("f", data.tobytes())

    def _att_blocks(self, name):
        # out_dim x H: column h holds att^h on head h's rows
        D, H, hd = self.out_dim, self.heads, self.head_dim
        blk, att = zeros_f32(D * H), self.weights[name]
        for r in range(D):
            blk[r * H + r // hd] = att[r]
        return blk

    def forward(self, x, edge_index, edge_attr):
        """The n x out_dim outputs (array.array) for x (n rows of node_dim), PyG's edge_index
        (2 x E: sources, then targets; node i aggregates over edges j -> i) and edge_attr (E rows
        of edge_dim); kept for backward().

        >>> att = EdgeFeaturedAttention(2, 1, seed=2)
        >>> len(att.forward([[1, 0], [0, 1]], ([0], [1]), [[0.5]]))
        4
        """
        k, D, H, hd, din, de = self.kernel, self.out_dim, self.heads, self.head_dim, self.node_dim, self.edge_dim
        xv, n = as_rows(k, x, din, "x")
        if n == 0:
            raise DimensionError("x holds no rows")
        src, dst = _edge_index(edge_index, n)
        E = len(src)
        ea, n_e = as_rows(k, edge_attr, de, "edge_attr") if E else (zeros_f32(0), 0)
        if n_e != E:
            raise DimensionError(f"edge_attr holds {n_e} rows, one per edge ({E}) expected")
        # GATConv: self loops removed, then one per node with the mean of its incoming features
        kept = [e for e in range(E) if src[e] != dst[e]]
        sums, counts = [[0.0] * de for _ in range(n)], [0] * n
        for e in kept:
            counts[dst[e]] += 1
            row = sums[dst[e]]
            for c in range(de):
                row[c] += ea[e * de + c]
        fa = array.array("f")
        for e in kept:
            fa.extend(ea[e * de:(e + 1) * de])
        fa.extend(array.array("f", [s / counts[i] if counts[i] else 0.0 for i in range(n) for s in sums[i]]))
        s_all, d_all = [src[e] for e in kept] + list(range(n)), [dst[e] for e in kept] + list(range(n))
        m = len(s_all)
        z = k.matmul(xv, self.weights["lin.weight"], m=n, k=din, n=D, trans_b=True)
        ze = k.matmul(fa, self.weights["lin_edge.weight"], m=m, k=de, n=D, trans_b=True)
        a_s = k.matmul(z, self._att_blocks("att_src"), m=n, k=D, n=H)
        a_d = k.matmul(z, self._att_blocks("att_dst"), m=n, k=D, n=H)
        a_e = k.matmul(ze, self._att_blocks("att_edge"), m=m, k=D, n=H)
        incoming = [[] for _ in range(n)]
        for p in range(m):
            incoming[d_all[p]].append(p)
        out, pre, alphas = zeros_f32(n * D), [], []
        for i in range(n):
            inc, d = incoming[i], len(incoming[i])
            # float32 sums in GATConv's order: (a_src[j] + a_dst[i]) + a_edge[e]
            u = array.array("f", [a_s[s_all[p] * H + h] + a_d[i * H + h] for h in range(H) for p in inc])
            u = array.array("f", [u[h * d + t] + a_e[inc[t] * H + h] for h in range(H) for t in range(d)])
            alpha = k.softmax_rows(array.array("f", [v if v > 0 else v * NEGATIVE_SLOPE for v in u]), dim=d)
            zn = array.array("f")
            for p in inc:
                zn.extend(z[s_all[p] * D:(s_all[p] + 1) * D])
            agg = k.matmul(alpha, zn, m=H, k=d, n=D)
            for h in range(H):
                out[i * D + h * hd:i * D + (h + 1) * hd] = agg[h * D + h * hd:h * D + (h + 1) * hd]
            pre.append(u)
            alphas.append(alpha)
        y = k.add(out, self.weights["bias"] * n)
        self._cache = dict(n=n, x=xv, z=z, ze=ze, fa=fa, s_all=s_all, d_all=d_all, kept=kept, counts=counts, E=E,
                           incoming=incoming, pre=pre, alphas=alphas)
        return y

    def compute(self, node, neighbours, edge_features):
        """One node's output (out_dim values): the node (node_dim values) attending over its
        neighbours (rows of node_dim), edge_features[j] on the edge from neighbour j to it.

        >>> att = EdgeFeaturedAttention(2, 1, seed=3)
        >>> len(att.compute([1, 0], [[0, 1], [1, 1]], [[0.5], [1.0]]))
        2
        """
        xs, n = as_rows(self.kernel, neighbours, self.node_dim, "neighbours") if len(neighbours) \
            else (zeros_f32(0), 0)
        x = array.array("f", f32_view(node, "node", self.node_dim) if not isinstance(node, (list, tuple))
                        else array.array("f", node))
        if len(x) != self.node_dim:
            raise DimensionError(f"node holds {len(x)} values, {self.node_dim} expected")
        x.extend(xs)
        return self.forward(x, (list(range(1, n + 1)), [0] * n), edge_features if n else [])[:self.out_dim]

    def backward(self, grad_out):
        """The gradients of the last forward() against grad_out (n x out_dim): {"x", "edge_attr"
        (E rows; 0 on self loops, which GATConv drops), and each GATConv weight name}. With
        dalpha_ij = dout_i^h . z_j^h, de = alpha (dalpha - sum alpha dalpha), du = de (u > 0) or
        slope de: dz_j += alpha_ij dout_i + du a_src (per head), dz_i += du a_dst, dze_e = du
        a_edge, the att_* gradients sum du times z_j, z_i or ze_e, dW = dz^T x, dx = dz W,
        dW_e = dze^T f, df = dze W_e (a self loop's share split evenly over the node's incoming edges).

        >>> att = EdgeFeaturedAttention(2, 1, seed=2)
        >>> _ = att.forward([[1, 0], [0, 1]], ([0], [1]), [[0.5]])
        >>> att.backward([1, 1, 1, 1])["bias"].tolist()
        [2.0, 2.0]
        """
        if self._cache is None:
            raise ArgumentError("backward() needs a forward() first")
        c, k = self._cache, self.kernel
        n, D, H, hd, din, de = c["n"], self.out_dim, self.heads, self.head_dim, self.node_dim, self.edge_dim
        g = f32_view(grad_out, "grad_out", n * D)
        _finite_grad(k, g)
        z, s_all, m = c["z"], c["s_all"], len(c["s_all"])
        dz, du_s, du_d, du_e = [0.0] * (n * D), [0.0] * (n * H), [0.0] * (n * H), [0.0] * (m * H)
        for i in range(n):
            inc, alpha, u = c["incoming"][i], c["alphas"][i], c["pre"][i]
            d = len(inc)
            for h in range(H):
                gi = g[i * D + h * hd:i * D + (h + 1) * hd]
                dal = [sum(a * b for a, b in zip(gi, z[s_all[p] * D + h * hd:s_all[p] * D + (h + 1) * hd]))
                       for p in inc]
                dot = sum(alpha[h * d + t] * dal[t] for t in range(d))
                for t, p in enumerate(inc):
                    a, j = alpha[h * d + t], s_all[p]
                    for q in range(hd):
                        dz[j * D + h * hd + q] += a * gi[q]
                    dlog = a * (dal[t] - dot)
                    du = dlog if u[h * d + t] > 0 else dlog * NEGATIVE_SLOPE
                    du_s[j * H + h] += du
                    du_d[i * H + h] += du
                    du_e[p * H + h] += du
        du_s, du_d, du_e = array.array("f", du_s), array.array("f", du_d), array.array("f", du_e)
        bs, bd, be = (self._att_blocks(name) for name in ("att_src", "att_dst", "att_edge"))
        dz = k.add(k.add(array.array("f", dz), k.matmul(du_s, bs, m=n, k=H, n=D, trans_b=True)),
                   k.matmul(du_d, bd, m=n, k=H, n=D, trans_b=True))
        dze = k.matmul(du_e, be, m=m, k=H, n=D, trans_b=True)
        grads = {"bias": k.sum_rows(g, dim=D)}
        for name, du, rows, count in (("att_src", du_s, z, n), ("att_dst", du_d, z, n), ("att_edge", du_e, c["ze"], m)):
            blk = k.matmul(rows, du, m=D, k=count, n=H, trans_a=True)          # out_dim x H
            grads[name] = array.array("f", [blk[r * H + r // hd] for r in range(D)])
        grads["lin.weight"] = k.matmul(dz, c["x"], m=D, k=n, n=din, trans_a=True)
        grads["x"] = k.matmul(dz, self.weights["lin.weight"], m=n, k=D, n=din)
        grads["lin_edge.weight"] = k.matmul(dze, c["fa"], m=D, k=m, n=de, trans_a=True)
        dfa = k.matmul(dze, self.weights["lin_edge.weight"], m=m, k=D, n=de)
        dea = [0.0] * (c["E"] * de)
        kept, counts, n_kept = c["kept"], c["counts"], len(c["kept"])
        for t, e in enumerate(kept):
            i = c["d_all"][t]
            loop = n_kept + i
            for q in range(de):
                dea[e * de + q] = dfa[t * de + q] + dfa[loop * de + q] / counts[i]
        grads["edge_attr"] = array.array("f", dea)
        return grads

    def to_json(self):
        """A JSON text of the config and the exact float32 bits of every weight (base64).

        >>> a = EdgeFeaturedAttention(3, 2, heads=1, seed=5)
        >>> EdgeFeaturedAttention.from_json(a.to_json()).weights == a.weights
        True
        """
        doc = {"format": self.FORMAT, "version": self.VERSION, "node_dim": self.node_dim, "edge_dim": self.edge_dim,
               "heads": self.heads, "out_dim": self.out_dim, "seed": self.seed}
        doc.update({name: encode_f32(buf) for name, buf in self.weights.items()})
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text, *, kernel=None):
        """The attention to_json wrote (bit for bit).

        >>> EdgeFeaturedAttention.from_json(EdgeFeaturedAttention(4, 2, heads=2).to_json()).heads
        2
        """
        node_dim, edge_dim, heads, out_dim, seed = read_document(
            text, cls.FORMAT, cls.VERSION, ("node_dim", "edge_dim", "heads", "out_dim", "seed"))
        att = cls(node_dim, edge_dim, heads, out_dim=out_dim, seed=seed, kernel=kernel)
        for name, value in zip(_GAT_NAMES, read_document(text, cls.FORMAT, cls.VERSION, _GAT_NAMES)):
            att.weights[name] = decode_f32(value, len(att.weights[name]), name)
        return att


def edge_featured_attention(x, edge_index, edge_attr, *, node_dim, edge_dim, heads=1, out_dim=None, weights=None,
                            seed=0, kernel=None):
    """EdgeFeaturedAttention(node_dim, edge_dim, heads, out_dim=...).forward(x, edge_index,
    edge_attr) in one call, its weights given by GATConv's names (`weights`: a dict, or the JSON
    text to_json wrote; names not given are drawn from seed): the browser's `nn` op reaches
    functions only.

    >>> len(edge_featured_attention([[1, 0], [0, 1]], [[0], [1]], [[1.0]], node_dim=2, edge_dim=1))
    4
    """
    if isinstance(weights, str):
        att = EdgeFeaturedAttention.from_json(weights, kernel=kernel)
        if (att.node_dim, att.edge_dim, att.heads) != (node_dim, edge_dim, heads):
            raise OptionError(f"the JSON holds a ({att.node_dim}, {att.edge_dim}, heads={att.heads}) attention, "
                              f"not ({node_dim}, {edge_dim}, heads={heads})")
    else:
        att = EdgeFeaturedAttention(node_dim, edge_dim, heads, out_dim=out_dim, seed=seed, kernel=kernel)
        if weights:
            att.load_state_dict(weights)
    return att.forward(x, edge_index, edge_attr)
