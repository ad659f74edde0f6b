"""Counters of one hvlog session and the end-of-run summary text."""
from __future__ import annotations

from dataclasses import dataclass, field

ERROR_KINDS = ("crc", "cobs", "short", "long", "truncated")


@dataclass
class StreamStats:
    frames: int = 0
    bytes: int = 0              # payload bytes
    records: int = 0            # console text records or trace events
    lines: int = 0              # console lines
    gaps: int = 0               # holes in the frame seq
    frames_lost: int = 0        # frames missing in those holes
    ring_lost: int = 0          # records the hypervisor's ring overwrote


@dataclass
class Stats:
    streams: dict = field(default_factory=dict)     # (channel, cpu) -> StreamStats
    errors: dict = field(default_factory=lambda: {k: 0 for k in ERROR_KINDS})
    prelude_bytes: int = 0      # text before the first 0x00 (GRUB)
    prelude_frames: int = 0     # ... and the one bad frame it makes
    bad_batches: int = 0
    data_frames: int = 0
    restarts: int = 0
    gdb_to_hv: int = 0          # bytes from gdb sent on
    gdb_dropped: int = 0        # GDB bytes from the hv with no gdb attached
    keys_sent: int = 0          # keyboard bytes sent as GUEST frames

    def stream(self, channel: str, cpu: int) -> StreamStats:
        s = self.streams.get((channel, cpu))
        if s is None:
            s = self.streams[(channel, cpu)] = StreamStats()
        return s

    @property
    def crc_errors(self) -> int:
        return self.errors.get("crc", 0)

    @property
    def frame_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def frames_lost(self) -> int:
        return sum(s.frames_lost for s in self.streams.values())

    @property
    def ring_lost(self) -> int:
        return sum(s.ring_lost for s in self.streams.values())

    def text(self, bytes_in: int = 0, hello=None, cat_crc=None, notes=()) -> str:
        out = ["hvlog summary", "============="]
        out.append(f"bytes received:  {bytes_in}")
        if self.prelude_bytes:
            out.append(f"before framing:  {self.prelude_bytes} bytes of plain text "
                       f"(GRUB / plain mode; not an error)")
        if hello is not None:
            match = ("matches" if cat_crc is None or hello.catalog_crc == cat_crc
                     else f"MISMATCH, decoder has {cat_crc:#010x}")
            out.append(f"hello:           wire v{hello.version}, {hello.ncpus} CPUs, "
                       f"tsc {hello.tsc_khz} kHz, catalogue {hello.catalog_crc:#010x} ({match})")
        else:
            out.append("hello:           none seen")
        errs = ", ".join(f"{k} {v}" for k, v in self.errors.items() if v) or "none"
        out.append(f"bad frames:      {errs} (never attributed to a CPU: a bad "
                   f"frame's header cannot be trusted)")
        out.append(f"link gaps:       {self.frames_lost} frame(s) lost in "
                   f"{sum(s.gaps for s in self.streams.values())} gap(s)")
        out.append(f"ring drops:      {self.ring_lost} record(s)")
        if self.bad_batches:
            out.append(f"bad batches:     {self.bad_batches}")
        if self.restarts:
            out.append(f"restarts:        {self.restarts}")
        if self.gdb_to_hv or self.gdb_dropped:
            out.append(f"gdb:             {self.gdb_to_hv} bytes to the hypervisor, "
                       f"{self.gdb_dropped} bytes dropped (no gdb attached)")
        if self.keys_sent:
            out.append(f"keyboard:        {self.keys_sent} bytes sent to the guest")
        out.extend(notes)
        out.append("")
        hdr = ("channel", "cpu", "frames", "payload", "records", "lines",
               "gaps", "frames lost", "ring lost")
        rows = [hdr]
        for (ch, cpu), s in sorted(self.streams.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            rows.append((ch, str(cpu), str(s.frames), str(s.bytes), str(s.records),
                         str(s.lines) if ch == "console" else "-", str(s.gaps),
                         str(s.frames_lost), str(s.ring_lost)))
        w = [max(len(r[i]) for r in rows) for i in range(len(hdr))]
        for r in rows:
            out.append("  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i])
                                 for i, c in enumerate(r)).rstrip())
        return "\n".join(out) + "\n"
