"""Progress of a stress matrix: how far a cell is (from the guest's own
progress markers), the matrix's ETA, and two displays: a bar per cell with
the matrix's ETA on a terminal (python3-rich), plain lines otherwise.

A display has start(index, total, name, what), update(fraction or None,
note), end(summary line) and close(); the runner calls update about once a
second."""
from __future__ import annotations

import re
import time

# Share of a cell before the guest's STRESS READY (boot) and after its
# loops/storm (counts, checks): rough, the ETA only needs a monotone guess.
BOOT, TAIL = 0.10, 0.05


def cell_fraction(out: str, cell, o) -> float:
    """0..1 from the guest's output: booting until STRESS READY; then the
    loops' "i/rounds" (the slowest CPU's), or for a storm alone the NMIs
    counted against those sent; 1 at STRESS END."""
    if "STRESS END" in out:
        return 1.0
    if "STRESS READY" not in out:
        return 0.0
    loops = {}
    for cpu, i, n in re.findall(r"^STRESS PROGRESS cpu(\d+) \w+ (\d+)/(\d+)", out, re.M):
        loops[cpu] = int(i) / max(1, int(n))
    if cell.test_cpus or cell.pal_cpus:
        ncpu = bin((cell.test_cpus | cell.pal_cpus) & ((1 << o.cpus) - 1)).count("1")
        done = min(loops.values()) if len(loops) >= ncpu and loops else 0.0
    else:
        totals = re.findall(r"^STRESS PROGRESS nmi total=(\d+)", out, re.M)
        sent = max(1, o.storm_rounds * o.cpus)
        done = min(1.0, int(totals[-1]) / sent) if totals else 0.0
    return BOOT + (1 - BOOT - TAIL) * done


def last_marker(out: str) -> str:
    m = re.findall(r"^STRESS (\S.*)$", out, re.M)
    return m[-1][:30] if m else "booting"     # short: the bar must fit 80 columns


def eta(done: list[float], elapsed: float, fraction: float, left: int) -> float | None:
    """Seconds until the matrix ends: the cell under way (its own rate once
    it is 10% along, else the finished cells' mean) plus `left` more cells
    at the finished cells' mean (or this one's estimate). None: no basis yet."""
    mean = sum(done) / len(done) if done else None
    own = elapsed / fraction if fraction >= 0.10 else None
    cur = own if own is not None else mean
    if cur is None:
        return None
    per = mean if mean is not None else cur
    return max(0.0, cur - elapsed) + left * per


def fmt_eta(s: float | None) -> str:
    if s is None:
        return "ETA ?"
    s = int(s + 0.5)
    return f"ETA {s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 \
        else f"ETA {s // 60}:{s % 60:02d}"


class Quiet:
    def start(self, index: int, total: int, name: str, what: str) -> None: pass
    def update(self, fraction: float | None, note: str) -> None: pass
    def end(self, line: str) -> None: pass
    def close(self) -> None: pass


class Plain(Quiet):
    """Not a terminal: a line per cell start and end, and one every
    `every` seconds in between (fraction, the matrix's ETA)."""

    def __init__(self, say, every: float = 60.0) -> None:
        self.say, self.every = say, every
        self.done: list[float] = []
        self.frac = 0.0

    def start(self, index, total, name, what):
        self.index, self.total, self.name = index, total, name
        self.t0 = self.next = time.monotonic()
        self.next += self.every
        self.frac = 0.0
        self.say(f"hvstress: [{index + 1}/{total}] {name}: {what} ...")

    def update(self, fraction, note):
        if fraction is not None:
            self.frac = fraction
        now = time.monotonic()
        if now >= self.next:
            self.next = now + self.every
            left = eta(self.done, now - self.t0, self.frac, self.total - self.index - 1)
            self.say(f"hvstress: {self.name} {self.frac:4.0%} {note} ({fmt_eta(left)})")

    def end(self, line):
        self.done.append(time.monotonic() - self.t0)
        self.say(f"hvstress: {line}")


class Rich(Plain):
    """A terminal: rich's live display, a bar per cell (finished cells keep
    theirs with the verdict) and the matrix's bar with its ETA."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        super().__init__(say=lambda m: None)
        self.p = Progress(TextColumn("{task.description:<32}"), BarColumn(),
                          TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                          TextColumn("{task.fields[note]}"))
        self.p.start()
        self.matrix = None
        self.task = None

    def start(self, index, total, name, what):
        super().start(index, total, name, what)
        if self.matrix is None:
            self.matrix = self.p.add_task("matrix", total=total, note="")
        self.task = self.p.add_task(f"{name} {what}"[:32], total=1.0, note="booting")

    def update(self, fraction, note):
        if fraction is not None:
            self.frac = fraction
            self.p.update(self.task, completed=fraction)
        self.p.update(self.task, note=note)
        left = eta(self.done, time.monotonic() - self.t0, self.frac,
                   self.total - self.index - 1)
        self.p.update(self.matrix, completed=self.index + self.frac, note=fmt_eta(left))

    def end(self, line):
        super().end(line)
        verdict = line.split()[1] if len(line.split()) > 1 else "?"
        self.p.update(self.task, completed=1.0, note=verdict)
        self.p.update(self.matrix, completed=self.index + 1)

    def close(self):
        self.p.stop()
