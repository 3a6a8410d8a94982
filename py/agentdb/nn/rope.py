"""Rotary position embeddings (RoPE, Su et al. 2021) in the kernel: the cos/sin tables of
positions and the rotation of query or key rows, and its backward, the same bits on every backend
and ISA level, a row alone or in a batch.

The tables follow HF transformers (_compute_default_rope_parameters and the rotary embedding's
forward): theta_i = 1 / base^(2i / dim) and the angle position * theta_i, both float32, then
cos and sin of that angle from the kernel's own sin/cos (csrc/rope.c: exact argument reduction
for every float32 angle, so positions of 10^6 and more keep their accuracy; measured correctly
rounded on every one of 13.6 million test angles). A table is n x dim/2 (HF's is n x dim, the two
halves equal). apply_rope is HF's apply_rotary_pos_emb, x * cos + rotate_half(x) * sin, on
batch x heads x seq x dim rows (pairs (i, i + dim/2)); interleaved=True pairs (2i, 2i + 1) as
the original RoFormer and GPT-J do. rotary_dim < dim rotates only the first rotary_dim values
(partial rotary, as GPT-NeoX). Each output value is a product, a product and one add in float32,
the order HF's expression has.

>>> cos, sin = rope_tables([0, 1, 2], dim=4)
>>> [round(v, 4) for v in apply_rope([1, 0, 0, 0] * 3, cos, sin, dim=4)]
[1.0, 0.0, 0.0, 0.0, 0.5403, 0.0, 0.8415, 0.0, -0.4161, 0.0, 0.9093, 0.0]
"""

import array
import numbers

from ..errors import DimensionError, NonFiniteError
from ..kernel import KBuffer, load
from ..kernel.buffers import as_view

__all__ = ["rope_tables", "apply_rope", "apply_rope_backward", "rope"]


