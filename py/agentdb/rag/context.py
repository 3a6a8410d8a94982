"""The context handed to a model: the evidence, best first, as numbered lines that cite their
memory ("[1] Vantex is based in Lyon. (note:4)"), within a token budget. Tokens are estimated,
not counted with a tokenizer (none ships here): estimate_tokens(text) = max(ceil(characters /
4), words), the usual ~4 characters per English token, and never fewer than one per word; it
overestimates rather than under. A line that does not fit is left out and the next, shorter
one may still fit (the budget is never exceeded; a header counts against it).

>>> estimate_tokens("Vantex is based in Lyon.")
6
>>> text, sources, used = assemble([("note:4", "Vantex is based in Lyon."), ("note:1", "Alice works for Vantex.")], budget=12)
>>> print(text); sources, used
[1] Vantex is based in Lyon. (note:4)
(['note:4'], 10)
"""
import math

from ..errors import ArgumentError


def estimate_tokens(text):
    """The estimated tokens of a text: max(ceil(len / 4), number of words)."""
    if not isinstance(text, str):
        raise ArgumentError(f"estimate_tokens() needs a string, got {type(text).__name__}")
    return max(math.ceil(len(text) / 4), len(text.split()))


def check_budget(budget):
    """A token budget is a positive integer (ArgumentError otherwise)."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ArgumentError(f"token_budget must be a positive integer, got {budget!r}")
    return budget


def assemble(items, budget, *, header=None):
    """(context text, cited ids in order, estimated tokens) of (id, text) pairs within `budget`
    tokens (the lines joined by newlines; the newlines are not counted, a header is)."""
    check_budget(budget)
    lines, sources = [], []
    used = 0
    if header:
        used = estimate_tokens(header)
        if used > budget:
            return "", [], 0
        lines.append(header)
    for ident, text in items:
        line = f"[{len(sources) + 1}] {' '.join(text.split())} ({ident})"
        cost = estimate_tokens(line)
        if used + cost <= budget:
            lines.append(line)
            sources.append(ident)
            used += cost
    return "\n".join(lines), sources, used
