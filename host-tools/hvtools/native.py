"""hvlog's fast path: the hypervisor's own C decoder (hv/trace/decode.c,
frame.c, wire.c) as build/host/libhvtrace.so (make host), through ctypes.

NativeFrameDecoder has FrameDecoder's interface (feed, finish, stats) and
yields the same Frame / FrameError objects; a CONSOLE/TRACE Frame comes with
.items already decoded (Record, Loss, Notice: what TraceDecoder.frame would
give). The Python decoder (frame.py, records.py) stays the reference and the
fallback: load() returns None, with the reason in why_not(), when the
library is missing, stale, or was built from another catalogue.

hvlog's fast path (LiveDecoder(fast=True)) goes one step further: records
stay in C form (RecordRun) and Formatter renders them, and assembles and
renders the console lines, in C (host-tools/libhvtrace/render.c, lines.c);
Mark items carry the loss marks to it in order.

    HVTRACE_LIB=path   use this library;   HVTRACE_LIB=none   never use one
"""
from __future__ import annotations

import ctypes
import os
import struct

from . import catalog as _catalog
from . import frame as _frame
from . import records as _records

ABI = 2
ITEM = struct.Struct("<4B2H6I11Q")          # struct tdec_item (decode.h)
FRAME, ERROR, RECORD, LINK_LOSS, BAD_BATCH = 1, 2, 3, 4, 5
NO_GAP = 0xFFFFFFFF
F_RESTART, F_BATCH = 1, 2
ERR_KINDS = {1: "long", 2: "cobs", 3: "short", 4: "crc", 5: "truncated"}
MAX_ITEMS = 8192
ARENA = 1 << 20
_M64 = (1 << 64) - 1

_CT = {"p": ctypes.c_void_p, "I": ctypes.c_uint, "s": ctypes.c_char_p, "Q": ctypes.c_uint64,
       "Z": ctypes.c_size_t, "i": ctypes.c_int}
load_error = ""
_lib = None
_checked: dict[int, str] = {}               # catalogue crc -> "" or why not


def lib_path() -> str:
    return os.environ.get("HVTRACE_LIB") or os.path.join(
        _catalog.ROOT, "build", "host", "libhvtrace.so")


def _open():
    global _lib, load_error
    if _lib is not None or load_error:
        return _lib
    path = lib_path()
    if path == "none":
        load_error = "HVTRACE_LIB=none"
        return None
    if not os.path.exists(path):
        load_error = f"{os.path.relpath(path)} not built (make host)"
        return None
    try:
        lib = ctypes.CDLL(path)
        lib.hvt_dec_size.restype = ctypes.c_size_t
        lib.hvt_item_size.restype = ctypes.c_size_t
        lib.hvt_catalog_name.restype = ctypes.c_char_p
        lib.trace_dec_feed.restype = ctypes.c_size_t
        lib.trace_dec_feed.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                       ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                       ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.trace_dec_finish.restype = ctypes.c_size_t
        lib.trace_dec_finish.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                         ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.hvt_fmt_new.restype = ctypes.c_void_p
        for fn, args in (("hvt_fmt_event", "pIsI"), ("hvt_fmt_arg", "pIIsI"),
                         ("hvt_fmt_table", "pIIsI"), ("hvt_fmt_symbols", "pZpppQ"),
                         ("hvt_fmt_filter", "pIIppII"), ("hvt_render", "pppZpii"),
                         ("hvt_lines_flush", "ppiii"), ("hvt_lines_mark", "pIs"),
                         ("hvt_out", "pip"),
                         ("hvt_lines_counts", "pp"), ("hvt_fmt_free", "p")):
            getattr(lib, fn).argtypes = [_CT[a] for a in args]
        lib.hvt_render.restype = None
        lib.hvt_lines_flush.restype = None
        lib.hvt_out.restype = ctypes.c_void_p
        lib.hvt_lines_counts.restype = ctypes.c_size_t
        lib.hvt_classify.restype = ctypes.c_size_t
        lib.hvt_classify.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        if lib.hvt_abi() != ABI or lib.hvt_item_size() != ITEM.size:
            load_error = f"{path} is stale (rebuild: make host)"
            return None
    except (OSError, AttributeError) as e:
        load_error = f"cannot load {path}: {e}"
        return None
    _lib = lib
    return lib


