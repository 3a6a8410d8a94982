"""Splitting a question into sub-queries. The default is a deterministic heuristic: the whole
question, then its clauses (split at sentence ends, semicolons and coordinating "and" / "or"
/ "but" between clauses of three or more words), then each clause's relative clause ("the
company that Alice works for") and possessive ("Alice's employer") split from the rest, so a
part naming an entity ("Alice Moreau works for") and a part asking the relation ("In which city
is the company located") are retrieved apart. With an LLM callable, its JSON list is used
instead (parsed strictly by agentdb.rag.llm; anything malformed falls back to the heuristic
with an LLMOutputWarning). Sub-queries are de-duplicated (case and spacing ignored) and capped.

>>> decompose("In which city is the company that Alice Moreau works for located?")
['In which city is the company that Alice Moreau works for located?', 'In which city is the company located', 'Alice Moreau works for']
>>> decompose("Who founded Vantex and where is Corvia based?")
['Who founded Vantex and where is Corvia based?', 'Who founded Vantex', 'where is Corvia based']
>>> decompose("Where is the company Rosa founded?", llm=lambda p: '["Which company did Rosa found?", "Where is it?"]')
['Where is the company Rosa founded?', 'Which company did Rosa found?', 'Where is it?']
"""
import re

from ..errors import ArgumentError
from . import llm as llm_calls

RELATIVE = ("that", "which", "who", "whom", "whose", "where")
WH = ("where", "which", "what", "who", "when", "whom", "how")
AUXILIARIES = ("is", "was", "are", "were", "does", "did", "do", "has", "had", "have", "can", "will")
PARTICIPLES = ("born", "made", "built", "run", "grown", "known", "found", "held", "set", "begun", "written")
PREPOSITIONS = ("for", "at", "in", "by", "with", "from", "on", "of", "to")
_CLAUSE_END = re.compile(r"(?<=[.?!;])\s+|;\s*")
_COORDINATE = re.compile(r",?\s+\b(?:and|or|but)\b\s+", re.I)
_OF_ENTITY = re.compile(r"\bthe\s+(\w+)(\s+of\s+(?:the\s+)?(?:[A-Z][\w\-]*)(?:\s+[A-Z][\w\-]*)*)\b(?![\w\-]|[’']s|\s+[A-Z])")
_POSSESSIVE = re.compile(r"\b((?:[A-Z][\w\-]*\s+)*[A-Z][\w\-]*)[’']s\s+(\w+)")
MAX_QUESTION = 4000      # characters of a question considered


def _clean(text):
    return " ".join(text.strip(" \t\n,.;:?!").split())


def _clauses(question):
    parts = []
    for sentence in _CLAUSE_END.split(question):
        pieces = _COORDINATE.split(sentence)
        if len(pieces) > 1 and all(len(_clean(p).split()) >= 3 for p in pieces):
            parts.extend(pieces)
        else:
            parts.append(sentence)
    return [_clean(p) for p in parts if _clean(p)]


def _split_relative(clause):
    """(outer, inner) of a clause with a relative clause after its first word or two, else None.
    In a question whose verb comes last ("Where was the founder of the company that makes the
    Zentro phone born?": a wh-word and an auxiliary first) the last word goes back to the outer
    part, as does what follows a preposition ending the relative clause ("... works for located")."""
    words = clause.split()
    verb_last = _verb_last(words)
    for i, word in enumerate(words[1:], 1):
        if word.lower() in RELATIVE and i + 1 < len(words) and words[i - 1].lower() not in ("of", "to", "in"):
            inner, tail = words[i + 1:], []
            if verb_last and len(inner) > 1:
                inner, tail = inner[:-1], inner[-1:]
            elif len(inner) > 1 and inner[-2].lower() in PREPOSITIONS:
                inner, tail = inner[:-1], inner[-1:]
            return " ".join(words[:i] + tail), " ".join(inner)
    return None


