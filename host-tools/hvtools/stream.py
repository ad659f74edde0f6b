"""The one decoder of the framed serial stream: bytes -> items, no
presentation. hvlog renders its items (hvtools.hvlog.live), the tests and
benches read them through a Session (hvtools.session).

Items are the records.* objects (Record for trace events, Loss, Hello,
Notice), frame.FrameError, and Line for text: a CPU's console line, a line
of the guest's serial output, or a line of text seen before the first 0x00
(GRUB, or a whole `serial_mode=plain` capture, whose "[cpuN] " prefixes are
turned back into console lines).

    dec = StreamDecoder(cat)
    items = dec.feed(chunk)     # as bytes arrive, in arrival order
    items += dec.idle()         # nothing came for a while: unfinished lines
    items += dec.finish()       # end of stream
    dec.stats                   # counters of everything seen (Stats)
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from . import catalog as _catalog
from . import frame as _frame
from . import native as _native
from . import records as _records

_PLAIN = re.compile(rb"^\[cpu(\d+)\] ?")
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\x00-\x08\x0b-\x1f\x7f]")

ERROR_KINDS = ("crc", "cobs", "short", "long", "truncated")


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
    lost: bool = False      # bytes of this line were lost (marked in text)


# ---- counters -----------------------------------------------------------------
@dataclass
class StreamStats:
    frames: int = 0
    bytes: int = 0              # payload bytes
    records: int = 0            # console text records or trace events
    lines: int = 0              # console lines
    gaps: int = 0               # holes in the frame seq
    frames_lost: int = 0        # frames missing in those holes
    ring_lost: int = 0          # records the hypervisor's ring overwrote
                                # (flight: before a dump, by design)


@dataclass
class Stats:
    """Counters of one stream (hvlog's summary prints them)."""
    streams: dict = field(default_factory=dict)     # (channel, cpu) -> StreamStats
    errors: dict = field(default_factory=lambda: {k: 0 for k in ERROR_KINDS})
    prelude_bytes: int = 0      # text before the first 0x00 (GRUB)
    prelude_frames: int = 0     # ... and the one bad frame it makes
    bad_batches: int = 0
    data_frames: int = 0
    restarts: int = 0
    end_damaged: int = 0        # bad frames after a stream's last good frame
                                # (before a restart or the end): lost frames
                                # that no sequence gap will ever show
    gdb_to_hv: int = 0          # bytes from gdb sent on
    gdb_dropped: int = 0        # GDB bytes from the hv with no gdb attached
    keys_sent: int = 0          # keyboard bytes sent as GUEST frames

    def stream(self, channel: str, cpu: int) -> StreamStats:
        s = self.streams.get((channel, cpu))
        if s is None:
            s = self.streams[(channel, cpu)] = StreamStats()
        return s

    @property
    def crc_errors(self) -> int:
        return self.errors.get("crc", 0)

    @property
    def frame_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def frames_lost(self) -> int:
        return sum(s.frames_lost for s in self.streams.values())

    @property
    def ring_lost(self) -> int:
        """Streamed records lost (the flight recorder's overwrites are not)."""
        return sum(s.ring_lost for (ch, _), s in self.streams.items() if ch != "flight")

    @property
    def flight_overwritten(self) -> int:
        return sum(s.ring_lost for (ch, _), s in self.streams.items() if ch == "flight")


# ---- text -----------------------------------------------------------------------
def printable(data: bytes) -> bool:
    if not data:
        return False
    ok = sum(1 for b in data if 32 <= b < 127 or b in (9, 10, 13, 27))
    return ok >= 0.85 * len(data)


def lost_mark(count: int | None, what: str) -> bytes:
    """Put into a text line where bytes went missing."""
    n = "?" if count is None else str(count)
    return f"[~{n} {what}{'' if count == 1 else 's'} lost~]".encode()


class _Lines:
    """Assembles byte pieces of one text stream into lines."""
    __slots__ = ("kind", "cpu", "buf", "tsc", "seq", "cont", "lost")

    def __init__(self, kind: str, cpu: int | None) -> None:
        self.kind, self.cpu = kind, cpu
        self.buf = b""
        self.tsc = self.seq = None
        self.cont = False
        self.lost = False

    def _line(self, raw: bytes, partial: bool = False) -> Line:
        text = raw.rstrip(b"\r").decode("utf-8", "replace")
        ln = Line(self.kind, self.cpu, text, self.tsc, self.seq, partial, self.cont,
                  self.lost)
        self.cont = partial
        self.lost = False
        return ln

    def mark(self, count: int | None, what: str) -> None:
        """Bytes are missing here: the line being assembled says so."""
        self.buf += lost_mark(count, what)
        self.lost = True

    def add(self, data: bytes, out: list, tsc: int | None = None,
            seq: int | None = None) -> None:
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

    def flush(self, out: list, partial: bool) -> None:
        if self.buf:
            out.append(self._line(self.buf, partial))
            self.buf = b""
            self.tsc = self.seq = None


# ---- the decoder ------------------------------------------------------------------
class StreamDecoder:
    """feed(bytes) -> items in arrival order; idle() and finish() emit the
    text still waiting for its newline. Counts everything in .stats.

    cat: the catalogue (default: this tree's events.def).
    force_catalog: False raises CatalogRefused from feed() when a HELLO names
        another catalogue; True decodes anyway (a warning Notice).
    on_gdb, on_guest: optional callables(payload) for the raw payload of
        every GDB / GUEST frame (GUEST text is also assembled into Lines).
    native: None = the C decoder (hvtools.native) when it can be loaded,
        else Python; True = C or an error; False = Python. .native says
        which one decodes, .native_why why not C.
    runs: with the C decoder, records without a ring loss come as
        native.RecordRun items (C form: native.Formatter renders them and
        assembles their console lines), and console losses as native.Mark
        items; not Records and Lines (hvlog's fast path)."""

    def __init__(self, cat: _catalog.Catalog | None = None, force_catalog: bool = False,
                 native: bool | None = None, runs: bool = False):
        self.trace = _records.TraceDecoder(cat, strict=not force_catalog)
        self.cat = self.trace.cat
        lib = _native.load(self.cat) if native is not False else None
        self.native_why = "" if lib else ("not asked for" if native is False
                                          else _native.why_not(self.cat))
        if native and lib is None:
            raise RuntimeError(f"C decoder unavailable: {self.native_why}")
        self.native = lib is not None
        self.frames = (_native.NativeFrameDecoder(self.cat, lib, runs) if lib
                       else _frame.FrameDecoder())
        self.runs = bool(lib and runs)   # console lines are assembled in C
        self.stats = Stats()
        self.framed = False             # a 0x00 has been seen
        self._prelude = _Lines("prelude", None)
        self._console: dict[int, _Lines] = {}
        self._guest = _Lines("guest", None)
        self.on_gdb: Callable[[bytes], object] | None = None
        self.on_guest: Callable[[bytes], object] | None = None
        self.hellos: list[_records.Hello] = []
        self._damaged = 0               # bad frames since the last good one

    @property
    def hello(self) -> _records.Hello | None:
        return self.hellos[-1] if self.hellos else None

    # ---- text before the first 0x00 (GRUB text, or a plain-mode capture)
    def _prelude_lines(self, lines: list, out: list) -> None:
        for ln in lines:
            raw = ln.text.encode("utf-8", "replace")
            m = _PLAIN.match(raw)
            if m and not ln.cont:
                cpu = int(m.group(1))
                ln = Line("console", cpu, raw[m.end():].decode("utf-8", "replace"))
                self.stats.stream("console", cpu).lines += 1
            else:
                raw = _ANSI.sub(b"", raw)
                if not printable(raw):
                    continue
                ln.text = raw.decode("utf-8", "replace")
            out.append(ln)

    def _flush_prelude(self, out: list, partial: bool) -> None:
        tmp: list = []
        self._prelude.flush(tmp, partial)
        self._prelude_lines(tmp, out)

    # ---- framed data
    def feed(self, data: bytes) -> list:
        out: list = []
        if not data:
            return out
        data = bytes(data)
        if not self.framed:
            z = data.find(b"\x00")
            pre = data if z < 0 else data[:z]
            self.stats.prelude_bytes += len(pre)
            tmp: list = []
            self._prelude.add(pre, tmp)
            self._prelude_lines(tmp, out)
            if z >= 0:
                self.framed = True
                self._flush_prelude(out, partial=False)
        for ev in self.frames.feed(data):
            self._event(ev, out)
        return out

    def _event(self, ev: _frame.Frame | _frame.FrameError, out: list) -> None:
        st = self.stats
        if isinstance(ev, _frame.FrameError):
            if ev.offset == 0 and printable(ev.data):
                st.prelude_frames += 1      # GRUB text before the first 0x00
                return
            st.errors[ev.kind] = st.errors.get(ev.kind, 0) + 1
            if not printable(ev.data):      # (text: firmware after a reset)
                self._damaged += 1
            out.append(ev)
            return
        if ev.restart:
            self._end_damage(out, "before the restart")
        self._damaged = 0
        s = st.stream(ev.type_name, ev.cpu)
        s.frames += 1
        s.bytes += len(ev.payload)
        if ev.gap:
            s.gaps += 1
            s.frames_lost += ev.gap
        t = ev.type
        if ev.restart:
            self._restart(out)
        if t != _frame.CONTROL:
            st.data_frames += 1
        if t == _frame.GUEST:
            if ev.gap:
                out.append(_records.Loss("link", ev.cpu, None, ev.seq, ev.gap, "guest"))
                self._guest.mark(ev.gap, "frame")
            if self.on_guest:
                self.on_guest(ev.payload)
            self._guest.add(ev.payload, out)
            return
        if t == _frame.GDB:
            if ev.gap:
                out.append(_records.Loss("link", ev.cpu, None, ev.seq, ev.gap, "gdb"))
            if self.on_gdb:
                self.on_gdb(ev.payload)
            return
        try:
            items = ev.items if ev.items is not None else self.trace.frame(ev)
        except _records.CatalogMismatch as e:
            raise CatalogRefused(str(e)) from None
        for it in items:
            self._item(it, s, out, t)

    def _console_lines(self, cpu: int) -> _Lines:
        lines = self._console.get(cpu)
        if lines is None:
            lines = self._console[cpu] = _Lines("console", cpu)
        return lines

    def _item(self, it: object, s: StreamStats, out: list, ftype: int) -> None:
        if type(it) is _native.RecordRun:
            s.records += it.count
            out.append(it)
        elif isinstance(it, _records.Record):
            s.records += 1
            if it.text is None:
                out.append(it)
                return
            lines = self._console_lines(it.cpu)
            n = len(out)
            lines.add(it.text, out, it.tsc, it.seq)
            s.lines += len(out) - n
        elif isinstance(it, _records.Loss):
            if it.kind in ("ring", "flight"):
                s.ring_lost += it.count
            out.append(it)
            if ftype == _frame.CONSOLE:     # console text spliced: say so
                what = "record" if it.kind == "ring" else "frame"
                if self.runs:
                    out.append(_native.Mark(it.cpu, lost_mark(it.count, what)))
                else:
                    self._console_lines(it.cpu).mark(it.count, what)
        elif isinstance(it, _records.Hello):
            self.hellos.append(it)
            out.append(it)
        elif isinstance(it, _records.Notice):
            if it.level == "error":
                self.stats.bad_batches += 1
            out.append(it)

    def _restart(self, out: list) -> None:
        """HELLO with seq 0 after other frames: the hypervisor started
        again, its frame and record counters restarted (the frame decoder
        forgot the old ones before looking at anything after this HELLO)."""
        self.trace.forget()
        self.stats.restarts += 1
        out.append(_records.Restart("warning", "HELLO with seq 0: the hypervisor restarted"))

    def _end_damage(self, out: list, where: str) -> None:
        """Bad frames after the last good frame: whichever streams they
        belonged to will never show the gap, so count them here."""
        if self._damaged:
            self.stats.end_damaged += self._damaged
            out.append(_records.Notice(
                "warning", f"{self._damaged} damaged frame(s) {where} after the last "
                           f"good frame: lost, and no later frame shows the gap"))
            self._damaged = 0

    def idle(self) -> list:
        """Nothing arrived for a while: show unfinished lines (prompts)."""
        out: list = []
        if not self.framed:
            self._flush_prelude(out, partial=True)
        self._guest.flush(out, partial=True)
        for lines in self._console.values():
            lines.flush(out, partial=True)
        return out

    def finish(self) -> list:
        """End of stream: the unterminated tail is a truncated frame, every
        unfinished line is a line."""
        out: list = []
        self._flush_prelude(out, partial=False)
        for ev in self.frames.finish():
            self._event(ev, out)
        self._end_damage(out, "at the end of the stream")
        self._guest.flush(out, partial=False)
        for cpu, lines in self._console.items():
            n = len(out)
            lines.flush(out, partial=False)
            self.stats.stream("console", cpu).lines += len(out) - n
        return out