def _catalog_ok(lib, cat: _catalog.Catalog) -> str:
    why = _checked.get(cat.crc)
    if why is None:
        why = ""
        for eid in range(1 << 10):       # 32 classes x 32 ids
            ev = cat.events.get(eid)
            n = lib.hvt_catalog_nargs(eid)
            if (ev.nargs if ev else -1) != n or \
                    (ev and lib.hvt_catalog_name(eid) != ev.name.encode()):
                why = (f"the library was built from another events.def "
                       f"(event {eid:#x} differs)")
                break
        _checked[cat.crc] = why
    return why


def load(cat: _catalog.Catalog | None = None):
    """The library if it can decode for this catalogue, else None (the
    reason in load_error / why_not(cat))."""
    lib = _open()
    if lib is None or _catalog_ok(lib, cat or _catalog.default()):
        return None
    return lib


def why_not(cat: _catalog.Catalog | None = None) -> str:
    lib = _open()
    return load_error if lib is None else _catalog_ok(lib, cat or _catalog.default())


class NativeFrameDecoder:
    """FrameDecoder + TraceDecoder's record decoding, in C."""

    def __init__(self, cat: _catalog.Catalog | None = None, lib=None,
                 runs: bool = False) -> None:
        """runs: hand records without a ring loss over as RecordRun items
        (kept in C form, for Formatter.render) instead of Record objects."""
        self.runs = runs
        self.cat = cat or _catalog.default()
        self.lib = lib or load(self.cat)
        if self.lib is None:
            raise RuntimeError(why_not(self.cat))
        self.stats = _frame.Stats()
        self._dec = ctypes.create_string_buffer(self.lib.hvt_dec_size())
        self.lib.trace_dec_init(self._dec)
        self._items = ctypes.create_string_buffer(MAX_ITEMS * ITEM.size)
        self._arena = ctypes.create_string_buffer(ARENA)
        self._n = ctypes.c_size_t()
        self._used = ctypes.c_size_t()
        self._names = {e.id: e.name for e in self.cat.events.values()}
        self._text_id = self.cat.id_of("CONSOLE_TEXT")
        self._cur = None                # the batch Frame being filled
        self._idx = (ctypes.c_uint32 * MAX_ITEMS)()

    def raw(self, data: bytes):
        """Decode into the C item array: yields (item count, items buffer,
        arena) per round; the buffers are reused by the next round."""
        self.stats.bytes_in += len(data)
        buf = ctypes.c_char_p(data)
        base = ctypes.cast(buf, ctypes.c_void_p).value
        off, n = 0, len(data)
        lib, dec, items, arena = self.lib, self._dec, self._items, self._arena
        while off < n:
            k = lib.trace_dec_feed(dec, base + off, n - off, ctypes.byref(self._n), items,
                                   MAX_ITEMS, arena, ARENA, ctypes.byref(self._used))
            off += self._n.value
            yield k

    def feed(self, data: bytes) -> list:
        out: list = []
        for k in self.raw(bytes(data)):
            self._convert(k, out)
        return out

    def finish(self) -> list:
        out: list = []
        k = self.lib.trace_dec_finish(self._dec, self._items, MAX_ITEMS, self._arena, ARENA,
                                      ctypes.byref(self._used))
        self._convert(k, out)
        return out

    def forget(self, keep_types: tuple[int, ...] = ()) -> None:
        pass                            # the C core forgets by itself at a restart

    def _convert(self, k: int, out: list) -> None:
        """C items -> the Python decoder's objects (runs: see __init__)."""
        if not k:
            return
        raw = memoryview(self._items)[:k * ITEM.size]
        arena = ctypes.string_at(self._arena, self._used.value) if self._used.value else b""
        if not self.runs:
            self._objects(ITEM.iter_unpack(raw), out, arena)
            return
        m = self.lib.hvt_classify(self._items, k, self._idx)
        prev = -1                       # last item looked at
        unpack = ITEM.unpack_from
        items = self._items
        for i in self._idx[:m]:
            if i > prev + 1:
                self._cur.items.append(RecordRun(bytes(raw[(prev + 1) * ITEM.size:
                                                           i * ITEM.size]), i - prev - 1, arena))
            t = unpack(items, i * ITEM.size)
            if t[0] == RECORD:              # after a ring loss: the Loss, then the record
                self._cur.items.append(_records.Loss(_records.loss_kind(t[1]), t[2],
                                                     (t[12] - t[14] - 1) & _M64, t[12], t[14]))
                self._cur.items.append(RecordRun(bytes(raw[i * ITEM.size:(i + 1) * ITEM.size]),
                                                 1, arena))
            else:
                self._objects((t,), out, arena)
            prev = i
        if prev + 1 < k:
            self._cur.items.append(RecordRun(bytes(raw[(prev + 1) * ITEM.size:]), k - prev - 1,
                                             arena))

    def _objects(self, tuples, out: list, arena: bytes) -> None:
        st = self.stats
        names = self._names
        text_id = self._text_id
        Record, Loss = _records.Record, _records.Loss
        cur = self._cur                 # the batch Frame whose items follow
        for t in tuples:
            kind = t[0]
            if kind == RECORD:
                cpu, seq, lost = t[2], t[12], t[14]
                text = arena[t[8]:t[8] + t[9]] if t[4] == text_id else None
                if lost:
                    cur.items.append(Loss(_records.loss_kind(t[1]), cpu,
                                          (seq - lost - 1) & _M64, seq, lost))
                cur.items.append(Record(cpu, seq, t[13], t[4], lost, t[17:17 + t[3]], text,
                                        names.get(t[4], ""), t[1]))
            elif kind == FRAME:
                f = _frame.Frame(t[1], t[2], t[5], arena[t[8]:t[8] + t[9]], t[15],
                                 None if t[6] == NO_GAP else t[6], bool(t[7] & F_RESTART))
                st.frames += 1
                if f.gap:
                    st.frames_lost += f.gap
                st.restarts += f.restart
                if t[7] & F_BATCH:
                    f.items = []
                    cur = self._cur = f
                out.append(f)
            elif kind == LINK_LOSS:
                cur.items.append(Loss("link", t[2], t[12] if t[10] else None, t[13], t[6],
                                      _frame.type_name(t[1])))
            elif kind == ERROR:
                e = _frame.FrameError(ERR_KINDS.get(t[7], "?"), t[15], t[16],
                                      arena[t[8]:t[8] + t[9]])
                st.errors[e.kind] += 1
                st.bytes_discarded += e.length
                out.append(e)
            elif kind == BAD_BATCH:
                cur.items.append(_records.Notice(
                    "error", f"cpu {t[2]} {_frame.type_name(t[1])} frame seq {t[5]}: "
                             f"malformed batch at payload byte {t[7]}"))


