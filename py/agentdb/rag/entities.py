"""Entity spans of a text by a deterministic heuristic (no model, no LLM): runs of capitalised
words (with lowercase connectors such as "de" or "van" inside a run), leading function words
("The", "In", "Who", ...) dropped, possessive "'s" cut, and quoted phrases. An entity's key is
its name in lower case with single spaces; its graph node id is "entity:<key>".

>>> extract_entities("In which city is the company that Alice Moreau's sister works for located?")
['Alice Moreau']
>>> extract_entities('The Zentro phone is made by Kestrel Works in the Czech Republic.')
['Zentro', 'Kestrel Works', 'Czech Republic']
>>> entity_id("Alice  Moreau")
'entity:alice moreau'
"""
import re

from ..errors import ArgumentError

ENTITY_PREFIX = "entity:"
# words that start sentences and questions capitalised without naming anything
FUNCTION_WORDS = frozenset("""
a an the this that these those there here it its in on at of for from to by with into onto over under after before
during since until about and or but nor so yet if when where what which who whom whose why how is are was were be
been do does did has have had can could will would shall should may might must i we you he she they my our your his
her their me us him them also then than not no yes all any some each every both either neither one many much most
more less few other another such only just very please tell find show give list name
""".split())
CONNECTORS = frozenset({"de", "del", "della", "der", "van", "von", "da", "di", "du", "la", "le", "of", "y", "bin", "al"})
_TOKEN = re.compile(r"[\"“”]|[A-Za-zÀ-ÖØ-öø-ÿ0-9][\w’'\-]*", re.U)
_QUOTED = re.compile(r"[\"“]([^\"“”]{2,80})[\"”]")
MAX_TEXT = 100_000


def _words(value):
    """The text's words with their possessive cut and whether a run may continue past them."""
    for m in _TOKEN.finditer(value):
        word = m.group(0)
        if word in "\"“”":
            yield None, False
            continue
        end = m.end()
        cut = re.sub(r"[’']s$|[’']$", "", word)
        after = value[end:end + 2]
        # punctuation right after a word ends the run; a possessive ends it as well
        yield cut, cut == word and not (after[:1] in ",.;:!?()[]" and after[:1] != "")


def extract_entities(value):
    """The distinct entity names in `value`, in order of first appearance (see the module)."""
    if not isinstance(value, str):
        raise ArgumentError(f"extract_entities() needs a string, got {type(value).__name__}")
    value = value[:MAX_TEXT]
    found, seen = [], set()

    def keep(run):
        while run and run[0].lower() in FUNCTION_WORDS:
            run = run[1:]
        while run and run[-1].lower() in CONNECTORS:
            run = run[:-1]
        if run:
            name = " ".join(run)
            key = entity_key(name)
            if key not in seen:
                seen.add(key)
                found.append(name)

    run = []
    for word, continues in _words(value):
        if word and word[0].isupper():
            run.append(word)
        elif word and run and word in CONNECTORS:
            run.append(word)
            continue
        else:
            keep(run)
            run = []
            continue
        if not continues:
            keep(run)
            run = []
    keep(run)
    for m in _QUOTED.finditer(value):
        name = " ".join(m.group(1).split())
        if name and entity_key(name) not in seen:
            seen.add(entity_key(name))
            found.append(name)
    return found


def entity_key(name):
    """An entity's key: its name in lower case, runs of whitespace made one space.

    >>> entity_key(" Kestrel   Works ")
    'kestrel works'
    """
    return " ".join(name.lower().split())


def entity_id(name):
    """The graph node id of the entity `name` ("entity:<key>")."""
    return ENTITY_PREFIX + entity_key(name)
