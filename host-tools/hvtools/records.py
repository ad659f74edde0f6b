"""Trace records: decode CONSOLE/TRACE batch payloads (format in
hv/trace/wire.h), report losses, check the CONTROL HELLO, format records.

    dec = TraceDecoder()                  # catalogue of this source tree
    for ev in FrameDecoder().feed(data):  # frames and frame errors
        for item in dec.frame(ev):        # Record, Loss, Hello, Notice
            print(item)
"""
from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from dataclasses import dataclass

from . import catalog as _catalog
from . import frame as _frame
from .catalog import Catalog
from .batch_encoder import BatchEncoder  # noqa: F401 (records.BatchEncoder)
from .wirefmt import (_H_DT_BITS, _H_DT_MASK, _H_ESC, _H_IDC_SHIFT, _H_LONG, _M64, _X_LOST,
                      _X_NEG, _X_SHIFT, _X_SKIP, HIST, IDS, MAX_TEXT, _unzz)
from .wirefmt import put_varint, varint_len  # noqa: F401 (records.put_varint: tests)

Symbolize = Callable[[int], "str | None"]   # address -> symbol+offset, or None

WIRE_VERSION = 2
CTL_HELLO = 1
CTL_DUMP_EVENTS = 0x10     # host -> hv commands, see hv/trace/wire.h
CTL_TRACE_MASK = 0x11
CTL_EXIT_STATS = 0x12
CTL_NMI_STORM = 0x13
HELLO_LEN = 12


class BatchError(ValueError):
    pass


class CatalogMismatch(Exception):
    pass


@dataclass(slots=True)
class Record:
    cpu: int
    seq: int
    tsc: int
    id: int
    lost: int = 0
    args: tuple = ()
    text: bytes | None = None
    name: str = ""
    channel: int = _frame.TRACE

    def named_args(self, cat: Catalog) -> dict[str, int]:
        ev = cat.event(self.id)
        if ev is None:
            return {f"a{i}": v for i, v in enumerate(self.args)}
        return {a.name: v for a, v in zip(ev.args, self.args)}


@dataclass(slots=True)
class Loss:
    kind: str                   # "ring": overwritten before the drain;
                                # "link": frames lost on the serial line;
                                # "flight": overwritten in the flight
                                # recorder before a dump (not a trace loss)
    cpu: int
    after_seq: int | None       # last seq seen before the hole
    before_seq: int             # first seq seen after it
    count: int | None           # records (ring) or frames (link)
    channel: str = ""

    def __str__(self):
        if self.kind == "ring":
            return (f"cpu {self.cpu}: {self.count} records lost between seq "
                    f"{self.after_seq} and {self.before_seq}")
        if self.kind == "flight":
            return (f"cpu {self.cpu}: {self.count} records overwritten in the flight "
                    f"recorder between seq {self.after_seq} and {self.before_seq}")
        where = (f"between seq {self.after_seq} and {self.before_seq}"
                 if self.after_seq is not None else f"before seq {self.before_seq}")
        return (f"cpu {self.cpu} {self.channel}: {self.count} frame(s) lost on "
                f"the link; records {where} missing from this channel")


@dataclass(slots=True)
class Hello:
    version: int
    ncpus: int
    catalog_crc: int
    tsc_khz: int
    seq: int = 0                # its CONTROL frame's seq (0: the first HELLO)


@dataclass(slots=True)
class Notice:
    level: str                  # "warning" | "error"
    message: str

    def __str__(self):
        return f"{self.level}: {self.message}"


class Restart(Notice):
    """A HELLO with seq 0 after other frames: the hypervisor started again
    (its sequence numbers and its TSC count from anew)."""


# ---- hello --------------------------------------------------------------------
def encode_hello(catalog_crc: int, ncpus: int, tsc_khz: int = 0) -> bytes:
    return struct.pack("<BBBBII", CTL_HELLO, WIRE_VERSION, ncpus, 0,
                       catalog_crc & 0xFFFFFFFF, tsc_khz & 0xFFFFFFFF)


def decode_hello(payload: bytes) -> Hello | None:
    if len(payload) < HELLO_LEN or payload[0] != CTL_HELLO:
        return None
    _, ver, ncpus, _, crc, khz = struct.unpack_from("<BBBBII", payload)
    return Hello(ver, ncpus, crc, khz)


