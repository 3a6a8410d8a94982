"""A GNN layer: @ruvector/gnn's RuvectorLayer as GAT-style message passing with attention over
neighbours, edge weights, attention dropout, a residual and layer norm, forward and explicit
backward, in Python over kernel ops (the same bits natively and in the browser).

Forward, for n nodes x (rows of in_dim) and heads H of head_dim = out_dim / H:
  z = x W                                       (kernel matmul; W is in_dim x out_dim)
  s_i^h = a_src^h . z_i^h, t_j^h = a_dst^h . z_j^h   (one matmul against a block matrix)
  e_ij^h = LeakyReLU(s_i^h + t_j^h), slope 0.2, for j in N(i) = {i} then i's neighbours
  alpha_i^h = softmax_j(e_ij^h)
  c_ij^h = alpha_ij^h w_ij m_ij^h                (w: the edge weight, 1 for the self term and
                                                  without weights; m: the dropout multiplier)
  h_i^h = sum_j c_ij^h z_j^h, heads concatenated
  y = LayerNorm(h + r) gamma, beta, eps 1e-5     (kernel layer_norm_rows; r = x, or x P
                                                  with P in_dim x out_dim when in_dim != out_dim)
The logits, softmaxes and sums of every node run in one kernel call (agk_gat_forward_f32,
csrc/gnn.c), the backward's per-edge steps in another.

Edge weights (forward's edge_weights, one value >= 0 per adjacency entry) scale a message after
the softmax, as GCN-style weighted aggregation does (PyG's edge_weight), so they are not
renormalised: weight 0 silences an edge, weights of 1 are bit for bit no weights. The seed and
@ruvector/gnn's published types name RuvectorLayer.forward's edgeWeights without saying how they
enter; this is our choice. Backward gives their gradient too.

Dropout p (GATConv's: on the attention coefficients, training mode only): each c_ij^h is kept
with probability 1 - p and scaled by 1 / (1 - p), the draws from the layer's SplitMix64 stream
(agentdb.learn.rng, seeded by `seed`, continuing after the weights'; one draw per (node, head,
neighbour) in that order, in csrc/gnn.c), so a seed gives the same masks natively and in the
browser; backward goes through the same mask. eval() turns it off (then it is bit for bit a
layer without dropout); to_json carries p and the stream's position.

The neighbourhood N(i) is i itself first, then its targets in the order the adjacency lists
them, repeats and self loops dropped (the first occurrence's weight counts); every sum runs in
that order. So in eval mode (or without dropout) a node's output depends only on its own row,
its neighbours' rows, their weights and that order: relabelling the nodes relabels the outputs
bit for bit, and a graph alone or inside a larger batch gives the same bits (in training mode
the masks follow the draw order, so they move with the labels). Backward (explicit formulas,
the per-edge steps and the layer-norm backward in csrc/gnn.c in a fixed order, the products in
kernel matmuls): see GNNLayer.backward.

The hierarchical forward fed from a store's own HNSW levels is agentdb.nn.hierarchy's
hierarchical_forward_store (it calls hierarchical_forward below).
"""

import array
import json
import math

from ..errors import ArgumentError, DimensionError, KernelError, NonFiniteError, OptionError
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


def _u32s(values, bound, what, check=True):
    """values as a uint32 array of indices below bound (unchecked with check=False: the kernel
    checks), converted at C speed where possible (a uint32 buffer is copied as is); the slow path
    names the first bad value."""
    out = None
    try:
        mv = memoryview(values)
        if mv.itemsize == 4 and mv.format.lstrip("@=<") in ("I", "L"):
            out = array.array("I")
            out.frombytes(mv.cast("B"))
        elif mv.format.lstrip("@=<") in ("b", "h", "i", "l", "q", "B", "H", "Q"):
            out = array.array("I", memoryview(bytes(mv)).cast(mv.format.lstrip("@=<")).tolist())
    except (TypeError, ValueError, OverflowError):
        out = None
    if out is None:
        try:
            out = array.array("I", values)
        except (TypeError, ValueError, OverflowError):
            out = None
    if out is None or check and len(out) and max(out) >= bound:
        out = array.array("I", [_index(v, bound, f"{what}[{p}]") for p, v in enumerate(values)])
    return out


