"""agentdb.graph: a property graph (nodes, edges, hyperedges, validity windows) kept in a
store's own .rvf, next to its vectors (issue 19). See agentdb.graph.model.Graph."""
