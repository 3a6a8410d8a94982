"""What the e2e tests share: waiting for the app, running a JS function body in the page,
and a Python answer as the JS client gives it."""
import re

# the notebook is usable: the client is loaded and the store open
READY = "window.AgentDB !== undefined && !document.getElementById('sample').disabled"


def wait_ready(page):
    """Waits until the page's notebook is usable (after a goto or a reload)."""
    page.wait_for_function(READY, timeout=60_000)


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
