"""agentdb.graph: a property graph (nodes, edges, hyperedges, validity windows) kept in a
store's own .rvf, next to its vectors (issue 19). See agentdb.graph.model.Graph.

>>> import agentdb
>>> g = Graph(agentdb.open(dim=2)); g.add_node("a")
'a'
"""
from .model import Edge, Graph, Hyperedge, HyperedgeHit, Node, NodeHit, Path

__all__ = ["Edge", "Graph", "Hyperedge", "HyperedgeHit", "Node", "NodeHit", "Path"]
