"""What the e2e tests share: running a JS function body in the page, and a Python answer as
the JS client gives it."""
import re


def run(page, script, *args):
    """Runs an async JS function body (its arguments in `args`) in the page; returns its JSON value."""
    return page.evaluate(f"async (args) => {{ {script} }}", list(args))


def camelized(value):
    """What the JS client makes of a Python answer: keys camelCased, user metadata as is."""
    if isinstance(value, list):
        return [camelized(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): v if k == "metadata" else camelized(v)
            for k, v in value.items()}
