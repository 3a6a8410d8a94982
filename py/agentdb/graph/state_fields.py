"""The checks of one change-doc section's fields (counts, typed arrays, lists, finite numbers,
validity windows): pure functions of the values, raising ArgumentError that names the field.
INF is the value of an unbounded validity end, in the doc and in the state's columns.
"""
import array
import math

from ..errors import ArgumentError

INF = math.inf


def check_count(n, what):
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 1 << 32:
        raise ArgumentError(f"{what}: a count must be an integer in 0 .. 2**32 - 1, got {n!r}")
    return n


def check_array(sec, key, fmt, n, what, optional=True):
    value = sec.get(key)
    if value is None:
        if optional:
            return None
        raise ArgumentError(f"{what}.{key} is missing")
    if not isinstance(value, array.array) or value.typecode != fmt or len(value) != n:
        shown = f"{value.typecode!r} array of {len(value)}" if isinstance(value, array.array) else type(value).__name__
        raise ArgumentError(f"{what}.{key} must be a {fmt!r} array of {n} values, got {shown}")
    return value


def check_list(sec, key, n, what):
    value = sec.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n:
        raise ArgumentError(f"{what}.{key} must be a list of {n} values, got "
                            f"{type(value).__name__}{f' of {len(value)}' if isinstance(value, list) else ''}")
    return value


def check_finite(values, what, *, lo=-INF):
    """The first index whose value is not finite (or below lo), checked in C-speed passes."""
    if values is None:
        return
    if all(map(math.isfinite, values)) and (lo == -INF or min(values, default=0.0) >= lo):
        return
    for i, v in enumerate(values):
        if not math.isfinite(v) or v < lo:
            raise ArgumentError(f"{what}[{i}] must be a finite number{f' >= {lo}' if lo != -INF else ''}, got {v}")


def _check_windows(vf, vt, what):
    """valid_from / valid_to arrays: no NaN, from <= to."""
    for name, values in (("valid_from", vf), ("valid_to", vt)):
        if values is not None and any(map(math.isnan, values)):
            i = next(i for i, v in enumerate(values) if v != v)
            raise ArgumentError(f"{what}.{name}[{i}] is NaN (None means unbounded)")
    if vf is not None and vt is not None and not all(map(float.__le__, vf, vt)):
        i = next(i for i, (a, b) in enumerate(zip(vf, vt)) if not a <= b)
        raise ArgumentError(f"{what}[{i}]: valid_from ({vf[i]}) is after valid_to ({vt[i]})")
    if vf is not None and any(v == INF for v in vf) or vt is not None and any(v == -INF for v in vt):
        raise ArgumentError(f"{what}: valid_from cannot be +inf, nor valid_to -inf")


def _paired_windows(vf, vt, n):
    """Validity columns come in pairs: the missing one of the two filled with its default."""
    if vf is None and vt is not None:
        vf = array.array("d", [-INF]) * n
    if vt is None and vf is not None:
        vt = array.array("d", [INF]) * n
    return vf, vt


def check_validity(sec, n, what):
    """A section's valid_from / valid_to arrays, checked and paired (None: neither given)."""
    vf = check_array(sec, "valid_from", "d", n, what)
    vt = check_array(sec, "valid_to", "d", n, what)
    vf, vt = _paired_windows(vf, vt, n)
    _check_windows(vf, vt, what)
    return vf, vt
