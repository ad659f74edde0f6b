"""The stress matrix (host-tools/hvstress, make stress): the seed notes'
T1-T5, each cell one boot judged by one verdict from the decoded serial
stream and the guest's own counters, its evidence under
results/<timestamp>-<label>/<cell>/.

Cells (test guest, `stress` scenario, guest/scenarios/stress.c):
  T1  PAL loop on cpu0 + NMI storm
  T2  PAL loops on cpu0 and cpu1
  T3  T2 + NMI storm
  T4  NMI storm alone at interval 0
  T5  TEST-hypercall loops on cpu0 and cpu1
TrustVisor has no PAL calls yet: the "PAL loop" is REG + UNREG of a PAL
(its pages leave and return to every CPU's EPT under quiesce), the nearest
thing that exists; the table says so.

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

from . import commands, frame
from .emu import BOCHS3, Machine
from .image import ROOT, Module, build_iso
from .session import Session

VERDICTS = ("pass", "hang", "guest-panic", "hv-fatal", "vmentry-fail", "nmi-mismatch",
            "loop-fail", "emulator-died", "timeout")
HV_CMDLINE = "serial=115200,8n1,0x3f8 trace=exc,quiesce,hypercall,boot,meta"
# Counts are exact only when no two NMIs can meet: a long interval, and no
# quiesce NMIs (REG/UNREG quiesce) that a storm NMI could merge with.
EXACT_INTERVAL_US = 5000
PAL_NOTE = "PAL loop = TrustVisor REG+UNREG (PAL calls are not implemented yet)"


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
            f"stress_storm={int(cell.storm)} stress_quiet_ms=3000 smp_timeout_ms=600000")


def boot_cell(cell: Cell, o: Options, workdir: str) -> Machine:
    import disk  # guest/disk.py (on sys.path via hvstress)
    if o.guest != "test":
        raise SystemExit("hvstress: only --guest test runs today (the Linux guest's stress "
                         "programs are not written yet)")
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
    got = {int(c): (int(r), int(i)) for c, r, i in re.findall(
        r"^STRESS NMI cpu(\d+) received=(\d+) injected=(\d+)", out, re.M)}
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

    def __init__(self, cell: Cell, o: Options, folder: str, say=print) -> None:
        self.cell, self.o, self.folder, self.say = cell, o, folder, say
        self.interval = cell.interval_us if cell.interval_us is not None \
            else o.storm_interval_us
        self.storm_sent = False
        self.qmp: QmpStorm | None = None

    def start_storm(self, m: Machine) -> None:
        targets = list(range(self.o.cpus))
        if storm_backend(self.o) == "qmp":
            self.qmp = QmpStorm(m, self.interval, self.o.storm_rounds)
            self.qmp.start()
        else:
            m.write(frame.encode(frame.CONTROL, 0, 0, commands.nmi_storm(
                targets, self.interval, self.o.storm_rounds)))
        self.storm_sent = True

    def watch(self, m: Machine) -> tuple[str, str, Session]:
        t0 = last_t = time.monotonic()
        last_len = -1
        while True:
            time.sleep(1.0)
            s = Session.decode(m.output)
            out = guest_text(s)
            text = "\n".join(line for _, line in s.lines())    # the hypervisor's consoles
            beats = out.count("STRESS PROGRESS") + out.count("\n")
            if beats != last_len:
                last_len, last_t = beats, time.monotonic()
            if re.search(r"^FATAL .*VM entry failed", text, re.M):
                return "vmentry-fail", re.search(r"^FATAL .*$", text, re.M).group(0), s
            if re.search(r"^FATAL ", text, re.M):
                return "hv-fatal", re.search(r"^FATAL .*$", text, re.M).group(0), s
            if "GUEST FAULT" in out:
                return "guest-panic", re.search(r"GUEST FAULT.*", out).group(0), s
            if self.cell.storm and not self.storm_sent and "STRESS READY" in out:
                self.start_storm(m)
            if "STRESS END" in out and (not self.cell.storm or storm_backend(self.o) == "qmp"
                                        or re.search(r"^nmi storm: end$", text, re.M)):
                sent = ({c: self.qmp.sent for c in range(self.o.cpus)} if self.qmp
                        else hv_sent(text))
                v, why, self.nmi = judge_end(out, text, self.cell, self.interval, sent)
                return v, why, s
            if not m.alive:
                return "emulator-died", f"exit status {m.poll()}", s
            if time.monotonic() - last_t > self.o.hang_after:
                return "hang", f"no progress marker for {self.o.hang_after:.0f} s", s
            if time.monotonic() - t0 > self.o.timeout:
                return "timeout", f"no verdict within {self.o.timeout:.0f} s", s

    def run(self) -> Result:
        os.makedirs(self.folder, exist_ok=True)
        self.nmi: dict = {}
        t0 = time.monotonic()
        m = boot_cell(self.cell, self.o, os.path.join(self.folder, "emu"))
        try:
            verdict, why, s = self.watch(m)
            # Always the flight recorder before the machine goes.
            try:
                m.write(frame.encode(frame.CONTROL, 0, 1, bytes([0x10])))
                time.sleep(3 if verdict != "pass" else 1)
            except Exception:   # noqa: BLE001 -- the machine may be gone
                pass
        finally:
            if self.qmp:
                self.qmp.stop.set()
            m.stop()
        raw = m.output
        res = Result(self.cell.name, verdict, why, time.monotonic() - t0, self.folder, self.nmi)
        self.save(raw, res)
        return res

    def save(self, raw: bytes, res: Result) -> None:
        with open(os.path.join(self.folder, "raw.bin"), "wb") as f:
            f.write(raw)
        s = Session.decode(raw)
        with open(os.path.join(self.folder, "decoded.log"), "w") as f:
            f.write(s.text() + "\n---- guest ----\n" + guest_text(s))
        with open(os.path.join(self.folder, "verdict.txt"), "w") as f:
            f.write(f"{res.verdict}\n{res.why}\n")
        with open(os.path.join(self.folder, "summary.txt"), "w") as f:
            f.write(summary_line(res, self.cell, self.o) + "\n")


def summary_line(r: Result, cell: Cell, o: Options) -> str:
    nmi = ""
    if r.nmi.get("sent"):
        nmi = " nmi " + ",".join(f"cpu{c}={r.nmi['received'].get(c, 0)}/{n}"
                                 for c, n in sorted(r.nmi["sent"].items()))
    note = f" [{PAL_NOTE}]" if cell.pal_cpus else ""
    return (f"{r.cell} {r.verdict} {r.seconds:.0f}s {o.emu}/{o.model}/{o.cpus}cpu "
            f"{cell.what}{nmi}{note}" + (f" -- {r.why}" if r.why else ""))


def table(results: list[Result], o: Options) -> str:
    rows = [f"stress matrix: {o.emu} {o.model}{' (Bochs 3.0)' if o.bochs3 else ''}, "
            f"{o.cpus} CPUs, guest {o.guest}, {o.rounds} rounds, storm "
            f"{storm_backend(o)} {o.storm_interval_us} us x {o.storm_rounds}", "",
            f"{'cell':5} {'verdict':14} {'time':>6}  what / why"]
    for r in results:
        c = CELLS[r.cell]
        what = c.what + (" *" if c.pal_cpus else "")
        rows.append(f"{r.cell:5} {r.verdict:14} {r.seconds:5.0f}s  {what}"
                    + (f" -- {r.why}" if r.why else ""))
    if any(CELLS[r.cell].pal_cpus for r in results):
        rows += ["", f"* {PAL_NOTE}"]
    return "\n".join(rows) + "\n"


def run_matrix(names: list[str], o: Options, say=print) -> tuple[str, list[Result]]:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    top = os.path.join(o.results, f"{stamp}-{o.label}")
    os.makedirs(top, exist_ok=True)
    results = []
    for i, n in enumerate(names):
        cell = CELLS[n]
        say(f"hvstress: [{i + 1}/{len(names)}] {n}: {cell.what} ...")
        r = CellRun(cell, o, os.path.join(top, n), say).run()
        say(f"hvstress: {summary_line(r, cell, o)}")
        results.append(r)
    tab = table(results, o)
    with open(os.path.join(top, "table.txt"), "w") as f:
        f.write(tab)
    return top, results
