"""Sub-queries: the heuristic splits clauses, relative clauses, possessives and "the X of E";
an LLM callable's JSON is used when it parses to the right shape, and anything else (not
JSON, the wrong shape, not a string, an exception) is an LLMOutputWarning and the heuristic,
never a crash. Entities come from a deterministic heuristic."""
import warnings

import pytest

from agentdb.errors import ArgumentError, LLMOutputWarning
from agentdb.rag import decompose, entity_id, extract_entities

Q = "In which city is the company that Alice Moreau works for located?"
HEURISTIC = [Q, "In which city is the company located", "Alice Moreau works for"]


@pytest.mark.parametrize("question,parts", [
    (Q, HEURISTIC[1:]),
    ("Who founded Vantex and where is Corvia based?", ["Who founded Vantex", "where is Corvia based"]),
    ("Where was the founder of Solvane born?", ["Where was the founder born", "the founder of Solvane"]),
    ("In what city does Yusuf Halvorsen's employer have its headquarters?",
     ["In what city does the employer have its headquarters", "Yusuf Halvorsen employer"]),
    ("Who founded the company that makes the Zentro phone?", ["Who founded the company", "makes the Zentro phone"]),
    ("Where was the founder of the company that makes the Kelvar thermostat born?",
     ["Where was the founder of the company born", "makes the Kelvar thermostat"]),
    ("Where is Lyon?", []),
])
def test_the_heuristic_splits_what_a_question_joins(question, parts):
    assert decompose(question) == [question] + parts


def test_sub_queries_are_deduplicated_and_capped():
    assert decompose("Where is Lyon? Where is Lyon") == ["Where is Lyon? Where is Lyon", "Where is Lyon"]
    assert len(decompose(Q, max_sub_queries=2)) == 2


@pytest.mark.parametrize("answer,parts", [
    ('["Which company does Alice Moreau work for?", "Where is it located?"]',
     ["Which company does Alice Moreau work for?", "Where is it located?"]),
    ('{"sub_queries": ["Alice Moreau employer", "employer city"]}', ["Alice Moreau employer", "employer city"]),
    ('```json\n{"sub_queries": ["a  b"]}\n```', ["a b"]),
])
def test_an_llms_good_json_is_used(answer, parts):
    prompts = []

    def llm(prompt):
        prompts.append(prompt)
        return answer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decompose(Q, llm=llm) == [Q] + parts
    assert Q in prompts[0] and "JSON" in prompts[0]


def boom(prompt):
    raise RuntimeError("model offline")


@pytest.mark.parametrize("llm,says", [
    (lambda p: "Sure! First find the company.", "not JSON"),
    (lambda p: '{"sub_queries": ["a", ', "not JSON"),
    (lambda p: '{"queries": ["a"]}', "expected a key 'sub_queries'"),
    (lambda p: '{"sub_queries": "a"}', "must be a non-empty list"),
    (lambda p: '[1, 2]', "sub_queries[0] must be a non-empty string"),
    (lambda p: '[]', "must be a non-empty list"),
    (lambda p: '["ok", "  "]', "sub_queries[1]"),
    (lambda p: '42', "must be a non-empty list"),
    (lambda p: None, "returned NoneType, not a string"),
    (lambda p: ["a list"], "returned list"),
    (boom, "raised RuntimeError during decomposition (model offline)"),
])
def test_a_malformed_llm_answer_falls_back_to_the_heuristic_with_a_warning(llm, says):
    with pytest.warns(LLMOutputWarning, match="using the heuristic") as caught:
        assert decompose(Q, llm=llm) == HEURISTIC
    assert says in str(caught[0].message)


def test_bad_questions_get_typed_errors():
    for bad in (None, 3, "", "   "):
        with pytest.raises(ArgumentError):
            decompose(bad)
    with pytest.raises(ArgumentError, match="max_sub_queries"):
        decompose(Q, max_sub_queries=0)


@pytest.mark.parametrize("text,names", [
    ("Alice Moreau works for Vantex.", ["Alice Moreau", "Vantex"]),
    ("The offices of Kestrel Works are in Lyon.", ["Kestrel Works", "Lyon"]),
    ("In what city does Yusuf Halvorsen's employer have its headquarters?", ["Yusuf Halvorsen"]),
    ("Ludwig van Beethoven was born in Bonn, Germany.", ["Ludwig van Beethoven", "Bonn", "Germany"]),
    ('She called the project "blue harbour" in 2020.', ["blue harbour"]),
    ("where is it?", []),
])
def test_entities_are_capitalised_runs_and_quotes(text, names):
    assert extract_entities(text) == names


def test_entity_ids_ignore_case_and_spacing():
    assert entity_id("Kestrel  Works") == entity_id("kestrel works") == "entity:kestrel works"
    with pytest.raises(ArgumentError):
        extract_entities(b"bytes")