def _csr(adjacency, n, kernel):
    """(off, nbr, src, count): neighbourhood i = nbr[off[i]:off[i + 1]] (uint32 arrays), i
    first, then its targets in order with repeats and self loops dropped (agk_gat_neighbourhoods);
    src[p] is the adjacency entry nbr[p] came from (its CSR targets position or its edge-list
    position), count = the number of adjacency entries for the self terms."""
    perm = None
    if isinstance(adjacency, tuple) and len(adjacency) == 2:
        offsets, targets = adjacency
        targets = targets if hasattr(targets, "__len__") else list(targets)
        offsets = _u32s(offsets if hasattr(offsets, "__len__") else list(offsets), len(targets) + 1, "offsets")
        if len(offsets) != n + 1:
            raise ArgumentError(f"CSR offsets hold {len(offsets)} values, n + 1 = {n + 1} expected")
        if offsets[0] != 0 or offsets[-1] != len(targets):
            raise ArgumentError(f"CSR offsets run from {offsets[0]} to {offsets[-1]}, not from 0 to "
                                f"len(targets) = {len(targets)}")
        for i in range(n):
            if offsets[i + 1] < offsets[i]:
                raise ArgumentError(f"CSR offsets decrease at {i + 1}: {offsets[i]} then {offsets[i + 1]}")
        given, targets = targets, _u32s(targets, n, "targets", check=False)
    else:
        try:
            edges = [tuple(e) for e in adjacency]
        except TypeError:
            raise ArgumentError("adjacency must be (offsets, targets) or a list of (i, j) edges") from None
        rows = [[] for _ in range(n)]
        for p, e in enumerate(edges):
            if len(e) != 2:
                raise ArgumentError(f"edge {p} is {e!r}, not an (i, j) pair")
            rows[_index(e[0], n, f"edge {p} source")].append((_index(e[1], n, f"edge {p} target"), p))
        offsets, targets, perm = array.array("I", [0]), array.array("I"), array.array("I")
        for row in rows:
            targets.extend(j for j, _ in row)
            perm.extend(p for _, p in row)
            offsets.append(len(targets))
        perm.append(len(targets))                      # the self terms' src
        given = targets
    try:
        off, nbr, src = kernel.gat_neighbourhoods(offsets, targets, n=n)
    except KernelError:                                # a target >= n: name it
        _u32s(given, n, "targets")
        raise
    if perm is not None:
        src = kernel.gather_rows(perm, src, row_bytes=4, fmt="I")
    return off, nbr, src, len(targets)


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
    off, nbr, _, _ = _csr(adjacency, n, load())
    return [list(nbr[off[i]:off[i + 1]]) for i in range(n)]


def _edge_weights(weights, count):
    """The adjacency's edge weights as float32 values: one per entry, finite, >= 0."""
    try:
        w = array.array("f", weights)
    except (TypeError, ValueError, OverflowError):
        raise ArgumentError("edge_weights must be a sequence of numbers") from None
    if len(w) != count:
        raise DimensionError(f"edge_weights holds {len(w)} values, the adjacency has {count} entries")
    for p, v in enumerate(w):
        if not math.isfinite(v):
            raise NonFiniteError(f"edge_weights[{p}] is {v}")
        if v < 0:
            raise ArgumentError(f"edge_weights[{p}] is {v}: edge weights must be >= 0")
    return w


