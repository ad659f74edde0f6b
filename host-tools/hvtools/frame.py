"""Serial framing codec: the Python twin of hv/trace/frame.[ch].

The format is documented once, in hv/trace/frame.h:
  body  = type u8 | cpu u8 | seq u16 LE | payload (0..512) | crc32 LE
  wire  = COBS(body) 0x00
FrameDecoder follows the same receiver rules as the C frame_rx_push(): it
resynchronises at every 0x00, ignores empty frames (idle fill), classifies
bad frames as long/cobs/short/crc (in that order) with their stream offset,
and never hands a bad frame to a channel.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

CONTROL, CONSOLE, TRACE, GUEST, GDB, FLIGHT = range(6)
TYPE_NAMES = {CONTROL: "control", CONSOLE: "console", TRACE: "trace",
              GUEST: "guest", GDB: "gdb", FLIGHT: "flight"}
# Frames whose payload is a wire batch of records (FLIGHT: the flight
# recorder's dump, in its own record seq space; see hv/trace/frame.h).
BATCH_TYPES = (CONSOLE, TRACE, FLIGHT)

HDR_LEN = 4
CRC_LEN = 4
MAX_PAYLOAD = 512
MIN_BODY = HDR_LEN + CRC_LEN
MAX_BODY = HDR_LEN + MAX_PAYLOAD + CRC_LEN
MAX_ENCODED = MAX_BODY + MAX_BODY // 254 + 1 + 1
DELIM = b"\x00"

# A run this long without a delimiter is certainly a LONG frame (any chunk
# over 2*MAX_BODY+2 stuffed bytes decodes to more than MAX_BODY bytes), so
# the decoder stops buffering it and only counts.
_LONG_SKIP = 4 * MAX_ENCODED
_KEEP_DATA = 256            # bytes of a bad frame kept in FrameError.data


def type_name(t: int) -> str:
    return TYPE_NAMES.get(t, f"reserved{t}")


def cobs_encode(data: bytes) -> bytes:
    """COBS exactly as hv/trace/cobs.c: blocks of <= 254 bytes, a 0xFF block
    is always followed by another block (0x01 if empty)."""
    out = bytearray()
    for seg in bytes(data).split(b"\x00"):
        n = len(seg)
        full = n // 254
        for k in range(full):
            out.append(0xFF)
            out += seg[k * 254:(k + 1) * 254]
        rest = seg[full * 254:]
        out.append(len(rest) + 1)
        out += rest
    return bytes(out)


def _cobs_decode_chunk(c) -> tuple[bytearray, bool]:
    """Decode one delimiter-free chunk with the C decoder's semantics.
    Returns (decoded bytes, ok); not ok = a block runs past the end."""
    out = bytearray()
    i = 0
    n = len(c)
    while i < n:
        code = c[i]
        j = i + code
        if j > n:
            out += c[i + 1:n]
            return out, False
        out += c[i + 1:j]
        i = j
        if code != 0xFF and i < n:
            out.append(0)
    return out, True


def cobs_decode(data: bytes) -> bytes:
    if b"\x00" in data:
        raise ValueError("COBS data contains 0x00")
    out, ok = _cobs_decode_chunk(data)
    if not ok:
        raise ValueError("truncated COBS block")
    return bytes(out)


def encode(ftype: int, cpu: int, seq: int, payload: bytes = b"") -> bytes:
    """One complete frame, delimiter included."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload {len(payload)} > {MAX_PAYLOAD}")
    body = struct.pack("<BBH", ftype & 0xFF, cpu & 0xFF, seq & 0xFFFF) + bytes(payload)
    body += struct.pack("<I", zlib.crc32(body))
    return cobs_encode(body) + DELIM


class Encoder:
    """Keeps the per-(type, cpu) frame sequence numbers for a sender."""

    def __init__(self) -> None:
        self.seq: dict[tuple[int, int], int] = {}

    def frame(self, ftype: int, cpu: int, payload: bytes = b"") -> bytes:
        k = (ftype, cpu)
        s = self.seq.get(k, 0)
        self.seq[k] = (s + 1) & 0xFFFF
        return encode(ftype, cpu, s, payload)


@dataclass(slots=True)
class Frame:
    type: int
    cpu: int
    seq: int
    payload: bytes
    offset: int = 0             # stream offset of the frame's first byte
    gap: int | None = None      # frames missed in this (type,cpu) stream
                                # just before this one; None = unknown (the
                                # stream's first frame, no HELLO seq 0 seen)
    restart: bool = False       # a HELLO (CONTROL seq 0) after other frames
    items: list | None = None   # CONSOLE/TRACE/FLIGHT decoded by the C core

    @property
    def type_name(self) -> str:
        return type_name(self.type)


