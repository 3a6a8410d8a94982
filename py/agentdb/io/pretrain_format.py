"""Dataset rows as pre-training text: plain documents a language model can be trained on,
one per row, each closed by a line <|endoftext|>:

    <|episode|>                      the row's type, in <| |>
    ### Task                         a section: a line "### <Name>", then its text
    sort a list
    ### Output
    used sorted()
    ...
    <|endoftext|>

Sections by type: episode: Session, Task, Input, Output, Critique, Reward, Success;
feedback: Query, Useful, Shown (ids, one per line); triplet: Query, Positive, Negative
(texts). Empty sections are left out. A text line that starts with "### ", "<|" or "\\" is
written with one "\\" in front (the reader takes it off), so every text comes back as it
was. Vectors, ids and timestamps are not in the text: an import stores the episodes anew,
embedded by the memory's embedder, and skips feedback and triplets (they name records).
"""
from ..errors import FormatError
from .dataset_rows import KINDS

END = "<|endoftext|>"
SECTIONS = {"episode": ("Session", "Task", "Input", "Output", "Critique", "Reward", "Success"),
            "feedback": ("Query", "Useful", "Shown"), "triplet": ("Query", "Positive", "Negative")}


def _sections(row):
    md = row["metadata"] or {}
    if row["type"] == "episode":
        return {"Session": md.get("session", ""), "Task": row["text"], "Input": md.get("input", ""),
                "Output": row["positive"] or "", "Critique": row["negative"] or "",
                "Reward": repr(float(row["reward"])), "Success": "yes" if md.get("success") else "no"}
    if row["type"] == "feedback":
        return {"Query": row["text"] or "", "Useful": "\n".join((row["positive"] or "").split()),
                "Shown": "\n".join((row["negative"] or "").split())}
    return {"Query": row["text"] or "", "Positive": row["positive"] or "", "Negative": row["negative"] or ""}


def _escape(line):
    return "\\" + line if line.startswith(("### ", "<|", "\\")) else line


def write_row(fh, row):
    """Writes one row as one document.

    >>> import io; out = io.StringIO()
    >>> write_row(out, {"type": "triplet", "text": "q", "positive": "### yes", "negative": "no", "metadata": {}})
    >>> print(out.getvalue(), end="")
    <|triplet|>
    ### Query
    q
    ### Positive
    \\### yes
    ### Negative
    no
    <|endoftext|>
    """
    fh.write(f"<|{row['type']}|>\n")
    for name, text in _sections(row).items():
        if text:
            fh.write(f"### {name}\n")
            fh.write("".join(_escape(line) + "\n" for line in text.split("\n")))
    fh.write(END + "\n")


def read_documents(lines):
    """(type, {section name: text}) of each document, in order; FormatError names the line.

    >>> list(read_documents(["<|feedback|>", "### Useful", "note:1", "note:2", "<|endoftext|>"]))
    [('feedback', {'Useful': 'note:1\\nnote:2'})]
    """
    kind, sections, name = None, {}, None
    n = 0
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if kind is None:
            if not line:
                continue
            if not (line.startswith("<|") and line.endswith("|>")) or line[2:-2] not in KINDS:
                raise FormatError(f"line {n}: a document starts with one of "
                                  f"{['<|' + k + '|>' for k in KINDS]}, got {line[:40]!r}", n)
            kind, sections, name = line[2:-2], {}, None
        elif line == END:
            yield kind, {k: "\n".join(v) for k, v in sections.items()}
            kind = None
        elif line.startswith("### "):
            name = line[4:]
            if name not in SECTIONS[kind] or name in sections:
                raise FormatError(f"line {n}: a {kind} document has the sections {list(SECTIONS[kind])}, "
                                  f"each once; got {name!r}", n)
            sections[name] = []
        elif name is None or line.startswith("<|"):
            raise FormatError(f"line {n}: text outside a section (a line starting '<|' is written '\\<|')", n)
        else:
            sections[name].append(line[1:] if line.startswith("\\") else line)
    if kind is not None:
        raise FormatError(f"line {n}: the last document has no {END} line (cut short?)", n)


def episode_of(sections):
    """store_episode's arguments of an episode document.

    >>> episode_of({"Session": "s", "Task": "t", "Reward": "0.5", "Success": "yes"})["success"]
    True
    """
    try:
        reward = float(sections.get("Reward", ""))
    except ValueError:
        raise FormatError(f"an episode's Reward must be a number, got {sections.get('Reward')!r}") from None
    if sections.get("Success", "no") not in ("yes", "no") or "Task" not in sections:
        raise FormatError("an episode has a Task and a Success of yes or no")
    return {"session": sections.get("Session", "pretrain"), "task": sections["Task"],
            "input": sections.get("Input", ""), "output": sections.get("Output", ""),
            "critique": sections.get("Critique", ""), "reward": reward, "success": sections.get("Success") == "yes"}
