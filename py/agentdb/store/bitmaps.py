"""Row bitmaps as bytearrays (bit r of byte r >> 3 is row r): setting and clearing bits; the
kernel counts, combines and lists them (agk_bitmap_*)."""


def set_bits(bitmap, start, count, value):
    """Sets or clears bits [start, start + count) of a bytearray, whole bytes at a time."""
    bit, end = start, start + count
    while bit < end and bit & 7:
        set_bit(bitmap, bit, value)
        bit += 1
    full_end = end & ~7
    if full_end > bit:
        bitmap[bit >> 3:full_end >> 3] = (b"\xff" if value else b"\x00") * ((full_end - bit) >> 3)
        bit = full_end
    while bit < end:
        set_bit(bitmap, bit, value)
        bit += 1


def set_bit(bitmap, bit, value):
    """Sets or clears one bit."""
    if value:
        bitmap[bit >> 3] |= 1 << (bit & 7)
    else:
        bitmap[bit >> 3] &= ~(1 << (bit & 7)) & 0xFF