@dataclass(slots=True)
class FrameError:
    kind: str                   # long | cobs | short | crc | truncated
    offset: int                 # stream offset of the bad frame's 1st byte
    length: int                 # its length, delimiter excluded
    data: bytes = b""           # its first bytes (e.g. pre-boot text)

    def __str__(self):
        return f"bad frame ({self.kind}) at byte {self.offset}, {self.length} bytes discarded"


@dataclass
class Stats:
    frames: int = 0
    errors: dict = field(default_factory=lambda: {"long": 0, "cobs": 0, "short": 0,
                                                  "crc": 0, "truncated": 0})
    bytes_in: int = 0
    bytes_discarded: int = 0
    frames_lost: int = 0        # sum of per-stream sequence gaps
    restarts: int = 0           # HELLOs with seq 0 after other frames

    @property
    def crc_errors(self) -> int:
        return self.errors["crc"]

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())


def classify(chunk: bytes | memoryview) -> tuple[str | None, bytes | Frame]:
    """Decode one delimiter-free chunk: (None, Frame) or (kind, b'')."""
    if len(chunk) > _LONG_SKIP:
        return "long", b""
    body, ok = _cobs_decode_chunk(chunk)
    if len(body) > MAX_BODY:
        return "long", b""
    if not ok:
        return "cobs", b""
    if len(body) < MIN_BODY:
        return "short", b""
    if zlib.crc32(memoryview(body)[:-CRC_LEN]) != int.from_bytes(body[-CRC_LEN:], "little"):
        return "crc", b""
    return None, Frame(body[0], body[1], body[2] | body[3] << 8,
                       bytes(body[HDR_LEN:-CRC_LEN]))


class FrameDecoder:
    """Incremental decoder: feed(bytes) -> list of Frame / FrameError."""

    def __init__(self) -> None:
        self.stats = Stats()
        self._pending = b""
        self._base = 0              # stream offset of _pending[0]
        self._skip = 0              # >0: inside an overlong run, bytes so far
        self._skip_head = b""
        self._last_seq: dict[tuple[int, int], int] = {}
        self._session = False       # a HELLO with seq 0 has been seen

    def _error(self, kind, offset, length, data, out):
        self.stats.errors[kind] += 1
        self.stats.bytes_discarded += length
        out.append(FrameError(kind, offset, length, bytes(data[:_KEEP_DATA])))

    def _deliver(self, f: Frame, out):
        # Sequence rules: hv/trace/decode.h (the C twin).
        k = (f.type, f.cpu)
        if f.type == CONTROL and f.seq == 0:
            if self._last_seq:              # the hypervisor started again:
                self._last_seq.clear()      # its streams count from 0 anew
                f.restart = True
                self.stats.restarts += 1
            self._session = True
        last = self._last_seq.get(k)
        if last is not None:
            f.gap = (f.seq - last - 1) & 0xFFFF
        elif self._session:
            f.gap = f.seq                   # its first frames never came
        if f.gap:
            self.stats.frames_lost += f.gap
        self._last_seq[k] = f.seq
        self.stats.frames += 1
        out.append(f)

    def feed(self, data: bytes) -> list:
        out: list = []
        if not data:
            return out
        self.stats.bytes_in += len(data)
        buf = self._pending + bytes(data) if self._pending else bytes(data)
        base = self._base
        start = 0
        find = buf.find
        while True:
            z = find(b"\x00", start)
            if z < 0:
                break
            if self._skip:
                self._error("long", base - self._skip, self._skip + z - start,
                            self._skip_head, out)
                self._skip = 0
                self._skip_head = b""
            elif z > start:
                chunk = buf[start:z]
                kind, f = classify(chunk)
                if kind is None:
                    f.offset = base + start
                    self._deliver(f, out)
                else:
                    self._error(kind, base + start, z - start, chunk, out)
            start = z + 1
        rest = buf[start:]
        base += start
        if self._skip:
            self._skip += len(rest)
            base += len(rest)
            rest = b""
        elif len(rest) > _LONG_SKIP:
            self._skip = len(rest)
            self._skip_head = rest[:_KEEP_DATA]
            base += len(rest)
            rest = b""
        self._pending = rest
        self._base = base
        return out

    def finish(self) -> list:
        """End of stream: an unterminated tail is reported as truncated."""
        out: list = []
        if self._skip:
            self._error("truncated", self._base - self._skip, self._skip,
                        self._skip_head, out)
        elif self._pending:
            self._error("truncated", self._base, len(self._pending),
                        self._pending, out)
        self._base += len(self._pending)
        self._pending = b""
        self._skip = 0
        return out

    def decode_all(self, data: bytes) -> list:
        return self.feed(data) + self.finish()

    def forget(self, keep_types: tuple[int, ...] = ()) -> None:
        """The sender restarted its sequence numbers: forget the last seq of
        every stream (but those of keep_types), so no false gap is seen."""
        self._last_seq = {k: v for k, v in self._last_seq.items() if k[0] in keep_types}
