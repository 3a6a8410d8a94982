"""agentdb.rag: retrieval over an agent memory. A RetrievalController decomposes a question into
sub-queries, retrieves per sub-query, follows the entities of what it found through the
memory graph for more hops (ranked by personalised PageRank), de-duplicates, assembles a cited
context within a token budget, caches answers until the store changes and streams its steps;
SessionManager keeps multi-turn sessions over it. No LLM is needed; one can be plugged in.

>>> import agentdb.memory, agentdb.rag
>>> from agentdb.embed import HashEmbedder
>>> rag = agentdb.rag.RetrievalController(agentdb.memory.open(embedder=HashEmbedder(dim=64)))
>>> _ = rag.index_many(["Vantex makes the Zentro phone.", "Vantex was founded by Rosa Novak."])
>>> rag.query("Who founded the company that makes the Zentro phone?").sources[:2]
['note:1', 'note:2']
"""
from .config import RagConfig
from .context import assemble, estimate_tokens
from .controller import RetrievalController
from .decompose import decompose
from .entities import entity_id, extract_entities
from .index import ENTITY_LABEL, MEMORY_LABEL, MENTIONS
from .pagerank import pagerank, personalized_pagerank
from .result import Evidence, RagResult
from .session import Session, SessionManager

__all__ = ["ENTITY_LABEL", "Evidence", "MEMORY_LABEL", "MENTIONS", "RagConfig", "RagResult", "RetrievalController",
           "Session", "SessionManager", "assemble", "decompose", "entity_id", "estimate_tokens",
           "extract_entities", "pagerank", "personalized_pagerank"]
