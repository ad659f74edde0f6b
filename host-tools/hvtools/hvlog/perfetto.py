"""--perfetto: Chrome/Perfetto trace-event JSON (load it in ui.perfetto.dev
or chrome://tracing). Process 1 is the hypervisor (each restart in a capture
is a further process), one thread track per CPU ("cpu N"), each track in
time order; trace records, console lines and losses are instant events. ts
is in microseconds since the run's first record at the final (calibrated)
TSC rate when it is known, else raw TSC cycles since then
(otherData.time_unit says which)."""
from __future__ import annotations

import json
from collections.abc import Iterable

from .. import records as _records
from ..catalog import Catalog
from ..records import Symbolize
from ..stream import Line
from .clock import Clock


class _Time:
    """ts of a TSC: microseconds (the final, calibrated rate) since the
    first record of its hypervisor run (each restart starts its own)."""

    def __init__(self, clock: Clock) -> None:
        self.khz = clock.khz
        self.t0: int | None = None

    def __call__(self, tsc: int) -> float:
        if self.t0 is None:
            self.t0 = tsc
        d = tsc - self.t0
        return d * 1000.0 / self.khz if self.khz else float(d)


def build(items: Iterable[object], clock: Clock, cat: Catalog,
          symbolize: Symbolize | None = None, ncpus: int = 0) -> dict:
    events = []
    cpus = set(range(ncpus))
    pending = {}
    ts = _Time(clock)
    run = 1                         # pid: one process per hypervisor run
    for it in items:
        if isinstance(it, _records.Restart):
            run += 1
            ts = _Time(clock)
            pending.clear()
        elif isinstance(it, _records.Record):
            cpus.add(it.cpu)
            ev = cat.event(it.id)
            args = {a.name: cat.format_value(a.fmt, v, symbolize)
                    for a, v in zip(ev.args if ev else (), it.args)}
            args["seq"] = it.seq
            for loss in pending.pop(it.cpu, ()):
                events.append({"name": f"LOST {loss.count}", "cat": "loss", "ph": "i",
                               "s": "t", "ts": ts(it.tsc), "pid": run, "tid": it.cpu,
                               "args": {"what": str(loss)}})
            events.append({"name": it.name, "cat": ev.cls if ev else "trace", "ph": "i",
                           "s": "t", "ts": ts(it.tsc), "pid": run, "tid": it.cpu,
                           "args": args})
        elif isinstance(it, Line) and it.kind == "console" and it.tsc is not None:
            cpus.add(it.cpu)
            events.append({"name": it.text[:80] or "(empty line)", "cat": "console",
                           "ph": "i", "s": "t", "ts": ts(it.tsc), "pid": run,
                           "tid": it.cpu, "args": {"text": it.text, "seq": it.seq}})
        elif isinstance(it, _records.Loss) and it.cpu is not None:
            pending.setdefault(it.cpu, []).append(it)
    meta = []
    for pid in range(1, run + 1):
        meta.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                     "args": {"name": "hypervisor" if pid == 1 else
                              f"hypervisor (restart {pid - 1})"}})
        for c in sorted(cpus):
            meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": c,
                         "args": {"name": f"cpu {c}"}})
            meta.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": c,
                         "args": {"sort_index": c}})
    # Console lines carry the time their first record was written, trace
    # events theirs: arrival order is not time order. Each track in time
    # order, so viewers that do not sort see time move forward.
    events.sort(key=lambda e: (e["pid"], e["tid"], e["ts"]))
    return {"traceEvents": meta + events, "displayTimeUnit": "ns",
            "otherData": {"tsc_khz": clock.khz, "tsc0": clock.t0,
                          "time_unit": "us" if clock.khz else "tsc cycles"}}


def write(path: str, items: Iterable[object], clock: Clock, cat: Catalog,
          symbolize: Symbolize | None = None, ncpus: int = 0) -> int:
    doc = build(items, clock, cat, symbolize, ncpus)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return len(doc["traceEvents"])