def _verb_last(words):
    """Whether a question reads wh-word (or "in which city"), auxiliary, ..., verb."""
    lowered = [w.lower() for w in words[:5]]
    last = words[-1].lower() if words else ""
    for i, w in enumerate(lowered):
        if w in WH and (i == 0 or lowered[0] in PREPOSITIONS):
            rest = lowered[i + 1:i + 3]
            aux = rest[0] if rest and rest[0] in AUXILIARIES else rest[1] if len(rest) > 1 and rest[1] in AUXILIARIES \
                else None
            # "does ... live" ends with a bare verb; "is ... located" with a participle
            return aux is not None and (aux in ("does", "did", "do") or last.endswith("ed") or last in PARTICIPLES)
    return False


def _split_of(clause):
    """("Where was the founder born", "the founder of Solvane") for "the <noun> of <Entity>" (the
    lowercase words after the entity go with it, but for a last verb: "the maker of the Orvo
    bicycle"); not for a possessive entity ("the founder of Farid's employer")."""
    m = _OF_ENTITY.search(clause)
    if not m:
        return None
    end, words = m.end(), clause[m.end():].split()
    keep = len(words) - 1 if _verb_last(clause.split()) else len(words)
    for w in words[:keep]:
        if not w[:1].islower() or w.lower() in RELATIVE or w.lower() in AUXILIARIES:
            break
        end = clause.index(w, end) + len(w)
    return _clean(clause[:m.start(2)] + clause[end:]), _clean(clause[m.start():end])


def _split_possessive(clause):
    """("In what city does the employer ...", "Alice Moreau employer") for a possessive "X's Y"."""
    m = _POSSESSIVE.search(clause)
    if not m:
        return None
    outer = clause[:m.start()] + "the " + m.group(2) + clause[m.end():]
    return _clean(outer), f"{m.group(1)} {m.group(2)}"


def heuristic(question):
    """The heuristic's sub-queries of a question (the question itself first)."""
    parts = [" ".join(question.split())]
    for clause in _clauses(question):
        parts.append(clause)
        for split in (_split_relative, _split_possessive, _split_of):
            pair = split(clause)
            if pair:
                parts.extend(pair)
    return parts


def prompt_for(question, max_sub_queries):
    """The decomposition prompt given to an LLM callable."""
    return ("Split the question into at most {n} short, self-contained search queries, one per fact the answer "
            "needs, in the order they must be answered. Reply with JSON only: {{\"sub_queries\": [\"...\"]}}.\n"
            "Question: {q}").format(n=max_sub_queries, q=question)


def decompose(question, *, llm=None, max_sub_queries=6):
    """The sub-queries of `question`: itself first, then the LLM's (when `llm` is given and its
    answer parses) or the heuristic's, de-duplicated, at most max_sub_queries in all."""
    question = check_question(question)
    if isinstance(max_sub_queries, bool) or not isinstance(max_sub_queries, int) or max_sub_queries < 1:
        raise ArgumentError(f"max_sub_queries must be a positive integer, got {max_sub_queries!r}")
    parts = None
    if llm is not None:
        given = llm_calls.ask(llm, prompt_for(question, max_sub_queries), llm_calls.sub_query_list,
                              "decomposition")
        if given is not None:
            parts = [" ".join(question.split())] + given
    if parts is None:
        parts = heuristic(question)
    out, seen = [], set()
    for part in parts:
        key = _clean(part).lower()
        if part and key not in seen:
            seen.add(key)
            out.append(part)
    return out[:max_sub_queries]


def check_question(question):
    """A question must be a string with more than whitespace (ArgumentError otherwise); very long
    ones are cut to MAX_QUESTION characters."""
    if not isinstance(question, str):
        raise ArgumentError(f"a question must be a string, got {type(question).__name__}")
    if not question.strip():
        raise ArgumentError("the question is empty")
    return question[:MAX_QUESTION]
