"""Batch coding constants and state shared by the reader (records.py) and
the encoder (batch_encoder.py); the C twin is hv/trace/wire_state.h, the
format hv/trace/wire.h."""
from __future__ import annotations

MAX_TEXT = 256
IDS, HIST = 7, 32           # per-batch id slots and value history (wire.h)
# batch record head byte and escape flags (hv/trace/wire_state.h)
_H_IDC_SHIFT, _H_ESC, _H_LONG, _H_DT_BITS, _H_DT_MASK = 5, 7, 0x10, 4, 0x0F
_DT_SHORT = 1 << (_H_DT_BITS + 8)
_X_SKIP, _X_LOST, _X_NEG, _X_SHIFT = 1, 2, 4, 3
_M64 = (1 << 64) - 1


def _zz(v: int) -> int:
    v &= _M64
    return ((v << 1) & _M64) ^ (_M64 if v >> 63 else 0)


def _unzz(v: int) -> int:
    return (v >> 1) ^ (-(v & 1) & _M64)


def put_varint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def varint_len(v: int) -> int:
    return max(1, (v.bit_length() + 6) // 7)


class _State:
    """Per-batch id table and value history (wire.h; C: wire_state.h)."""
    __slots__ = ("ids", "hist")

    def __init__(self, ids=(), hist=()) -> None:
        self.ids = list(ids)
        self.hist = list(hist)      # newest last, at most HIST values

    def copy(self) -> "_State":
        return _State(self.ids, self.hist)

    def note_id(self, eid: int) -> None:
        if len(self.ids) < IDS and eid not in self.ids:
            self.ids.append(eid)

    def reg(self) -> int:
        return self.hist[-1] if self.hist else 0

    def push(self, v: int) -> None:
        self.hist.append(v)
        if len(self.hist) > HIST:
            del self.hist[0]

    def find(self, v: int) -> int:
        """The smallest k >= 1 with hist[k] == v, or -1 (k 0 is reg)."""
        h = self.hist
        for k in range(1, len(h)):
            if h[-1 - k] == v:
                return k
        return -1
