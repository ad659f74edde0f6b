"""A decoded view of a whole serial capture: what tests and tools ask of it.

    s = Session.decode(raw_bytes)
    s.console(cpu)      -> that CPU's console text
    s.lines()           -> [(cpu, line), ...] in arrival order
    s.text()            -> every console line as "cpuN| line"
    s.events(name=None) -> trace Records (optionally one event name)
    s.losses, s.frame_errors, s.hello, s.notices, s.guest, s.gdb

The decoding is hvtools.stream.StreamDecoder's (the one hvlog uses), with
the catalogue forced (a mismatch is a warning in s.notices). A `plain`
capture (serial_mode=plain) is handled too: its "[cpuN] " lines are console
lines; other text before the first 0x00 (GRUB) is left out.
"""
from __future__ import annotations

import os
import re

from . import catalog as _catalog
from . import frame as _frame
from . import records as _records
from .stream import Line, StreamDecoder


class Session:
    def __init__(self) -> None:
        self._console: dict[int, list[str]] = {}
        self._lines: list[tuple[int, str]] = []
        self._line_tscs: list[int | None] = []     # each console line's stamp
        self.records: list[_records.Record] = []
        self.losses: list[_records.Loss] = []
        self.frame_errors: list[_frame.FrameError] = []
        self.notices: list[_records.Notice] = []
        self.hellos: list[_records.Hello] = []
        self.guest = bytearray()        # the GUEST channel's bytes
        self.gdb = bytearray()          # the GDB channel's bytes
        self.plain = False              # no 0x00 at all: a plain-mode capture
        self.native = False             # decoded by the C core (hvtools.native)

    @property
    def hello(self) -> _records.Hello | None:
        return self.hellos[-1] if self.hellos else None

    @classmethod
    def decode(cls, data: bytes, cat: _catalog.Catalog | None = None,
               final: bool = False) -> "Session":
        """final=False (a capture still being written): bytes after the last
        delimiter are a frame in flight, not an error, and a console line
        without its newline is still coming."""
        s = cls()
        items, framed = _items(s, data, cat, final, None)
        if os.environ.get("HVTOOLS_CROSSCHECK") == "1" and s.native:
            _crosscheck(items, data, cat, final)
        s.plain = bool(data) and not framed
        for it in items:
            s._add(it)
        return s

    def _add(self, item: object) -> None:
        if isinstance(item, Line):
            if item.kind == "console":
                self._console.setdefault(item.cpu, []).append(item.text)
                self._lines.append((item.cpu, item.text))
                self._line_tscs.append(item.tsc)
        elif isinstance(item, _records.Record):
            self.records.append(item)
        elif isinstance(item, _records.Loss):
            self.losses.append(item)
        elif isinstance(item, _records.Hello):
            self.hellos.append(item)
        elif isinstance(item, _records.Notice):
            self.notices.append(item)
        elif isinstance(item, _frame.FrameError):
            self.frame_errors.append(item)

    # ---- queries ----------------------------------------------------------
    def console(self, cpu: int) -> str:
        return "\n".join(self._console.get(cpu, []))

    def lines(self) -> list[tuple[int, str]]:
        return list(self._lines)

    def cpus(self) -> list[int]:
        return sorted(self._console)

    def text(self) -> str:
        return "\n".join(f"cpu{c}| {l}" for c, l in self._lines)

    def line_tsc(self, pattern: str) -> int | None:
        """The TSC stamp of the last console line matching the regex."""
        rx = re.compile(pattern)
        for (c, line), tsc in zip(reversed(self._lines), reversed(self._line_tscs)):
            if rx.search(line):
                return tsc
        return None

    def events(self, name: str | None = None) -> list[_records.Record]:
        return [r for r in self.records if name is None or r.name == name]

    def find(self, pattern: str, cpu: int | None = None) -> re.Match | None:
        """First console line matching the regex (optionally on one CPU)."""
        rx = re.compile(pattern)
        for c, line in self._lines:
            if cpu is not None and c != cpu:
                continue
            m = rx.search(line)
            if m:
                return m
        return None


class Follower:
    """A Session kept up to date with a capture that is still growing: each
    update() decodes only the bytes added since the last one. Watchers that
    poll a capture every second for hours (hvstress) would otherwise decode
    it all again each time, quadratic in the run's length. update() returns
    the same Session object, grown; it equals Session.decode(data) of the
    whole capture, but for a plain-mode capture's last line without its
    newline, which waits for the newline here."""

    def __init__(self, cat: _catalog.Catalog | None = None, native: bool | None = None) -> None:
        self.session = Session()
        self._dec = StreamDecoder(cat, force_catalog=True, native=native)
        self.session.native = self._dec.native
        self._dec.on_guest = self.session.guest.extend
        self._dec.on_gdb = self.session.gdb.extend
        self.fed = 0                    # bytes of the capture decoded so far

    def update(self, data: bytes) -> Session:
        """data: the whole capture so far (a prefix of what comes next)."""
        if len(data) < self.fed:
            raise ValueError(f"the capture shrank from {self.fed} to {len(data)} bytes")
        for it in self._dec.feed(bytes(data[self.fed:])):
            self.session._add(it)
        self.fed = len(data)
        self.session.plain = bool(data) and not self._dec.framed
        return self.session


def _items(s: Session, data: bytes, cat, final: bool, native: bool | None):
    dec = StreamDecoder(cat, force_catalog=True, native=native)
    s.native = dec.native
    dec.on_guest = s.guest.extend
    dec.on_gdb = s.gdb.extend
    items = dec.feed(data)
    if final:
        items += dec.finish()
    elif not dec.framed:
        items += dec.idle()         # plain text: its last line counts
    return items, dec.framed


def _crosscheck(items: list, data: bytes, cat, final: bool) -> None:
    """HVTOOLS_CROSSCHECK=1 (the tests set it): every capture a Session
    decodes is decoded by the Python reference too, and must give the same
    items (bad-batch notices compared by the frame they name)."""
    ref, _ = _items(Session(), data, cat, final, False)

    def norm(x):
        if type(x) is _records.Notice and x.level == "error":
            return ("bad batch", x.message.split(":")[0])
        return x
    a, b = [norm(x) for x in items], [norm(x) for x in ref]
    if a != b:
        i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise AssertionError(f"C and Python decoders disagree at item {i} of "
                             f"{len(a)}/{len(b)}: {a[i:i + 1]} vs {b[i:i + 1]}")
