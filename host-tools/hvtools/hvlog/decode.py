"""Decoding for hvlog: serial bytes -> items, no presentation.

Items are the records.* objects (Record for trace events, Loss, Hello,
Notice), frame.FrameError, and Line for text: a CPU's console line, a line
of the guest's serial output, or a line of text seen before the first 0x00
(GRUB, or a whole `serial_mode=plain` capture, whose "[cpuN] " prefixes are
turned back into console lines).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .. import frame as _frame
from .. import records as _records
from .stats import Stats

_PLAIN = re.compile(rb"^\[cpu(\d+)\] ?")
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\x00-\x08\x0b-\x1f\x7f]")


class CatalogRefused(Exception):
    """HELLO names another catalogue and force_catalog is off."""


@dataclass(slots=True)
class Line:
    kind: str               # "console" | "guest" | "prelude"
    cpu: int | None
    text: str
    tsc: int | None = None  # tsc of the record that started the line
    seq: int | None = None  # seq of that record
    partial: bool = False   # shown early (no newline yet); the rest follows
    cont: bool = False      # the rest of a line shown early as partial


def printable(data: bytes) -> bool:
    if not data:
        return False
    ok = sum(1 for b in data if 32 <= b < 127 or b in (9, 10, 13, 27))
    return ok >= 0.85 * len(data)


class _Lines:
    """Assembles byte pieces of one text stream into lines."""
    __slots__ = ("kind", "cpu", "buf", "tsc", "seq", "cont")

    def __init__(self, kind, cpu):
        self.kind, self.cpu = kind, cpu
        self.buf = b""
        self.tsc = self.seq = None
        self.cont = False

    def _line(self, raw, partial=False):
        text = raw.rstrip(b"\r").decode("utf-8", "replace")
        ln = Line(self.kind, self.cpu, text, self.tsc, self.seq, partial, self.cont)
        self.cont = partial
        return ln

    def add(self, data: bytes, tsc=None, seq=None, out=None):
        if not self.buf:
            self.tsc, self.seq = tsc, seq
        if b"\n" not in data:
            self.buf += data
            return
        parts = (self.buf + data).split(b"\n")
        self.buf = parts.pop()
        for p in parts:
            out.append(self._line(p))
            self.tsc, self.seq = tsc, seq
        if not self.buf:
            self.tsc = self.seq = None

    def flush(self, out, partial: bool):
        if self.buf:
            out.append(self._line(self.buf, partial))
            self.buf = b""
            self.tsc = self.seq = None


class StreamDecoder:
    """feed(bytes) -> items in arrival order; idle() and finish() emit the
    text still waiting for its newline. Counts everything in .stats."""

    def __init__(self, cat=None, force_catalog: bool = False):
        self.frames = _frame.FrameDecoder()
        self.trace = _records.TraceDecoder(cat, strict=not force_catalog)
        self.cat = self.trace.cat
        self.stats = Stats()
        self.framed = False             # a 0x00 has been seen
        self._prelude = _Lines("prelude", None)
        self._plain: dict[int, _Lines] = {}
        self._console: dict[int, _Lines] = {}
        self._guest = _Lines("guest", None)
        self.on_gdb = None              # callable(payload) for GDB frames
        self.hellos: list = []

    # ---- text before the first 0x00 (GRUB text, or a plain-mode capture)
    def _prelude_bytes(self, data: bytes, out):
        self.stats.prelude_bytes += len(data)
        tmp: list = []
        self._prelude.add(data, out=tmp)
        for ln in tmp:
            self._prelude_line(ln, out)

    def _prelude_line(self, ln: Line, out):
        raw = ln.text.encode("utf-8", "replace")
        m = _PLAIN.match(raw)
        if m and not ln.cont:
            cpu = int(m.group(1))
            ln = Line("console", cpu, raw[m.end():].decode("utf-8", "replace"))
            self.stats.stream("console", cpu).lines += 1
        else:
            raw = _ANSI.sub(b"", raw)
            if not printable(raw):
                return
            ln.text = raw.decode("utf-8", "replace")
        out.append(ln)

    # ---- framed data
    def feed(self, data: bytes) -> list:
        out: list = []
        if not data:
            return out
        data = bytes(data)
        if not self.framed:
            z = data.find(b"\x00")
            self._prelude_bytes(data if z < 0 else data[:z], out)
            if z >= 0:
                self.framed = True
                tmp: list = []
                self._prelude.flush(tmp, partial=False)
                for ln in tmp:
                    self._prelude_line(ln, out)
        for ev in self.frames.feed(data):
            self._event(ev, out)
        return out

    def _event(self, ev, out):
        st = self.stats
        if isinstance(ev, _frame.FrameError):
            if ev.offset == 0 and printable(ev.data):
                st.prelude_frames += 1      # GRUB text before the first 0x00
                return
            st.errors[ev.kind] = st.errors.get(ev.kind, 0) + 1
            out.append(ev)
            return
        s = st.stream(ev.type_name, ev.cpu)
        s.frames += 1
        s.bytes += len(ev.payload)
        if ev.gap:
            s.gaps += 1
            s.frames_lost += ev.gap
        t = ev.type
        if t == _frame.CONTROL and ev.seq == 0 and st.data_frames:
            self._restart(out)
        if t != _frame.CONTROL:
            st.data_frames += 1
        if t == _frame.GUEST:
            if ev.gap:
                out.append(_records.Loss("link", ev.cpu, None, ev.seq, ev.gap, "guest"))
            self._guest.add(ev.payload, out=out)
            return
        if t == _frame.GDB:
            if ev.gap:
                out.append(_records.Loss("link", ev.cpu, None, ev.seq, ev.gap, "gdb"))
            if self.on_gdb:
                self.on_gdb(ev.payload)
            return
        try:
            items = self.trace.frame(ev)
        except _records.CatalogMismatch as e:
            raise CatalogRefused(str(e)) from None
        if t not in (_frame.CONSOLE, _frame.TRACE, _frame.CONTROL):
            return
        for it in items:
            if isinstance(it, _records.Record):
                if it.text is not None:
                    s.records += 1
                    lines = self._console.get(it.cpu)
                    if lines is None:
                        lines = self._console[it.cpu] = _Lines("console", it.cpu)
                    n = len(out)
                    lines.add(it.text, it.tsc, it.seq, out)
                    s.lines += len(out) - n
                else:
                    s.records += 1
                    out.append(it)
            elif isinstance(it, _records.Loss):
                if it.kind == "ring":
                    s.ring_lost += it.count
                out.append(it)
            elif isinstance(it, _records.Hello):
                self.hellos.append(it)
                out.append(it)
            elif isinstance(it, _records.Notice):
                if it.level == "error":
                    st.bad_batches += 1
                out.append(it)

    def _restart(self, out):
        """HELLO with seq 0 after data: the hypervisor started again, its
        frame and record counters restarted; forget the old ones."""
        keep = {k: v for k, v in self.frames._last_seq.items() if k[0] == _frame.CONTROL}
        self.frames._last_seq = keep
        self.trace._last.clear()
        self.stats.restarts += 1
        out.append(_records.Notice("warning", "HELLO with seq 0: the hypervisor restarted"))

    def idle(self) -> list:
        """Nothing arrived for a while: show unfinished lines (prompts)."""
        out: list = []
        if not self.framed:
            tmp: list = []
            self._prelude.flush(tmp, partial=True)
            for ln in tmp:
                self._prelude_line(ln, out)
        self._guest.flush(out, partial=True)
        for lines in self._console.values():
            lines.flush(out, partial=True)
        return out

    def finish(self) -> list:
        out: list = []
        tmp: list = []
        self._prelude.flush(tmp, partial=False)
        for ln in tmp:
            self._prelude_line(ln, out)
        for ev in self.frames.finish():
            self._event(ev, out)
        self._guest.flush(out, partial=False)
        for cpu, lines in self._console.items():
            n = len(out)
            lines.flush(out, partial=False)
            self.stats.stream("console", cpu).lines += len(out) - n
        return out
