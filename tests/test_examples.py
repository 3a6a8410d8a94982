"""The examples run, and the agent loop learns: its success rate rises and the patterns it
rates best are the world's best approaches; a second run from the file starts knowing them."""
import importlib.util
from pathlib import Path

import agentdb.memory

ROOT = Path(__file__).resolve().parent.parent


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_agent_loop_learns_and_remembers(tmp_path, capsys):
    loop = load_example("agent_loop")
    path = tmp_path / "agent.rvf"
    rates = loop.main(path)
    # learning climbs from chance (an approach picked at random) towards the best approaches'
    # rate; with the semantic default most of the climb happens within the first 50 tasks
    chance = sum(sum(a.values()) / len(a) for a in loop.WORLD.values()) / len(loop.WORLD)
    best = sum(max(a.values()) for a in loop.WORLD.values()) / len(loop.WORLD)
    assert rates[0] < best and sum(rates[-4:]) / 4 > chance + 0.25
    with agentdb.memory.open(path, readonly=True) as mem:
        for kind, approaches in loop.WORLD.items():
            assert mem.patterns_by_type(kind, limit=1)[0]["approach"] == max(approaches, key=approaches.get)
        assert mem.stats()["memories"]["skill"] == len(loop.WORLD)
    again = loop.main(path)                     # knows the best approaches from the first task on
    assert again[0] > rates[0]
    assert "memories at start: {'episode': 400" in capsys.readouterr().out
