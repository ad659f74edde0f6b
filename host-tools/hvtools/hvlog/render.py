"""Items -> text. Renderer.parts() gives (text, style) pieces; plain() joins
them (decoded.log, --no-color, tests), styled() makes a rich Text.

    <time since boot>  cpu1| console line
    <time since boot>  cpu1* HYPERCALL eax=0x... ...   #seq    (streamed)
    <time since boot>  cpu1~ VMEXIT reason=WRMSR rip=0x...   #seq (flight recorder dump)
                      guest| guest serial output
                       boot| text before the first frame (GRUB)
                         !! errors, gaps, ring drops, notices
                         ~~ flight recorder records overwritten before a dump
"""
from __future__ import annotations

from rich.text import Text

from .. import frame as _frame
from .. import records as _records
from ..catalog import Catalog
from ..records import Symbolize
from ..stream import Line, printable
from .clock import Clock

CPU_STYLES = ("cyan", "green", "yellow", "magenta", "bright_blue", "bright_red",
              "bright_cyan", "bright_green", "bright_yellow", "bright_magenta",
              "blue", "red")
BLANK = " " * 14


def cpu_style(cpu: int | None) -> str:
    return CPU_STYLES[cpu % len(CPU_STYLES)] if cpu is not None else "white"


def event_args(r: _records.Record, cat: Catalog, symbolize: Symbolize | None = None) -> str:
    ev = cat.event(r.id)
    if ev is None:
        return " ".join(f"a{i}={v:#x}" for i, v in enumerate(r.args))
    parts = (cat.arg_text(a.name, a.fmt, v, symbolize) for a, v in zip(ev.args, r.args))
    return " ".join(p for p in parts if p is not None)


class Renderer:
    def __init__(self, cat: Catalog, clock: Clock, symbolize: Symbolize | None = None) -> None:
        self.cat = cat
        self.clock = clock
        self.symbolize = symbolize

    def parts(self, item: object) -> list[tuple[str, str]]:
        label = self.clock.label
        if isinstance(item, _records.Record):
            st = cpu_style(item.cpu)
            mark = "~" if item.channel == _frame.FLIGHT else "*"
            return [(label(item.tsc), "dim"), (f" cpu{item.cpu}{mark} ", st),
                    (item.name, "bold " + st), (" ", ""),
                    (event_args(item, self.cat, self.symbolize), st),
                    (f"  #{item.seq}", "dim")]
        if isinstance(item, Line):
            mark = "!" if item.lost else "+" if item.cont else "|"
            if item.kind == "console":
                st = cpu_style(item.cpu)
                return [(label(item.tsc), "dim"), (f" cpu{item.cpu}{mark} ", "bold " + st),
                        (item.text, st)]
            if item.kind == "guest":
                return [(BLANK, ""), (f" guest{mark}", "black on white"), (" ", ""),
                        (item.text, "bold bright_white")]
            return [(BLANK, ""), (f"  boot{mark} ", "dim"), (item.text, "dim")]
        if isinstance(item, _frame.FrameError):
            s = str(item)
            if item.data and printable(item.data):
                s += f": {item.data[:60].decode('ascii', 'replace')!r}"
            return [(BLANK, ""), ("    !! ", "bold red"), (s, "red")]
        if isinstance(item, _records.Loss):
            if item.kind == "flight":       # held history overwritten: by design
                return [(BLANK, ""), ("    ~~ ", "yellow"), (f"flight: {item}", "yellow")]
            what = "ring drop" if item.kind == "ring" else "link gap"
            return [(BLANK, ""), ("    !! ", "bold red"), (f"{what}: {item}", "red")]
        if isinstance(item, _records.Hello):
            return [(BLANK, ""), ("    hv| ", "bold"),
                    (f"HELLO wire v{item.version}, {item.ncpus} CPUs, tsc {item.tsc_khz} kHz, "
                     f"catalogue {item.catalog_crc:#010x}"
                     + (" (matches)" if item.catalog_crc == self.cat.crc else
                        f" (decoder has {self.cat.crc:#010x})"), "bold")]
        if isinstance(item, _records.Notice):
            st = "bold red" if item.level == "error" else "yellow"
            return [(BLANK, ""), ("    !! ", st), (str(item), st)]
        return [(BLANK, ""), ("    ?? ", ""), (repr(item), "")]

    def plain(self, item: object) -> str:
        return "".join(p[0] for p in self.parts(item)).rstrip()

    def styled(self, item: object) -> Text:
        t = Text(no_wrap=False)
        for s, style in self.parts(item):
            t.append(s, style or None)
        return t
