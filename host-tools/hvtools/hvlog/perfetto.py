"""--perfetto: Chrome/Perfetto trace-event JSON (load it in ui.perfetto.dev
or chrome://tracing). Process 1 is the hypervisor, one thread track per CPU
("cpu N"); trace records, console lines and losses are instant events. ts is
in microseconds since the first record when the TSC rate is known, else raw
TSC cycles since then (otherData.time_unit says which)."""
from __future__ import annotations

import json
from collections.abc import Iterable

from .. import records as _records
from ..catalog import Catalog
from ..records import Symbolize
from ..stream import Line
from .clock import Clock


def build(items: Iterable[object], clock: Clock, cat: Catalog,
          symbolize: Symbolize | None = None, ncpus: int = 0) -> dict:
    events = []
    cpus = set(range(ncpus))
    pending = {}
    for it in items:
        if isinstance(it, _records.Record):
            cpus.add(it.cpu)
            ev = cat.event(it.id)
            args = {a.name: cat.format_value(a.fmt, v, symbolize)
                    for a, v in zip(ev.args if ev else (), it.args)}
            args["seq"] = it.seq
            for loss in pending.pop(it.cpu, ()):
                events.append({"name": f"LOST {loss.count}", "cat": "loss", "ph": "i",
                               "s": "t", "ts": clock.us(it.tsc), "pid": 1, "tid": it.cpu,
                               "args": {"what": str(loss)}})
            events.append({"name": it.name, "cat": ev.cls if ev else "trace", "ph": "i",
                           "s": "t", "ts": clock.us(it.tsc), "pid": 1, "tid": it.cpu,
                           "args": args})
        elif isinstance(it, Line) and it.kind == "console" and it.tsc is not None:
            cpus.add(it.cpu)
            events.append({"name": it.text[:80] or "(empty line)", "cat": "console",
                           "ph": "i", "s": "t", "ts": clock.us(it.tsc), "pid": 1,
                           "tid": it.cpu, "args": {"text": it.text, "seq": it.seq}})
        elif isinstance(it, _records.Loss) and it.cpu is not None:
            pending.setdefault(it.cpu, []).append(it)
    meta = [{"name": "process_name", "ph": "M", "pid": 1, "tid": 0,
             "args": {"name": "hypervisor"}}]
    for c in sorted(cpus):
        meta.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": c,
                     "args": {"name": f"cpu {c}"}})
        meta.append({"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": c,
                     "args": {"sort_index": c}})
    return {"traceEvents": meta + events, "displayTimeUnit": "ns",
            "otherData": {"tsc_khz": clock.khz, "tsc0": clock.t0,
                          "time_unit": "us" if clock.khz else "tsc cycles"}}


def write(path: str, items: Iterable[object], clock: Clock, cat: Catalog,
          symbolize: Symbolize | None = None, ncpus: int = 0) -> int:
    doc = build(items, clock, cat, symbolize, ncpus)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return len(doc["traceEvents"])
