"""LiveDecoder: bytes in, decoded items rendered as they arrive.

    dec = LiveDecoder(elf="build/hv.elf", cpus="0,1", out=sys.stdout, color=True)
    dec.feed(chunk)          # -> the decoded items (all, unfiltered)
    dec.idle()               # nothing arrived for a while: show prompts
    dec.close()              # end of stream
    print(dec.summary())

Decoding (hvtools.stream.StreamDecoder) and presentation (render.Renderer) stay
apart: tests read the items, people read the rendering.
"""
from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

from .. import catalog as _catalog
from .. import frame as _frame
from .. import native as _native
from .. import records as _records
from ..records import Symbolize
from ..stream import CatalogRefused, Line, StreamDecoder  # noqa: F401
from .clock import Clock
from .filters import Filter
from .keyboard import guest_frames
from .render import Renderer
from .stats import summary as _summary


def load_symbolizer(elf: str | Symbolize | None) -> Symbolize | None:
    if not elf:
        return None
    if callable(elf):
        return elf
    return _records.Symbolizer(elf)


class LiveDecoder:
    def __init__(self, cat: _catalog.Catalog | None = None,
                 elf: str | Symbolize | None = None, *, cpus: str | None = None,
                 events: str | list[str] | None = None,
                 classes: str | list[str] | None = None, trace: bool = True,
                 console: bool = True, guest: bool = True, out: TextIO | None = None,
                 color: bool = True, log: TextIO | None = None,
                 force_catalog: bool = False, keep: bool = False,
                 native: bool | None = None, fast: bool = False) -> None:
        """cat: a catalog.Catalog (default: this tree's events.def).
        elf: path of hv.elf (or a callable addr -> name) for symbols.
        cpus/events/classes/trace/console/guest: what is shown (filters).
        out: text file to render to (None: render nothing); color: rich styles.
        log: text file that gets every item, unfiltered and uncoloured.
        force_catalog: decode despite a HELLO naming another catalogue.
        keep: remember the shown items (for --perfetto / --sequence).
        native: the C decoder (None: if it loads, see hvtools.native).
        fast: also render trace records in C (hvtools.native.Formatter) when
            that gives the same text: plain output, nothing kept, symbols
            from an ELF; feed() then returns such records as RecordRuns."""
        self.cat = cat or _catalog.default()
        self.symbolize = load_symbolizer(elf)
        self.filter = Filter(self.cat, cpus, events, classes, trace, console, guest)
        lib = _native.load(self.cat) if native is not False else None
        self.fast = bool(fast and lib and not keep and not (out is not None and color)
                         and (self.symbolize is None
                              or isinstance(self.symbolize, _records.Symbolizer)))
        self.stream = StreamDecoder(self.cat, force_catalog, native, runs=self.fast)
        self.formatter = (_native.Formatter(lib, self.cat, self.symbolize, self.filter)
                          if self.fast else None)
        self.stats = self.stream.stats
        self.clock = Clock()
        self.renderer = Renderer(self.cat, self.clock, self.symbolize)
        self.log = log
        self.keep = keep
        self.kept: list = []
        self._out = out
        self._console = None
        if out is not None and color:
            from rich.console import Console
            self._console = Console(file=out, force_terminal=True, color_system="standard",
                                    highlight=False, markup=False, emoji=False,
                                    soft_wrap=True)
        self.closed = False

    # ---- plumbing
    @property
    def on_gdb(self) -> Callable[[bytes], object] | None:
        return self.stream.on_gdb

    @on_gdb.setter
    def on_gdb(self, fn: Callable[[bytes], object] | None) -> None:
        self.stream.on_gdb = fn

    @property
    def hello(self) -> _records.Hello | None:
        return self.stream.hello

    @property
    def ncpus(self) -> int:
        h = self.hello
        n = h.ncpus if h else 0
        seen = [c for (_, c) in self.stats.streams if c is not None]
        return max([n] + [c + 1 for c in seen])

    def _handle(self, items: list) -> list:
        clock = self.clock
        rp = self.renderer.plain
        log, out, con, keep, accept = self.log, self._out, self._console, self.keep, self.filter.accept
        runs: list = []                 # adjacent RecordRuns, rendered in one call
        for it in items:
            if type(it) is _native.RecordRun:
                if runs and runs[0].arena is not it.arena:
                    self._fast_runs(runs)
                    runs = []
                runs.append(it)
                continue
            if runs:
                self._fast_runs(runs)
                runs = []
            if type(it) is _native.Mark:
                self.formatter.mark(it)
                continue
            tsc = getattr(it, "tsc", None)
            if tsc is not None:
                clock.see(tsc)
            if isinstance(it, _records.Hello):
                clock.hello(it.tsc_khz, it.seq)
            elif isinstance(it, _records.Record) and it.name == "BOOT" and len(it.args) > 1:
                clock.boot(it.args[1])
            elif isinstance(it, _records.Restart):
                clock.restart()
            if log is not None:
                log.write(rp(it) + "\n")
            if not accept(it):
                continue
            if keep:
                self.kept.append(it)
            if con is not None:
                con.print(self.renderer.styled(it))
            elif out is not None:
                out.write(rp(it) + "\n")
        if runs:
            self._fast_runs(runs)
        if out is not None and con is None:
            out.flush()
        if log is not None:
            log.flush()
        return items

    def _fast_runs(self, runs: list) -> None:
        self._fast_text(self.formatter.render_runs(runs, self.clock, self.log is not None,
                                                   self._out is not None))

    def _fast_text(self, texts: tuple[str, str]) -> None:
        """Text the C renderer made (all for the log, the shown for out)."""
        if self.log is not None:
            self.log.write(texts[0])
        if self._out is not None:
            self._out.write(texts[1])
        for ch, cpu, n in self.formatter.line_counts():
            self.stats.stream(ch, cpu).lines += n

    def _fast_flush(self, partial: bool) -> None:
        if self.formatter is not None:
            self._fast_text(self.formatter.flush(self.clock, self.log is not None,
                                                 self._out is not None, partial))
            if self._out is not None:
                self._out.flush()

    def feed(self, data: bytes) -> list:
        """Decode and render a chunk; returns every decoded item. Raises
        CatalogRefused on a catalogue mismatch unless force_catalog."""
        return self._handle(self.stream.feed(data))

    def idle(self) -> list:
        items = self._handle(self.stream.idle())
        self._fast_flush(partial=True)
        return items

    def close(self) -> list:
        if self.closed:
            return []
        self.closed = True
        items = self._handle(self.stream.finish())
        self._fast_flush(partial=False)
        return items

    def summary(self, notes: Iterable[str] = ()) -> str:
        return _summary(self.stats, self.stream.frames.stats.bytes_in, self.hello,
                        self.cat.crc, notes)


