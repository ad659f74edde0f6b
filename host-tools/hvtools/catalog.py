"""The trace event catalogue, parsed from the hypervisor's own
hv/trace/events.def and hv/trace/names.def at run time (never a copy).

Catalogue identity = zlib.crc32 of the exact bytes of events.def; the
hypervisor sends the same number (computed with hv/trace/crc32.c) in its
CONTROL HELLO frame.
"""
from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EVENTS_DEF = os.path.join(ROOT, "hv", "trace", "events.def")
NAMES_DEF = os.path.join(ROOT, "hv", "trace", "names.def")

MAX_ARGS = 6
CLASS_SHIFT = 5
BUILTIN_FORMATS = {"x", "d", "sym", "str", "exitn"}

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_CLASS = re.compile(r'\bTRACE_CLASS\(\s*(\d+)\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*\)')
_EVENT = re.compile(r'\bTRACE_EVENT\(\s*(0[xX][0-9a-fA-F]+|\d+)\s*,\s*(\w+)\s*,'
                    r'\s*(\w+)\s*((?:,\s*"[^"]*"\s*)*)\)')
_ARG = re.compile(r'"([a-z_][a-z0-9_]*):([a-z_][a-z0-9_]*)"')
_TABLE = re.compile(r'\bNAME_TABLE\(\s*(\w+)\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*,\s*"([^"]*)"\s*\)')


class CatalogError(Exception):
    pass


@dataclass(frozen=True)
class Arg:
    name: str
    fmt: str


@dataclass(frozen=True)
class TraceClass:
    bit: int
    name: str
    desc: str


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    cls: str
    args: tuple

    @property
    def nargs(self) -> int:
        return len(self.args)

    @property
    def is_text(self) -> bool:
        return any(a.fmt == "str" for a in self.args)


def _strip(text: str) -> str:
    text = _COMMENT.sub(" ", text)
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))


@dataclass
class Catalog:
    crc: int
    classes: dict = field(default_factory=dict)       # bit -> TraceClass
    events: dict = field(default_factory=dict)        # id -> Event
    tables: dict = field(default_factory=dict)        # fmt -> {value: name}
    prefixes: dict = field(default_factory=dict)      # fmt -> prefix
    path: str = ""

    @classmethod
    def load(cls, events_path: str = EVENTS_DEF,
             names_path: str | None = NAMES_DEF) -> Catalog:
        with open(events_path, "rb") as f:
            raw = f.read()
        names = None
        if names_path:
            with open(names_path, "rb") as f:
                names = f.read().decode()
        return cls.parse(raw, names, path=events_path)

    @classmethod
    def parse(cls, events_bytes: bytes, names_text: str | None = None,
              path: str = "") -> Catalog:
        cat = cls(crc=zlib.crc32(events_bytes), path=path)
        if names_text:
            cat._parse_names(names_text)
        text = _strip(events_bytes.decode())
        by_name = {}
        for m in _CLASS.finditer(text):
            bit, name, desc = int(m.group(1)), m.group(2), m.group(3)
            if bit in cat.classes or name in by_name or bit >= 32:
                raise CatalogError(f"bad or duplicate class {name} ({bit})")
            cat.classes[bit] = by_name[name] = TraceClass(bit, name, desc)
        seen = set()
        for m in _EVENT.finditer(text):
            eid, name, cname = int(m.group(1), 0), m.group(2), m.group(3)
            argtext = m.group(4)
            args = tuple(Arg(a, f) for a, f in _ARG.findall(argtext))
            if argtext.count('"') != 2 * len(args):
                raise CatalogError(f"{name}: malformed argument list {argtext!r}")
            if eid in cat.events or name in seen:
                raise CatalogError(f"duplicate event {name} ({eid:#x})")
            if cname not in by_name:
                raise CatalogError(f"{name}: unknown class {cname}")
            if eid >> CLASS_SHIFT != by_name[cname].bit:
                raise CatalogError(f"{name}: id {eid:#x} outside class {cname}'s range")
            if len(args) > MAX_ARGS:
                raise CatalogError(f"{name}: more than {MAX_ARGS} args")
            for a in args:
                if a.fmt not in BUILTIN_FORMATS and a.fmt not in cat.tables:
                    raise CatalogError(f"{name}: unknown format {a.fmt}")
            if any(a.fmt == "str" for a in args) and name != "CONSOLE_TEXT":
                raise CatalogError(f"{name}: only CONSOLE_TEXT may carry text")
            seen.add(name)
            cat.events[eid] = Event(eid, name, cname, args)
        if not cat.events:
            raise CatalogError("no TRACE_EVENT found")
        cat.by_name = {e.name: e for e in cat.events.values()}
        cat.class_by_name = by_name
        return cat

    def _parse_names(self, text: str):
        text = _strip(text)
        macros = {}
        for m in _TABLE.finditer(text):
            fmt, macro, prefix = m.group(1), m.group(2), m.group(3)
            macros[macro] = fmt
            self.tables[fmt] = {}
            self.prefixes[fmt] = prefix
        if not macros:
            return
        entry = re.compile(r"\b(" + "|".join(map(re.escape, macros)) +
                           r")\(\s*(0[xX][0-9a-fA-F]+|\d+)\s*,\s*(\w+)\s*\)")
        for m in entry.finditer(text):
            self.tables[macros[m.group(1)]][int(m.group(2), 0)] = m.group(3)

    # ---- lookups and formatting ----------------------------------------
    def event(self, eid: int) -> Event | None:
        return self.events.get(eid)

    def nargs(self, eid: int) -> int:
        e = self.events.get(eid)
        return -1 if e is None else e.nargs

    def id_of(self, name: str) -> int:
        return self.by_name[name].id

    def name_of(self, fmt: str, value: int) -> str | None:
        table = self.tables.get(fmt)
        if table is None:
            return None
        if fmt == "exit":
            n = table.get(value & 0xFFFF)
            if n is None:
                return None
            return n + ("|ENTRY_FAIL" if value & 0x80000000 else "")
        n = table.get(value)
        return None if n is None else self.prefixes.get(fmt, "") + n

    def arg_text(self, name: str, fmt: str, value, symbolize=None) -> str | None:
        """One argument as a record line shows it: name=value; an exitn
        (count << 16 | exit reason) as REASON=count, None when 0 (an unused
        slot of EXIT_COUNTS)."""
        if fmt == "exitn":
            if not value:
                return None
            reason = value & 0xFFFF
            n = self.name_of("exit", reason)
            return f"{n if n is not None else f'exit{reason}'}={value >> 16}"
        return f"{name}={self.format_value(fmt, value, symbolize)}"

    def format_value(self, fmt: str, value: int | bytes | str,
                     symbolize: Callable[[int], str | None] | None = None) -> str:
        if fmt == "str":
            if isinstance(value, (bytes, bytearray)):
                value = value.decode("utf-8", "replace")
            return repr(value)
        if fmt == "d":
            return str(value)
        if fmt == "sym":
            s = symbolize(value) if symbolize else None
            return f"{value:#x}" + (f" <{s}>" if s else "")
        if fmt in self.tables:
            n = self.name_of(fmt, value)
            return n if n is not None else f"{value:#x}"
        return f"{value:#x}"


_default = None


def default() -> Catalog:
    """The catalogue of this source tree (loaded once)."""
    global _default
    if _default is None:
        _default = Catalog.load()
    return _default
