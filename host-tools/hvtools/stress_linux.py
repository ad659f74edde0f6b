"""The stress matrix on the Linux guest (hvstress --guest linux): every cell
in ONE boot of Debian's kernel (guest/linux/linux_guest.py), run one after
another by the init's `stress` command (guest/linux/init documents its
lines), each judged on its own, in order, with the test guest's verdicts.

The cells' loops are TrustVisor's pal_demo: a PAL loop is `pal_demo64 main`
pinned to its CPU (each round REG, two PAL calls checked by the program,
UNREG), a TEST loop `pal_demo64 test N`; R (PAL rounds, at least) and N
(TEST calls) are both the run's --rounds. A storm cell (T1, T3, T4): when
the guest says `STRESS READY cell=Tn` its loops have started; the runner
sends the hypervisor's NMI_STORM command (Bochs has no QMP), waits for the
hypervisor's "nmi storm: end" and then sends the guest one line on its
serial input; the PAL loops go on until that line came (so the storm falls
inside them, however far guest time runs ahead of the wall clock in Bochs).

Per cell the verdict comes from the cell's slice of the guest's output
(READY to END: its CHECK lines, the pal_demo results, the NMI counts from
/proc/interrupts) and the hypervisor's consoles (FATAL, the storm's "sent"
lines). A kernel panic, oops or BUG is guest-panic. A verdict that ends the
boot (hang, hv-fatal, vmentry-fail, guest-panic, emulator-died, timeout)
is the verdict of the cell under way; the cells after it get the same
verdict with "not reached" as the reason.

Evidence per cell, results/<timestamp>-<label>/<cell>/: raw.bin (the slice
of the capture from the previous cell's END, or the machine's start, to
this cell's END; cut at frame delimiters), decoded.log, verdict.txt,
summary.txt (its time too runs from the previous cell's END: the first
cell's includes the boot), perfetto.json and sequence.md (stress_report, on the slice).
The flight recorder is dumped once, at the end of the boot (or at the
verdict that ended it), into the last judged cell's slice; on a hang,
gdb.txt as for the test guest. The whole capture is in the matrix folder
(boot/raw.bin, boot/decoded.log) with the emulator's files (boot/emu/).
"""
from __future__ import annotations

import os
import re
import sys
import time

from . import commands, frame, stress, stress_gdb, stress_progress
from .emu import BOCHS3, Machine
from .image import ROOT, Module, build_iso
from .session import Follower, Session

# Kernel arguments of the stress boot:
#   nmi_watchdog=0   no perf NMIs of the kernel's own: every NMI counted in
#                    /proc/interrupts then came from the hypervisor.
#   rcupdate.rcu_cpu_stall_suppress=1
#                    in Bochs, with PAL loops on both CPUs (every REG and
#                    UNREG quiesces the other CPU) Linux's RCU stall detector
#                    (21 s) fires; its report sends NMI backtraces to the
#                    CPUs, which would be counted as storm NMIs (an
#                    nmi-mismatch that is Linux's, not the hypervisor's).
KERNEL_ARGS = "nmi_watchdog=0 rcupdate.rcu_cpu_stall_suppress=1"
# Linux in Bochs: GRUB, the kernel and the initrd took 4-8 minutes before
# the first cell's READY.
BOOT_AFTER = 900.0
PANIC = re.compile(r"Kernel panic|^BUG: |Oops: |general protection fault|"
                   r"LINUX-GUEST-DONE", re.M)
PRINTK = re.compile(r"^\[ *\d+\.\d+\] ", re.M)


def guest_lines(s: Session) -> str:
    """The guest's text without printk's time prefix (init's lines go
    through /dev/kmsg)."""
    return PRINTK.sub("", stress.guest_text(s))


def kernel_args(names: list[str], o: stress.Options) -> str:
    return (f"{KERNEL_ARGS} hvtest=stress:{'+'.join(names)},hold "
            f"stress_rounds={o.rounds} stress_test_n={o.rounds}")


def boot(names: list[str], o: stress.Options, workdir: str) -> Machine:
    sys.path.insert(0, os.path.join(ROOT, "guest", "linux"))
    import linux_guest
    img = linux_guest.build_linux_disk(extra_args=kernel_args(names, o))
    iso = build_iso(o.elf, stress.HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)])
    kw = {"bochs": BOCHS3} if o.bochs3 else {}
    n = len(names)
    m = Machine(emu=o.emu, iso=iso, disks=[linux_guest.guest_disk(o.emu, img)], boot="cdrom",
                cpus=o.cpus, model=o.model, serial="socket",
                timeout=max(o.boot_after, BOOT_AFTER) + n * o.timeout + 120,
                workdir=workdir, name="stress-linux", **kw)
    m.start()
    return m


