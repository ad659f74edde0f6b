"""The stress matrix (host-tools/hvstress, make stress): the seed notes'
T1-T5, each cell one boot judged by one verdict from the decoded serial
stream and the guest's own counters, its evidence under
results/<timestamp>-<label>/<cell>/.

Cells (test guest, `stress` scenario, guest/scenarios/stress.c; Linux
guest, --guest linux: hvtools/stress_linux.py, every cell in one boot):
  T1  PAL loop on cpu0 + NMI storm
  T2  PAL loops on cpu0 and cpu1
  T3  T2 + NMI storm
  T4  NMI storm alone at interval 0
  T5  TEST-hypercall loops on cpu0 and cpu1
A "PAL loop" iteration is REG of a PAL (its pages leave every CPU's EPT
under quiesce), calls of it with their results checked, UNREG (the pages
back, scrubbed): the test guest calls trustvisor_pal's adding PAL once,
the Linux guest runs pal_demo's `main` (two calls of its PAL a round).

Hang: no "STRESS ..." line from the guest for Options.hang_after seconds
(boot_after before the first; Heartbeat). Then, with the machine still
hung, the flight recorder is dumped and stock gdb attaches through the GDB
channel (stress_gdb: every CPU's backtrace, monitor nmi, the guest view).
Every cell also gets hvlog's Perfetto JSON and sequence table around the
verdict's moment (stress_report), and the matrix a table in text and HTML.
Options.hang_cpu plants a hang: the guest parks that CPU with interrupts off.

Storm backends: "host" (the hypervisor's NMI_STORM command over the serial
line; Bochs, or anything else) and "qmp" (QEMU's inject-nmi through
qmp/qmpclient.py, a thread at the interval; QEMU only, so KVM with nested
VMX -- QEMU's TCG has no VMX and the hypervisor stops there).
"""
from __future__ import annotations

import dataclasses
import os
import re
import threading
import time

from . import commands, frame, stress_gdb, stress_progress, stress_report
from .emu import BOCHS3, Machine
from .image import ROOT, Module, build_iso
from .session import Follower, Session

VERDICTS = ("pass", "hang", "guest-panic", "hv-fatal", "vmentry-fail", "nmi-mismatch",
            "loop-fail", "emulator-died", "timeout")
# vmx: the per-exit events, held in the flight recorder (never streamed), so
# DUMP_EVENTS at a cell's end shows each CPU's last exits; gdb=on: the stub,
# for gdb on a hang (the exits then also look for gdb's break-in on the
# line; T1-T5 pass with it on, measured 2026-12-02).
HV_CMDLINE = "serial=115200,8n1,0x3f8 trace=vmx,exc,quiesce,hypercall,boot,meta gdb=on"
# Counts are exact only when no two NMIs can meet: a long interval, and no
# quiesce NMIs (REG/UNREG quiesce) that a storm NMI could merge with.
EXACT_INTERVAL_US = 5000
PAL_NOTE = ("PAL loop = TrustVisor REG + PAL call(s), results checked + UNREG "
            "(test guest: 1 call; Linux: pal_demo main, 2 calls)")


@dataclasses.dataclass
class Cell:
    name: str
    what: str
    test_cpus: int = 0
    pal_cpus: int = 0
    storm: bool = False
    interval_us: int | None = None      # None: the run's --storm-interval


CELLS = {
    "T1": Cell("T1", "PAL loop + NMI storm", pal_cpus=0b1, storm=True),
    "T2": Cell("T2", "two PAL loops", pal_cpus=0b11),
    "T3": Cell("T3", "two PAL loops + NMI storm", pal_cpus=0b11, storm=True),
    "T4": Cell("T4", "NMI storm alone, interval 0", storm=True, interval_us=0),
    "T5": Cell("T5", "two TEST-hypercall loops", test_cpus=0b11),
}


@dataclasses.dataclass
class Options:
    emu: str = "bochs"
    model: str = "corei7_skylake_x"
    bochs3: bool = False
    cpus: int = 2
    guest: str = "test"
    rounds: int = 50                # loop iterations per CPU
    storm: str = "auto"             # auto | host | qmp
    storm_interval_us: int = 1000
    storm_rounds: int = 200
    hang_after: float = 120.0       # seconds without a progress marker
    boot_after: float = 300.0       # the same before the first one (booting)
    hang_cpu: int | None = None     # planted hang: this CPU parks in its loop
    hang_round: int | None = None   # at this iteration (None: rounds / 2)
    timeout: float = 1800.0         # per cell
    results: str = os.path.join(ROOT, "results")
    label: str = "stress"
    elf: str = os.path.join(ROOT, "build", "hv.elf")


