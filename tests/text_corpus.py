"""Deterministic, varied real text for tokenizer and embedder tests, built from what is already
on the machine (nothing is downloaded, nothing is cached on disk): docstrings of the standard
library and of installed packages, man pages (English and their translations: German, French,
Russian, Ukrainian, Japanese, Korean, Chinese, ...), package licences and READMEs, glibc locale
names (Greek, Arabic, Hebrew, Hindi, Thai, Georgian, ...), and generated odd text (emoji with
ZWJ and skin tones, combining marks, control and zero-width chars, full-width forms, literal
special tokens, very long words and texts). Every source is optional: a bare machine still
gets a corpus, only a less varied one. Same machine + same seed = same corpus; the seed is
the argument, or AGENTDB_CORPUS_SEED when the argument is None, never the clock.

>>> s = sentences(50, seed=1)
>>> len(s) == len(set(s)) == 50 and s == sentences(50, seed=1)
True
>>> odd = texts(40)
>>> "" in odd and any(len(t.split()) > 1000 for t in odd)
True
"""
import functools
import glob
import gzip
import importlib.util
import os
import random
import re
import sysconfig
import unicodedata

SEED = int(os.environ.get("AGENTDB_CORPUS_SEED", "0"))
MAN = "/usr/share/man"
LOCALES = "/usr/share/i18n/locales"
# Packages whose docstrings are read when installed (all optional).
PACKAGES = ("numpy", "scipy", "sympy", "networkx", "sklearn", "pygments", "hypothesis", "click")


def _seed(seed):
    return SEED if seed is None else seed


# ---- sentence splitting -------------------------------------------------------------------

