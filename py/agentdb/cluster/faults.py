"""Ray's failures as agentdb's: a shard's own error (a bad row, an unknown id) comes back as the
typed error it raised; an actor that died, is restarting or did not answer in time becomes
ShardUnavailableError naming the shard."""
import time

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from ..errors import ShardUnavailableError


def cause(exc):
    """The error a remote call raised, without Ray's wrappers."""
    while isinstance(exc, RayTaskError) and exc.cause is not None:
        exc = exc.cause
    return exc


def gather(refs, timeout):
    """({position: value}, {position: error}) of remote calls, waiting at most `timeout`
    seconds for all of them; a call not done by then, or whose actor died, fails with
    ShardUnavailableError."""
    positions = list(refs)
    ready, _ = ray.wait([refs[p] for p in positions], num_returns=len(positions), timeout=timeout)
    ready = set(ready)
    values, errors = {}, {}
    for p in positions:
        if refs[p] not in ready:
            errors[p] = ShardUnavailableError(f"shard {p} did not answer within {timeout:g}s", [p])
            continue
        try:
            values[p] = ray.get(refs[p])
        except (RayActorError, GetTimeoutError) as exc:
            errors[p] = ShardUnavailableError(f"shard {p} is unavailable ({type(exc).__name__}): "
                                              f"{str(exc).splitlines()[0] if str(exc) else ''}", [p])
            errors[p].restarting = isinstance(exc, RayActorError)      # worth sending again
        except RayTaskError as exc:
            errors[p] = cause(exc)
    return values, errors


def gather_retrying(send, positions, timeout):
    """gather() of send(p) for each position, sending again the calls whose actor was
    restarting (they never ran on the new one) until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    values, errors = {}, {}
    todo = list(positions)
    while todo:
        got, errors_now = gather({p: send(p) for p in todo}, max(deadline - time.monotonic(), 0.001))
        values.update(got)
        errors.update(errors_now)
        todo = [p for p, e in errors_now.items() if getattr(e, "restarting", False)]
        if not todo or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return values, {p: e for p, e in errors.items() if p not in values}


def first_error(errors):
    """The error to raise for a failed call: a shard's own error before an unavailable shard."""
    own = [e for e in errors.values() if not isinstance(e, ShardUnavailableError)]
    if own:
        return own[0]
    missing = sorted(p for e in errors.values() for p in e.shards)
    return ShardUnavailableError(f"shards {missing} unavailable: {next(iter(errors.values()))}", missing)


def call_retrying(send, timeout, what):
    """The value of the remote call send() makes, sent again while Ray restarts the actor (a
    call to a restarting actor fails at once) until `timeout` seconds have passed; only for
    calls that are safe to repeat (reads, and writes carrying their batch id)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ray.get(send(), timeout=max(deadline - time.monotonic(), 0.001))
        except RayTaskError as exc:
            raise cause(exc) from None
        except GetTimeoutError:
            raise ShardUnavailableError(f"{what} did not answer within {timeout:g}s") from None
        except RayActorError as exc:
            if time.monotonic() >= deadline:
                raise ShardUnavailableError(f"{what} is unavailable ({type(exc).__name__}) after {timeout:g}s") \
                    from None
            time.sleep(0.05)