def decode_bytes(data: bytes, **kw: object) -> tuple[list, LiveDecoder]:
    """Whole capture at once: (items, decoder)."""
    d = LiveDecoder(**kw)
    items = d.feed(data) + d.close()
    return items, d


class TextDecoder:
    """The seam hvrun uses (see host-tools/hvrun make_decoder): feed(bytes)
    -> rendered text, idle(), flush() -> text, encode_input(keys) -> GUEST
    frames. A catalogue mismatch is shown as a warning, not refused: a live
    boot view must keep showing the line."""

    def __init__(self, elf: str | Symbolize | None = None, color: bool | None = None,
                 **kw: object) -> None:
        if color is None:
            color = sys.stdout.isatty()
        if isinstance(elf, str) and not os.path.isfile(elf):
            elf = None
        self._buf = io.StringIO()
        kw.setdefault("force_catalog", True)
        kw.setdefault("fast", True)         # C rendering when it gives the same text
        self.dec = LiveDecoder(elf=elf, out=self._buf, color=color, **kw)
        self._enc = _frame.Encoder()

    def _take(self) -> str:
        s = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        return s

    def feed(self, data: bytes) -> str:
        self.dec.feed(data)
        return self._take()

    def idle(self) -> str:
        self.dec.idle()
        return self._take()

    def flush(self) -> str:
        self.dec.close()
        return self._take()

    def encode_input(self, data: bytes) -> bytes:
        return guest_frames(self._enc, data, _frame.GUEST)

    @property
    def encoder(self) -> _frame.Encoder:
        """The host -> hypervisor frame encoder (GUEST keys; hvrun's GDB bridge)."""
        return self._enc

    def summary(self) -> str:
        return self.dec.summary()


def live_decoder(elf: str | Symbolize | None = None, **kw: object) -> TextDecoder:
    return TextDecoder(elf=elf, **kw)