_SPLIT = re.compile(r"(?<=[.!?;])\s+(?=\S)|(?<=[。！？])")
_NON_LETTERS = re.compile(r"[\W\d_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def _words(s):
    # CJK sentences have few spaces: count about two ideographs or kana as a word
    return max(len(s.split()), len(_CJK.findall(s)) // 2)


def _sentences_of(text, *, prose=True):
    """Sentences of 3..80 words from paragraphs (blank-line separated) of a text."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        for s in _SPLIT.split(para):
            s = s.strip()
            if not 3 <= _words(s) <= 80 or len(s) > 900:
                continue
            if prose and len(_NON_LETTERS.sub("", s)) < 0.55 * len(s):  # mostly code or tables
                continue
            out.append(s)
    return out


# ---- sources ------------------------------------------------------------------------------

_DOCSTRING = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.S)


def _py_files():
    stdlib = sysconfig.get_paths()["stdlib"]
    files = sorted(glob.glob(os.path.join(stdlib, "*.py")))[::2]
    for sub in ("email", "json", "http", "asyncio", "unittest", "logging", "importlib",
                "urllib", "concurrent/futures", "xml/dom", "sqlite3", "multiprocessing"):
        files += sorted(glob.glob(os.path.join(stdlib, sub, "*.py")))
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)  # finds, never imports
        if spec and spec.submodule_search_locations:
            root = spec.submodule_search_locations[0]
            found = sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True))
            found = [f for f in found if "/tests/" not in f]
            files += found[:: max(1, len(found) // 25)]  # 25 files spread over the package
    return files


def _docstrings():
    """Every docstring of the standard library and installed packages (_py_files), in order."""
    for path in _py_files():
        try:
            with open(path, encoding="utf-8") as f:
                src = f.read(200_000)
        except (OSError, UnicodeDecodeError):
            continue
        for m in _DOCSTRING.finditer(src):
            yield m.group(1) or m.group(2) or ""


@functools.lru_cache(maxsize=None)
def doc_sentences():
    """Sentences from docstrings of the standard library and installed packages."""
    return [s for doc in _docstrings() for s in _sentences_of(doc)]


_ROFF_TEXT = {"B", "I", "BR", "RB", "IR", "RI", "BI", "IB", "SM", "SB", "SH", "SS", "TP", "IP"}
_ROFF_CHARS = {"em": "\u2014", "en": "\u2013", "aq": "'", "lq": "\u201c", "rq": "\u201d",
               "oq": "\u2018", "cq": "\u2019", "bu": "\u2022", "co": "\u00a9", "mu": "\u00d7",
               "dq": '"', "ti": "~", "ha": "^", "rs": "\\", "hy": "-"}
_ROFF_ESC = re.compile(r'\\"[^\n]*|\\f(?:\[[^\]]*\]|\(..|.)|\\[(*](?:\[[^\]]*\]|\(..|..)'
                       r"|\\\[[^\]]*\]|\\s[+-]?\d+|\\[-e&|^ c0~%:]")


def _roff_escape(m):
    e = m.group(0)
    if e in ("\\-", "\\~", "\\ ", "\\0"):
        return "-" if e == "\\-" else " "
    if e == "\\e":
        return "\\"
    name = e.strip("\\([]*")
    return _ROFF_CHARS.get(name, "") if e[1] in "([" else ""


def strip_roff(src):
    """Man page source -> plain text, crudely (macros dropped, text of B/I/SH kept).

    >>> strip_roff('.TH LS 1\\n.SH NAME\\nls \\\\- list \\\\fBdirectory\\\\fR contents')
    '\\n\\nNAME\\nls - list directory contents'
    """
    out = []
    for line in src.splitlines():
        if line.startswith((".", "'")):
            m = re.match(r"[.']\s*(\w+)\s*(.*)", line)
            out.append("")  # a macro line breaks the paragraph
            if not m or m.group(1) not in _ROFF_TEXT:
                continue
            line = m.group(2).replace('"', "")
        out.append(_ROFF_ESC.sub(_roff_escape, line))
    return "\n".join(out)


def _man_files():
    """English pages spread over the sections, and up to 10 pages of each translation."""
    english = sorted(glob.glob(os.path.join(MAN, "man[1-8]", "*.gz")))
    files = english[:: max(1, len(english) // 120)]
    for lang in sorted(glob.glob(os.path.join(MAN, "*"))):
        if not os.path.basename(lang).startswith("man"):
            files += sorted(glob.glob(os.path.join(lang, "man*", "*.gz")))[:10]
    return files


@functools.lru_cache(maxsize=None)
def man_sentences():
    """{language: sentences} from man pages ("en" for the untranslated ones)."""
    out = {}
    for path in _man_files():
        try:
            with gzip.open(path) as f:
                raw = f.read(400_000)
        except (OSError, EOFError):
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        parts = os.path.relpath(path, MAN).split(os.sep)
        lang = "en" if parts[0].startswith("man") else parts[0]
        out.setdefault(lang, []).extend(_sentences_of(strip_roff(text)))
    return out


@functools.lru_cache(maxsize=None)
def package_sentences():
    """Sentences from licence, METADATA and README files in site-packages."""
    site = sysconfig.get_paths()["purelib"]
    files = sorted(glob.glob(os.path.join(site, "*.dist-info", "LICEN[CS]E*"))
                   + glob.glob(os.path.join(site, "*.dist-info", "licenses", "*"))
                   + glob.glob(os.path.join(site, "*.dist-info", "METADATA"))
                   + glob.glob(os.path.join(site, "*", "model", "README.md")))
    out = []
    for path in files:
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read(100_000)
            if path.endswith("METADATA"):  # skip the e-mail style header, keep the README
                text = text.partition("\n\n")[2]
            out += _sentences_of(text)
    return out


@functools.lru_cache(maxsize=None)
def locale_words():
    """{locale: [non-ASCII words]} from glibc locale sources (month and day names, language and
    country names), whose strings are written as <Uxxxx> code points."""
    out = {}
    for path in sorted(glob.glob(os.path.join(LOCALES, "*_*"))):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                src = f.read()
        except OSError:
            continue
        words = set()
        for s in re.findall(r'"((?:<U[0-9A-Fa-f]{4,8}>)+)"', src):
            w = "".join(chr(int(h, 16)) for h in re.findall(r"<U([0-9A-Fa-f]+)>", s))
            if not w.isascii() and w.isprintable() and " " not in w.strip():
                words.add(w.strip())
        if len(words) >= 8:
            out[os.path.basename(path)] = sorted(words)
    return out


# ---- generated text -----------------------------------------------------------------------

_ALPHABETS = {  # letters to build words from when locale sources are missing
    "greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ",
    "cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЭЮЯ",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي" + "\u064b\u064e\u064f\u0650\u0651\u0652",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת" + "\u05b0\u05b4\u05b7\u05bc",
    "devanagari": "अआइईउएओकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह" + "\u093e\u093f\u0940\u0941\u094d\u0902",
    "thai": "กขคงจฉชซญดตถทธนบปผพฟภมยรลวศษสหอฮะาำิีึืุู่้๊๋",
    "hangul": "가나다라마바사아자차카타파하각난닫랄맘밥삿앙잦찿캌탙팦핳한국어",
    "kana": "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほアイウエオカキクケコ",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过",
    "latin": "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿœšžłąęńśźżčřůőűğışĀĒĪŌŪ",
}
_EMOJI = ["😀", "🎉", "👍", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇯🇵", "🇫🇷", "1️⃣", "🧠",
          "🥰", "🫠", "🤷🏿‍♀️", "✈️", "☕", "🦀", "🐍", "🚀"]
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202c"
_CONTROL = "".join(map(chr, [0, 1, 7, 8, 0x0b, 0x0c, 0x1b, 0x1c, 0x1f, 0x7f, 0x85, 0x9f]))
_SPACES = " \t\n\r\u00a0\u1680\u2003\u2009\u202f\u205f\u3000\u2028"
_COMBINING = [chr(c) for c in range(0x300, 0x370)] + ["\u0483", "\u05b4", "\u0651", "\u093c", "\u20dd"]
_EMPTY = ["", " ", "  \t\n ", "\u3000", "\u200b", "\x00\x01", "\r\n", "\ufeff", "\u00a0\u2028"]
_SPECIALS = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[sep]", "[Mask]", "[ CLS]", "[CLS", "[unused1]"]


def _script_word(rng, script):
    letters = _ALPHABETS[script]
    return "".join(rng.choice(letters) for _ in range(rng.randint(1, 9)))


def _foreign_word(rng):
    locales = locale_words()
    if locales and rng.random() < 0.6:
        return rng.choice(locales[rng.choice(sorted(locales))])
    return _script_word(rng, rng.choice(sorted(_ALPHABETS)))


def _english(rng):
    pool = doc_sentences() or package_sentences() or ["The quick brown fox jumps over the lazy dog."]
    return rng.choice(pool)


def _mixed_sentence(rng):
    """An English sentence with foreign words, accents, emoji or CJK spliced in."""
    words = _english(rng).split()
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.5:
            item = _foreign_word(rng)
        elif kind < 0.7:
            item = rng.choice(_EMOJI)
        elif kind < 0.85:
            item = "".join(rng.choice(_ALPHABETS["cjk"]) for _ in range(rng.randint(2, 6)))
        else:
            item = _script_word(rng, "latin")
        words.insert(rng.randint(0, len(words)), item)
    return " ".join(words)


def _foreign_sentence(rng):
    return " ".join(_foreign_word(rng) for _ in range(rng.randint(3, 20))) + rng.choice(".?!…。")


def _sprinkle(rng, text, chars, rate=0.08):
    return "".join(c + rng.choice(chars) if rng.random() < rate else c for c in text)


def _random_codepoints(rng, n):
    out = []
    while len(out) < n:
        cp = rng.choice([rng.randrange(0x80, 0x3000), rng.randrange(0x3000, 0x10000),
                         rng.randrange(0x10000, 0x30000), rng.randrange(0xE0000, 0x110000)])
        if not 0xD800 <= cp <= 0xDFFF:
            out.append(chr(cp))
    return "".join(out)


def _odd(rng, k):
    """One odd input of kind k (the kinds cycle)."""
    base = _english(rng)
    kinds = [
        lambda: _EMPTY[k // len(kinds) % len(_EMPTY)],  # the first cycle gives ""
        lambda: " ".join(rng.choice(_SPECIALS + base.split()) for _ in range(rng.randint(1, 12))),
        lambda: "x" + rng.choice(_SPECIALS) + "y " + rng.choice(_SPECIALS) + rng.choice(_SPECIALS),
        lambda: _sprinkle(rng, base, _CONTROL),
        lambda: _sprinkle(rng, base, _ZERO_WIDTH),
        lambda: _sprinkle(rng, base, _SPACES, 0.15),
        lambda: " ".join(rng.choice(_EMOJI) + rng.choice(["", "\ufe0f", "\U0001f3fb", "\u200d"])
                         for _ in range(rng.randint(1, 10))),
        lambda: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in base),
        lambda: _sprinkle(rng, base, _COMBINING, 0.3),
        lambda: unicodedata.normalize(rng.choice(["NFD", "NFC", "NFKC", "NFKD"]), _mixed_sentence(rng)),
        lambda: _foreign_sentence(rng),
        lambda: "".join(_foreign_word(rng) for _ in range(rng.randint(2, 8))),  # scripts, no spaces
        lambda: rng.choice("abcdeé中ñ-") * rng.randint(95, 400),  # long single words
        lambda: "".join(rng.choice(_ALPHABETS["latin"] + "abcdefghij") for _ in range(rng.randint(99, 102))),
        lambda: " ".join(_english(rng) for _ in range(rng.randint(150, 400))),  # thousands of words
        lambda: _random_codepoints(rng, rng.randint(1, 60)),
        lambda: rng.choice(["İSTANBUL ıi", "ΟΔΥΣΣΕΥΣ Σίσυφος", "Straße STRASSE ß ẞ", "ﬁne ﬂow Ǆ ǅ",
                            "\u212a\u2126\u212b", "Ⅻ ① ㍿ ㈱", "\U0001d400\U0001d41a \U0001d7d8"]),
        lambda: rng.choice(["https://example.com/a?b=1&c=%20#x", "x = f(a[1], **kw)  # no-op",
                            "3.14159e-10 + 2,500,000 = ?", "user@example.org", "C:\\Temp\\a b.txt",
                            "¡¿!!??...---~~~***", "(((nested [brackets] {here})))"]),
        lambda: "\U0001d15f\U0001d16d\U0001d165 \u1e00\u08d4\u08e3\u0301\u08d5 a\u1dfb\u0316\u302e\u302f",
    ]
    return kinds[k % len(kinds)]()


# ---- public -------------------------------------------------------------------------------

def sentences(n=2000, seed=None):
    """n distinct sentences of about 3..80 words: English prose from docstrings, man pages and
    licences, translated man pages in every language on the machine, and generated
    multilingual sentences (about 15%). Same seed, same list.

    >>> all(isinstance(s, str) and s.strip() for s in sentences(20))
    True
    """
    rng = random.Random(_seed(seed))
    men = man_sentences()
    foreign = [men[lang] for lang in sorted(men) if lang != "en"]
    pools = [(0.35, doc_sentences()), (0.20, men.get("en", [])), (0.05, package_sentences())]
    pools += [(0.25 / len(foreign), p) for p in foreign]
    out, seen = [], set()

    def take(s):
        if s not in seen:
            seen.add(s)
            out.append(s)

    for share, pool in pools:
        for s in rng.sample(pool, min(len(pool), round(share * n))):
            take(s)
    rest = [s for _, pool in pools for s in pool]
    for _ in range(50 * n):  # generated sentences, then any real ones, until n
        if len(out) >= n:
            break
        if rest and len(out) >= 0.85 * n and rng.random() < 0.5:
            take(rng.choice(rest))
        else:
            take(_mixed_sentence(rng) if rng.random() < 0.6 else _foreign_sentence(rng))
    rng.shuffle(out)
    return out[:n]


def docstring_pairs(n=600, seed=None):
    """(summary, body) pairs of real docstrings, for retrieval tests: the summary is the
    first line of a docstring, the body the next two to four sentences of it (about the same
    thing in other words). Same seed, same list.

    >>> pairs = docstring_pairs(20, seed=1)
    >>> len(pairs) == 20 and all(q and d and q not in d for q, d in pairs)
    True
    """
    found, seen = [], set()
    for doc in _docstrings():
        first, _, rest = doc.strip().partition("\n")
        summary = " ".join(first.split())
        body = _sentences_of(rest)[:4]
        if 4 <= len(summary.split()) <= 30 and len(body) >= 2 and summary not in seen:
            seen.add(summary)
            found.append((summary, " ".join(body)))
    rng = random.Random(_seed(seed))
    return rng.sample(found, min(n, len(found)))


def texts(n=500, seed=None):
    """n odd inputs for tokenizers: empty and whitespace-only strings, literal special tokens,
    control and zero-width chars, emoji sequences, full-width forms, combining marks, mixed
    scripts without spaces, words of > 100 chars, texts of thousands of words and random code
    points. Not deduplicated (the empty string may recur).

    >>> len(texts(25, seed=3)) == 25
    True
    """
    rng = random.Random(_seed(seed) + 0x5EED)
    return [_odd(rng, k) for k in range(n)]
