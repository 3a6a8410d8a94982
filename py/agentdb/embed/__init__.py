"""Embedders: text -> vectors. Every embedder has an identity (name, dim, semantic) so a store
can record which one built it and refuse to mix them silently.

MiniLM (all-MiniLM-L6-v2, run in the kernel: the same bits in the browser and natively) is the
default: it embeds by meaning. HashEmbedder, also in the kernel, is *not semantic*: it matches
shared words, word pairs and spellings, not meanings; its identity says so; it is used only
when chosen. FunctionEmbedder wraps another model (natively a Python callable; in the
browser, vectors computed in JS are passed directly). embedder_for() picks the embedder a
store's recorded identity names.
"""
import array
import operator

from ..errors import EmbedderError, EmbedderMismatchError, ModelMissingError, NeedEmbeddings  # noqa: F401
from ..kernel import load


def _texts(texts):
    if isinstance(texts, str):
        raise EmbedderError("embed() takes a list of texts; wrap a single text in a list")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise EmbedderError(f"texts[{i}] is {type(t).__name__}, not str")
        if not t.strip():
            raise EmbedderError(f"texts[{i}] is empty")
    return texts


class HashEmbedder:
    """Feature hashing of tokens, token pairs and character trigrams (agk_embed_hash).

    >>> e = HashEmbedder(dim=64)
    >>> len(e.embed(["red apples", "green pears"])) == 2 * 64
    True
    """

    name = "agentdb-hash-v1"
    semantic = False

    def __init__(self, dim=384, *, kernel=None):
        if not isinstance(dim, int) or dim < 8:
            raise EmbedderError(f"dim must be an integer >= 8, got {dim!r}")
        self.dim = dim
        self.kernel = kernel if kernel is not None else load()

    @property
    def identity(self):
        return {"name": self.name, "dim": self.dim, "semantic": self.semantic}

    def embed(self, texts):
        """Unit-length float32 rows, one per text, row-major in one array."""
        out = array.array("f")
        for text in _texts(texts):
            out.extend(self.kernel.embed_hash(text, dim=self.dim))
        return out


class FunctionEmbedder:
    """A model given as fn(list of texts) -> n x dim floats (any buffer or nested lists)."""

    def __init__(self, fn, *, name, dim, semantic=True):
        self.fn, self.name, self.dim, self.semantic = fn, name, dim, semantic

    @property
    def identity(self):
        return {"name": self.name, "dim": self.dim, "semantic": self.semantic}

    def embed(self, texts):
        """The model's rows for these texts, checked for shape and finiteness."""
        texts = _texts(texts)
        rows = self.fn(texts)
        flat = array.array("f")
        for i, row in enumerate(rows):
            row = list(row)
            if len(row) != self.dim:
                raise EmbedderError(f"{self.name} returned {len(row)} values for texts[{i}], expected {self.dim}")
            flat.extend(row)
        if len(flat) != len(texts) * self.dim:
            raise EmbedderError(f"{self.name} returned {len(flat) // self.dim} vectors for {len(texts)} texts")
        load().check_finite(flat, name=f"{self.name} output", dim=self.dim)
        return flat


class SuppliedEmbedder:
    """The browser's side of a JS embedder function: vectors the page computed, by text.
    embed() of a text not in `vectors` raises NeedEmbeddings naming every missing text; the
    worker hands them to the page, which embeds them and repeats the request (memory calls
    embed everything before they write, so a repeat is safe)."""

    def __init__(self, identity, *, kernel=None):
        ident = identity_of(identity)
        self.name, self.dim, self.semantic = ident["name"], ident["dim"], ident["semantic"]
        self.kernel = kernel if kernel is not None else load()
        self.vectors = {}

    @property
    def identity(self):
        return {"name": self.name, "dim": self.dim, "semantic": self.semantic}

    def embed(self, texts):
        """The supplied rows for these texts (NeedEmbeddings if any is missing)."""
        texts = _texts(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            raise NeedEmbeddings(missing)
        flat = array.array("f")
        for t in texts:
            row = self.vectors[t]
            if len(row) != self.dim:
                raise EmbedderError(f"{self.name} gave {len(row)} values for {t[:40]!r}, expected {self.dim}")
            flat.extend(row)
        self.kernel.check_finite(flat, name=f"{self.name} output", dim=self.dim)
        return flat


def identity_of(embedder):
    """The identity dict of an embedder object or of an identity dict, checked."""
    ident = embedder.identity if hasattr(embedder, "identity") else embedder
    if not isinstance(ident, dict) or not {"name", "dim", "semantic"} <= set(ident):
        raise EmbedderError(f"an embedder identity needs name, dim and semantic, got {ident!r}")
    try:
        dim = operator.index(ident["dim"])
    except TypeError:
        dim = None
    if dim is None or not 1 <= dim <= 65535 or not isinstance(ident["name"], str) or not ident["name"]:
        raise EmbedderError(f"an embedder identity has a non-empty name and a dim in 1..65535, got {ident!r}")
    return {"name": ident["name"], "dim": dim, "semantic": bool(ident["semantic"])}


def embedder_for(recorded=None, *, dim=None, kernel=None):
    """The embedder that makes a store's vectors: the one its recorded identity names
    (MiniLM or HashEmbedder; any other model must be passed by the caller), or, with nothing
    recorded, the default MiniLM (ModelMissingError, with the install command, when its
    weights are not installed: never a silent fall-back to word hashing)."""
    from .minilm import INT8_NAME, NAME, MiniLM

    if recorded is None:
        if dim not in (None, MiniLM.dim):
            raise EmbedderError(f"the default embedder ({NAME}) makes {MiniLM.dim}-dimensional vectors, "
                                f"dim={dim} was given: pass embedder= (e.g. HashEmbedder(dim={dim}))")
        return MiniLM(kernel=kernel)
    recorded = identity_of(recorded)
    if recorded["name"] == HashEmbedder.name:
        return HashEmbedder(dim=recorded["dim"], kernel=kernel)
    if recorded["name"] in (NAME, INT8_NAME) and recorded["dim"] == MiniLM.dim:
        return MiniLM(quantized=recorded["name"] == INT8_NAME, kernel=kernel)
    raise EmbedderMismatchError(f"this store's vectors come from {recorded}: pass that embedder (embedder=...) "
                                f"to embed text for it")


from .minilm import MiniLM  # noqa: E402  (it builds on the classes above)
