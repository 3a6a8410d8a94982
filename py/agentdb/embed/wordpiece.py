"""BERT uncased WordPiece tokenization in pure Python (standard library only, so it runs in
Pyodide), giving exactly the ids of Hugging Face `tokenizers` for all-MiniLM-L6-v2.

As in the reference: special tokens ([CLS] [SEP] [PAD] [UNK] [MASK]) are split out of the raw
text, case-sensitively; the rest is normalized (control and format chars dropped, whitespace ->
' ', CJK ideographs spaced out, NFD, nonspacing marks dropped, lowercased char by char) and split
at whitespace and around each punctuation char; each word becomes greedy longest-match pieces
("##" continuations; a word of > 100 chars, or with a rest that matches nothing, is one [UNK]).
The pieces are cut to max_length - 2 and wrapped in [CLS] ... [SEP].

>>> wp = WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", ",", "world", "##s"])
>>> wp.tokens("Hello, WORLDS [MASK]"), wp.encode("")
(['[CLS]', 'hello', ',', 'world', '##s', '[MASK]', '[SEP]'], [2, 3])
"""
import bisect
import json
import os
import re
import unicodedata

from . import EmbedderError

# The reference's character classes as hex code point ranges, not `unicodedata`: its tables are
# older than any Python's (categories Unicode 8.0, NFD ~9.0, lowercase 17.0) and Pyodide's Python
# is not the native one. tests/test_wordpiece.py checks every code point against `tokenizers`.
_REMOVED = (  # dropped by clean_text (controls, format chars, private use, U+FFFD)
    "0-8 b-c e-1f 7f-9f ad 600-605 61c 6dd 70f 180e 200b-200f 202a-202e 2060-2064 2066-206f e000-f8ff feff fff9-fffb "
    "fffd 110bd 1bca0-1bca3 1d173-1d17a e0001 e0020-e007f f0000-ffffd 100000-10fffd"
)
_SPACE = "9-a d a0 1680 2000-200a 2028-2029 202f 205f 3000"  # whitespace, made ' '
_CHINESE = "3400-4dbf 4e00-9fff f900-faff 20000-2a6df 2a700-2b81f 2b920-2ceaf 2f800-2fa1f"  # one word each
_MN = (  # nonspacing marks, dropped after NFD
    "300-36f 483-487 591-5bd 5bf 5c1-5c2 5c4-5c5 5c7 610-61a 64b-65f 670 6d6-6dc 6df-6e4 6e7-6e8 6ea-6ed 711 730-74a "
    "7a6-7b0 7eb-7f3 816-819 81b-823 825-827 829-82d 859-85b 8e3-902 93a 93c 941-948 94d 951-957 962-963 981 9bc "
    "9c1-9c4 9cd 9e2-9e3 a01-a02 a3c a41-a42 a47-a48 a4b-a4d a51 a70-a71 a75 a81-a82 abc ac1-ac5 ac7-ac8 acd ae2-ae3 "
    "b01 b3c b3f b41-b44 b4d b56 b62-b63 b82 bc0 bcd c00 c3e-c40 c46-c48 c4a-c4d c55-c56 c62-c63 c81 cbc cbf cc6 "
    "ccc-ccd ce2-ce3 d01 d41-d44 d4d d62-d63 dca dd2-dd4 dd6 e31 e34-e3a e47-e4e eb1 eb4-eb9 ebb-ebc ec8-ecd f18-f19 "
    "f35 f37 f39 f71-f7e f80-f84 f86-f87 f8d-f97 f99-fbc fc6 102d-1030 1032-1037 1039-103a 103d-103e 1058-1059 "
    "105e-1060 1071-1074 1082 1085-1086 108d 109d 135d-135f 1712-1714 1732-1734 1752-1753 1772-1773 17b4-17b5 "
    "17b7-17bd 17c6 17c9-17d3 17dd 180b-180d 18a9 1920-1922 1927-1928 1932 1939-193b 1a17-1a18 1a1b 1a56 1a58-1a5e "
    "1a60 1a62 1a65-1a6c 1a73-1a7c 1a7f 1ab0-1abd 1b00-1b03 1b34 1b36-1b3a 1b3c 1b42 1b6b-1b73 1b80-1b81 1ba2-1ba5 "
    "1ba8-1ba9 1bab-1bad 1be6 1be8-1be9 1bed 1bef-1bf1 1c2c-1c33 1c36-1c37 1cd0-1cd2 1cd4-1ce0 1ce2-1ce8 1ced 1cf4 "
    "1cf8-1cf9 1dc0-1df5 1dfc-1dff 20d0-20dc 20e1 20e5-20f0 2cef-2cf1 2d7f 2de0-2dff 302a-302d 3099-309a a66f "
    "a674-a67d a69e-a69f a6f0-a6f1 a802 a806 a80b a825-a826 a8c4 a8e0-a8f1 a926-a92d a947-a951 a980-a982 a9b3 "
    "a9b6-a9b9 a9bc a9e5 aa29-aa2e aa31-aa32 aa35-aa36 aa43 aa4c aa7c aab0 aab2-aab4 aab7-aab8 aabe-aabf aac1 "
    "aaec-aaed aaf6 abe5 abe8 abed fb1e fe00-fe0f fe20-fe2f 101fd 102e0 10376-1037a 10a01-10a03 10a05-10a06 "
    "10a0c-10a0f 10a38-10a3a 10a3f 10ae5-10ae6 11001 11038-11046 1107f-11081 110b3-110b6 110b9-110ba 11100-11102 "
    "11127-1112b 1112d-11134 11173 11180-11181 111b6-111be 111ca-111cc 1122f-11231 11234 11236-11237 112df "
    "112e3-112ea 11300-11301 1133c 11340 11366-1136c 11370-11374 114b3-114b8 114ba 114bf-114c0 114c2-114c3 "
    "115b2-115b5 115bc-115bd 115bf-115c0 115dc-115dd 11633-1163a 1163d 1163f-11640 116ab 116ad 116b0-116b5 116b7 "
    "1171d-1171f 11722-11725 11727-1172b 16af0-16af4 16b30-16b36 16f8f-16f92 1bc9d-1bc9e 1d167-1d169 1d17b-1d182 "
    "1d185-1d18b 1d1aa-1d1ad 1d242-1d244 1da00-1da36 1da3b-1da6c 1da75 1da84 1da9b-1da9f 1daa1-1daaf 1e8d0-1e8d6 "
    "e0100-e01ef"
)
_PUNCT = (  # each one a word of its own (ASCII symbols included)
    "21-2f 3a-40 5b-60 7b-7e a1 a7 ab b6-b7 bb bf 37e 387 55a-55f 589-58a 5be 5c0 5c3 5c6 5f3-5f4 609-60a 60c-60d 61b "
    "61e-61f 66a-66d 6d4 700-70d 7f7-7f9 830-83e 85e 964-965 970 af0 df4 e4f e5a-e5b f04-f12 f14 f3a-f3d f85 fd0-fd4 "
    "fd9-fda 104a-104f 10fb 1360-1368 1400 166d-166e 169b-169c 16eb-16ed 1735-1736 17d4-17d6 17d8-17da 1800-180a "
    "1944-1945 1a1e-1a1f 1aa0-1aa6 1aa8-1aad 1b5a-1b60 1bfc-1bff 1c3b-1c3f 1c7e-1c7f 1cc0-1cc7 1cd3 2010-2027 "
    "2030-2043 2045-2051 2053-205e 207d-207e 208d-208e 2308-230b 2329-232a 2768-2775 27c5-27c6 27e6-27ef 2983-2998 "
    "29d8-29db 29fc-29fd 2cf9-2cfc 2cfe-2cff 2d70 2e00-2e2e 2e30-2e42 3001-3003 3008-3011 3014-301f 3030 303d 30a0 "
    "30fb a4fe-a4ff a60d-a60f a673 a67e a6f2-a6f7 a874-a877 a8ce-a8cf a8f8-a8fa a8fc a92e-a92f a95f a9c1-a9cd "
    "a9de-a9df aa5c-aa5f aade-aadf aaf0-aaf1 abeb fd3e-fd3f fe10-fe19 fe30-fe52 fe54-fe61 fe63 fe68 fe6a-fe6b "
    "ff01-ff03 ff05-ff0a ff0c-ff0f ff1a-ff1b ff1f-ff20 ff3b-ff3d ff3f ff5b ff5d ff5f-ff65 10100-10102 1039f 103d0 "
    "1056f 10857 1091f 1093f 10a50-10a58 10a7f 10af0-10af6 10b39-10b3f 10b99-10b9c 11047-1104d 110bb-110bc "
    "110be-110c1 11140-11143 11174-11175 111c5-111c9 111cd 111db 111dd-111df 11238-1123d 112a9 114c6 115c1-115d7 "
    "11641-11643 1173c-1173e 12470-12474 16a6e-16a6f 16af5 16b37-16b3b 16b44 1bc9f 1da87-1da8b"
)
_TRIGGER = (  # marks with a nonzero combining class that survive, and chars that decompose into them
    "8d4-8e1 1b44 1baa 1bf2-1bf3 1dfb 302e-302f a953 a9c0 111c0 11235 1134d 11442 11446 116b6 11c3f 1d15e-1d166 "
    "1d16d-1d172 1d1bb-1d1c0 1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 1e026-1e02a 1e944-1e94a"
)
_OPAQUE = (  # chars the reference neither decomposes nor reorders although a newer Python does
    "7fd 897-89f 8ca-8d3 9fe c3c d3b-d3c eba 1715 1abf-1ace 1df6-1dfa a82c 105c9 105e4 10d24-10d27 10d69-10d6d "
    "10eab-10eac 10efd-10eff 10f46-10f50 10f82-10f85 11070 1133b 11383 11385 1138e 11391 113c5 113c7-113c8 "
    "113ce-113d0 1145e 11839-1183a 11938 1193d-1193e 11943 119e0 11a34 11a47 11a99 11d42 11d44-11d45 11d97 "
    "11f41-11f42 16121-16128 1612f 16d68-16d6a 16ff0-16ff1 1e08f 1e130-1e136 1e2ae 1e2ec-1e2ef 1e4ec-1e4ef "
    "1e5ee-1e5ef"
)
_LOWER_SPEC = (  # lowercase of the reference where some Python differs: "src>dst" or "lo-hi>dst-of-lo"
    "1c89>1c8a a7cb>264 a7cc>a7cd a7ce>a7cf a7d2>a7d3 a7d4>a7d5 a7da>a7db a7dc>19b 10d50-10d65>10d70 "
    "16ea0-16eb8>16ebb"
)

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class _Ranges:
    """Membership in code point ranges written as "a-b c d-e" (hex)."""

    def __init__(self, spec):
        bounds = [[int(x, 16) for x in item.split("-")] for item in spec.split()]
        self.starts, self.ends = [b[0] for b in bounds], [b[-1] for b in bounds]

    def __contains__(self, cp):
        return cp <= self.ends[bisect.bisect_right(self.starts, cp) - 1] if cp >= self.starts[0] else False

    def regex(self, fmt="{}"):
        return re.compile(fmt.format("[" + "".join(
            f"\\U{a:08x}" + (f"-\\U{b:08x}" if b > a else "") for a, b in zip(self.starts, self.ends)) + "]"))