@dataclasses.dataclass
class Result:
    cell: str
    verdict: str
    why: str
    seconds: float
    folder: str
    nmi: dict = dataclasses.field(default_factory=dict)
    gdb: str = ""                   # on a hang: "attached", or why not
    moment: int = 0                 # capture offset of the verdict's moment


def guest_text(s: Session) -> str:
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def storm_backend(o: Options) -> str:
    if o.storm != "auto":
        return o.storm
    return "qmp" if o.emu == "qemu" else "host"


class QmpStorm(threading.Thread):
    """inject-nmi `rounds` times at the interval (QEMU: every CPU's LINT1)."""

    def __init__(self, m: Machine, interval_us: int, rounds: int) -> None:
        super().__init__(daemon=True)
        self.client = m.qmp_client()
        self.interval, self.rounds = interval_us / 1e6, rounds
        self.sent = self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        for _ in range(self.rounds):
            if self.stop.is_set():
                break
            try:
                self.client.command("inject-nmi")
                self.sent += 1
            except Exception:   # noqa: BLE001 -- counted, the verdict says more
                self.errors += 1
            if self.interval:
                time.sleep(self.interval)


def guest_args(cell: Cell, o: Options) -> str:
    all_cpus = (1 << o.cpus) - 1
    return (f"stress_test_cpus={cell.test_cpus & all_cpus} "
            f"stress_pal_cpus={cell.pal_cpus & all_cpus} stress_rounds={o.rounds} "
            f"stress_storm={int(cell.storm)} stress_quiet_ms=3000 smp_timeout_ms=600000"
            + (f" stress_hang_cpu={o.hang_cpu}" if o.hang_cpu is not None else "")
            + (f" stress_hang_round={o.hang_round}" if o.hang_round is not None else ""))


class Heartbeat:
    """The hang detector. Progress markers are the guest's "STRESS ..."
    lines: the stress scenario prints one at least every second of guest
    time while anything runs. A cell hangs when none came for `after`
    seconds; before the first one the guest is still booting (GRUB, its AP
    start-up), so `boot_after` applies. `pos` is where the capture was when
    the last marker was seen: the verdict's moment for a hang."""
    MARK = re.compile(r"^STRESS ", re.M)

    def __init__(self, after: float, boot_after: float, now: float) -> None:
        self.after, self.boot_after = after, max(after, boot_after)
        self.count, self.last, self.pos = 0, now, 0

    def see(self, guest: str, now: float, pos: int) -> None:
        n = len(self.MARK.findall(guest))
        if n != self.count:
            self.count, self.last, self.pos = n, now, pos

    def limit(self) -> float:
        return self.after if self.count else self.boot_after

    def hung(self, now: float) -> bool:
        return now - self.last > self.limit()

    def why(self) -> str:
        if not self.count:
            return f"no progress marker within {self.boot_after:.0f} s of boot"
        return f"no progress marker for {self.after:.0f} s"


def boot_cell(cell: Cell, o: Options, workdir: str) -> Machine:
    import disk  # guest/disk.py (on sys.path via hvstress)
    img = disk.build_guest_disk(scenarios="stress", poweroff=False, args=guest_args(cell, o))
    iso = build_iso(o.elf, HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)])
    kw = dict(qmp=True) if storm_backend(o) == "qmp" and cell.storm else {}
    if o.bochs3:
        kw["bochs"] = BOCHS3
    m = Machine(emu=o.emu, iso=iso, disks=[img], boot="cdrom", cpus=o.cpus, model=o.model,
                serial="socket", timeout=o.timeout + 60, workdir=workdir,
                name=f"stress-{cell.name}", **kw)
    m.start()
    return m


def judge_end(out: str, text: str, cell: Cell, interval: int,
              sent: dict[int, int]) -> tuple[str, str, dict]:
    """After STRESS END: the loops' checks and the NMI counts."""
    got = {int(c): (int(r), int(i or 0)) for c, r, i in re.findall(
        r"^STRESS NMI cpu(\d+) received=(\d+)(?: injected=(\d+))?", out, re.M)}
    nmi = {"received": {c: r for c, (r, i) in got.items()}, "sent": sent}
    bad = re.findall(r"^CHECK stress\.(\w+): FAIL (.*)$", out, re.M)
    for name, why in bad:
        if name == "loops":
            return "loop-fail", why, nmi
        return "nmi-mismatch" if "nmi" in name or name == "storm_seen" else "loop-fail", \
            f"{name}: {why}", nmi
    if cell.storm:
        exact = interval >= EXACT_INTERVAL_US and not cell.pal_cpus
        for c, n in sent.items():
            r = got.get(c, (0, 0))[0]
            if (exact and r != n) or r > n or r == 0:
                return "nmi-mismatch", (f"cpu{c} received {r} of {n} sent "
                                        f"({'exact' if exact else 'at most, at least 1'})"), nmi
    elif any(r for r, _ in got.values()):
        return "nmi-mismatch", f"NMIs without a storm: {got}", nmi
    return "pass", "", nmi


