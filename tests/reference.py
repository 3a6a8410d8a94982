"""Plain NumPy (float64) references for every kernel op: what the kernel must agree with,
within the tolerances the tests state."""
import zlib

import numpy as np


def scan(q, rows, metric):
    q, rows = np.asarray(q, np.float64), np.asarray(rows, np.float64)
    if metric == "dot":
        return rows @ q
    if metric == "l2":
        return ((rows - q) ** 2).sum(axis=1)
    qn = np.sqrt(q @ q)
    rn = np.sqrt((rows * rows).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (rows @ q) / (qn * rn)
    out[(rn == 0) | (qn == 0)] = 0.0
    return out


def scan_error_bound(q, rows, metric):
    """A generous bound on float32 accumulation error: n_terms * eps * sum of |terms|."""
    q, rows = np.asarray(q, np.float64), np.asarray(rows, np.float64)
    dim = q.shape[0]
    eps = np.finfo(np.float32).eps
    if metric == "l2":
        mag = ((rows - q) ** 2).sum(axis=1)
    else:
        mag = np.abs(rows * q).sum(axis=1)
    if metric == "cos":
        return np.full(rows.shape[0], (dim / 16 + 8) * eps * 8)
    return (dim / 16 + 8) * eps * mag + 1e-30


def topk(scores, k, largest=True):
    """Best first; ties to the lower index; NaN skipped."""
    scores = np.asarray(scores, np.float32)
    idx = [i for i in range(len(scores)) if not np.isnan(scores[i])]
    idx.sort(key=lambda i: (-scores[i] if largest else scores[i], i))
    idx = idx[:k]
    return np.array(idx, np.uint32), scores[idx]


def sq8_train(x):
    lo, hi = x.min(axis=0), x.max(axis=0)
    return lo.astype(np.float32), ((hi - lo) / np.float32(254)).astype(np.float32)


def b1_encode(x):
    return np.packbits(x > 0, axis=1, bitorder="little")


def hamming(qbits, codes):
    return np.unpackbits(np.bitwise_xor(codes, qbits), axis=1).sum(axis=1)


def kmeans_assign(x, centroids):
    d = ((x[:, None, :].astype(np.float64) - centroids[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1), d.min(axis=1)


def pq_encode(x, codebooks, m):
    n, dim = x.shape
    dsub = dim // m
    codes = np.empty((n, m), np.uint8)
    for s in range(m):
        codes[:, s], _ = kmeans_assign(x[:, s * dsub:(s + 1) * dsub], codebooks[s])
    return codes


def pq_scores(q, codebooks, codes, metric):
    m = codes.shape[1]
    dsub = q.shape[0] // m
    total = np.zeros(codes.shape[0])
    for s in range(m):
        cb = codebooks[s][codes[:, s]].astype(np.float64)
        qs = q[s * dsub:(s + 1) * dsub].astype(np.float64)
        total += ((cb - qs) ** 2).sum(axis=1) if metric == "l2" else cb @ qs
    return total


def crc32c(data, crc=0):
    """Bitwise CRC32C, slow and obviously right."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def crc32_ieee(data, crc=0):
    return zlib.crc32(data, crc)


def softmax(a):
    a = np.asarray(a, np.float64)
    e = np.exp(a - a.max())
    return e / e.sum()


def gelu(a):
    a = np.asarray(a, np.float64)
    return 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))


def sigmoid(a):
    return 1 / (1 + np.exp(-np.asarray(a, np.float64)))


def layer_norm(a, gamma=None, beta=None, eps=1e-5):
    a = np.asarray(a, np.float64)
    out = (a - a.mean()) / np.sqrt(a.var() + eps)
    if gamma is not None:
        out = out * gamma
    if beta is not None:
        out = out + beta
    return out


# ---- vector store references ---------------------------------------------------------------

_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "range")


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same_kind(a, b):
    """Values compare only within a kind: numbers, strings, booleans."""
    return (_is_num(a) and _is_num(b)) or (type(a) is type(b) and isinstance(a, (str, bool)))


def value_at(md, field):
    """What a filter on `field` reads in one row: its top-level key of that name, else the
    path through nested dicts split at every dot (None: nothing there)."""
    if field in md:
        return md[field]
    for key in field.split("."):
        if not isinstance(md, dict) or key not in md:
            return None
        md = md[key]
    return md


def _leaf(md, field, op, value):
    v = value_at(md, field)
    present = isinstance(v, (str, bool)) or _is_num(v)
    v = v if present else None
    if op == "eq":
        return (not present) if value is None else (present and _same_kind(v, value) and v == value)
    if op == "ne":
        return not _leaf(md, field, "eq", value)
    if op == "in":
        return any(_leaf(md, field, "eq", x) for x in value)
    if not present or isinstance(v, bool):
        return False
    if op == "range":
        lo, hi = value
        return _same_kind(v, lo) and lo <= v <= hi
    if not _same_kind(v, value):
        return False
    return {"lt": v < value, "le": v <= value, "gt": v > value, "ge": v >= value}[op]


def matches(md, where):
    """Plain-Python evaluation of the plain filter syntax on one metadata dict."""
    ok = True
    for key, cond in where.items():
        key = key.lstrip("$")
        if isinstance(cond, dict) and key not in ("not",):
            cond = {op.lstrip("$"): v for op, v in cond.items()}
        if key == "and":
            ok = ok and all(matches(md, c) for c in cond)
        elif key == "or":
            ok = ok and any(matches(md, c) for c in cond)
        elif key == "not":
            ok = ok and not matches(md, cond)
        elif isinstance(cond, dict):
            ok = ok and all(_leaf(md, key, op, v) for op, v in cond.items())
        else:
            ok = ok and _leaf(md, key, "eq", cond)
    return ok


def knn(query, vectors, metric, k, allowed=None):
    """Exact k-NN in float64: (rows, scores), best first, ties to the lower row."""
    x = np.asarray(vectors, np.float64)
    q = np.asarray(query, np.float64)
    if metric == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
        q = q / max(np.linalg.norm(q), 1e-300)
    scores = ((x - q) ** 2).sum(axis=1) if metric == "l2" else x @ q
    rows = np.arange(len(x)) if allowed is None else np.flatnonzero(allowed)
    order = sorted(rows, key=lambda r: (scores[r] if metric == "l2" else -scores[r], r))[:k]
    return np.array(order, dtype=np.int64), scores[order]


# ---- learning ops (csrc/learn.c): float32 mirrors in the kernel's order, exact to the bit ----

def matmul_f32(a, b):
    """a @ b in float32, each element summed over p in order from zero (gemm's order)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    acc = np.zeros((a.shape[0], b.shape[1]), np.float32)
    for p in range(a.shape[1]):
        acc = acc + a[:, p, None] * b[None, p, :]
    return acc


def sum_rows_f32(x):
    """Column sums in float32, rows added in order from zero."""
    acc = np.zeros(x.shape[1], np.float32)
    for row in np.asarray(x, np.float32):
        acc = acc + row
    return acc


def softmax_xent(logits, targets):
    """Mean softmax cross-entropy and its gradient in float64."""
    x = np.asarray(logits, np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(len(x))
    loss = (lse - shifted[rows, targets]).mean()
    grad = np.exp(shifted - lse[:, None])
    grad[rows, targets] -= 1
    return loss, grad / len(x)


def sgd_step(p, g, buf, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """torch.optim.SGD's single-tensor update in float32 without fused multiply-adds; returns
    (param, buffer) (buffer None before the first momentum step)."""
    f = np.float32
    if weight_decay:
        g = g + f(weight_decay) * p
    if momentum:
        buf = g.copy() if buf is None else buf * f(momentum) + f(1 - dampening) * g
        g = g + f(momentum) * buf if nesterov else buf
    return p - f(lr) * g, buf


def adam_step(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0, decoupled=False):
    """torch.optim.Adam / AdamW's single-tensor update in float32 without fused multiply-adds;
    returns (param, m, v)."""
    f = np.float32
    if weight_decay and decoupled:
        p = p * f(1 - lr * weight_decay)
    elif weight_decay:
        g = g + f(weight_decay) * p
    w = f(1 - beta1)
    m = m + w * (g - m) if w < 0.5 else g - (g - m) * (f(1) - w)
    v = v * f(beta2) + f(1 - beta2) * g * g
    denom = np.sqrt(v) / f((1 - beta2 ** step) ** 0.5) + f(eps)
    return p + f(-(lr / (1 - beta1 ** step))) * m / denom, m, v