# ---- batch decoding -------------------------------------------------------------
def decode_batch(payload: bytes, cat: Catalog, cpu: int = 0,
                 channel: int = _frame.TRACE) -> tuple[list[Record], str | None]:
    """Decode one batch payload. Returns (records, error): error is None or a
    message; records decoded before a malformed spot are kept. Accepts and
    refuses exactly what the C reader (hv/trace/wire_read.c) does. The id
    table and history are plain lists here (hot loop; wirefmt._State is
    the encoder's)."""
    recs = []
    p = payload
    n = len(p)
    i = 0
    events = cat.events
    text_id = cat.by_name["CONSOLE_TEXT"].id
    ids: list[int] = []
    hist: list[int] = []        # newest last, at most HIST values

    def varint() -> int:
        nonlocal i
        r = 0
        shift = 0
        while True:
            if i >= n or shift > 63:
                raise BatchError("truncated or overlong varint")
            b = p[i]
            i += 1
            r |= (b & 0x7F) << shift
            if b < 0x80:
                if r > _M64:
                    raise BatchError("varint over 64 bits")
                return r
            shift += 7

    def byte() -> int:
        nonlocal i
        if i >= n:
            raise BatchError("truncated record")
        i += 1
        return p[i - 1]

    def args_of(na: int) -> tuple:
        modes = 0
        for k in range((na + 3) // 4):
            modes |= byte() << (8 * k)
        out = []
        for _ in range(na):
            m = modes & 3
            modes >>= 2
            if m == 0:
                out.append(varint())
                continue
            if m == 2:
                out.append(hist[-1] if hist else 0)
                continue
            if m == 3:
                k = byte()
                if k >= len(hist):
                    raise BatchError(f"history index {k} out of range")
                v = hist[-1 - k]
            else:
                v = ((hist[-1] if hist else 0) + _unzz(varint())) & _M64
            hist.append(v)
            if len(hist) > HIST:
                del hist[0]
            out.append(v)
        return tuple(out)

    if n == 0:
        return recs, None
    try:
        prev_seq = (varint() - 1) & _M64
        prev_tsc = varint()
        while i < n:
            head = p[i]
            i += 1
            idc, x = head >> _H_IDC_SHIFT, 0
            if idc == _H_ESC:
                x = varint()
                eid = x >> _X_SHIFT
                if eid > 0xFFFF:
                    raise BatchError(f"event id {eid:#x} over 16 bits")
                if len(ids) < IDS and eid not in ids:
                    ids.append(eid)
            elif idc < len(ids):
                eid = ids[idc]
            else:
                raise BatchError(f"id slot {idc} not in use")
            dt = varint() if head & _H_LONG else byte()
            if dt >> (64 - _H_DT_BITS):
                raise BatchError("tsc step over 64 bits")
            dt = dt << _H_DT_BITS | (head & _H_DT_MASK)
            skip = varint() if x & _X_SKIP else 0
            lost = varint() if x & _X_LOST else 0
            ev = events.get(eid)
            if ev is None:
                raise BatchError(f"unknown event id {eid:#x}")
            seq = (prev_seq + 1 + skip) & _M64
            tsc = (prev_tsc - dt if x & _X_NEG else prev_tsc + dt) & _M64
            if eid == text_id:
                ln = varint()
                if ln > MAX_TEXT or i + ln > n:
                    raise BatchError("bad text length")
                recs.append(Record(cpu, seq, tsc, eid, lost, (), bytes(p[i:i + ln]),
                                   ev.name, channel))
                i += ln
            else:
                args = args_of(len(ev.args)) if ev.args else ()
                recs.append(Record(cpu, seq, tsc, eid, lost, args, None, ev.name, channel))
            prev_seq, prev_tsc = seq, tsc
    except BatchError as e:
        return recs, f"{e} at payload byte {i}"
    return recs, None


# ---- stream decoding with loss accounting -----------------------------------------
def loss_kind(ftype: int) -> str:
    """What a record seq gap in a batch frame of this type means."""
    return "flight" if ftype == _frame.FLIGHT else "ring"


class TraceDecoder:
    """Turns frames into Records, Loss reports, Hello and Notices.

    strict: a HELLO whose catalogue CRC differs from ours raises
    CatalogMismatch (else a Notice is emitted and decoding continues)."""

    def __init__(self, cat: Catalog | None = None, strict: bool = True) -> None:
        self.cat = cat or _catalog.default()
        self.strict = strict
        self.hello: Hello | None = None
        self.records = 0
        self.ring_lost = 0
        self.flight_overwritten = 0
        self.link_lost_frames = 0
        self.bad_batches = 0
        self._last = {}         # (channel, cpu) -> last record seq

    def forget(self) -> None:
        """The sender restarted: forget the last record seq of every stream."""
        self._last.clear()

    def frame(self, f: _frame.Frame | _frame.FrameError) -> list:
        out: list = []
        if isinstance(f, _frame.FrameError):
            return out
        if f.restart:
            self.forget()
        if f.type == _frame.CONTROL:
            h = decode_hello(f.payload)
            if h is not None:
                h.seq = f.seq
                self.hello = h
                out.append(h)
                if h.catalog_crc != self.cat.crc:
                    msg = (f"catalogue mismatch: hypervisor {h.catalog_crc:#010x}, "
                           f"{self.cat.path or 'events.def'} {self.cat.crc:#010x}")
                    if self.strict:
                        raise CatalogMismatch(msg)
                    out.append(Notice("warning", msg))
                if h.version != WIRE_VERSION:
                    out.append(Notice("warning", f"wire version {h.version}, "
                                                 f"decoder knows {WIRE_VERSION}"))
            return out
        if f.type not in _frame.BATCH_TYPES:
            return out
        recs, err = decode_batch(f.payload, self.cat, f.cpu, f.type)
        key = (f.type, f.cpu)
        if recs and f.gap:
            self.link_lost_frames += f.gap
            out.append(Loss("link", f.cpu, self._last.get(key), recs[0].seq, f.gap,
                            _frame.type_name(f.type)))
        for r in recs:
            if r.lost:
                if f.type == _frame.FLIGHT:
                    self.flight_overwritten += r.lost
                else:
                    self.ring_lost += r.lost
                out.append(Loss(loss_kind(f.type), r.cpu, (r.seq - r.lost - 1) & _M64,
                                r.seq, r.lost))
            out.append(r)
        self.records += len(recs)
        if recs:
            self._last[key] = recs[-1].seq
        if err:
            self.bad_batches += 1
            out.append(Notice("error", f"cpu {f.cpu} {_frame.type_name(f.type)} "
                                       f"frame seq {f.seq}: {err}"))
        return out


# ---- presentation -------------------------------------------------------------------
class Symbolizer:
    """Address -> 'symbol+off' from an ELF symbol table (pyelftools)."""

    def __init__(self, elf_path: str) -> None:
        from elftools.elf.elffile import ELFFile
        syms = []
        with open(elf_path, "rb") as f:
            elf = ELFFile(f)
            tab = elf.get_section_by_name(".symtab")
            if tab is not None:
                for s in tab.iter_symbols():
                    # Absolute symbols (assembler counters) are not places.
                    if s["st_shndx"] == "SHN_ABS":
                        continue
                    if s["st_info"]["type"] in ("STT_FUNC", "STT_NOTYPE", "STT_OBJECT") \
                            and s["st_value"] and s.name:
                        syms.append((s["st_value"], s["st_size"], s.name))
        syms.sort()
        self._addrs = [s[0] for s in syms]
        self._syms = syms
        # Past the last sized symbol nothing is ours (guest addresses).
        self._end = max((b + n for b, n, _ in syms if n), default=0)

    def __call__(self, addr: int) -> str | None:
        k = bisect.bisect_right(self._addrs, addr) - 1
        if k < 0 or addr >= self._end:
            return None
        base, size, name = self._syms[k]
        if size and addr >= base + size:
            return None
        return name if addr == base else f"{name}+{addr - base:#x}"


def format_record(r: Record, cat: Catalog, symbolize: Symbolize | None = None,
                  tsc0: int = 0) -> str:
    if r.text is not None:
        body = r.text.decode("utf-8", "replace").rstrip("\n")
        return f"[{r.cpu}] {r.seq:>8} {r.tsc - tsc0:>14} {body}"
    ev = cat.event(r.id)
    parts = []
    for a, v in zip(ev.args if ev else (), r.args):
        t = cat.arg_text(a.name, a.fmt, v, symbolize)
        if t is not None:
            parts.append(t)
    return f"[{r.cpu}] {r.seq:>8} {r.tsc - tsc0:>14} {r.name} " + " ".join(parts)


def decode_stream(data: bytes, cat: Catalog | None = None, strict: bool = False
                  ) -> tuple[list, _frame.FrameDecoder, TraceDecoder]:
    """Convenience: everything in a captured byte stream, in order."""
    fd = _frame.FrameDecoder()
    td = TraceDecoder(cat, strict=strict)
    out = []
    for ev in fd.decode_all(data):
        if isinstance(ev, _frame.FrameError):
            out.append(ev)
        else:
            out.extend(td.frame(ev))
    return out, fd, td

