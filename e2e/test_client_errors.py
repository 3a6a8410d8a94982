"""The JS client's errors in real Chromium: each a typed error (err.name is the Python class)
with a plain message naming what was wrong, never a Python internal (KeyError, a comparison
TypeError) or a quoted repr."""
from test_app import call

ERRORS = """
    const db = await AgentDB.open("errs", { dim: 4 });
    await db.ingest(["a"], new Float32Array([1, 0, 0, 0]));
    const caught = async (fn) => { try { await fn(); return null; } catch (e) { return [e.name, e.message]; } };
    const out = {
        ef: await caught(() => db.query(new Float32Array([1, 0, 0, 0]), { k: 1, ef: "64" })),
        k: await caught(() => db.query(new Float32Array([1, 0, 0, 0]), { k: "3" })),
        dim: await caught(() => db.query(new Float32Array([1, 0, 0]), { k: 1 })),
        where: await caught(() => db.query(new Float32Array([1, 0, 0, 0]), { k: 1, where: { n: { gx: 1 } } })),
        unknown: await caught(() => db.get("nope")),
    };
    await db.close();
    out.closed = await caught(() => db.status());
    return out;
"""


def test_client_errors_are_typed_and_plain(page):
    got = call(page, ERRORS)
    assert got["ef"][0] in ("OptionError", "ArgumentError") and "ef" in got["ef"][1] and "'64'" in got["ef"][1]
    assert got["k"][0] in ("OptionError", "ArgumentError") and got["k"][1].startswith("k ")
    assert got["dim"][0] == "DimensionError" and "3" in got["dim"][1] and "4" in got["dim"][1]
    assert got["where"][0] == "FilterError" and "gx" in got["where"][1]
    assert got["unknown"][0] == "UnknownIdError" and "nope" in got["unknown"][1]
    assert got["closed"] == ["StoreClosedError", "no open store named errs: open it first (AgentDB.open)"]
    for name, message in got.values():
        assert "Traceback" not in message and name not in ("KeyError", "TypeError", "Error")
