"""GNN benchmark: agentdb.nn.gnn.GNNLayer (GAT attention, residual, layer norm) against the same
layer written in torch, and against torch_geometric's GATConv when it is installed, natively
on one thread.

    .venv/bin/python bench/bench_gnn.py [--repeat 5] [--nodes 1000 10000] [--dims 64 128] [--heads 1 4]

Graphs: n nodes, each aggregating from 16 random distinct others (CSR), x n x dim float32
(in_dim = out_dim = dim, so no projection), eval mode, no edge weights. Ours: GNNLayer.forward
(the adjacency checked and turned into neighbourhoods, two matmuls, agk_gat_forward_f32, the
layer norm) and forward + backward (all gradients). torch: the same math vectorised over the
edges (scatter max / index_add softmax, index_add aggregation, layer_norm; autograd for the
backward), float32, torch.set_num_threads(1), the same weights; its edge tensors are built once
outside the timing. torch "scatter" is the general form (any degrees; what PyG does inside),
torch "dense" the best case of a regular graph (every node 17 neighbours: one softmax over a
padded axis, einsum).
GATConv: torch_geometric.nn.GATConv(dim, dim / heads, heads) (add_self_loops, bias, no residual
or layer norm: less work than ours) on the same edges, forward alone.
Timing: ours and torch take turns after a warm-up, best of --repeat runs; ratio = torch ms /
ours ms (> 1 means ours is faster). Checks: ours against the torch layer (max relative error).

## Measured
On the 2-core shared AMD EPYC box (native avx512, torch 2.13.0 CPU, torch_geometric 2.8.1
without torch_scatter / pyg_lib), the machine loaded by other jobs (load average 6-8), ms per
call, best of 5 (and of two full runs):

         n  dim  H  fwd: ours  scatter  ratio  dense  ratio   fwd+bwd: ours  scatter  ratio  dense  ratio   GATConv  ratio   max rel err
      1000   64  1       1.19     7.72  6.49x   2.05  1.72x            2.82    27.27  9.67x  15.58  5.52x      8.26  6.94x   3.2e-07
      1000   64  4       1.99     8.59  4.32x   8.15  4.10x            8.67    37.17  4.29x  32.49  3.75x      5.09  2.56x   2.4e-07
      1000  128  1       1.77    15.32  8.66x   4.49  2.54x           10.06    56.02  5.57x  29.29  2.91x     18.35 10.37x   3.7e-07
      1000  128  4       2.22    15.46  6.96x  14.22  6.41x           14.85    48.86  3.29x  41.98  2.83x     11.30  5.09x   3.1e-07
     10000   64  1      23.21   163.07  7.03x  94.17  4.06x           74.68   403.19  5.40x 229.65  3.08x    146.23  6.30x   4.6e-07
     10000   64  4      54.10   201.99  3.73x 202.22  3.74x          142.04   514.73  3.62x 516.32  3.64x    176.84  3.27x   3.0e-07
     10000  128  1      44.88   315.80  7.04x 187.77  4.18x          169.55   836.46  4.93x 449.41  2.65x    290.25  6.47x   4.3e-07
     10000  128  4      64.21   346.43  5.40x 314.86  4.90x          210.24   858.92  4.09x 740.53  3.52x    305.66  4.76x   3.0e-07

Ours is 1.7-10x faster than either torch form and than GATConv, forward and forward + backward
(torch's formulations gather an edges x dim message tensor; ours streams each neighbourhood).
The machine was heavily loaded (2 cores, load 6-8 from other jobs): single runs of a cell vary
by up to 2x, so the table keeps the best of two full runs per cell; read the ratios as ~2-8x,
not to two digits. Where our time goes (cProfile, n 10000, dim 128, 4 heads, forward +
backward): the six kernel matmuls ~25 %, agk_gat_backward_f32 ~17 %, agk_gat_forward_f32 ~12 %,
zero-filling new output arrays (kernel.buffers.new_array) ~19 %, the layer-norm backward ~5 %;
Python's share is now small. The layer as it was before csrc/gnn.c (one softmax_rows and one
matmul call per node, the backward's per-edge steps and the layer-norm backward in Python
doubles, neighbourhoods deduplicated in Python), timed the same way in the same session:
1000 x 64 x 4 forward 46.9 ms and backward 138.6 ms (now 1.5 and 1.9 ms); 10000 x 128 x 4
forward 551 ms and backward 2728 ms (now 31 and 58 ms), i.e. 0.2-0.6x torch scatter before.
torch_geometric 2.8.1 installed with `/work/main/.venv/bin/pip install torch_geometric` (pure
Python; no torch_scatter / pyg_lib).
"""
import argparse
import time

import numpy as np
import torch

from agentdb.kernel import load
from agentdb.nn.gnn import GNNLayer

