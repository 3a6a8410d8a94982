"""Ray's failures as agentdb's: a shard's own error (a bad row, an unknown id) comes back as the
typed error it raised; an actor that died, is restarting or did not answer in time becomes
ShardUnavailableError naming the shard."""
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
        except RayTaskError as exc:
            errors[p] = cause(exc)
    return values, errors


def first_error(errors):
    """The error to raise for a failed call: a shard's own error before an unavailable shard."""
    own = [e for e in errors.values() if not isinstance(e, ShardUnavailableError)]
    if own:
        return own[0]
    missing = sorted(p for e in errors.values() for p in e.shards)
    return ShardUnavailableError(f"shards {missing} unavailable: {next(iter(errors.values()))}", missing)