class RecordRun:
    """Consecutive records of one frame, still in C form (struct tdec_item;
    console text in arena): no ring loss among them, so they need nothing
    but rendering and line assembly (Formatter.render) and counting."""
    __slots__ = ("items", "count", "arena")

    def __init__(self, items: bytes, count: int, arena: bytes = b"") -> None:
        self.items, self.count, self.arena = items, count, arena

    def records(self, cat: _catalog.Catalog) -> list:
        """As Record objects (slow; for tests)."""
        text_id = cat.id_of("CONSOLE_TEXT")
        return [_records.Record(t[2], t[12], t[13], t[4], 0, t[17:17 + t[3]],
                                self.arena[t[8]:t[8] + t[9]] if t[4] == text_id else None,
                                cat.event(t[4]).name, t[1])
                for t in ITEM.iter_unpack(self.items)]


class Mark:
    """Console bytes of a CPU were lost here (the fast path's twin of
    stream._Lines.mark, kept in item order)."""
    __slots__ = ("cpu", "marker")

    def __init__(self, cpu: int, marker: bytes) -> None:
        self.cpu, self.marker = cpu, marker


class Formatter:
    """hvlog's record lines rendered in C (libhvtrace/render.c), for a
    catalogue, an optional Symbolizer and a filter (hvlog.filters.Filter)."""

    def __init__(self, lib, cat: _catalog.Catalog, symbolizer=None, filt=None) -> None:
        self.lib = lib
        f = self._f = lib.hvt_fmt_new()
        tables = {name: k for k, name in enumerate(sorted(cat.tables))}
        for name, k in tables.items():
            for key, n in cat.tables[name].items():
                full = cat.name_of(name, key) if name != "exit" else n
                lib.hvt_fmt_table(f, k, key, full.encode(), name == "exit")
        codes = {"x": 0, "d": 1, "sym": 2, "exitn": 3}     # render.h's FMT_*
        for e in cat.events.values():
            lib.hvt_fmt_event(f, e.id, e.name.encode(), e.nargs)
            for i, a in enumerate(e.args):
                code = codes.get(a.fmt, 4 + tables[a.fmt] if a.fmt in tables else 0)
                lib.hvt_fmt_arg(f, e.id, i, a.name.encode(), code)
        if symbolizer is not None:
            syms = symbolizer._syms
            n = len(syms)
            addr = (ctypes.c_uint64 * n)(*[x[0] for x in syms])
            size = (ctypes.c_uint64 * n)(*[x[1] for x in syms])
            names = b"".join(x[2].encode() + b"\0" for x in syms)
            lib.hvt_fmt_symbols(f, n, addr, size, names, symbolizer._end)
        cpu_ok = bytes(1 if filt is None or filt.cpu_ok(c) else 0 for c in range(256))
        id_ok = bytes(1 if filt is None or filt.ids is None or i in filt.ids else 0
                      for i in range(1 << 10))
        boot = cat.by_name.get("BOOT")
        lib.hvt_fmt_filter(f, 1 if filt is None or filt.trace else 0,
                           1 if filt is None or filt.console else 0, cpu_ok, id_ok,
                           boot.id if boot else 1 << 10, cat.id_of("CONSOLE_TEXT"))
        self._counts = (ctypes.c_uint64 * (2 * 3 * 256))()
        self._clock = _Clock()
        self._len = ctypes.c_size_t()

    def __del__(self) -> None:
        if getattr(self, "_f", None):
            self.lib.hvt_fmt_free(self._f)
            self._f = None

    def render(self, run: RecordRun, clock, log: bool, shown: bool) -> tuple[str, str]:
        """The run's lines: every one (for decoded.log) if log, those the
        filter accepts if shown; clock (hvlog's Clock) moves as LiveDecoder
        moves it (t0, BOOT's rate)."""
        return self._call(self.lib.hvt_render, clock, log, shown, run.items, run.count,
                          run.arena)

    def render_runs(self, runs: list, clock, log: bool, shown: bool) -> tuple[str, str]:
        """Adjacent runs with the same arena (one decode round), in one call."""
        if len(runs) == 1:
            return self.render(runs[0], clock, log, shown)
        return self._call(self.lib.hvt_render, clock, log, shown,
                          b"".join(r.items for r in runs), sum(r.count for r in runs),
                          runs[0].arena)

    def flush(self, clock, log: bool, shown: bool, partial: bool) -> tuple[str, str]:
        """Every CPU's unfinished console line (idle: partial; the end)."""
        return self._call(self.lib.hvt_lines_flush, clock, log, shown, int(partial))

    def mark(self, m: Mark) -> None:
        self.lib.hvt_lines_mark(self._f, m.cpu, m.marker)

    def line_counts(self):
        """Console lines completed since the last call: yields (channel,
        cpu, n) as StreamDecoder counts them."""
        n = self.lib.hvt_lines_counts(self._f, self._counts)
        c = self._counts
        for k in range(n):
            i, v = c[2 * k], c[2 * k + 1]
            yield ("console", "trace", "console")[i >> 8], i & 255, v

    def _call(self, fn, clock, log, shown, *args):
        c = self._clock
        c.has_t0 = clock.t0 is not None
        c.t0 = (clock.t0 or 0) & _M64
        c.khz, c.calibrated = clock.khz, clock.calibrated
        fn(self._f, ctypes.byref(c), *args, int(log), int(shown))
        if c.has_t0 and clock.t0 is None:
            clock.t0 = c.t0
        clock.khz, clock.calibrated = c.khz, bool(c.calibrated)
        n = self._len
        texts = []
        for which in (0, 1):
            p = self.lib.hvt_out(self._f, which, ctypes.byref(n))
            texts.append(_text(ctypes.string_at(p, n.value)) if n.value else "")
        return texts[0], texts[1]


def _text(b: bytes) -> str:
    """Rendered bytes -> text; "\0<n>:<prefix><m>:<raw>" segments are
    lines Python renders (lines.c): (prefix + raw as UTF-8).rstrip()."""
    if b"\0" not in b:
        return b.decode()
    out = []
    i = 0
    while True:
        z = b.find(b"\0", i)
        if z < 0:
            out.append(b[i:].decode())
            return "".join(out)
        out.append(b[i:z].decode())
        c = b.index(b":", z)
        np = int(b[z + 1:c])
        prefix = b[c + 1:c + 1 + np].decode()
        c2 = b.index(b":", c + 1 + np)
        n = int(b[c + 1 + np:c2])
        raw = b[c2 + 1:c2 + 1 + n]
        out.append((prefix + raw.decode("utf-8", "replace")).rstrip() + "\n")
        i = c2 + 1 + n


class _Clock(ctypes.Structure):
    _fields_ = [("t0", ctypes.c_uint64), ("khz", ctypes.c_uint64),
                ("has_t0", ctypes.c_uint32), ("calibrated", ctypes.c_uint32)]