DEGREE = 16


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def turns(fns, repeat):
    """Best time of each of fns, taking turns run by run."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            times[i].append(best(fn, 1))
    return [min(t) for t in times]


def random_csr(rng, n):
    targets = np.empty((n, DEGREE), np.int64)
    for i in range(n):
        row = rng.choice(n - 1, DEGREE, replace=False)
        targets[i] = row + (row >= i)               # distinct, no self loop
    offsets = np.arange(0, n * DEGREE + 1, DEGREE, dtype=np.uint32)
    return offsets, targets.reshape(-1).astype(np.uint32)


class TorchGAT(torch.nn.Module):
    """GNNLayer's math vectorised over edges in torch (self loop first per node)."""

    def __init__(self, layer):
        super().__init__()
        D = layer.out_dim
        self.H, self.hd, self.D = layer.heads, layer.head_dim, D
        p = {name: torch.tensor(np.asarray(buf, np.float32)) for name, buf in layer.parameters().items()}
        self.weight = torch.nn.Parameter(p["weight"].view(layer.in_dim, D))
        self.att_src = torch.nn.Parameter(p["att_src"].view(self.H, self.hd))
        self.att_dst = torch.nn.Parameter(p["att_dst"].view(self.H, self.hd))
        self.gamma, self.beta = torch.nn.Parameter(p["gamma"]), torch.nn.Parameter(p["beta"])

    def forward(self, x, recv, send, degree=None):
        n = x.shape[0]
        if degree is not None:            # every node has degree neighbours: a dense softmax
            z = (x @ self.weight).view(n, self.H, self.hd)
            s, t = (z * self.att_src).sum(-1), (z * self.att_dst).sum(-1)
            e = torch.nn.functional.leaky_relu(s[:, None, :] + t[send].view(n, degree, self.H), 0.2)
            alpha = torch.softmax(e, dim=1)                                              # n x d x H
            h = torch.einsum("ndh,ndhk->nhk", alpha, z[send].view(n, degree, self.H, self.hd)).reshape(n, self.D)
            return torch.nn.functional.layer_norm(h + x, (self.D,), self.gamma, self.beta, eps=1e-5)
        z = (x @ self.weight).view(n, self.H, self.hd)
        s, t = (z * self.att_src).sum(-1), (z * self.att_dst).sum(-1)
        e = torch.nn.functional.leaky_relu(s[recv] + t[send], 0.2)                       # E x H
        mx = torch.full((n, self.H), -torch.inf).scatter_reduce(0, recv[:, None].expand_as(e), e, "amax")
        ex = torch.exp(e - mx[recv])
        den = torch.zeros(n, self.H).index_add(0, recv, ex)
        alpha = ex / den[recv]
        h = torch.zeros(n, self.H, self.hd).index_add(0, recv, alpha[:, :, None] * z[send]).view(n, self.D)
        return torch.nn.functional.layer_norm(h + x, (self.D,), self.gamma, self.beta, eps=1e-5)


def run(n, dim, heads, repeat, rng, kernel, pyg):
    offsets, targets = random_csr(rng, n)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    g = rng.standard_normal(n * dim).astype(np.float32)
    layer = GNNLayer(dim, dim, heads, seed=1, kernel=kernel).eval()
    adj = (offsets, targets)
    ref = TorchGAT(layer)
    recv = torch.arange(n).repeat_interleave(DEGREE + 1)
    send = torch.tensor(np.concatenate([np.arange(n)[:, None], targets.reshape(n, DEGREE)], 1).reshape(-1),
                        dtype=torch.long)
    xt, gt = torch.tensor(x), torch.tensor(g.reshape(n, dim))
    ours_y = np.asarray(layer.forward(x, adj))
    with torch.no_grad():
        ref_y = ref(xt, recv, send).numpy().reshape(-1)
    err = np.abs(ours_y - ref_y).max() / np.abs(ref_y).max()

    def ours_fb():
        layer.forward(x, adj)
        layer.backward(g)

    with torch.no_grad():
        dense_y = ref(xt, recv, send, DEGREE + 1).numpy().reshape(-1)
    err = max(err, np.abs(ours_y - dense_y).max() / np.abs(dense_y).max())

    def torch_f(degree=None):
        with torch.no_grad():
            ref(xt, recv, send, degree)

    def torch_fb(degree=None):
        xr = xt.clone().requires_grad_(True)
        ref.zero_grad()
        (ref(xr, recv, send, degree) * gt).sum().backward()

    fns = [lambda: layer.forward(x, adj), torch_f, lambda: torch_f(DEGREE + 1),
           ours_fb, torch_fb, lambda: torch_fb(DEGREE + 1)]
    if pyg is not None:
        conv = pyg(dim, dim // heads, heads=heads)
        edge_index = torch.stack([torch.tensor(targets.astype(np.int64)), torch.arange(n).repeat_interleave(DEGREE)])

        def pyg_f():
            with torch.no_grad():
                conv(xt, edge_index)
        fns.append(pyg_f)
    t = turns(fns, repeat)
    return [ms * 1e3 for ms in t], err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nodes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--heads", type=int, nargs="+", default=[1, 4])
    args = ap.parse_args()
    torch.set_num_threads(1)
    try:
        from torch_geometric.nn import GATConv as pyg
    except ImportError:
        pyg = None
    kernel = load("native")
    print(f"kernel {kernel.isa}, torch {torch.__version__}, GATConv {'yes' if pyg else 'not installed'}")
    print("     n  dim  H  fwd: ours  scatter  ratio  dense  ratio   fwd+bwd: ours  scatter  ratio  dense  ratio"
          "   GATConv  ratio   max rel err")
    rng = np.random.default_rng(0)
    for n in args.nodes:
        for dim in args.dims:
            for heads in args.heads:
                t, err = run(n, dim, heads, args.repeat, rng, kernel, pyg)
                line = (f"{n:6d} {dim:4d} {heads:2d}  {t[0]:9.2f} {t[1]:8.2f} {t[1] / t[0]:5.2f}x {t[2]:6.2f} "
                        f"{t[2] / t[0]:5.2f}x   {t[3]:13.2f} {t[4]:8.2f} {t[4] / t[3]:5.2f}x {t[5]:6.2f} {t[5] / t[3]:5.2f}x")
                if pyg is not None:
                    line += f"   {t[6]:7.2f} {t[6] / t[0]:5.2f}x"
                print(line + f"   {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
