"""One error contract: every error a caller can cause is an AgentDBError defined in
agentdb.errors (and exported from agentdb), named in the README, and no module raises a bare
builtin with a message for a caller's mistake."""
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import agentdb
from agentdb import errors

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "py" / "agentdb"


def modules():
    for info in pkgutil.walk_packages(agentdb.__path__, "agentdb."):
        if not info.name.endswith("__main__"):
            yield importlib.import_module(info.name)


def test_every_error_class_is_defined_in_agentdb_errors():
    stray = sorted(f"{m.__name__}.{name}" for m in modules() for name, value in vars(m).items()
                   if isinstance(value, type) and issubclass(value, (BaseException, Warning))
                   and value.__module__.startswith("agentdb") and value.__module__ != "agentdb.errors")
    assert not stray, stray


def test_every_error_is_exported_and_documented():
    readme = (ROOT / "README.md").read_text()
    for name in errors.__all__:
        assert getattr(agentdb, name) is getattr(errors, name)
        assert f"`{name}`" in readme, name
        cls = getattr(errors, name)
        assert issubclass(cls, (errors.AgentDBError, Warning)) and cls.__doc__


BARE = re.compile(r"raise (ValueError|TypeError|KeyError|IndexError|RuntimeError|AssertionError)\(")


def test_no_bare_builtin_is_raised_with_a_message():
    """A bare `raise ValueError` caught on the next lines is control flow; one with a message
    reaches a caller and must be typed. Internal-only raises say so with `# internal`."""
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if BARE.search(line) and "# internal" not in line]
    assert not found, found


@pytest.mark.parametrize("call,cls,message", [
    (lambda: agentdb.open(dim=8, M=16), errors.OptionError, "unknown option 'M': the options are metric"),
    (lambda: agentdb.open(dim=8, metric="hamming"), errors.OptionError, "expected one of"),
    (lambda: agentdb.open(dim=65536), errors.DimensionError, "1..65535"),
    (lambda: agentdb.open(dim=2).query([1, 2], k=0), errors.OptionError, "k must be a positive integer"),
    (lambda: agentdb.open(dim=2).ingest([1.5], [[1, 2]]), errors.IdError, "unsigned 64-bit integers or strings"),
    (lambda: agentdb.open(dim=2).ingest([1, 1], [[1, 2], [3, 4]]), errors.IdError, "appears twice"),
    (lambda: agentdb.open(dim=2).delete([1], where={"a": 1}), errors.ArgumentError, "exactly one of them"),
    (lambda: agentdb.open(dim=2).verify(public_key=b"short"), errors.ArgumentError, "32 bytes"),
    (lambda: agentdb.open(dim=2, signing_key=b"x"), errors.OptionError, "32-byte Ed25519"),
])
def test_user_mistakes_get_typed_errors_naming_what_is_allowed(call, cls, message):
    with pytest.raises(cls, match=re.escape(message)) as caught:
        call()
    assert isinstance(caught.value, errors.AgentDBError)
