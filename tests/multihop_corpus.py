"""A fixed multi-hop corpus for agentdb.rag (shared by bench/bench_rag.py and the tests): a
seeded entity graph of people, organisations, cities, countries and products, one memory per
fact rendered as an English sentence (templates varied per fact), and questions whose answer
needs two or three linked facts, each with the ids of the facts it needs.

Relations: person works_at org, person born_in city, person lives_in city, org located_in
city, org founded_by person, product made_by org, city in_country country. Every relation is
a function (one object per subject), so every question has one answer and one chain.

>>> corpus = build(seed=7, people=30, orgs=10, products=15)
>>> corpus.facts[0].text
'Helga Sandoval joined Brightloom as an engineer.'
>>> q = corpus.questions(2)[0]; q.text
'Where is the company that manufactures the Vexa vacuum cleaner headquartered?'
>>> [corpus.fact(i).text for i in q.support]
['Tessaro manufactures the Vexa vacuum cleaner.', 'The offices of Tessaro are in Gothenburg.']
"""
import random
from dataclasses import dataclass

FIRST = ["Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Keiko", "Lars",
         "Marta", "Nikolai", "Olga", "Pablo", "Quentin", "Rosa", "Stefan", "Tamara", "Umar", "Vera", "Wendell",
         "Ximena", "Yusuf", "Zofia", "Anton", "Beatriz", "Cyril", "Dagny", "Emil", "Flora", "Gideon", "Helga",
         "Ivo", "Juno", "Kasimir", "Leona", "Milan", "Nadia"]
LAST = ["Moreau", "Lindqvist", "Okafor", "Petrov", "Sandoval", "Haddad", "Brennan", "Castellano", "Novak",
        "Takahashi", "Fischer", "Kowalski", "Duarte", "Achterberg", "Rahimi", "Vasquez", "Oyelaran", "Marchetti",
        "Halvorsen", "Delacroix", "Szabo", "Quiroga", "Nakamura", "Eriksen", "Villanueva", "Brandt", "Mbeki",
        "Ferreira", "Lombardi", "Kaminski"]
ORGS = ["Corvia", "Vantex", "Helionet", "Brightloom", "Quarrix", "Solvane", "Mirabyte", "Tessaro", "Orbilon",
        "Kestrel Works", "Nuvola Labs", "Fennick", "Altamar", "Zephyra", "Croswell", "Lumidyne", "Paxton Forge",
        "Verdanta", "Obsidio", "Halcyra", "Ironvale", "Marisco", "Tundralink", "Everpine", "Skarvik",
        "Cobaltine", "Rivenhall", "Jadeport", "Novastrand", "Umbrio"]
CITIES = {"Porto": "Portugal", "Lyon": "France", "Graz": "Austria", "Leeds": "England", "Utrecht": "the Netherlands",
          "Bologna": "Italy", "Gothenburg": "Sweden", "Krakow": "Poland", "Valencia": "Spain", "Tampere": "Finland",
          "Ghent": "Belgium", "Brno": "the Czech Republic", "Aarhus": "Denmark", "Bergen": "Norway",
          "Cork": "Ireland", "Leipzig": "Germany", "Basel": "Switzerland", "Osaka": "Japan", "Curitiba": "Brazil",
          "Halifax": "Canada"}
PRODUCTS = [("Zentro", "phone"), ("Lumora", "lamp"), ("Quillo", "pen"), ("Dravik", "drone"), ("Sennia", "speaker"),
            ("Orvo", "bicycle"), ("Taliq", "tablet"), ("Brisa", "fan"), ("Kelvar", "thermostat"), ("Mondo", "globe"),
            ("Pivora", "camera"), ("Rusko", "kettle"), ("Solina", "solar panel"), ("Vexa", "vacuum cleaner"),
            ("Wyndo", "window blind"), ("Yarrow", "tent"), ("Cindra", "candle"), ("Fluxen", "battery"),
            ("Glimra", "watch"), ("Harmo", "piano"), ("Isola", "cooler"), ("Jetta", "scooter"), ("Korvo", "kayak"),
            ("Lydra", "router"), ("Magnis", "microscope"), ("Nerio", "keyboard"), ("Opalux", "monitor"),
            ("Prisma", "projector"), ("Ravel", "guitar"), ("Stellan", "telescope"), ("Trova", "backpack"),
            ("Ulmo", "chair"), ("Velo", "helmet"), ("Wisp", "drone battery"), ("Xeno", "game console"),
            ("Zaffre", "printer"), ("Aurel", "headphones"), ("Bexley", "desk"), ("Corra", "smart lock"),
            ("Dunmore", "rain jacket")]