REMOVED, SPACE, CHINESE, MN, PUNCT, OPAQUE = map(_Ranges, (_REMOVED, _SPACE, _CHINESE, _MN, _PUNCT, _OPAQUE))
_REMOVED_SUB = REMOVED.regex().sub
_TRIGGER_RE = _Ranges(_TRIGGER).regex()
_OPAQUE_SPLIT = OPAQUE.regex("({}+)").split
_LOWER = {cp: chr(cp - int(lo, 16) + int(dst, 16)) for lo, hi, dst in re.findall(r"(\w+)-?(\w*)>(\w+)", _LOWER_SPEC)
          for cp in range(int(lo, 16), int(hi or lo, 16) + 1)}


class _CharMap(dict):
    """A str.translate table: code point -> what normalization and pre-tokenization make of
    that char alone (None: dropped; spaces around it: a word of its own). Filled on first
    sight, so the per-char Python work is done once per distinct char, not per occurrence."""

    def __init__(self, *, lowercase):
        super().__init__()
        self.lowercase = lowercase
        for cp in range(128):
            self[cp]  # fill the ASCII block now

    def __missing__(self, cp):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:  # the reference cannot even take such a str
            raise EmbedderError(f"text holds a lone surrogate U+{cp:04X}, which is not valid Unicode")
        if cp in REMOVED:
            out = None
        elif cp in SPACE:
            out = " "
        elif cp in CHINESE:
            out = f" {unicodedata.normalize('NFD', ch) if self.lowercase else ch} "
        else:
            if self.lowercase:  # accents are stripped when lowercasing, as in the reference
                if cp not in OPAQUE:
                    ch = unicodedata.normalize("NFD", ch)
                ch = "".join(_LOWER.get(ord(c)) or c.lower() for c in ch if ord(c) not in MN)
            out = "".join(f" {c} " if ord(c) in PUNCT else c for c in ch)
        self[cp] = out
        return out


