"""Ed25519 signatures (RFC 8032) in plain Python: the same code signs natively and in the
browser, where no compiled crypto library can be installed. Signatures are deterministic and
interoperate with any RFC 8032 implementation (the tests check them with `cryptography`).

Points use extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z; scalar
multiplication is a plain double-and-add (signing keys here are the user's, and timing
attacks on a local file writer are out of scope; say so rather than pretend otherwise).
"""
import functools
import hashlib
from ..errors import ArgumentError

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493       # the group order
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)
IDENTITY = (0, 1, 1, 0)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return e * f % P, g * h % P, f * g % P, e * h % P


def _mul(s, point):
    out = IDENTITY
    while s:
        if s & 1:
            out = _add(out, point)
        point = _add(point, point)
        s >>= 1
    return out


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _encode(point):
    zinv = pow(point[2], P - 2, P)
    x, y = point[0] * zinv % P, point[1] * zinv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decode(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


def _h(*parts):
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def _expand(secret):
    if not isinstance(secret, (bytes, bytearray)) or len(secret) != 32:
        raise ArgumentError("an Ed25519 private key is 32 bytes (the RFC 8032 seed)")
    digest = hashlib.sha512(bytes(secret)).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, digest[32:]


def public_key(secret):
    """The 32-byte public key of a 32-byte private key (seed)."""
    a, _ = _expand(secret)
    return _encode(_mul(a, G))


def sign(secret, message):
    """The 64-byte signature of `message` (bytes) by `secret`."""
    a, prefix = _expand(secret)
    pub = _encode(_mul(a, G))
    r = _h(prefix, message) % L
    big_r = _encode(_mul(r, G))
    s = (r + _h(big_r, pub, message) * a) % L
    return big_r + s.to_bytes(32, "little")


def verify(public, message, signature):
    """True when `signature` is `public`'s signature of `message`."""
    return _verify(bytes(public), bytes(message), bytes(signature))


@functools.lru_cache(maxsize=4096)
def _verify(public, message, signature):
    # a pure function of its bytes, and ~5 ms each: a file's seals are checked once per run
    if len(public) != 32 or len(signature) != 64:
        return False
    a_point, r_point = _decode(bytes(public)), _decode(bytes(signature[:32]))
    s = int.from_bytes(signature[32:], "little")
    if a_point is None or r_point is None or s >= L:
        return False
    k = _h(bytes(signature[:32]), bytes(public), message) % L
    return _equal(_mul(s, G), _add(r_point, _mul(k, a_point)))