TEMPLATES = {
    "works_at": ["{s} works for {o}.", "{s} is employed by {o}.", "{s} has a job at {o}.", "{o} employs {s}.",
                 "{s} joined {o} as an engineer."],
    "born_in": ["{s} was born in {o}.", "{s} is a native of {o}.", "{s} was born and raised in {o}."],
    "lives_in": ["{s} lives in {o}.", "{s} has a home in {o}.", "{s} resides in {o}."],
    "located_in": ["{s} is based in {o}.", "{s} has its headquarters in {o}.", "The offices of {s} are in {o}.",
                   "{s} is headquartered in {o}."],
    "founded_by": ["{s} was founded by {o}.", "{o} founded {s}.", "{o} started {s} years ago.",
                   "{s} was started by {o}."],
    "made_by": ["{o} makes the {s}.", "The {s} is made by {o}.", "{o} manufactures the {s}.",
                "The {s} is produced by {o}."],
    "in_country": ["{s} is a city in {o}.", "{s} lies in {o}."],
}

# question templates: the chain of relations followed from the named entity, and the phrasings
QUESTIONS = {
    2: [
        (("works_at", "located_in"), ["In which city is the company that {e} works for located?",
                                       "Where is the company that {e} works for based?",
                                       "In what city does {e}'s employer have its headquarters?"]),
        (("made_by", "founded_by"), ["Who founded the company that makes the {e}?",
                                      "Who is the founder of the company that produces the {e}?"]),
        (("founded_by", "born_in"), ["Where was the founder of {e} born?",
                                      "In which city was the person who founded {e} born?"]),
        (("made_by", "located_in"), ["In which city is the maker of the {e} based?",
                                      "Where is the company that manufactures the {e} headquartered?"]),
        (("works_at", "founded_by"), ["Who founded the company where {e} works?",
                                       "Who started the company that employs {e}?"]),
        (("founded_by", "lives_in"), ["Where does the founder of {e} live?"]),
    ],
    3: [
        (("works_at", "located_in", "in_country"), ["In which country is the company that {e} works for based?",
                                                     "In what country is the headquarters of {e}'s employer?"]),
        (("made_by", "founded_by", "born_in"), ["Where was the founder of the company that makes the {e} born?"]),
        (("works_at", "founded_by", "born_in"), ["In which city was the founder of {e}'s employer born?"]),
        (("made_by", "located_in", "in_country"), ["In which country is the maker of the {e} based?"]),
    ],
}


@dataclass(frozen=True)
class Fact:
    """One memory: its index (its place in Corpus.facts), relation, subject, object, text."""

    index: int
    relation: str
    subject: str
    object: str
    text: str


@dataclass(frozen=True)
class Question:
    """A question, the indexes of the facts it needs (in chain order) and its answer."""

    text: str
    hops: int
    support: tuple
    answer: str


class Corpus:
    """Facts (one memory each) and the questions over them."""

    def __init__(self, facts, questions):
        self.facts = facts
        self._questions = questions

    def fact(self, index):
        """The Fact with this index."""
        return self.facts[index]

    def texts(self):
        """The facts' sentences, in index order (the order to remember them in)."""
        return [f.text for f in self.facts]

    def questions(self, hops=None):
        """The questions needing `hops` facts (None: all)."""
        return [q for q in self._questions if hops is None or q.hops == hops]


def build(*, seed=2024, people=80, orgs=30, products=40, limit=None):
    """The corpus of a seed: `people` people, `orgs` organisations, `products` products, every
    city of CITIES; limit: at most that many questions per hop count (None: all)."""
    rng = random.Random(seed)
    names = [f"{f} {last}" for last in LAST for f in FIRST]
    rng.shuffle(names)
    persons = sorted(names[:people], key=names.index)
    companies = ORGS[:orgs]
    goods = PRODUCTS[:products]
    cities = list(CITIES)
    rel = {"works_at": {}, "born_in": {}, "lives_in": {}, "located_in": {}, "founded_by": {}, "made_by": {},
           "in_country": dict(CITIES)}
    for p in persons:
        rel["works_at"][p] = rng.choice(companies)
        rel["born_in"][p] = rng.choice(cities)
        rel["lives_in"][p] = rng.choice(cities)
    for o in companies:
        rel["located_in"][o] = rng.choice(cities)
        rel["founded_by"][o] = rng.choice(persons)
    for name, _ in goods:
        rel["made_by"][name] = rng.choice(companies)
    noun = dict(goods)
    facts, where = [], {}
    order = [("works_at", persons), ("born_in", persons), ("lives_in", persons), ("located_in", companies),
             ("founded_by", companies), ("made_by", [g for g, _ in goods]), ("in_country", cities)]
    for relation, subjects in order:
        for s in subjects:
            o = rel[relation][s]
            shown = f"{s} {noun[s]}" if relation == "made_by" else s
            text = rng.choice(TEMPLATES[relation]).format(s=shown, o=o)
            text = text[0].upper() + text[1:]
            where[relation, s] = len(facts)
            facts.append(Fact(len(facts), relation, s, o, text))
    questions = []
    for hops, kinds in QUESTIONS.items():
        made = []
        for chain, phrasings in kinds:
            for start in sorted(rel[chain[0]]):
                support, at = [], start
                for relation in chain:
                    support.append(where[relation, at])
                    at = rel[relation][at]
                shown = f"{start} {noun[start]}" if chain[0] == "made_by" else start
                made.append(Question(rng.choice(phrasings).format(e=shown), hops, tuple(support), at))
        rng.shuffle(made)
        questions.extend(made[:limit] if limit is not None else made)
    return Corpus(facts, questions)
