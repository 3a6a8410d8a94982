"""Docs that run: the README's Python snippets, the docstring examples, and a docstring on
every public name of the kernel interface."""
import doctest
import importlib
import inspect
import re
from pathlib import Path

import pytest

import agentdb
import agentdb.embed
import agentdb.io
import agentdb.kernel
import agentdb.learn
import agentdb.memory
from agentdb.kernel import core, dense_ops, hnsw_ops, learn_ops, math_ops, quant_ops
from agentdb.learn import ewc, feedback, lora, losses, mining, optim, pipeline, rng, schedule, sona
from agentdb import safetensors
from agentdb.io import (binary_format, bundle, csv_format, dataset, dataset_rows, json_format, jsonl_format,
                        memory_model, model, peft_format, pretrain_format, safetensors_format, streams, transfer)

ROOT = Path(__file__).resolve().parent.parent


def readme_snippets():
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.parametrize("snippet", readme_snippets())
def test_readme_snippet_runs(snippet):
    exec(compile(snippet, "README.md", "exec"), {})


LEARN_MODULES = [agentdb.learn, ewc, feedback, lora, losses, mining, optim, pipeline, rng, schedule, sona]
IO_MODULES = [agentdb.io, binary_format, bundle, csv_format, dataset, dataset_rows, json_format, jsonl_format,
              memory_model, model, peft_format, pretrain_format, safetensors_format, streams, transfer, safetensors]


@pytest.mark.parametrize("module", [agentdb.kernel, core, dense_ops, hnsw_ops, learn_ops, math_ops, quant_ops,
                                    agentdb.embed, *LEARN_MODULES, *IO_MODULES])
def test_docstring_examples(module, kernel):
    result = doctest.testmod(module, extraglobs={"k": kernel}, verbose=False)
    assert result.failed == 0


@pytest.mark.parametrize("module", IO_MODULES[1:])
def test_every_public_io_function_has_an_example(module):
    bare = [name for name, obj in vars(module).items() if inspect.isfunction(obj) and not name.startswith("_")
            and obj.__module__ == module.__name__ and ">>>" not in (obj.__doc__ or "")]
    assert not bare, f"{module.__name__}: no example in {bare}"


def public_members(cls):
    return [(name, obj) for name, obj in vars(cls).items() if not name.startswith("_")
            and (inspect.isfunction(obj) or isinstance(obj, property))]


MEMORY_PARTS = [base for base in agentdb.memory.AgentMemory.__mro__ if base.__module__.startswith("agentdb.memory")]


@pytest.mark.parametrize("cls", [core.Kernel, dense_ops.DenseOps, hnsw_ops.HnswOps, math_ops.MathOps,
                                 quant_ops.QuantOps, learn_ops.LearnOps, core.KBuffer, agentdb.VectorStore, agentdb.Hit,
                                 agentdb.learn.LoRA, agentdb.learn.LoRAManager, agentdb.learn.EWC,
                                 agentdb.learn.TrainingPipeline, agentdb.learn.TrajectoryLearner,
                                 agentdb.learn.SGD, agentdb.learn.Adam,
                                 agentdb.memory.QueryCache, *MEMORY_PARTS])
def test_every_public_method_is_documented(cls):
    missing = [name for name, obj in public_members(cls) if not (obj.__doc__ or "").strip()]
    assert not missing, f"{cls.__name__} lacks docstrings: {missing}"


def test_every_kernel_function_is_in_the_architecture_doc():
    import sys

    sys.path.insert(0, str(ROOT / "build"))
    import abi

    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    expanded = doc
    for group in re.findall(r"`(agk_[a-z0-9_]*)\{([a-z0-9_,]+)\}([a-z0-9_]*)`", doc):
        expanded += " ".join(f" {group[0]}{part}{group[2]} " for part in group[1].split(","))
    missing = [name for name in abi.function_names() if not re.search(rf"\b{name}\b", expanded)]
    assert not missing, f"docs/ARCHITECTURE.md does not mention {missing}"


def test_every_cli_command_worker_operation_and_client_method_is_in_the_docs():
    """The lists in docs/ARCHITECTURE.md and the README cannot drift from the code."""
    from agentdb import cli, worker_api

    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    readme = (ROOT / "README.md").read_text()
    cli_line = re.search(r"cli\.py .*?\n(?:\s{20,}.*\n)*", doc).group(0)
    assert [c for c in cli.COMMANDS if not re.search(rf"\b{c}\b", cli_line)] == []
    assert [c for c in cli.COMMANDS if f"agentdb {c} " not in readme] == []
    assert [op for op in worker_api.OPERATIONS if not re.search(rf"\b{op}\b", doc)] == []
    client = (ROOT / "web" / "agentdb.js").read_text()
    methods = set(re.findall(r"^  (?:static )?(?:async )?(?:get )?([a-zA-Z]\w*)\(", client, re.M)) - {"constructor"}
    js_line = re.search(r"agentdb\.js .*?\n(?:\s{20,}.*\n)*", doc).group(0)
    assert methods and [m for m in sorted(methods) if not re.search(rf"\b{m}\b", js_line)] == []


RAG_MODULES = [importlib.import_module(f"agentdb.rag.{name}") for name in (
    "config", "context", "controller", "decompose", "entities", "index", "llm", "multihop", "pagerank", "result",
    "session")]


@pytest.mark.parametrize("module", [importlib.import_module("agentdb.rag"), *RAG_MODULES],
                         ids=lambda m: m.__name__)
def test_rag_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0


@pytest.mark.parametrize("module", RAG_MODULES, ids=lambda m: m.__name__)
def test_every_public_rag_call_is_documented_with_an_example(module):
    """Each public function and method has a docstring; those in agentdb.rag's __all__ and the
    controller's and session manager's methods carry an example."""
    import agentdb.rag

    exported = set(agentdb.rag.__all__)
    missing, bare = [], []
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        members = [(name, obj)] if inspect.isfunction(obj) else \
            [(f"{name}.{n}", o) for n, o in public_members(obj)] + [(name, obj)] if inspect.isclass(obj) else []
        for label, member in members:
            doc = member.__doc__ or ""
            if not doc.strip():
                missing.append(label)
            if (label in exported or label.split(".")[0] in ("RetrievalController", "SessionManager")) \
                    and ">>>" not in doc and ">>>" not in (module.__doc__ or "") * (label in exported):
                bare.append(label)
    assert not missing, f"{module.__name__} lacks docstrings: {missing}"
    assert not bare, f"{module.__name__}: no example in {bare}"
