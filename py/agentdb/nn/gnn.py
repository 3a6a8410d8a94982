"""A GNN layer: @ruvector/gnn's RuvectorLayer as GAT-style message passing with attention over
neighbours, a residual and layer norm, forward and explicit backward, in pure Python over
kernel ops (the same bits natively and in the browser).

Forward, for n nodes x (rows of in_dim) and heads H of head_dim = out_dim / H:
  z = x W                                       (kernel matmul; W is in_dim x out_dim)
  s_i^h = a_src^h . z_i^h, t_j^h = a_dst^h . z_j^h   (one matmul against a block matrix)
  e_ij^h = LeakyReLU(s_i^h + t_j^h), slope 0.2, for j in N(i) = {i} then i's neighbours
  alpha_i^h = softmax_j(e_ij^h)                  (kernel softmax_rows, one call per node)
  h_i^h = sum_j alpha_ij^h z_j^h, heads concatenated (one matmul per node)
  y = LayerNorm(h + r) gamma, beta, eps 1e-5     (kernel layer_norm_rows; r = x, or x P
                                                  with P in_dim x out_dim when in_dim != out_dim)

The neighbourhood N(i) is i itself first, then its targets in the order the adjacency lists
them, repeats and self loops dropped; every sum runs in that order. So a node's output
depends only on its own row, its neighbours' rows and that order: relabelling the nodes
relabels the outputs bit for bit, and a graph alone or inside a larger batch gives the same
bits. Backward (explicit formulas, the per-edge steps in Python doubles in a fixed order, the
products in kernel matmuls): see GNNLayer.backward.

Not yet: dropout (only 0.0; the layer is deterministic), edge weights, and the hierarchical
forward over a store's HNSW layers (@ruvector/gnn's hierarchicalForward).
"""

import array
import json
import math

from ..errors import ArgumentError, DimensionError, NonFiniteError, OptionError
from ..kernel import load
from ..learn.lora import as_rows, decode_f32, encode_f32, f32_view, read_document, zeros_f32
from ..learn.rng import SplitMix64

__all__ = ["GNNLayer", "neighbourhoods"]

FORMAT, VERSION = "agentdb.gnn", 1
NEGATIVE_SLOPE = float(array.array("f", [0.2])[0])   # LeakyReLU's slope, as a float32 value
EPS = 1e-5                                           # LayerNorm's (torch's default)


def _index(value, n, what):
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise ArgumentError(f"{what} is {value!r}, not a node index")
    value = int(value.__index__())
    if not 0 <= value < n:
        raise ArgumentError(f"{what} is {value}, not a node index below n = {n}")
    return value


def neighbourhoods(adjacency, n):
    """The neighbourhood of each of n nodes, as forward() sums over it: node i first, then the
    nodes i aggregates from in the order given (repeats and self loops dropped). adjacency is a
    tuple (offsets, targets) in CSR form (n + 1 offsets; row i's targets are
    targets[offsets[i]:offsets[i + 1]]) or a list (or k x 2 array) of (i, j) edges, each saying
    i aggregates from j (give both directions for an undirected graph). ArgumentError names a
    bad index or offset.

    >>> neighbourhoods(([0, 2, 2, 3], [2, 2, 0]), 3)
    [[0, 2], [1], [2, 0]]
    >>> neighbourhoods([(0, 1), (2, 2), (1, 0)], 3)
    [[0, 1], [1, 0], [2]]
    """
    hoods = [[i] for i in range(n)]
    if isinstance(adjacency, tuple) and len(adjacency) == 2:
        offsets, targets = (list(a) for a in adjacency)
        if len(offsets) != n + 1:
            raise ArgumentError(f"CSR offsets hold {len(offsets)} values, n + 1 = {n + 1} expected")
        offsets = [_index(o, len(targets) + 1, f"offsets[{p}]") for p, o in enumerate(offsets)]
        if offsets[0] != 0 or offsets[-1] != len(targets):
            raise ArgumentError(f"CSR offsets run from {offsets[0]} to {offsets[-1]}, not from 0 to "
                                f"len(targets) = {len(targets)}")
        for i in range(n):
            lo, hi = offsets[i], offsets[i + 1]
            if hi < lo:
                raise ArgumentError(f"CSR offsets decrease at {i + 1}: {lo} then {hi}")
            hoods[i].extend(_index(targets[p], n, f"targets[{p}]") for p in range(lo, hi))
    else:
        try:
            edges = [tuple(e) for e in adjacency]
        except TypeError:
            raise ArgumentError("adjacency must be (offsets, targets) or a list of (i, j) edges") from None
        for p, e in enumerate(edges):
            if len(e) != 2:
                raise ArgumentError(f"edge {p} is {e!r}, not an (i, j) pair")
            i, j = _index(e[0], n, f"edge {p} source"), _index(e[1], n, f"edge {p} target")
            hoods[i].append(j)
    out = []
    for i, hood in enumerate(hoods):
        seen, keep = {i}, [i]
        for j in hood[1:]:
            if j not in seen:
                seen.add(j)
                keep.append(j)
        out.append(keep)
    return out


