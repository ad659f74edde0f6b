"""hvlog's end-of-run summary of a stream's counters (hvtools.stream.Stats)."""
from __future__ import annotations

from collections.abc import Iterable

from tabulate import tabulate

from .. import records as _records
from ..stream import Stats, StreamStats  # noqa: F401  (the counters live there)

_HEADER = ("channel", "cpu", "frames", "payload", "records", "lines",
           "gaps", "frames lost", "ring lost")


def streams_table(stats: Stats) -> str:
    """One row per (channel, cpu): names left, counts right, two spaces apart."""
    rows = [_HEADER]
    for (ch, cpu), s in sorted(stats.streams.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rows.append((ch, str(cpu), str(s.frames), str(s.bytes), str(s.records),
                     str(s.lines) if ch == "console" else "-", str(s.gaps),
                     str(s.frames_lost), str(s.ring_lost)))
    # The header goes in as a row: tabulate pads real headers by two more.
    table = tabulate(rows, tablefmt="plain", disable_numparse=True,
                     colalign=("left", "left") + ("right",) * (len(_HEADER) - 2))
    return "\n".join(line.rstrip() for line in table.splitlines())


def summary(stats: Stats, bytes_in: int = 0, hello: _records.Hello | None = None,
            cat_crc: int | None = None, notes: Iterable[str] = ()) -> str:
    out = ["hvlog summary", "============="]
    out.append(f"bytes received:  {bytes_in}")
    if stats.prelude_bytes:
        out.append(f"before framing:  {stats.prelude_bytes} bytes of plain text "
                   f"(GRUB / plain mode; not an error)")
    if hello is not None:
        match = ("matches" if cat_crc is None or hello.catalog_crc == cat_crc
                 else f"MISMATCH, decoder has {cat_crc:#010x}")
        out.append(f"hello:           wire v{hello.version}, {hello.ncpus} CPUs, "
                   f"tsc {hello.tsc_khz} kHz, catalogue {hello.catalog_crc:#010x} ({match})")
    else:
        out.append("hello:           none seen")
    errs = ", ".join(f"{k} {v}" for k, v in stats.errors.items() if v) or "none"
    out.append(f"bad frames:      {errs} (never attributed to a CPU: a bad "
               f"frame's header cannot be trusted)")
    out.append(f"link gaps:       {stats.frames_lost} frame(s) lost in "
               f"{sum(s.gaps for s in stats.streams.values())} gap(s)")
    out.append(f"ring drops:      {stats.ring_lost} record(s)")
    if stats.flight_overwritten:
        out.append(f"flight recorder: {stats.flight_overwritten} record(s) overwritten in "
                   f"memory before a dump (held, not streamed: not a loss of the stream)")
    if stats.bad_batches:
        out.append(f"bad batches:     {stats.bad_batches}")
    if stats.end_damaged:
        out.append(f"lost at the end: {stats.end_damaged} damaged frame(s) after the last "
                   f"good frame (before a restart or the end; in no gap above)")
    if stats.restarts:
        out.append(f"restarts:        {stats.restarts} (sequence numbers and time "
                   f"start again at each)")
    if stats.gdb_to_hv or stats.gdb_dropped:
        out.append(f"gdb:             {stats.gdb_to_hv} bytes to the hypervisor, "
                   f"{stats.gdb_dropped} bytes dropped (no gdb attached)")
    if stats.keys_sent:
        out.append(f"keyboard:        {stats.keys_sent} bytes sent to the guest")
    out.extend(notes)
    out.append("")
    out.append(streams_table(stats))
    return "\n".join(out) + "\n"
