"""The offline hashing embedder: bit-identical on every backend, unit length, useful for
matching shared words, honest about not being semantic; bad input gets clear errors."""
import numpy as np
import pytest

from agentdb.embed import EmbedderError, FunctionEmbedder, HashEmbedder
from support import bits

TEXTS = ["Water the plants on Monday", "water plants monday!!", "Quarterly tax filing deadline",
         "naïve café in Zürich", "日本語のテキスト", "a", "x" * 1000]


def test_identical_on_every_backend(native, wasmhost):
    for text in TEXTS:
        assert np.array_equal(bits(native.embed_hash(text, dim=384)), bits(wasmhost.embed_hash(text, dim=384)))


def test_unit_length_and_zero_for_no_tokens(kernel):
    for text in TEXTS:
        v = np.asarray(kernel.embed_hash(text, dim=256), np.float64)
        assert abs(np.linalg.norm(v) - 1) < 1e-5
    assert not np.any(kernel.embed_hash("  ... !!! ", dim=32))


def test_shared_words_score_higher_than_unrelated_text(kernel):
    e = HashEmbedder(dim=384, kernel=kernel)
    rows = np.frombuffer(e.embed(TEXTS[:3]), np.float32).reshape(3, 384)
    assert rows[0] @ rows[1] > 0.5 > rows[0] @ rows[2]
    assert kernel.embed_hash("WATER", dim=64) == kernel.embed_hash("water", dim=64)      # case folded
    assert kernel.embed_hash("plants water", dim=64) != kernel.embed_hash("water plants", dim=64)   # pairs


def test_identity_says_it_is_not_semantic():
    assert HashEmbedder(dim=64).identity == {"name": "agentdb-hash-v1", "dim": 64, "semantic": False}


def test_bad_input():
    e = HashEmbedder(dim=16)
    with pytest.raises(EmbedderError, match="wrap a single text in a list"):
        e.embed("just a string")
    with pytest.raises(EmbedderError, match=r"texts\[1\] is empty"):
        e.embed(["ok", "   "])
    with pytest.raises(EmbedderError, match=r"texts\[0\] is int"):
        e.embed([3])
    with pytest.raises(EmbedderError, match="dim must be"):
        HashEmbedder(dim=2)


def test_function_embedder_checks_its_model():
    good = FunctionEmbedder(lambda ts: [[1.0, 0.0, 0.0]] * len(ts), name="toy", dim=3)
    assert list(good.embed(["a", "b"])) == [1.0, 0.0, 0.0] * 2
    with pytest.raises(EmbedderError, match="returned 2 values"):
        FunctionEmbedder(lambda ts: [[1.0, 0.0]] * len(ts), name="bad", dim=3).embed(["a"])
    with pytest.raises(Exception, match="is nan"):
        FunctionEmbedder(lambda ts: [[float("nan")] * 3], name="nan", dim=3).embed(["a"])
