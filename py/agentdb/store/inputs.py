"""Input checks: vectors from any buffer, numpy array or nested lists as one flat float32 view
of the store's dimension, and a query written into the store's query input slot."""
import array
import itertools

from ..errors import DimensionError
from ..kernel.buffers import as_view


def vector_view(db, vectors, n, name="vectors", check_finite=True):
    """A flat float32 view of n vectors, from a buffer or nested lists."""
    dtype = getattr(vectors, "dtype", None)
    kind = getattr(dtype, "kind", None)
    if kind in ("i", "u") or kind == "f" and dtype.itemsize != 4:
        vectors = vectors.astype("float32")          # numpy float64 / ints, without importing numpy
    if isinstance(vectors, (list, tuple)) and vectors and isinstance(vectors[0], (list, tuple, array.array)):
        for i, row in enumerate(vectors):
            if len(row) != db.dim:
                raise DimensionError(f"{name}[{i}] has {len(row)} values, the store's dimension is {db.dim}")
        vectors = array.array("f", itertools.chain.from_iterable(vectors))
    view = as_view(vectors, "f", name=name)
    if len(view) != n * db.dim:
        raise DimensionError(f"expected {n} vector(s) of dimension {db.dim} ({n * db.dim} values), "
                             f"got {len(view)} values")
    if check_finite:
        db.kernel.check_finite(view, name=name, dim=db.dim)
    return view


def take_query(db, vector):
    """Writes the query into the store's query input slot (kernel memory every search reads in
    place), checked for shape; NaN and infinity are caught when it is prepared. Callers hold
    the lock (the slot is shared)."""
    try:
        view = memoryview(vector)
    except TypeError:
        view = None
    if view is None or view.format != "f" or view.ndim != 1 or len(view) != db.dim or not view.c_contiguous:
        view = vector_view(db, vector, 1, "query", check_finite=False)     # lists, float64, odd shapes
    db._query_in.write(view)
