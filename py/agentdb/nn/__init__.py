"""agentdb.nn: neural-network building blocks over kernel ops, the same bits in both homes
(pure Python over the kernel, no numpy or torch): tensor compression, differentiable search,
and the attention, graph and hyperbolic modules beside them. Import the submodules directly
(`from agentdb.nn import compress`)."""
