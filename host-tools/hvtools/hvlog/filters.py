"""What hvlog shows: --cpu, --event (globs), --class, --no-trace,
--no-console, --no-guest. Bad arguments raise FilterError with a message
that names the close matches."""
from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable

from .. import records as _records
from ..catalog import Catalog
from ..stream import Line


class FilterError(ValueError):
    pass


def parse_cpus(spec: str | None) -> set[int] | None:
    """"0,2" or "0-3,6" -> set of ints; None/"" -> None (all)."""
    if not spec:
        return None
    cpus = set()
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                a, b = int(a), int(b)
                if a > b or a < 0:
                    raise ValueError
                cpus.update(range(a, b + 1))
            else:
                n = int(part)
                if n < 0:
                    raise ValueError
                cpus.add(n)
        except ValueError:
            raise FilterError(f"bad --cpu list {spec!r}: expected numbers like 0,2 or 0-3") from None
    if any(c > 255 for c in cpus):
        raise FilterError(f"bad --cpu list {spec!r}: CPU numbers go up to 255")
    return cpus


def _split(spec):
    if not spec:
        return []
    if isinstance(spec, str):
        spec = [spec]
    return [p.strip() for s in spec for p in s.split(",") if p.strip()]


def _close(word, names):
    m = difflib.get_close_matches(word, names, n=4, cutoff=0.5)
    return ("; did you mean " + ", ".join(m) + "?") if m else ""


def parse_events(spec: str | Iterable[str] | None, cat: Catalog) -> list[str]:
    pats = [p.upper() for p in _split(spec)]
    names = sorted(cat.by_name)
    for p in pats:
        if not fnmatch.filter(names, p):
            bare = p.replace("*", "").replace("?", "")
            raise FilterError(f"--event {p}: no such trace event{_close(bare, names)}"
                              f" (see hv/trace/events.def)")
    return pats


def parse_classes(spec: str | Iterable[str] | None, cat: Catalog) -> set[str]:
    cls = [c.lower() for c in _split(spec)]
    names = sorted(cat.class_by_name)
    for c in cls:
        if c not in cat.class_by_name:
            raise FilterError(f"--class {c}: no such class{_close(c, names)} "
                              f"(classes: {', '.join(names)})")
    return set(cls)


class Filter:
    def __init__(self, cat: Catalog, cpus: str | Iterable[int] | None = None,
                 events: str | Iterable[str] | None = None,
                 classes: str | Iterable[str] | None = None, trace: bool = True,
                 console: bool = True, guest: bool = True) -> None:
        self.cat = cat
        self.cpus = parse_cpus(cpus) if isinstance(cpus, str) else (
            set(cpus) if cpus is not None else None)
        pats = parse_events(events, cat)
        cls = parse_classes(classes, cat)
        self.trace, self.console, self.guest = trace, console, guest
        if pats or cls:
            self.ids = {e.id for e in cat.events.values()
                        if e.cls in cls or any(fnmatch.fnmatchcase(e.name, p) for p in pats)}
        else:
            self.ids = None                 # every event

    def cpu_ok(self, cpu: int | None) -> bool:
        return self.cpus is None or cpu is None or cpu in self.cpus

    def accept(self, item: object) -> bool:
        if isinstance(item, _records.Record):
            return (self.trace and (self.cpus is None or item.cpu in self.cpus)
                    and (self.ids is None or item.id in self.ids))
        if isinstance(item, Line):
            if item.kind == "guest":
                return self.guest
            if item.kind == "prelude":
                return self.console
            return self.console and self.cpu_ok(item.cpu)
        if isinstance(item, _records.Loss):
            if item.channel == "guest":
                return self.guest
            if item.channel == "console" and not self.console:
                return False
            if item.channel in ("trace", "") and not self.trace:
                return False
            return self.cpu_ok(item.cpu)
        return True     # errors, hello, notices: always