def _dim(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DimensionError(f"{name} must be a positive integer, got {value!r}")
    return value


class GNNLayer:
    """Graph attention message passing (GAT-style, `heads` heads of out_dim / heads
    concatenated), a residual (x projected when in_dim != out_dim) and layer norm; weights are
    float32 array.array buffers (weight, att_src, att_dst, proj, gamma, beta) drawn from
    `seed` (Glorot-uniform W, P and attention vectors; gamma ones, beta zeros). dropout (in
    [0, 1)) drops attention coefficients in training mode, from the same seeded stream (see
    forward()); a new layer is in training mode, like a torch module: eval() turns dropout off.

    >>> layer = GNNLayer(3, 4, heads=2, seed=1)
    >>> y = layer.forward([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [(0, 1), (1, 0), (1, 2)])
    >>> len(y), sorted(layer.backward([1.0] * 12))[:2]
    (12, ['att_dst', 'att_src'])
    """

    def __init__(self, in_dim, out_dim, heads=1, *, seed=0, dropout=0.0, kernel=None):
        self.in_dim, self.out_dim, self.heads = _dim(in_dim, "in_dim"), _dim(out_dim, "out_dim"), _dim(heads, "heads")
        if out_dim % heads:
            raise DimensionError(f"out_dim = {out_dim} is not a multiple of heads = {heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise OptionError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ArgumentError(f"seed must be a non-negative integer, got {seed!r}")
        self.kernel = kernel or load()
        self.seed, self.dropout, self.head_dim = seed, float(dropout), out_dim // heads
        self.training = True
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
        self.rng = rng              # the dropout masks continue the weights' stream
        self._cache = None

    def train(self, mode=True):
        """Training mode (dropout on) or, with mode=False, eval mode; returns the layer."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Eval mode: no dropout, so forward() is a pure function of its inputs and weights."""
        return self.train(False)

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

    def _keep(self, count):
        """count dropout multipliers (0 or 1 / (1 - p)) from self.rng, advanced past them."""
        state = array.array("I", [self.rng.state & 0xFFFFFFFF, self.rng.state >> 32])
        scale = float(array.array("f", [1.0 / (1.0 - self.dropout)])[0])
        keep = self.kernel.dropout_keep(state, count, threshold=math.ceil(self.dropout * 2 ** 24), scale=scale)
        self.rng.state = state[0] | state[1] << 32
        return keep

    def forward(self, x, adjacency, edge_weights=None):
        """The n x out_dim outputs (float32 array.array, row-major) for n nodes x (rows of
        in_dim) and an adjacency (see neighbourhoods()); kept for backward(). edge_weights:
        one value >= 0 per adjacency entry (CSR targets order, or edge-list order) scaling that
        edge's message after the softmax (c_ij = alpha_ij w_ij); the self term's weight is 1,
        and a dropped repeat or self loop's weight is ignored (the first occurrence counts).
        In training mode with dropout p > 0, each coefficient (edge, head) is kept with
        probability 1 - p and scaled by 1 / (1 - p) (float32), else zeroed: the draws come
        from the layer's seeded SplitMix64 stream in alpha layout order (node, then head, then
        its neighbourhood), so a seed gives the same masks on every backend; the last mask is
        `last_keep` (None without dropout).

        >>> layer = GNNLayer(2, 2, seed=3)
        >>> y = layer.forward([[1, 0], [0, 1]], ([0, 1, 1], [1]))
        >>> [round(sum(y[i * 2:i * 2 + 2]), 4) for i in range(2)]   # layer norm: rows sum to 0
        [0.0, 0.0]
        """
        k, D, H, hd, din = self.kernel, self.out_dim, self.heads, self.head_dim, self.in_dim
        xv, n = as_rows(k, x, din, "x")
        if n == 0:
            raise DimensionError("x holds no rows")
        off, nbr, src, count = _csr(adjacency, n, k)
        w = None
        if edge_weights is not None:
            given = _edge_weights(edge_weights, count)
            given.append(1.0)                                     # the self terms' weight
            w = k.gather_rows(given, src, row_bytes=4, fmt="f")
        keep = self._keep(len(nbr) * H) if self.training and self.dropout > 0 else None
        z = k.matmul(xv, self.weight, m=n, k=din, n=D)
        st = k.matmul(z, self._att_blocks(), m=n, k=D, n=2 * H)
        pre, alpha, h_out = k.gat_forward(st, z, off, nbr, n=n, heads=H, head_dim=hd, slope=NEGATIVE_SLOPE,
                                          w=w, keep=keep)
        r = xv if self.proj is None else k.matmul(xv, self.proj, m=n, k=din, n=D)
        y = k.layer_norm_rows(h_out, dim=D, gamma=self.gamma, beta=self.beta, eps=EPS, residual=r)
        self.last_keep = keep
        self._cache = dict(n=n, x=xv, off=off, nbr=nbr, src=src, count=count, w=w, keep=keep, z=z, h=h_out, r=r,
                           pre=pre, alpha=alpha)
        return y

    def backward(self, grad_out):
        """The gradients of a loss whose gradient with respect to the last forward()'s output
        is grad_out (n x out_dim): {"x": n x in_dim, one entry per parameters() name, and
        "edge_weights" (one per adjacency entry, 0 for dropped repeats and self loops) when
        forward() had them}, float32 array.array each, through the same dropout mask. With
        v = h + r, xhat its normalised rows, rstd = 1 / sqrt(var + eps), c_ij = alpha_ij w_ij m_ij
        (m the dropout multiplier, 1 without):
          dgamma = sum_i g_i xhat_i, dbeta = sum_i g_i, dv = rstd (g gamma - mean(g gamma)
          - xhat mean(g gamma xhat)) (per row, in double);  dh = dr = dv
          dc_ij^h = dv_i^h . z_j^h, dw_ij = sum_h alpha_ij^h m_ij^h dc_ij^h, dalpha = dc w m,
          de_ij^h = alpha_ij^h (dalpha_ij^h - sum_k alpha_ik^h dalpha_ik^h), du = de (u > 0) or
          slope de;  ds_i^h = sum_j du_ij^h, dt_j^h = sum_i du_ij^h;
          dz_j = sum_i c_ij dv_i + ds_j a_src + dt_j a_dst (per head)
          dW = x^T dz, da_src^h = sum_i ds_i^h z_i^h (a_dst alike), dP = x^T dv,
          dx = dz W^T + (dv P^T, or dv without a projection).
        The per-edge steps run in csrc/gnn.c (node, head, neighbourhood order), the products in
        kernel matmuls.

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
        dv, gx = k.layer_norm_rows_backward(k.add(c["h"], c["r"]), g, dim=D, gamma=self.gamma, eps=EPS)
        grads = {"gamma": k.sum_rows(gx, dim=D), "beta": k.sum_rows(g, dim=D)}
        xv, z = c["x"], c["z"]
        if self.proj is None:
            dx_res = dv
        else:
            grads["proj"] = k.matmul(xv, dv, m=din, k=n, n=D, trans_a=True)
            dx_res = k.matmul(dv, self.proj, m=n, k=D, n=din, trans_b=True)
        dz_agg, dst, dw = k.gat_backward(dv, z, c["off"], c["nbr"], c["pre"], c["alpha"], n=n, heads=H, head_dim=hd,
                                         slope=NEGATIVE_SLOPE, w=c["w"], keep=c["keep"])
        if dw is not None:
            out = grads["edge_weights"] = zeros_f32(c["count"] + 1)
            for p, s in zip(c["src"], dw):
                out[p] = s
            out.pop()                                             # the self terms' slot
        blk = self._att_blocks()
        dz = k.add(dz_agg, k.matmul(dst, blk, m=n, k=2 * H, n=D, trans_b=True))
        dblk = k.matmul(z, dst, m=D, k=n, n=2 * H, trans_a=True)              # out_dim x 2H
        grads["att_src"] = array.array("f", [dblk[r * 2 * H + r // hd] for r in range(D)])
        grads["att_dst"] = array.array("f", [dblk[r * 2 * H + H + r // hd] for r in range(D)])
        grads["weight"] = k.matmul(xv, dz, m=din, k=n, n=D, trans_a=True)
        grads["x"] = k.add(k.matmul(dz, self.weight, m=n, k=D, n=din, trans_b=True), dx_res)
        return grads

    def to_json(self):
        """A JSON text of the config (dropout and the dropout stream's position included) and
        the exact float32 bits of every weight (base64).

        >>> a = GNNLayer(3, 2, heads=2, seed=5)
        >>> GNNLayer.from_json(a.to_json()).weight == a.weight
        True
        """
        doc = {"format": FORMAT, "version": VERSION, "in_dim": self.in_dim, "out_dim": self.out_dim,
               "heads": self.heads, "seed": self.seed, "dropout": self.dropout, "rng_state": str(self.rng.state)}
        doc.update({name: encode_f32(buf) for name, buf in self.parameters().items()})
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text, *, kernel=None):
        """The layer to_json wrote (bit for bit, in training mode, its dropout stream where it was).

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
        state = json.loads(text).get("rng_state")
        if state is not None:
            if not isinstance(state, str) or not state.isdigit() or int(state) >> 64:
                raise ArgumentError(f"rng_state must be a decimal 64-bit integer string, got {state!r}")
            layer.rng.state = int(state)
        return layer


def hierarchical_forward(query, layer_embeddings, layers):
    """A query refined from the top of a hierarchy down (@ruvector/gnn's hierarchicalForward):
    layer_embeddings[l] holds the rows the query meets at level l (e.g. its neighbours in an
    HNSW layer, top level first), layers[l] a GNNLayer(dim, dim) (or its to_json() text); at
    each level the query is node 0 of a star whose other nodes are that level's rows (it takes
    messages from them), and its output row is the query for the next level. Returns the last
    level's query (dim floats). A level with no rows leaves the query as the layer makes it alone.
    Inference: each layer runs in eval mode (no dropout; its mode is restored after).

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
        training = layer.training
        try:
            current = layer.eval().forward(x, [(0, j) for j in range(1, m + 1)])[:dim]
        finally:
            layer.train(training)
    return current
