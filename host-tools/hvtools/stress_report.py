"""What the stress runner leaves beside each cell's capture, and the matrix's
HTML table.

Per cell, through hvlog's own exporters (the library, not the command):
  perfetto.json  every trace record and console line of the capture
                 (hvlog --perfetto), flight-recorder dumps included
  sequence.md    hvlog's execution-sequence table (one column per CPU)
                 around the verdict's moment: the rows just before the TSC
                 the capture had reached at that moment, and a few after
The moment is a capture offset (Result.moment): for a hang, where the
capture was when the last progress marker arrived; otherwise where it was
when the verdict was taken. Its TSC is the newest one decoded before it.
"""
from __future__ import annotations

import bisect
import html
import os
import traceback

from .hvlog import perfetto, sequence
from .hvlog.live import LiveDecoder

ROWS_BEFORE, ROWS_AFTER = 120, 40


def moment_window(tscs: list[int], moment: int | None, before: int = ROWS_BEFORE,
                  after: int = ROWS_AFTER) -> sequence.Window:
    """The TSC window holding `before` timestamps up to the moment and
    `after` past it (tscs sorted; moment None: the end of the capture)."""
    if not tscs:
        return sequence.Window(None, None, ":")
    i = len(tscs) if moment is None else bisect.bisect_right(tscs, moment)
    lo = tscs[max(0, i - before)]
    hi = tscs[min(len(tscs) - 1, i + after - 1)] if i < len(tscs) else tscs[-1]
    return sequence.Window(("tsc", lo), ("tsc", max(lo, hi)), f"{lo}:{hi}")


def _newest_tsc(items: list) -> int | None:
    ts = [t for t in (getattr(it, "tsc", None) for it in items) if t is not None]
    return max(ts) if ts else None


def exports(raw: bytes, moment: int, folder: str, elf: str | None) -> None:
    """perfetto.json and sequence.md in folder; a failure of either is
    written to exports-error.txt instead of ending the matrix."""
    try:
        dec = LiveDecoder(elf=elf if elf and os.path.exists(elf) else None, keep=True,
                          force_catalog=True, out=None, color=False)
        at = _newest_tsc(dec.feed(raw[:moment]))
        dec.feed(raw[moment:])
        dec.close()
        perfetto.write(os.path.join(folder, "perfetto.json"), dec.kept, dec.clock, dec.cat,
                       dec.symbolize, dec.ncpus)
        tscs = sorted(t for t in (getattr(it, "tsc", None) for it in dec.kept) if t is not None)
        tab = sequence.table(dec.kept, moment_window(tscs, at), dec.clock, dec.cat,
                             dec.symbolize, range(dec.ncpus))
        where = (f"TSC {at} ({dec.clock.us(at):.0f} us)" if at is not None else "the end")
        with open(os.path.join(folder, "sequence.md"), "w") as f:
            f.write(f"Execution sequence around the verdict's moment: {where}, capture byte "
                    f"{moment} of {len(raw)}; up to {ROWS_BEFORE} rows before it and "
                    f"{ROWS_AFTER} after.\n\n{tab}")
    except Exception:   # noqa: BLE001 -- evidence is best effort; the verdict stands
        with open(os.path.join(folder, "exports-error.txt"), "w") as f:
            f.write(traceback.format_exc())


# ---- the matrix as HTML ------------------------------------------------------
COLOURS = {"pass": "#b7e1b0", "hang": "#ffd27f", "timeout": "#d9d9d9",
           "emulator-died": "#d5c4e8", "nmi-mismatch": "#f9c0a0", "loop-fail": "#f9c0a0"}
FAIL_COLOUR = "#f19a9a"     # hv-fatal, vmentry-fail, guest-panic and anything new
EVIDENCE = ("verdict.txt", "summary.txt", "decoded.log", "gdb.txt", "sequence.md",
            "perfetto.json", "raw.bin")


def colour(verdict: str) -> str:
    return COLOURS.get(verdict, FAIL_COLOUR)


def html_table(title: str, rows: list[tuple[str, str, float, str, str]], top: str,
               note: str = "") -> str:
    """rows: (cell, verdict, seconds, what/why, folder). Links are relative
    to `top` (table.html sits there), so the results folder can move."""
    e = html.escape
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
           f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif} table{border-collapse:collapse}"
           " td,th{border:1px solid #888;padding:4px 8px;text-align:left}"
           " td.v{font-weight:bold}</style></head><body>",
           f"<h1>{e(title)}</h1>", "<table>",
           "<tr><th>cell</th><th>verdict</th><th>time</th><th>what / why</th>"
           "<th>evidence</th></tr>"]
    for cell, verdict, secs, what, folder in rows:
        rel = os.path.relpath(folder, top)
        files = [f for f in EVIDENCE if os.path.exists(os.path.join(folder, f))]
        links = " ".join(f"<a href='{e(rel)}/{e(f)}'>{e(f)}</a>" for f in files)
        out.append(f"<tr style='background:{colour(verdict)}'>"
                   f"<td><a href='{e(rel)}/'>{e(cell)}</a></td><td class='v'>{e(verdict)}</td>"
                   f"<td>{secs:.0f} s</td><td>{e(what)}</td><td>{links}</td></tr>")
    out.append("</table>")
    if note:
        out.append(f"<p>{e(note)}</p>")
    return "\n".join(out + ["</body></html>"]) + "\n"