def hv_sent(text: str) -> dict[int, int]:
    return {int(c): int(n) for c, n in re.findall(r"^nmi storm: sent cpu(\d+) (\d+)$", text,
                                                     re.M)}


class CellRun:
    """One boot, watched until a verdict."""

    def __init__(self, cell: Cell, o: Options, folder: str, say=print, progress=None) -> None:
        self.cell, self.o, self.folder, self.say = cell, o, folder, say
        self.progress = progress or stress_progress.Quiet()
        self.interval = cell.interval_us if cell.interval_us is not None \
            else o.storm_interval_us
        self.storm_sent = False
        self.qmp: QmpStorm | None = None
        self.moment = 0

    def start_storm(self, m: Machine) -> None:
        targets = list(range(self.o.cpus))
        if storm_backend(self.o) == "qmp":
            self.qmp = QmpStorm(m, self.interval, self.o.storm_rounds)
            self.qmp.start()
        else:
            m.write(frame.encode(frame.CONTROL, 0, 0, commands.nmi_storm(
                targets, self.interval, self.o.storm_rounds)))
        self.storm_sent = True

    def watch(self, m: Machine) -> tuple[str, str]:
        t0 = time.monotonic()
        beat = Heartbeat(self.o.hang_after, self.o.boot_after, t0)
        follow = Follower()     # decodes only what arrived since the last second
        while True:
            time.sleep(1.0)
            raw = m.output
            self.moment = len(raw)          # unless a hang says otherwise
            s = follow.update(raw)
            out = guest_text(s)
            text = "\n".join(line for _, line in s.lines())    # the hypervisor's consoles
            now = time.monotonic()
            beat.see(out, now, len(raw))
            self.progress.update(stress_progress.cell_fraction(out, self.cell, self.o),
                                 stress_progress.last_marker(out))
            if re.search(r"^FATAL .*VM entry failed", text, re.M):
                return "vmentry-fail", re.search(r"^FATAL .*$", text, re.M).group(0)
            if re.search(r"^FATAL ", text, re.M):
                return "hv-fatal", re.search(r"^FATAL .*$", text, re.M).group(0)
            if "GUEST FAULT" in out:
                return "guest-panic", re.search(r"GUEST FAULT.*", out).group(0)
            if self.cell.storm and not self.storm_sent and "STRESS READY" in out:
                self.start_storm(m)
            if "STRESS END" in out and (not self.cell.storm or storm_backend(self.o) == "qmp"
                                        or re.search(r"^nmi storm: end$", text, re.M)):
                sent = ({c: self.qmp.sent for c in range(self.o.cpus)} if self.qmp
                        else hv_sent(text))
                v, why, self.nmi = judge_end(out, text, self.cell, self.interval, sent)
                return v, why
            if not m.alive:
                return "emulator-died", f"exit status {m.poll()}"
            if beat.hung(now):
                self.moment = beat.pos
                return "hang", beat.why()
            if now - t0 > self.o.timeout:
                return "timeout", f"no verdict within {self.o.timeout:.0f} s"

    def run(self) -> Result:
        os.makedirs(self.folder, exist_ok=True)
        self.nmi: dict = {}
        t0 = time.monotonic()
        gdb = ""
        m = boot_cell(self.cell, self.o, os.path.join(self.folder, "emu"))
        try:
            verdict, why = self.watch(m)
            self.progress.update(None, "flight recorder")
            flight_dump(m, verdict)
            if verdict == "hang":
                # The machine is still hung: gdb sees every CPU where it is.
                self.progress.update(None, "gdb")
                gdb = stress_gdb.collect(m, self.o.elf, self.o.cpus,
                                         os.path.join(self.folder, "gdb.txt")) or "attached"
        finally:
            if self.qmp:
                self.qmp.stop.set()
            m.stop()
        raw = m.output
        res = Result(self.cell.name, verdict, why, time.monotonic() - t0, self.folder, self.nmi,
                     gdb, min(self.moment, len(raw)))
        self.progress.update(None, "exports")
        save_evidence(self.folder, raw, res, self.cell, self.o)
        return res



def flight_dump(m: Machine, verdict: str) -> None:
    """Always the flight recorder before the machine goes; when the
    verdict is not a pass, wait for the dump to leave the line (until it
    is quiet for 2 s, 30 s at most: 64 KiB a CPU at 115200 baud)."""
    try:
        m.write(frame.encode(frame.CONTROL, 0, 1, bytes([0x10])))
    except Exception:   # noqa: BLE001 -- the machine may be gone
        return
    if verdict == "pass":
        time.sleep(1)
        return
    end, n, quiet = time.monotonic() + 30, -1, 0
    while time.monotonic() < end and quiet < 4 and m.alive:
        time.sleep(0.5)
        quiet = quiet + 1 if len(m.output) == n else 0
        n = len(m.output)


