"""SlotTable: what nodes, edges and hyperedges each keep (ids, a live bitmap and its kernel copy,
properties, counts), and the bitmap helpers the state's other parts share. A slot is a row of
the state's arrays; a deleted one stays, dead (its bit cleared), and a snapshot leaves it out.
"""
import array

from ..errors import IdError
from ..store.bitmaps import set_bit, set_bits
from .tables import IdTable, PropertyTable, normalize_id


def has_bit(bitmap, i):
    """Bit i of a bitmap (0 or 1)."""
    return bitmap[i >> 3] >> (i & 7) & 1


def grow_bitmap(bitmap, n):
    """Extends a bitmap with zero bytes to hold n bits."""
    need = (n + 7) // 8
    if len(bitmap) < need:
        bitmap.extend(bytes(need - len(bitmap)))


class SlotTable:
    """What nodes, edges and hyperedges share: ids, a live bitmap (and its kernel copy for
    walks), properties, counts."""

    def __init__(self, kernel):
        self.k = kernel
        self.ids = IdTable()
        self.live = bytearray()
        self.props = PropertyTable(kernel)
        self.n = 0                     # slots, dead ones included
        self.count = 0                 # live ones
        self._live_k, self._live_dirty = None, True

    def live_kbuf(self):
        """The live bitmap in kernel memory (copied there after a change)."""
        need = max(1, len(self.live))
        if self._live_k is None or len(self._live_k) < need:
            self._live_k = self.k.alloc(max(need, len(self._live_k or ()) * 3 // 2), "B")
            self._live_dirty = True
        if self._live_dirty:
            if self.live:
                self._live_k.write(self.live)
            self._live_dirty = False
        return self._live_k

    def is_live(self, slot):
        return slot is not None and slot < self.n and has_bit(self.live, slot)

    def slot(self, ident):
        """The live slot of an id, or None."""
        try:
            ident = normalize_id(ident)
        except IdError:
            return None
        slot = self.ids.slot(ident)
        return slot if self.is_live(slot) else None

    def add_slots(self, n):
        first = self.n
        grow_bitmap(self.live, first + n)
        set_bits(self.live, first, n, True)
        self._live_dirty = True
        self.n += n
        self.count += n
        return first

    def kill(self, slot):
        set_bit(self.live, slot, False)
        self._live_dirty = True
        self.ids.forget(slot)
        self.props.retire(slot)
        self.count -= 1

    def live_slots(self):
        return self.k.bitmap_rows(self.live, self.n) if self.n else array.array("I")
