"""The distance metrics: the one place that says what each metric means to every layer.

A store's metric is one of three (cosine, dot, l2), under several accepted names. For each:
how its rows are scored in the kernel (an AGK_METRIC_* code, also the metric byte of an
agentdb INDEX segment), whether rows and queries are made unit length (cosine is a dot
product of unit rows), whether a larger score is closer, its code in the .rvf manifest (the
real tools' numbering), and its distance as reported in results. Adding a metric touches
this table, the kernel and docs/FORMAT.md only.
"""
from dataclasses import dataclass

from .errors import OptionError

# the kernel's metric codes, as csrc/agentdb_kernel.h defines AGK_METRIC_* (a test checks)
KERNEL_DOT, KERNEL_L2, KERNEL_COS = 0, 1, 2
# the kernel's own metric names (Kernel.scan(metric=...)): "cos" normalises the query first
KERNEL_NAMES = {"dot": KERNEL_DOT, "l2": KERNEL_L2, "cos": KERNEL_COS, "cosine": KERNEL_COS}
KERNEL_SCANS = {KERNEL_DOT: "dot", KERNEL_L2: "l2", KERNEL_COS: "cos"}     # agk_scan_<name>_f32


def kernel_code(name):
    """The AGK_METRIC_* code of a kernel metric name: 'dot', 'l2' or 'cos' (OptionError else)."""
    try:
        return KERNEL_NAMES[name]
    except (KeyError, TypeError):
        raise OptionError(f"unknown metric {name!r}: expected one of 'dot', 'l2', 'cos'") from None


@dataclass(frozen=True)
class Metric:
    name: str                # as stored in options and reported by status()
    aliases: tuple           # other names a caller may pass
    kernel: int              # AGK_METRIC_* the store's rows are scanned and walked with
    normalized: bool         # rows and queries unit length (cosine as a dot product)
    larger_is_closer: bool   # scores are similarities (True) or squared distances (False)
    manifest_code: int       # the .rvf MANIFEST's metric byte

    @property
    def scan_name(self):
        """The kernel scan the store's (already normalised) rows take: 'dot' or 'l2'."""
        return "l2" if self.kernel == KERNEL_L2 else "dot"

    def distance(self, score):
        """A score as a distance (smaller is closer): 1 - cos, -dot, squared L2."""
        if self.normalized:
            return 1.0 - score
        return -score if self.larger_is_closer else score


METRICS = (
    Metric("cosine", ("cos",), KERNEL_DOT, True, True, 2),
    Metric("dot", ("dotproduct", "ip", "inner_product"), KERNEL_DOT, False, True, 1),
    Metric("l2", ("euclidean",), KERNEL_L2, False, False, 0),
)
BY_NAME = {name: m for m in METRICS for name in (m.name, *m.aliases)}
BY_MANIFEST_CODE = {m.manifest_code: m for m in METRICS}


def get(name):
    """The Metric a name (or alias) stands for; OptionError naming the accepted ones."""
    if not isinstance(name, str) or name not in BY_NAME:      # a list cannot even be looked up
        raise OptionError(f"unknown metric {name!r}: expected one of {', '.join(sorted(BY_NAME))}")
    return BY_NAME[name]


def from_manifest(code):
    """The Metric of a .rvf manifest's metric byte (the real tools write l2 for unknown ones)."""
    return BY_MANIFEST_CODE.get(code, BY_NAME["l2"])
