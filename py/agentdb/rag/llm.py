"""The one place agentdb.rag calls the caller's LLM: llm(prompt) -> str, its answer parsed
strictly as JSON of an expected shape. Anything else (an exception inside the callable, a
non-string, malformed JSON, the wrong shape) is an LLMOutputWarning and None, so the caller
falls back to the deterministic path: an LLM can make answers better, never make a call fail.

>>> import warnings
>>> ask(lambda p: '{"sub_queries": ["a", "b"]}', "...", sub_query_list, "decomposition")
['a', 'b']
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     ask(lambda p: "sure! here you go", "...", sub_query_list, "decomposition")
>>> str(caught[0].message)
'the LLM callable gave decomposition output that is not JSON (Expecting value at 1:1); using the heuristic'
"""
import json
import warnings

from ..errors import ArgumentError, LLMOutputWarning

# a shape checker raises this for output of the wrong shape; ask() turns it into the warning
Malformed = ArgumentError

MAX_OUTPUT = 100_000     # characters of an LLM answer read at most


def say(llm, prompt, what, *, fallback):
    """llm(prompt) as text (at most MAX_OUTPUT characters), or None with an LLMOutputWarning
    when it raises or returns something other than a string."""
    try:
        out = llm(prompt)
    except Exception as e:      # the caller's code: any failure means "no LLM answer"
        return _warn(f"the LLM callable raised {type(e).__name__} during {what} ({e}); {fallback}")
    if not isinstance(out, str):
        return _warn(f"the LLM callable returned {type(out).__name__}, not a string, for {what}; {fallback}")
    return out[:MAX_OUTPUT]


def ask(llm, prompt, check, what, *, fallback="using the heuristic"):
    """check(json value)'s result for llm(prompt), or None with an LLMOutputWarning naming
    what went wrong (`what` names the step in the message)."""
    out = say(llm, prompt, what, fallback=fallback)
    if out is None:
        return None
    body = _strip_fence(out)
    try:
        value = json.loads(body)
    except ValueError as e:
        return _warn(f"the LLM callable gave {what} output that is not JSON ({e.msg} at {e.lineno}:{e.colno}); "
                     f"{fallback}")
    try:
        return check(value)
    except Malformed as e:
        return _warn(f"the LLM callable's {what} output has the wrong shape: {e}; {fallback}")


def _warn(message):
    warnings.warn(message, LLMOutputWarning, stacklevel=5)
    return None


def _strip_fence(text):
    """The JSON inside a ```json ... ``` fence (models add them), else the text itself."""
    body = text.strip()
    if body.startswith("```") and body.endswith("```") and len(body) >= 6:
        body = body[3:-3]
        if body.startswith("json"):
            body = body[4:]
    return body.strip()


def strings(value, name, *, limit=None):
    """A non-empty list of non-empty strings (Malformed otherwise), cut to `limit` items."""
    if not isinstance(value, list) or not value:
        raise Malformed(f"{name} must be a non-empty list of strings, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise Malformed(f"{name}[{i}] must be a non-empty string, got {item!r:.40}")
    return [" ".join(s.split()) for s in value[:limit]]


def sub_query_list(value):
    """Decomposition output: ["q1", ...] or {"sub_queries": ["q1", ...]}."""
    if isinstance(value, dict):
        if "sub_queries" not in value:
            raise Malformed(f"expected a key 'sub_queries', got keys {sorted(value)[:5]}")
        value = value["sub_queries"]
    return strings(value, "sub_queries")


def reflection(value):
    """Reflection output: {"sufficient": bool, "follow_up": ["q", ...] (may be empty)}."""
    if not isinstance(value, dict):
        raise Malformed(f"expected an object with 'sufficient' and 'follow_up', got {type(value).__name__}")
    sufficient = value.get("sufficient")
    if not isinstance(sufficient, bool):
        raise Malformed(f"'sufficient' must be true or false, got {sufficient!r:.40}")
    follow = value.get("follow_up", [])
    if sufficient or follow == []:
        return {"sufficient": sufficient, "follow_up": []}
    return {"sufficient": False, "follow_up": strings(follow, "follow_up")}
