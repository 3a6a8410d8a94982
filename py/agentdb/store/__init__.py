"""The vector store: batch ingest, exact and HNSW k-NN, metadata filters, delete and compact."""
from .results import Hit, Results
from .store import Record, VectorStore, open, open_bytes

__all__ = ["Hit", "Record", "Results", "VectorStore", "open", "open_bytes"]