def segment(out: str, name: str) -> str:
    """The guest's lines of cell `name`: READY up to END (or the end)."""
    i = out.find(f"STRESS READY cell={name} ")
    if i < 0:
        return ""
    j = out.find(f"STRESS END cell={name}", i)
    return out[i:] if j < 0 else out[i:j + len(f"STRESS END cell={name}")]


def loop_results(seg: str) -> dict[tuple[int, str], dict[str, str]]:
    """{(cpu, 'main'|'test'): fields of its `PALDEMO <kind> ok k=v ...`}."""
    got = {}
    for c, kind, rest in re.findall(r"^STRESS LOOP cell=\S+ cpu(\d+) (\w+): PALDEMO \2 ok(.*)$",
                                    seg, re.M):
        got[(int(c), kind)] = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
    return got


def check_loops(seg: str, cell: stress.Cell, o: stress.Options) -> str | None:
    """What is wrong with the cell's loops by their own results, or None:
    each ran on its CPU alone, its rounds (PAL: R at least, two checked
    calls each; TEST: N calls), and the loops of a cell overlapped."""
    all_cpus = (1 << o.cpus) - 1
    res = loop_results(seg)
    spans = []
    for mask, kind in ((cell.pal_cpus & all_cpus, "main"), (cell.test_cpus & all_cpus, "test")):
        for c in range(o.cpus):
            if not mask >> c & 1:
                continue
            f = res.get((c, kind))
            if f is None:
                return f"cpu{c} {kind}: no ok line"
            if int(f.get("cpus", "0"), 16) != 1 << c:
                return f"cpu{c} {kind}: ran on CPUs {f.get('cpus')}"
            if kind == "main" and not (int(f["rounds"]) >= o.rounds
                                       and int(f["calls"]) == 2 * int(f["rounds"])):
                return f"cpu{c} main: rounds={f['rounds']} calls={f['calls']}, want >= {o.rounds}"
            if kind == "test" and int(f["n"]) != o.rounds:
                return f"cpu{c} test: n={f['n']}, want {o.rounds}"
            spans.append((int(f["t0"]), int(f["t1"])))
    if len(spans) > 1 and max(a for a, _ in spans) >= min(b for _, b in spans):
        return f"the loops did not overlap in time: {spans}"
    return None


def storm_slices(lines: list[str]) -> list[list[str]]:
    """The hypervisor's console lines cut after each "nmi storm: end"."""
    out, cur = [], []
    for ln in lines:
        cur.append(ln)
        if ln == "nmi storm: end":
            out.append(cur)
            cur = []
    return out + [cur]


def cut(raw: bytes, pos: int) -> int:
    """pos moved back to just past a frame delimiter (0x00)."""
    return raw.rfind(b"\0", 0, pos) + 1 if pos < len(raw) else len(raw)