def _count(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DimensionError(f"{name} must be a positive integer, got {value!r}")
    return value


def _f32(kernel, x, name):
    v = x.view() if isinstance(x, KBuffer) else as_view(x, "f", name=name)
    i = kernel.find_nonfinite(v)
    if i >= 0:
        raise NonFiniteError(f"{name}: element {i} is {v[i]}")
    return v


def _positions(kernel, positions):
    if isinstance(positions, (list, tuple)):
        for i, p in enumerate(positions):
            if isinstance(p, bool) or not isinstance(p, numbers.Real):
                raise DimensionError(f"positions[{i}] is {p!r}, not a number")
        positions = array.array("f", positions)
    elif not isinstance(positions, KBuffer):
        try:
            mv = memoryview(positions)
        except TypeError:
            mv = None
        if mv is not None and mv.format.lstrip("<>=@!") in tuple("bBhHiIlLqQd"):   # integer or double positions
            positions = array.array("f", mv.cast("B").cast(mv.format.lstrip("<>=@!")).tolist())
    return _f32(kernel, positions, "positions")


def rope_tables(positions, *, dim, base=10000.0, kernel=None):
    """(cos, sin): n x dim/2 float32 each (array.array), cos(p theta_i) and sin(p theta_i) for
    each of the n positions p (numbers: node order, graph distance, or fractional for scaled
    RoPE), theta_i = 1 / base^(2i / dim) (dim even). OptionError for base < 1.

    >>> cos, sin = rope_tables([1], dim=2)
    >>> round(cos[0], 6), round(sin[0], 6)
    (0.540302, 0.841471)
    """
    kernel = kernel or load()
    return kernel.rope_table(_positions(kernel, positions), dim=_count(dim, "dim"), base=base)


def _rows(kernel, x, cos, sin, dim, batch, heads, rotary_dim):
    dim, batch, heads = _count(dim, "dim"), _count(batch, "batch"), _count(heads, "heads")
    rot = dim if rotary_dim is None else _count(rotary_dim, "rotary_dim")
    if rot > dim or rot % 2:
        raise DimensionError(f"rotary_dim must be even and at most dim = {dim}, got {rot}")
    x = _f32(kernel, x, "x")
    per = batch * heads * dim
    if len(x) == 0 or len(x) % per:
        raise DimensionError(f"x holds {len(x)} values, not batch x heads x seq x dim = {batch} x {heads} x seq x {dim}")
    seq = len(x) // per
    cos, sin = _f32(kernel, cos, "cos"), _f32(kernel, sin, "sin")
    h = rot // 2
    if len(cos) != len(sin) or len(cos) not in (seq * h, batch * seq * h):
        raise DimensionError(f"cos and sin must hold seq x rotary_dim/2 = {seq * h} or batch x seq x rotary_dim/2 "
                             f"= {batch * seq * h} values each, got {len(cos)} and {len(sin)}")
    if batch * heads == 1:
        tab_row = None
    elif len(cos) == seq * h:
        tab_row = array.array("I", range(seq)) * (batch * heads)
    else:
        tab_row = array.array("I")
        for b in range(batch):
            tab_row.extend(array.array("I", range(b * seq, (b + 1) * seq)) * heads)
    return x, cos, sin, tab_row, dim, rot


def apply_rope(x, cos, sin, *, dim, batch=1, heads=1, rotary_dim=None, interleaved=False, kernel=None):
    """x rotated by the tables (HF's apply_rotary_pos_emb for one of q or k): x holds batch x
    heads x seq x dim values (torch's layout), cos and sin (rope_tables of the seq positions, or
    of batch x seq ones) seq x rotary_dim/2 or batch x seq x rotary_dim/2 each. Returns x's shape
    (array.array).

    >>> cos, sin = rope_tables([1], dim=2)
    >>> [round(v, 6) for v in apply_rope([1, 0], cos, sin, dim=2, interleaved=True)]
    [0.540302, 0.841471]
    """
    kernel = kernel or load()
    x, cos, sin, tab_row, dim, rot = _rows(kernel, x, cos, sin, dim, batch, heads, rotary_dim)
    return kernel.rope_apply(x, cos, sin, dim=rot, row_len=dim, tab_row=tab_row, interleaved=interleaved)


def apply_rope_backward(grad_out, cos, sin, *, dim, batch=1, heads=1, rotary_dim=None, interleaved=False,
                        kernel=None):
    """The gradient with respect to apply_rope's x of a loss whose gradient with respect to its
    output is grad_out (the same arguments otherwise): the transposed rotation, by -theta (the
    tables are constants). Returns x's shape.

    >>> cos, sin = rope_tables([1], dim=2)
    >>> [round(v, 6) for v in apply_rope_backward([0.540302, 0.841471], cos, sin, dim=2)]
    [1.0, 0.0]
    """
    kernel = kernel or load()
    g, cos, sin, tab_row, dim, rot = _rows(kernel, grad_out, cos, sin, dim, batch, heads, rotary_dim)
    return kernel.rope_apply(g, cos, sin, dim=rot, row_len=dim, tab_row=tab_row, interleaved=interleaved,
                             transpose=True)


def rope(x, positions, *, dim, base=10000.0, batch=1, heads=1, rotary_dim=None, interleaved=False, kernel=None):
    """apply_rope with the tables of `positions` (seq or batch x seq numbers) made on the way:
    one call for a worker or a quick use.

    >>> [round(v, 4) for v in rope([1, 0], [1], dim=2)]
    [0.5403, 0.8415]
    """
    kernel = kernel or load()
    rot = dim if rotary_dim is None else rotary_dim
    cos, sin = rope_tables(positions, dim=_count(rot, "rotary_dim"), base=base, kernel=kernel)
    return apply_rope(x, cos, sin, dim=dim, batch=batch, heads=heads, rotary_dim=rotary_dim,
                      interleaved=interleaved, kernel=kernel)