def save_capture(folder: str, raw: bytes, final: bool = False) -> None:
    """raw.bin and decoded.log (hypervisor consoles, then the guest's)."""
    with open(os.path.join(folder, "raw.bin"), "wb") as f:
        f.write(raw)
    s = Session.decode(raw, final=final)
    with open(os.path.join(folder, "decoded.log"), "w") as f:
        f.write(s.text() + "\n---- guest ----\n" + guest_text(s))


def save_evidence(folder: str, raw: bytes, res: Result, cell: Cell, o: Options,
                  final: bool = False, exports: bool = True) -> None:
    """A cell's folder: the capture, verdict.txt, summary.txt and (exports)
    hvlog's Perfetto JSON and sequence table."""
    save_capture(folder, raw, final)
    with open(os.path.join(folder, "verdict.txt"), "w") as f:
        f.write(f"{res.verdict}\n{res.why}\n")
    with open(os.path.join(folder, "summary.txt"), "w") as f:
        f.write(summary_line(res, cell, o) + "\n")
    if exports:
        stress_report.exports(raw, res.moment, folder, o.elf)


def summary_line(r: Result, cell: Cell, o: Options) -> str:
    nmi = ""
    if r.nmi.get("sent"):
        nmi = " nmi " + ",".join(f"cpu{c}={r.nmi['received'].get(c, 0)}/{n}"
                                 for c, n in sorted(r.nmi["sent"].items()))
    note = f" [{PAL_NOTE}]" if cell.pal_cpus else ""
    gdb = f" [gdb: {r.gdb}]" if r.gdb else ""
    return (f"{r.cell} {r.verdict} {r.seconds:.0f}s {o.emu}/{o.model}/{o.cpus}cpu "
            f"{cell.what}{nmi}{note}{gdb}" + (f" -- {r.why}" if r.why else ""))


def title(o: Options) -> str:
    return (f"stress matrix: {o.emu} {o.model}{' (Bochs 3.0)' if o.bochs3 else ''}, "
            f"{o.cpus} CPUs, guest {o.guest}, {o.rounds} rounds, storm "
            f"{storm_backend(o)} {o.storm_interval_us} us x {o.storm_rounds}"
            + (f", planted hang on cpu{o.hang_cpu}" if o.hang_cpu is not None else ""))


def what_why(r: Result) -> str:
    c = CELLS[r.cell]
    return c.what + (" *" if c.pal_cpus else "") + (f" -- {r.why}" if r.why else "") \
        + (f" [gdb: {r.gdb}]" if r.gdb else "")


def table(results: list[Result], o: Options) -> str:
    rows = [title(o), "", f"{'cell':5} {'verdict':14} {'time':>6}  what / why"]
    for r in results:
        rows.append(f"{r.cell:5} {r.verdict:14} {r.seconds:5.0f}s  {what_why(r)}")
    if any(CELLS[r.cell].pal_cpus for r in results):
        rows += ["", f"* {PAL_NOTE}"]
    return "\n".join(rows) + "\n"


def table_html(results: list[Result], o: Options, top: str) -> str:
    note = f"* {PAL_NOTE}" if any(CELLS[r.cell].pal_cpus for r in results) else ""
    return stress_report.html_table(title(o), [(r.cell, r.verdict, r.seconds, what_why(r),
                                                r.folder) for r in results], top, note)


def run_matrix(names: list[str], o: Options, say=print,
               progress=None) -> tuple[str, list[Result]]:
    """progress: a stress_progress display (default: plain lines to say)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    top = os.path.join(o.results, f"{stamp}-{o.label}")
    os.makedirs(top, exist_ok=True)
    progress = progress or stress_progress.Plain(say)
    results = []

    def tables(results: list[Result]) -> None:
        # Written after every cell: a matrix cut short keeps its table.
        with open(os.path.join(top, "table.txt"), "w") as f:
            f.write(table(results, o))
        with open(os.path.join(top, "table.html"), "w") as f:
            f.write(table_html(results, o, top))

    if o.guest == "linux":      # every cell in one boot (stress_linux)
        from . import stress_linux
        try:
            return top, stress_linux.run_matrix(names, o, top, progress, tables)
        finally:
            progress.close()
    try:
        for i, n in enumerate(names):
            cell = CELLS[n]
            progress.start(i, len(names), n, cell.what)
            r = CellRun(cell, o, os.path.join(top, n), say, progress).run()
            progress.end(summary_line(r, cell, o))
            results.append(r)
            tables(results)
    finally:
        progress.close()
    return top, results