class LinuxRun:
    """One boot, its cells watched and judged in order."""

    def __init__(self, names: list[str], o: stress.Options, top: str, progress) -> None:
        self.names, self.o, self.top, self.progress = names, o, top, progress
        self.results: list[stress.Result] = []

    def interval(self, cell: stress.Cell) -> int:
        return cell.interval_us if cell.interval_us is not None else self.o.storm_interval_us

    def run(self, on_result) -> list[stress.Result]:
        o = self.o
        bootdir = os.path.join(self.top, "boot")
        os.makedirs(bootdir, exist_ok=True)
        m = boot(self.names, o, os.path.join(bootdir, "emu"))
        t_boot = time.monotonic()
        beat = stress.Heartbeat(o.hang_after, max(o.boot_after, BOOT_AFTER), t_boot)
        idx, start_pos, t_cell = 0, 0, t_boot
        storms = 0                  # storms asked for so far
        storm_at = -1               # the storm's index of the cell under way
        told = False                # the guest was told its storm is over
        ended = None                # (verdict, why, moment) of a boot-ending verdict
        self.progress.start(0, len(self.names), self.names[0], stress.CELLS[self.names[0]].what)
        try:
            follow = Follower()     # decodes only what arrived since the last second
            while idx < len(self.names):
                time.sleep(1.0)
                raw = m.output
                s = follow.update(raw)
                out = guest_lines(s)
                hv = [line for _, line in s.lines()]
                text = "\n".join(hv)
                now = time.monotonic()
                beat.see(out, now, len(raw))
                name = self.names[idx]
                cell = stress.CELLS[name]
                self.progress.update((idx + ("STRESS READY cell=" + name + " " in out) * 0.5)
                                     / len(self.names), stress_progress.last_marker(out))
                fatal = re.search(r"^FATAL .*$", text, re.M)
                panic = PANIC.search(out)
                if fatal:
                    ended = ("vmentry-fail" if "VM entry failed" in fatal.group(0)
                             else "hv-fatal", fatal.group(0), len(raw))
                elif panic:
                    line = out[out.rfind("\n", 0, panic.start()) + 1:].split("\n", 1)[0]
                    ended = ("guest-panic", line, len(raw))
                if ended:
                    break
                seg = segment(out, name)
                if cell.storm and seg and storm_at < 0:
                    m.write(frame.encode(frame.CONTROL, 0, 0, commands.nmi_storm(
                        list(range(o.cpus)), self.interval(cell), o.storm_rounds)))
                    storm_at, storms = storms, storms + 1
                if storm_at >= 0 and not told and len(storm_slices(hv)) > storm_at + 1:
                    m.write(frame.encode(frame.GUEST, 0, 0, f"storm over {name}\n".encode()))
                    told = True
                if f"STRESS END cell={name}" in seg:
                    sent = stress.hv_sent("\n".join(storm_slices(hv)[storm_at])) \
                        if storm_at >= 0 else {}
                    v, why, nmi = stress.judge_end(seg, text, cell, self.interval(cell), sent)
                    if v == "pass":
                        bad = check_loops(seg, cell, o)
                        if bad:
                            v, why = "loop-fail", bad
                    last = idx == len(self.names) - 1
                    if last:
                        self.progress.update(None, "flight recorder")
                        stress.flight_dump(m, v)
                        raw = m.output
                    end = len(raw) if last else cut(raw, len(raw))
                    self.judged(idx, v, why, nmi, raw[start_pos:end], end - start_pos,
                                now - t_cell, on_result)
                    idx, start_pos, t_cell = idx + 1, end, now
                    storm_at, told = -1, False
                    if idx < len(self.names):
                        self.progress.start(idx, len(self.names), self.names[idx],
                                            stress.CELLS[self.names[idx]].what)
                    continue
                if not m.alive:
                    ended = ("emulator-died", f"exit status {m.poll()}", len(raw))
                elif beat.hung(now):
                    ended = ("hang", beat.why(), beat.pos)
                elif now - t_cell > o.timeout + (max(o.boot_after, BOOT_AFTER) if idx == 0
                                                 else 0):
                    ended = ("timeout", f"no STRESS END cell={name} within the limit", len(raw))
                if ended:
                    break
            gdb = ""
            if ended:
                self.progress.update(None, "flight recorder")
                stress.flight_dump(m, ended[0])
                if ended[0] == "hang":
                    self.progress.update(None, "gdb")
                    folder = os.path.join(self.top, self.names[idx])
                    os.makedirs(folder, exist_ok=True)
                    gdb = stress_gdb.collect(m, o.elf, o.cpus, os.path.join(folder, "gdb.txt"),
                                             guest="linux") or "attached"
        finally:
            m.stop()
        raw = m.output
        if ended:
            v, why, moment = ended
            self.judged(idx, v, why, {}, raw[start_pos:], moment - start_pos,
                        time.monotonic() - t_cell, on_result, gdb)
            for j in range(idx + 1, len(self.names)):
                self.progress.start(j, len(self.names), self.names[j],
                                    stress.CELLS[self.names[j]].what)
                self.judged(j, v, f"not reached: the boot ended in {self.names[idx]}", {}, b"",
                            0, 0.0, on_result)
        stress.save_capture(bootdir, raw, final=True)
        return self.results

    def judged(self, idx: int, v: str, why: str, nmi: dict, raw: bytes, moment: int,
               secs: float, on_result, gdb: str = "") -> None:
        name = self.names[idx]
        cell = stress.CELLS[name]
        folder = os.path.join(self.top, name)
        os.makedirs(folder, exist_ok=True)
        r = stress.Result(name, v, why, secs, folder, nmi, gdb, max(0, min(moment, len(raw))))
        self.progress.update(None, "exports")
        stress.save_evidence(folder, raw, r, cell, self.o, final=True,
                             exports=bool(raw))
        self.results.append(r)
        self.progress.end(stress.summary_line(r, cell, self.o))
        on_result(self.results)


def run_matrix(names: list[str], o: stress.Options, top: str, progress, on_result):
    return LinuxRun(names, o, top, progress).run(on_result)
