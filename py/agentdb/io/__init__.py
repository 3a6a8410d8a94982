"""agentdb.io: model and dataset export and import, in both homes (pure Python over
agentdb.safetensors and the kernel; no numpy or torch).

Models (a Model: LoRA adapters, EWC state, patterns, named tensors, metadata) to and from
SafeTensors (to_safetensors / from_safetensors, 64-byte aligned with align=64), JSON
(to_json / from_json, readable numbers), the compact binary format (to_binary / from_binary,
docs/FORMAT.md), a Hugging Face style bundle (to_huggingface / save_huggingface /
load_huggingface: model.safetensors + config.json + README.md, a folder or a zip), and
adapters in the PEFT layout (to_peft / save_peft / load_peft) that `peft` loads onto a base
model. from_memory / to_memory gather a memory's learned model and put one back.
Datasets (episodes, feedback pairs, triplets) to and from JSONL, CSV and pre-training text:
export_dataset / import_dataset / read_dataset.

>>> from agentdb.learn import LoRA
>>> model = Model(adapters={"query": LoRA(8, 8, rank=2, seed=1)}, metadata={"name": "demo"})
>>> from_binary(to_binary(model)).adapters["query"].a == model.adapters["query"].a
True
"""
from .binary_format import from_binary, to_binary
from .bundle import load_huggingface, save_huggingface, to_huggingface
from .dataset import FORMATS, export_dataset, import_dataset, read_dataset
from .json_format import from_json, to_json
from .memory_model import from_memory, to_memory
from .model import Model, Pattern
from .peft_format import load_peft, save_peft, to_peft
from .safetensors_format import from_safetensors, save_safetensors, to_safetensors

__all__ = ["FORMATS", "Model", "Pattern", "export_dataset", "from_binary", "from_json", "from_memory",
           "from_safetensors", "import_dataset", "load_huggingface", "load_peft", "read_dataset",
           "save_huggingface", "save_peft", "save_safetensors", "to_binary", "to_huggingface", "to_json",
           "to_memory", "to_peft", "to_safetensors"]