def _dim(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DimensionError(f"{name} must be a positive integer, got {value!r}")
    return value


class GNNLayer:
    """Graph attention message passing (GAT-style, `heads` heads of out_dim / heads
    concatenated), a residual (x projected when in_dim != out_dim) and layer norm; weights are
    float32 array.array buffers (weight, att_src, att_dst, proj, gamma, beta) drawn from
    `seed` (Glorot-uniform W, P and attention vectors; gamma ones, beta zeros). dropout is
    accepted for @ruvector/gnn's signature but only 0.0 is supported now.

    >>> layer = GNNLayer(3, 4, heads=2, seed=1)
    >>> y = layer.forward([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [(0, 1), (1, 0), (1, 2)])
    >>> len(y), sorted(layer.backward([1.0] * 12))[:2]
    (12, ['att_dst', 'att_src'])
    """

    def __init__(self, in_dim, out_dim, heads=1, *, seed=0, dropout=0.0, kernel=None):
        self.in_dim, self.out_dim, self.heads = _dim(in_dim, "in_dim"), _dim(out_dim, "out_dim"), _dim(heads, "heads")
        if out_dim % heads:
            raise DimensionError(f"out_dim = {out_dim} is not a multiple of heads = {heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or dropout != 0:
            raise OptionError(f"dropout must be 0.0 (dropout is not supported yet; the layer is deterministic), "
                              f"got {dropout!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ArgumentError(f"seed must be a non-negative integer, got {seed!r}")
        self.kernel = kernel or load()
        self.seed, self.dropout, self.head_dim = seed, 0.0, out_dim // heads
        rng = SplitMix64(seed)

        def uniform(count, bound):   # lora.uniform_f32's formula, one stream for every weight
            out = zeros_f32(count)
            for p in range(count):
                out[p] = (rng.next() >> 40) * 2.0 ** -23 * bound - bound
            return out

        glorot = math.sqrt(6.0 / (in_dim + out_dim))
        self.weight = uniform(in_dim * out_dim, glorot)
        att = math.sqrt(6.0 / (self.head_dim + 1))
        self.att_src, self.att_dst = uniform(out_dim, att), uniform(out_dim, att)
        self.proj = uniform(in_dim * out_dim, glorot) if in_dim != out_dim else None
        self.gamma, self.beta = array.array("f", [1.0]) * out_dim, zeros_f32(out_dim)
        self._cache = None

    def parameters(self):
        """The weights by name (the buffers themselves, for an optimizer to update in place).

        >>> sorted(GNNLayer(2, 2).parameters())
        ['att_dst', 'att_src', 'beta', 'gamma', 'weight']
        """
        names = ["weight", "att_src", "att_dst", "gamma", "beta"] + (["proj"] if self.proj is not None else [])
        return {name: getattr(self, name) for name in names}

    def _att_blocks(self):
        # out_dim x 2H: column h holds a_src^h on head h's rows, column H + h a_dst^h
        D, H, hd = self.out_dim, self.heads, self.head_dim
        blk = zeros_f32(D * 2 * H)
        for r in range(D):
            h = r // hd
            blk[r * 2 * H + h], blk[r * 2 * H + H + h] = self.att_src[r], self.att_dst[r]
        return blk

    def forward(self, x, adjacency):
        """The n x out_dim outputs (float32 array.array, row-major) for n nodes x (rows of
        in_dim) and an adjacency (see neighbourhoods()); kept for backward().

        >>> layer = GNNLayer(2, 2, seed=3)
        >>> y = layer.forward([[1, 0], [0, 1]], ([0, 1, 1], [1]))
        >>> [round(sum(y[i * 2:i * 2 + 2]), 4) for i in range(2)]   # layer norm: rows sum to 0
        [0.0, 0.0]
        """
        k, D, H, hd, din = self.kernel, self.out_dim, self.heads, self.head_dim, self.in_dim
        xv, n = as_rows(k, x, din, "x")
        if n == 0:
            raise DimensionError("x holds no rows")
        hoods = neighbourhoods(adjacency, n)
        z = k.matmul(xv, self.weight, m=n, k=din, n=D)
        st = k.matmul(z, self._att_blocks(), m=n, k=D, n=2 * H)
        h_out, pre, alphas = zeros_f32(n * D), [], []
        for i, hood in enumerate(hoods):
            d = len(hood)
            # float32 sums: each double sum of two float32 values rounds to the float32 sum
            u = array.array("f", [st[i * 2 * H + h] + st[j * 2 * H + H + h] for h in range(H) for j in hood])
            e = array.array("f", [v if v > 0 else v * NEGATIVE_SLOPE for v in u])
            alpha = k.softmax_rows(e, dim=d)
            zn = array.array("f")
            for j in hood:
                zn.extend(z[j * D:(j + 1) * D])
            agg = k.matmul(alpha, zn, m=H, k=d, n=D)
            for h in range(H):
                h_out[i * D + h * hd:i * D + (h + 1) * hd] = agg[h * D + h * hd:h * D + (h + 1) * hd]
            pre.append(u)
            alphas.append(alpha)
        r = xv if self.proj is None else k.matmul(xv, self.proj, m=n, k=din, n=D)
        y = k.layer_norm_rows(h_out, dim=D, gamma=self.gamma, beta=self.beta, eps=EPS, residual=r)
        self._cache = dict(n=n, x=xv, hoods=hoods, z=z, h=h_out, r=r, pre=pre, alphas=alphas)
        return y

    def backward(self, grad_out):
        """The gradients of a loss whose gradient with respect to the last forward()'s output
        is grad_out (n x out_dim): {"x": n x in_dim, and one entry per parameters() name},
        float32 array.array each. The formulas, with v = h + r, xhat its normalised rows and
        rstd = 1 / sqrt(var + eps):
          dgamma = sum_i g_i xhat_i, dbeta = sum_i g_i, dv = rstd (g gamma - mean(g gamma)
          - xhat mean(g gamma xhat)) (per row);  dh = dr = dv
          dalpha_ij^h = dv_i^h . z_j^h, de_ij^h = alpha_ij^h (dalpha_ij^h - sum_k alpha_ik^h
          dalpha_ik^h), du = de (u > 0) or slope de;  ds_i^h = sum_j du_ij^h,
          dt_j^h = sum_i du_ij^h;  dz_j = sum_i alpha_ij dv_i + ds_j a_src + dt_j a_dst (per head)
          dW = x^T dz, da_src^h = sum_i ds_i^h z_i^h (a_dst alike), dP = x^T dv,
          dx = dz W^T + (dv P^T, or dv without a projection).

        >>> layer = GNNLayer(2, 2, seed=3)
        >>> _ = layer.forward([[1, 0], [0, 1]], [(0, 1)])
        >>> [round(v, 6) for v in layer.backward([1, 1, 1, 1])["beta"]]
        [2.0, 2.0]
        """
        if self._cache is None:
            raise ArgumentError("backward() needs a forward() first")
        c, k = self._cache, self.kernel
        n, D, H, hd, din = c["n"], self.out_dim, self.heads, self.head_dim, self.in_dim
        g = f32_view(grad_out, "grad_out", n * D)
        if k.find_nonfinite(g) >= 0:
            k.check_finite(g, name="grad_out", dim=D)
            raise NonFiniteError("grad_out holds NaN or infinity")
        v = k.add(c["h"], c["r"])
        gamma = self.gamma
        dv, dgamma, dbeta = zeros_f32(n * D), [0.0] * D, [0.0] * D
        for i in range(n):   # layer norm, row by row in double
            row = v[i * D:(i + 1) * D]
            mu = sum(row) / D
            var = sum((a - mu) * (a - mu) for a in row) / D
            rstd = 1.0 / math.sqrt(var + EPS)
            xhat = [(a - mu) * rstd for a in row]
            gi = g[i * D:(i + 1) * D]
            gg = [gi[p] * gamma[p] for p in range(D)]
            mean_g = sum(gg) / D
            mean_gx = sum(gg[p] * xhat[p] for p in range(D)) / D
            for p in range(D):
                dv[i * D + p] = rstd * (gg[p] - mean_g - xhat[p] * mean_gx)
                dgamma[p] += gi[p] * xhat[p]
                dbeta[p] += gi[p]
        grads = {"gamma": array.array("f", dgamma), "beta": array.array("f", dbeta)}
        xv, z = c["x"], c["z"]
        if self.proj is None:
            dx_res = dv
        else:
            grads["proj"] = k.matmul(xv, dv, m=din, k=n, n=D, trans_a=True)
            dx_res = k.matmul(dv, self.proj, m=n, k=D, n=din, trans_b=True)
        dz_agg, dst = [0.0] * (n * D), [0.0] * (n * 2 * H)
        for i, hood in enumerate(c["hoods"]):
            d, alpha, u = len(hood), c["alphas"][i], c["pre"][i]
            # dh_i as an out_dim x H block matrix (head h's slice in column h), and as H rows
            dblk, drows = zeros_f32(D * H), zeros_f32(H * D)
            for p in range(D):
                dblk[p * H + p // hd] = drows[(p // hd) * D + p] = dv[i * D + p]
            zn = array.array("f")
            for j in hood:
                zn.extend(z[j * D:(j + 1) * D])
            dalpha = k.matmul(zn, dblk, m=d, k=D, n=H)                       # d x H
            contrib = k.matmul(alpha, drows, m=d, k=H, n=D, trans_a=True)    # d x D: alpha_ij dh_i
            for jj, j in enumerate(hood):
                base = j * D
                dz_agg[base:base + D] = [a + b for a, b in zip(dz_agg[base:base + D], contrib[jj * D:(jj + 1) * D])]
            for h in range(H):
                dot = sum(alpha[h * d + jj] * dalpha[jj * H + h] for jj in range(d))
                for jj, j in enumerate(hood):
                    de = alpha[h * d + jj] * (dalpha[jj * H + h] - dot)
                    du = de if u[h * d + jj] > 0 else de * NEGATIVE_SLOPE
                    dst[i * 2 * H + h] += du
                    dst[j * 2 * H + H + h] += du
        dst = array.array("f", dst)
        blk = self._att_blocks()
        dz = k.add(array.array("f", dz_agg), k.matmul(dst, blk, m=n, k=2 * H, n=D, trans_b=True))
        dblk = k.matmul(z, dst, m=D, k=n, n=2 * H, trans_a=True)              # out_dim x 2H
        grads["att_src"] = array.array("f", [dblk[r * 2 * H + r // hd] for r in range(D)])
        grads["att_dst"] = array.array("f", [dblk[r * 2 * H + H + r // hd] for r in range(D)])
        grads["weight"] = k.matmul(xv, dz, m=din, k=n, n=D, trans_a=True)
        grads["x"] = k.add(k.matmul(dz, self.weight, m=n, k=D, n=din, trans_b=True), dx_res)
        return grads

    def to_json(self):
        """A JSON text of the config and the exact float32 bits of every weight (base64).

        >>> a = GNNLayer(3, 2, heads=2, seed=5)
        >>> GNNLayer.from_json(a.to_json()).weight == a.weight
        True
        """
        doc = {"format": FORMAT, "version": VERSION, "in_dim": self.in_dim, "out_dim": self.out_dim,
               "heads": self.heads, "seed": self.seed, "dropout": self.dropout}
        doc.update({name: encode_f32(buf) for name, buf in self.parameters().items()})
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text, *, kernel=None):
        """The layer to_json wrote (bit for bit).

        >>> GNNLayer.from_json(GNNLayer(2, 4, heads=2).to_json()).heads
        2
        """
        in_dim, out_dim, heads, seed, dropout = read_document(
            text, FORMAT, VERSION, ("in_dim", "out_dim", "heads", "seed", "dropout"))
        layer = cls(in_dim, out_dim, heads, seed=seed, dropout=dropout, kernel=kernel)
        names = list(layer.parameters())
        values = read_document(text, FORMAT, VERSION, names)
        for name, value in zip(names, values):
            setattr(layer, name, decode_f32(value, len(getattr(layer, name)), name))
        return layer


def hierarchical_forward(query, layer_embeddings, layers):
    """A query refined from the top of a hierarchy down (@ruvector/gnn's hierarchicalForward):
    layer_embeddings[l] holds the rows the query meets at level l (e.g. its neighbours in an
    HNSW layer, top level first), layers[l] a GNNLayer(dim, dim) (or its to_json() text); at
    each level the query is node 0 of a star whose other nodes are that level's rows (it takes
    messages from them), and its output row is the query for the next level. Returns the last
    level's query (dim floats). A level with no rows leaves the query as the layer makes it alone.

    >>> layer = GNNLayer(2, 2, seed=4)
    >>> q = hierarchical_forward([1.0, 0.0], [[[0.0, 1.0]], [[1.0, 1.0], [0.5, 0.0]]], [layer, layer.to_json()])
    >>> len(q), round(sum(q), 4)                    # layer norm: the row sums to 0
    (2, 0.0)
    """
    if len(layer_embeddings) != len(layers) or not layers:
        raise ArgumentError(f"hierarchical_forward needs one layer per level: {len(layer_embeddings)} levels of "
                            f"embeddings, {len(layers)} layers")
    current = None
    for level, (rows, layer) in enumerate(zip(layer_embeddings, layers)):
        layer = GNNLayer.from_json(layer) if isinstance(layer, str) else layer
        if not isinstance(layer, GNNLayer) or layer.in_dim != layer.out_dim:
            raise ArgumentError(f"layers[{level}] must be a GNNLayer(dim, dim) or its JSON")
        k, dim = layer.kernel, layer.in_dim
        q, n_q = as_rows(k, query if current is None else current, dim, "query")
        if n_q != 1:
            raise DimensionError(f"query must be one row of {dim} values, got {n_q} rows")
        others, m = as_rows(k, rows, dim, f"layer_embeddings[{level}]") if len(rows) else (zeros_f32(0), 0)
        x = array.array("f", q)
        x.extend(others)
        current = layer.forward(x, [(0, j) for j in range(1, m + 1)])[:dim]
    return current
