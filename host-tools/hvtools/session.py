"""A decoded view of a whole serial capture: what tests and tools ask of it.

    s = Session.decode(raw_bytes)
    s.console(cpu)      -> that CPU's console text
    s.lines()           -> [(cpu, line), ...] in arrival order
    s.text()            -> every console line as "cpuN| line"
    s.events(name=None) -> trace Records (optionally one event name)
    s.losses, s.frame_errors, s.hello, s.notices

A `plain` capture (serial_mode=plain) is handled too: its "[cpuN] " line
prefixes are parsed instead of frames.
"""
from __future__ import annotations

import re

from . import frame as _frame
from . import records as _records

_PLAIN_LINE = re.compile(r"^\[cpu(\d+)\] ?(.*)$")


class Session:
    def __init__(self):
        self._console: dict[int, list[str]] = {}
        self._partial: dict[int, str] = {}
        self._lines: list[tuple[int, str]] = []
        self.records: list[_records.Record] = []
        self.losses: list[_records.Loss] = []
        self.frame_errors: list[_frame.FrameError] = []
        self.notices: list[_records.Notice] = []
        self.hellos: list[_records.Hello] = []
        self.guest = bytearray()
        self.gdb = bytearray()
        self.plain = False

    @property
    def hello(self):
        return self.hellos[-1] if self.hellos else None

    @classmethod
    def decode(cls, data: bytes, cat=None, final: bool = False) -> "Session":
        """final=False (a capture still being written): bytes after the last
        delimiter are a frame in flight, not an error."""
        s = cls()
        if data and b"\x00" not in data:
            s._decode_plain(data)
            return s
        fd = _frame.FrameDecoder()
        td = _records.TraceDecoder(cat, strict=False)
        events = fd.feed(bytes(data)) + (fd.finish() if final else [])
        for ev in events:
            if isinstance(ev, _frame.FrameError):
                s.frame_errors.append(ev)
                continue
            if ev.type == _frame.GUEST:
                s.guest += ev.payload
            elif ev.type == _frame.GDB:
                s.gdb += ev.payload
            for item in td.frame(ev):
                s._add(item)
        if final:       # otherwise a line without its newline is still coming
            s._flush_partials()
        return s

    def _add(self, item):
        if isinstance(item, _records.Record):
            if item.text is not None:
                self._text(item.cpu, item.text.decode("utf-8", "replace"))
            else:
                self.records.append(item)
        elif isinstance(item, _records.Loss):
            self.losses.append(item)
        elif isinstance(item, _records.Hello):
            self.hellos.append(item)
        elif isinstance(item, _records.Notice):
            self.notices.append(item)

    def _text(self, cpu: int, text: str):
        buf = self._partial.get(cpu, "") + text
        *done, rest = buf.split("\n")
        for line in done:
            self._line(cpu, line.rstrip("\r"))
        self._partial[cpu] = rest

    def _line(self, cpu: int, line: str):
        self._console.setdefault(cpu, []).append(line)
        self._lines.append((cpu, line))

    def _flush_partials(self):
        for cpu, rest in self._partial.items():
            if rest:
                self._line(cpu, rest)
        self._partial = {}

    def _decode_plain(self, data: bytes):
        self.plain = True
        for raw in data.decode("utf-8", "replace").splitlines():
            m = _PLAIN_LINE.match(raw.rstrip("\r"))
            if m:
                self._line(int(m.group(1)), m.group(2))

    # ---- queries ----------------------------------------------------------
    def console(self, cpu: int) -> str:
        return "\n".join(self._console.get(cpu, []))

    def lines(self) -> list[tuple[int, str]]:
        return list(self._lines)

    def cpus(self) -> list[int]:
        return sorted(self._console)

    def text(self) -> str:
        return "\n".join(f"cpu{c}| {l}" for c, l in self._lines)

    def events(self, name: str | None = None) -> list:
        return [r for r in self.records if name is None or r.name == name]

    def find(self, pattern: str, cpu: int | None = None):
        """First console line matching the regex (optionally on one CPU)."""
        rx = re.compile(pattern)
        for c, line in self._lines:
            if cpu is not None and c != cpu:
                continue
            m = rx.search(line)
            if m:
                return m
        return None
