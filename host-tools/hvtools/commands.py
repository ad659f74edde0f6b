"""Host commands: the CONTROL frames the hypervisor obeys (hv/trace/wire.h,
WIRE_CTL_*), as payloads and as text specs for hvlog --send.

    payload = nmi_storm(targets=[0, 1], interval_us=1000, rounds=200)
    m.write(frame.encode(frame.CONTROL, 0, 0, payload))

Text specs (hvlog --send SPEC):
    exit-stats | dump-events | trace-mask:0x1ff
    nmi-storm:cpus=0+1,interval=1000,rounds=200,duration=0   (us / ms;
        cpus: 0+1, 0-3)
    nmi-storm:stop
"""
from __future__ import annotations

import struct

from . import records as _records


class CommandError(ValueError):
    pass


def nmi_storm(targets, interval_us: int = 1000, rounds: int = 0,
              duration_ms: int = 0) -> bytes:
    """NMI_STORM: NMI IPIs from the hypervisor to CPUs `targets` (indices;
    empty: stop the storm), one round per interval (0: at every VM exit)
    until `rounds` rounds or `duration_ms` (0: no limit; one must be set)."""
    mask = 0
    for c in targets:
        if not 0 <= int(c) < 32:
            raise CommandError(f"CPU index {c} out of range 0..31")
        mask |= 1 << int(c)
    if mask and not rounds and not duration_ms:
        raise CommandError("an NMI storm needs rounds or a duration")
    for name, v in (("interval", interval_us), ("rounds", rounds), ("duration", duration_ms)):
        if not 0 <= v < 1 << 32:
            raise CommandError(f"{name} {v} out of range")
    return struct.pack("<BIIII", _records.CTL_NMI_STORM, mask, interval_us, rounds, duration_ms)


def nmi_storm_stop() -> bytes:
    return nmi_storm([])


def _cpus(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split("+"):
        if "-" in part:
            a, b = part.split("-", 1)
            out += range(int(a), int(b) + 1)
        elif part:
            out.append(int(part))
    return out


def parse(spec: str) -> bytes:
    """A text spec -> the CONTROL payload. Raises CommandError."""
    name, _, rest = spec.partition(":")
    name = name.strip().lower().replace("_", "-")
    try:
        if name == "exit-stats":
            return bytes([_records.CTL_EXIT_STATS])
        if name == "dump-events":
            return bytes([_records.CTL_DUMP_EVENTS])
        if name == "trace-mask":
            return struct.pack("<BQ", _records.CTL_TRACE_MASK, int(rest, 0))
        if name == "nmi-storm":
            if rest.strip() == "stop":
                return nmi_storm_stop()
            kv = dict(p.split("=", 1) for p in rest.split(",") if p)
            unknown = set(kv) - {"cpus", "interval", "rounds", "duration"}
            if unknown:
                raise CommandError(f"nmi-storm: unknown keys {sorted(unknown)}")
            return nmi_storm(_cpus(kv.get("cpus", "0")), int(kv.get("interval", 1000)),
                             int(kv.get("rounds", 0)), int(kv.get("duration", 0)))
    except (ValueError, struct.error) as e:
        if isinstance(e, CommandError):
            raise
        raise CommandError(f"{spec!r}: {e}") from None
    raise CommandError(f"unknown command {spec!r} (exit-stats, dump-events, trace-mask:MASK, "
                       f"nmi-storm:cpus=0+1,interval=US,rounds=N,duration=MS, nmi-storm:stop)")