class WordPiece:
    """A WordPiece tokenizer over a vocabulary given as lines (line i is token id i).

    >>> wp = WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able"])
    >>> wp.encode("Unaffable!")      # "!" is not in this vocabulary
    [2, 5, 6, 7, 1, 3]
    """

    max_word_chars = 100  # a longer word is one [UNK], as in the reference
    cache_size = 100_000  # words remembered with their ids; the cache is emptied when full

    def __init__(self, vocab_lines, *, lowercase=True, max_length=256, specials=SPECIALS):
        self.vocab = {}
        for i, line in enumerate(vocab_lines):
            self.vocab.setdefault(line.rstrip("\r\n"), i)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        missing = [t for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]") if t not in self.vocab]
        if missing:
            raise EmbedderError(f"the vocabulary lacks {', '.join(missing)}")
        if not isinstance(max_length, int) or max_length < 2:
            raise EmbedderError(f"max_length must be an integer >= 2, got {max_length!r}")
        self.lowercase, self.max_length = bool(lowercase), max_length
        self.unk_id, self.cls_id = self.vocab["[UNK]"], self.vocab["[CLS]"]
        self.sep_id, self.pad_id = self.vocab["[SEP]"], self.vocab["[PAD]"]
        self.special_ids = {t: self.vocab[t] for t in specials if t in self.vocab}
        # longest first, so a special token that starts another one cannot cut it short
        alternatives = "|".join(map(re.escape, sorted(self.special_ids, key=len, reverse=True)))
        self._split_specials = re.compile(f"({alternatives})").split if alternatives else None
        self._longest = max(len(t[2:] if t.startswith("##") else t) for t in self.vocab)
        self._map = _CharMap(lowercase=self.lowercase)
        self._cache = {}

    @classmethod
    def from_dir(cls, model_dir, *, max_length=None):
        """The tokenizer of a Hugging Face model folder: vocab.txt, and tokenizer.json (checked to
        be plain BERT WordPiece), tokenizer_config.json and sentence_bert_config.json if present.
        max_length defaults to sentence-transformers' max_seq_length, else model_max_length.

        >>> WordPiece.from_dir(model_dir).encode("Hello world")   # doctest: +SKIP
        [101, 7592, 2088, 102]
        """
        def config(name):
            path = os.path.join(model_dir, name)
            if not os.path.exists(path):
                return {}
            with open(path, encoding="utf-8") as f:
                return json.load(f)

        tok, tcfg = config("tokenizer.json"), config("tokenizer_config.json")
        lowercase, specials = tcfg.get("do_lower_case", True), SPECIALS
        if tok:  # what `tokenizers` runs: refuse what this module does not implement
            norm, model, added = tok.get("normalizer") or {}, tok.get("model") or {}, tok.get("added_tokens") or []
            got = [norm.get(k) for k in ("type", "clean_text", "handle_chinese_chars")] + [
                (tok.get("pre_tokenizer") or {}).get("type")] + [
                model.get(k) for k in ("type", "continuing_subword_prefix", "max_input_chars_per_word")]
            if got != ["BertNormalizer", True, True, "BertPreTokenizer", "WordPiece", "##", cls.max_word_chars] \
                    or norm.get("strip_accents") not in (None, norm.get("lowercase")) \
                    or any(a.get(k) for a in added for k in ("normalized", "single_word", "lstrip", "rstrip")):
                raise EmbedderError(f"{model_dir}/tokenizer.json is not a plain BERT WordPiece tokenizer")
            lowercase, specials = norm["lowercase"], tuple(a["content"] for a in added)
        if max_length is None:
            max_length = config("sentence_bert_config.json").get("max_seq_length") \
                or tcfg.get("model_max_length") or 512
        with open(os.path.join(model_dir, "vocab.txt"), encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        return cls(lines[:-1] if lines[-1] == "" else lines, lowercase=lowercase,
                   max_length=max_length, specials=specials)

    @property
    def vocab_size(self):
        """How many distinct ids the vocabulary has (30522 for all-MiniLM-L6-v2)."""
        return len(self.id_to_token)

    def words(self, text):
        """The normalized words of a text without special tokens, as WordPiece sees them.

        >>> WordPiece(SPECIALS).words("Café, NAÏVE!")
        ['cafe', ',', 'naive', '!']
        """
        if self.lowercase and not text.isascii():
            first = _TRIGGER_RE.search(text)
            if first and _TRIGGER_RE.search(text, first.end()):
                # Two marks that NFD may reorder: NFD the whole text, not char by char, once the
                # chars the reference drops first are gone, but not across chars it sees as plain.
                parts = _OPAQUE_SPLIT(_REMOVED_SUB("", text))
                text = "".join(p if k & 1 else unicodedata.normalize("NFD", p) for k, p in enumerate(parts))
        return text.translate(self._map).split()

    def _pieces(self, text, limit):
        """The ids of a text's pieces: all of them, or at least `limit`."""
        ids, cache, vocab, unk = [], self._cache, self.vocab, self.unk_id
        parts = self._split_specials(text) if self._split_specials and "[" in text else (text,)
        for k, part in enumerate(parts):
            if k & 1:  # re.split puts the special tokens it matched at odd positions
                ids.append(self.special_ids[part])
                continue
            for word in self.words(part)[: max(limit - len(ids), 0)]:  # a word gives >= 1 piece
                got = cache.get(word)
                if got is None:
                    got = self._wordpiece(word, vocab, unk)
                    if len(cache) >= self.cache_size:
                        cache.clear()
                    cache[word] = got
                ids += got
            if len(ids) >= limit:
                break
        return ids

    def _wordpiece(self, word, vocab, unk):
        if len(word) > self.max_word_chars:
            return (unk,)
        out, start, n = [], 0, len(word)
        while start < n:
            prefix = "##" if start else ""
            for end in range(min(n, start + self._longest), start, -1):
                i = vocab.get(prefix + word[start:end])
                if i is not None:
                    out.append(i)
                    start = end
                    break
            else:
                return (unk,)  # a rest that matches nothing makes the whole word unknown
        return tuple(out)

    def encode(self, text):
        """[CLS] + pieces + [SEP], at most max_length ids in all.

        >>> WordPiece(SPECIALS + ("a",), max_length=4).encode("a a a a")
        [2, 5, 5, 3]
        """
        if not isinstance(text, str):
            raise EmbedderError(f"text is {type(text).__name__}, not str")
        limit = self.max_length - 2
        # A long text is tried on growing prefixes cut at ' ' or '\n' (which always end a word),
        # so a 1 MB document costs about what its first max_length pieces cost.
        window = 8 * limit + 256
        while window < len(text):
            cut = max(text.rfind(" ", 0, window), text.rfind("\n", 0, window))
            if cut > 0:
                ids = self._pieces(text[:cut], limit)
                if len(ids) >= limit:
                    break
            window *= 4
        else:
            ids = self._pieces(text, limit)
        return [self.cls_id, *ids[:limit], self.sep_id]

    def encode_batch(self, texts):
        """encode() of each text: WordPiece(SPECIALS).encode_batch(["", "[SEP]"]) == [[2, 3], [2, 3, 3]]."""
        if isinstance(texts, str):
            raise EmbedderError("encode_batch() takes a list of texts; wrap a single text in a list")
        return [self.encode(t) for t in texts]

    def tokens(self, text):
        """The token strings of encode(text), for debugging."""
        return [self.id_to_token[i] for i in self.encode(text)]
