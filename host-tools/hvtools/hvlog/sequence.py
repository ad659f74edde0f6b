"""--sequence FROM:TO: the seed notes' "execution sequence" table, built from
the trace. One column per CPU, rows in TSC order, each cell the event (name
and its args) or console line on that CPU; things that happen at the same
TSC on different CPUs share a row. Markdown, so it renders as in the notes.

Window ends (either may be empty = open):
    1234567 / 0x12d687   absolute TSC
    150us / 2.5ms        time since the first record (needs the TSC rate)
    2#1200               the TSC of CPU 2's record with seq 1200 (a trace
                         event, else the console line starting at it)
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tabulate import tabulate

from .. import records as _records
from ..catalog import Catalog
from ..records import Symbolize
from ..stream import Line
from .clock import Clock

_END = re.compile(r"^(?:(?P<cpu>\d+)#(?P<seq>\d+)|(?P<t>\d+(?:\.\d*)?)(?P<unit>us|ms|s)|"
                  r"(?P<tsc>0[xX][0-9a-fA-F]+|\d+))$")


class WindowError(ValueError):
    pass


@dataclass
class Window:
    lo: tuple | None
    hi: tuple | None
    spec: str = ""


def _end(s: str, spec: str):
    s = s.strip()
    if not s:
        return None
    m = _END.match(s)
    if not m:
        raise WindowError(f"--sequence {spec!r}: bad end {s!r}; use a TSC (1234, 0x4d2), "
                          f"a time since boot (150us, 2ms) or CPU#SEQ (2#1200)")
    if m.group("cpu"):
        return ("rec", int(m.group("cpu")), int(m.group("seq")))
    if m.group("unit"):
        mult = {"us": 1.0, "ms": 1e3, "s": 1e6}[m.group("unit")]
        return ("us", float(m.group("t")) * mult)
    return ("tsc", int(m.group("tsc"), 0))


def parse_window(spec: str) -> Window:
    if spec.count(":") != 1:
        raise WindowError(f"--sequence {spec!r}: expected FROM:TO (either may be empty)")
    a, b = spec.split(":")
    return Window(_end(a, spec), _end(b, spec), spec)


def _resolve(end, items, clock, lo: bool):
    if end is None:
        return None
    kind = end[0]
    if kind == "tsc":
        return end[1]
    if kind == "us":
        if not clock.khz or clock.t0 is None:
            raise WindowError("--sequence: a time window needs the TSC rate (from HELLO); "
                              "use TSC values or CPU#SEQ instead")
        return clock.t0 + int(end[1] * clock.khz / 1000.0 + (0 if lo else 0.5))
    _, cpu, seq = end
    found = None
    for it in items:
        if getattr(it, "cpu", None) == cpu and getattr(it, "seq", None) == seq \
                and getattr(it, "tsc", None) is not None:
            if isinstance(it, _records.Record):
                return it.tsc
            found = found if found is not None else it.tsc
    if found is None:
        raise WindowError(f"--sequence: no record with seq {seq} on CPU {cpu} "
                          f"(among the records shown)")
    return found


def _cell(it, cat, symbolize) -> str:
    if isinstance(it, Line):
        s = it.text
    elif isinstance(it, _records.Record):
        ev = cat.event(it.id)
        parts = [it.name]
        for a, v in zip(ev.args if ev else (), it.args):
            if a.fmt == "sym":
                sym = symbolize(v) if symbolize else None
                val = sym if sym else f"{v:#x}"
            else:
                val = cat.format_value(a.fmt, v, symbolize)
            parts.append(f"{a.name}={val}")
        s = " ".join(parts)
    else:                               # a ring drop / link gap marker
        s = f"({it.count} {'records' if it.kind == 'ring' else 'frames'} lost)"
    return s.replace("|", "\\|")


def rows(items: list, window: Window, clock: Clock, cat: Catalog | None = None,
         symbolize: Symbolize | None = None) -> tuple[list[int], list[tuple[int, dict]]]:
    """-> (cpus, [(tsc, {cpu: cell})]) for the items (already filtered)."""
    lo = _resolve(window.lo, items, clock, True)
    hi = _resolve(window.hi, items, clock, False)
    if lo is not None and hi is not None and lo > hi:
        raise WindowError(f"--sequence {window.spec!r}: FROM is after TO")
    picked = []
    pending = {}
    n = 0
    for it in items:
        if isinstance(it, _records.Loss) and it.channel in ("", "trace", "console"):
            pending.setdefault(it.cpu, []).append(it)
            continue
        if isinstance(it, Line) and it.kind != "console":
            continue
        if not isinstance(it, (Line, _records.Record)) or it.tsc is None:
            continue
        for loss in pending.pop(it.cpu, ()):
            picked.append((it.tsc, n, it.cpu, loss))
            n += 1
        picked.append((it.tsc, n, it.cpu, it))
        n += 1
    picked = [p for p in picked if (lo is None or p[0] >= lo) and (hi is None or p[0] <= hi)]
    picked.sort(key=lambda p: (p[0], p[1]))
    cpus = sorted({p[2] for p in picked})
    out = []
    for tsc, _, cpu, it in picked:
        cell = _cell(it, cat, symbolize)
        if out and out[-1][0] == tsc and cpu not in out[-1][1]:
            out[-1][1][cpu] = cell
        else:
            out.append((tsc, {cpu: cell}))
    return cpus, out


def table(items: list, window: Window, clock: Clock, cat: Catalog,
          symbolize: Symbolize | None = None,
          cpus: Iterable[int] | None = None) -> str:
    """The markdown table (GitHub pipes): Index, Time, one column per CPU."""
    seen, rws = rows(items, window, clock, cat, symbolize)
    cols = sorted(set(cpus or []) | set(seen))
    unit = "us" if clock.khz else "tsc"
    head = ["Index", f"Time ({unit})"] + [f"CPU {c}" for c in cols]
    body = []
    for i, (tsc, cells) in enumerate(rws, 1):
        t = f"{clock.us(tsc):.3f}" if clock.khz else str(tsc)
        body.append([str(i), t] + [cells.get(c, "") for c in cols])
    return tabulate(body, headers=head, tablefmt="github", disable_numparse=True) + "\n"
