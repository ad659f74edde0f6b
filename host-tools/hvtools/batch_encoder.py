"""The batch encoder: byte-identical twin of wire_batch_* in hv/trace/wire.c
(format in hv/trace/wire.h). The hypervisor never runs Python; this is for
tests, test captures and the wire benchmark, and tests/host/
test_wire_interop.py checks that its bytes equal the C encoder's."""
from __future__ import annotations

from collections.abc import Sequence

from . import frame as _frame
from .catalog import Catalog
from .wirefmt import (MAX_TEXT, _DT_SHORT, _H_DT_BITS, _H_DT_MASK, _H_ESC, _H_IDC_SHIFT,
                      _H_LONG, _M64, _X_LOST, _X_NEG, _X_SHIFT, _X_SKIP, _State, _zz,
                      put_varint, varint_len)


def _plan_arg(st: _State, v: int) -> tuple[int, int | None]:
    """(mode, value on the wire): C plan_arg, same choices, same pushes."""
    reg = st.reg()
    if v == reg:
        return 2, None
    l0 = varint_len(v)
    k = st.find(v)
    d = _zz(v - reg)
    if k > 0 and l0 > 1:
        st.push(v)
        return 3, k
    if varint_len(d) < l0:
        st.push(v)
        return 1, d
    return 0, v


class BatchEncoder:
    """Byte-identical twin of the C wire_batch encoder (hv/trace/wire.c);
    tests/host/test_wire_interop.py compares their bytes."""

    def __init__(self, cat: Catalog, cap: int = _frame.MAX_PAYLOAD) -> None:
        self.cat = cat
        self.cap = cap
        self.text_id = cat.by_name["CONSOLE_TEXT"].id
        self.reset()

    def reset(self) -> None:
        self.buf = bytearray()
        self.count = 0
        self.prev_seq = 0
        self.prev_tsc = 0
        self._st = _State()

    def _head(self, out, st, seq, lost, eid, tsc):
        if self.count == 0:
            put_varint(out, seq)
            put_varint(out, tsc)
            prev_seq, prev_tsc = (seq - 1) & _M64, tsc
        else:
            prev_seq, prev_tsc = self.prev_seq, self.prev_tsc
        skip = (seq - prev_seq - 1) & _M64
        dt = (tsc - prev_tsc) & _M64
        x = 0
        if dt >> 63:
            dt, x = (prev_tsc - tsc) & _M64, _X_NEG
        x |= (_X_SKIP if skip else 0) | (_X_LOST if lost else 0)
        idc = _H_ESC if x or eid not in st.ids else st.ids.index(eid)
        out.append(idc << _H_IDC_SHIFT | (_H_LONG if dt >= _DT_SHORT else 0)
                   | (dt & _H_DT_MASK))
        if idc == _H_ESC:
            put_varint(out, eid << _X_SHIFT | x)
            st.note_id(eid)
        if dt >= _DT_SHORT:
            put_varint(out, dt >> _H_DT_BITS)
        else:
            out.append(dt >> _H_DT_BITS)
        if skip:
            put_varint(out, skip)
        if lost:
            put_varint(out, lost)

    def _commit(self, out, seq, tsc, st):
        if len(self.buf) + len(out) > self.cap:
            return False
        self.buf += out
        self.count += 1
        self.prev_seq, self.prev_tsc, self._st = seq, tsc, st
        return True

    def add_event(self, seq: int, lost: int, eid: int, tsc: int,
                  args: Sequence[int]) -> bool:
        """False: the batch is full (unchanged); send it, reset, add again."""
        na = self.cat.nargs(eid)
        if na < 0 or eid == self.text_id:
            raise ValueError(f"bad event id {eid:#x}")
        st = self._st.copy()
        plan = [_plan_arg(st, (args[k] if k < len(args) else 0) & _M64) for k in range(na)]
        out = bytearray()
        self._head(out, st, seq & _M64, lost, eid, tsc & _M64)
        modes = 0
        for k, (m, _) in enumerate(plan):
            modes |= m << (2 * k)
        out += modes.to_bytes((na + 3) // 4, "little")
        for m, e in plan:
            if m == 3:
                out.append(e)
            elif m != 2:
                put_varint(out, e)
        return self._commit(out, seq & _M64, tsc & _M64, st)

    def add_text(self, seq: int, lost: int, tsc: int, text: bytes) -> bool:
        text = bytes(text[:MAX_TEXT])
        st = self._st.copy()
        out = bytearray()
        self._head(out, st, seq & _M64, lost, self.text_id, tsc & _M64)
        put_varint(out, len(text))
        out += text
        return self._commit(out, seq & _M64, tsc & _M64, st)
