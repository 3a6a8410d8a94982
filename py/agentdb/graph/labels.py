"""LabelIndex: the nodes that have each label, one bitmap over node slots per label (and its
count), so a batch of nodes sharing a label is indexed by setting a run of bits, not by
adding each slot to a set; the kernel lists a label's slots (agk_bitmap_rows)."""
import array

from ..store.bitmaps import set_bit, set_bits
from .state_slots import grow_bitmap, has_bit


class LabelIndex:
    """label -> the live node slots with it (a bitmap) and how many they are."""

    def __init__(self, kernel):
        self.k = kernel
        self.bits = {}                 # label -> bytearray, bit s set: slot s has the label
        self.counts = {}               # label -> how many bits are set

    def _bitmap(self, label, n_bits):
        bits = self.bits.get(label)
        if bits is None:
            bits = self.bits[label] = bytearray()
            self.counts[label] = 0
        grow_bitmap(bits, n_bits)
        return bits

    def add_run(self, label, first, n):
        """Slots first .. first + n - 1 (new ones: none has the label yet) get it."""
        if n:
            set_bits(self._bitmap(label, first + n), first, n, True)
            self.counts[label] += n

    def add_slots(self, label, slots, n_bits):
        """New slots (an 'I' array, none has the label yet) get it."""
        if len(slots):
            self.k.bitmap_mark_rows(slots, self._bitmap(label, n_bits), n_bits=len(self.bits[label]) * 8)
            self.counts[label] += len(slots)

    def add(self, label, slot):
        bits = self._bitmap(label, slot + 1)
        if not has_bit(bits, slot):
            set_bit(bits, slot, True)
            self.counts[label] += 1

    def discard(self, label, slot):
        bits = self.bits.get(label)
        if bits is not None and slot < len(bits) * 8 and has_bit(bits, slot):
            set_bit(bits, slot, False)
            self.counts[label] -= 1
            if not self.counts[label]:
                del self.bits[label], self.counts[label]

    def count(self, label):
        """How many live nodes have the label."""
        return self.counts.get(label, 0)

    def has(self, label, slot):
        bits = self.bits.get(label)
        return bits is not None and slot < len(bits) * 8 and bool(has_bit(bits, slot))

    def bitmap(self, label, n_slots):
        """The label's bitmap over n_slots slots (zeros for a label no node has)."""
        out = bytearray((n_slots + 7) // 8)
        bits = self.bits.get(label)
        if bits is not None:
            out[:min(len(bits), len(out))] = bits[:len(out)]
        return out

    def slots(self, label, n_slots):
        """The slots with the label, ascending (an 'I' array)."""
        bits = self.bits.get(label)
        if bits is None or not n_slots:
            return array.array("I")
        return self.k.bitmap_rows(self.bitmap(label, n_slots), n_slots)

    def items(self):
        """(label, count) for every label some live node has, by label."""
        return sorted(self.counts.items())
