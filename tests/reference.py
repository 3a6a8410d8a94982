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
