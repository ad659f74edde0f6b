"""hvlog's fast path: the hypervisor's own C decoder (hv/trace/decode.c,
frame.c, wire.c) as build/host/libhvtrace.so (make host), through ctypes.

NativeFrameDecoder has FrameDecoder's interface (feed, finish, stats) and
yields the same Frame / FrameError objects; a CONSOLE/TRACE Frame comes with
.items already decoded (Record, Loss, Notice: what TraceDecoder.frame would
give). The Python decoder (frame.py, records.py) stays the reference and the
fallback: load() returns None, with the reason in load_error, when the
library is missing, stale, or was built from another catalogue.

    HVTRACE_LIB=path   use this library;   HVTRACE_LIB=none   never use one
"""
from __future__ import annotations

import ctypes
import os
import struct

from . import catalog as _catalog
from . import frame as _frame
from . import records as _records

ABI = 1
ITEM = struct.Struct("<4B2H6I11Q")          # struct tdec_item (decode.h)
FRAME, ERROR, RECORD, LINK_LOSS, BAD_BATCH = 1, 2, 3, 4, 5
NO_GAP = 0xFFFFFFFF
F_RESTART, F_BATCH = 1, 2
ERR_KINDS = {1: "long", 2: "cobs", 3: "short", 4: "crc", 5: "truncated"}
MAX_ITEMS = 8192
ARENA = 1 << 20
_M64 = (1 << 64) - 1

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

    def __init__(self, cat: _catalog.Catalog | None = None, lib=None) -> None:
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
        """C items -> the Python decoder's objects."""
        arena = ctypes.string_at(self._arena, self._used.value)
        st = self.stats
        names = self._names
        text_id = self._text_id
        Record, Loss = _records.Record, _records.Loss
        cur = None                      # the batch Frame whose items follow
        for t in ITEM.iter_unpack(memoryview(self._items)[:k * ITEM.size]):
            kind = t[0]
            if kind == RECORD:
                cpu, seq, lost = t[2], t[12], t[14]
                text = arena[t[8]:t[8] + t[9]] if t[4] == text_id else None
                if lost:
                    cur.items.append(Loss("ring", cpu, (seq - lost - 1) & _M64, seq, lost))
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
                    cur = f
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
