"""print-in-quiesce: a print that takes a lock while waiting for the other
CPUs (seed 001, "Continue debugging": XMHF's printf lock). The
hypervisor's printf never locks, so the plant adds a locked print (a
spinlock held while the UART drains; it prints nothing) that quiesce()
calls after sending its NMIs, and that a CPU waiting for the quiesce lock
calls in its spin. The quiesce NMI can stop that CPU while it holds the
print lock; the quiescer then spins on the lock for ever.

Scenario: the test guest's quiesce_pair (both CPUs make the quiesce
VMCALL in a tight loop, 2 CPUs, Bochs), the hypervisor with gdb=on.
Tools: the quiesce watchdog (which CPU waits for whom, and what the other
one was doing), read through hvlog's Session; then gdb through the stub
(tests/system/gdblink.py: the framed GDB channel), `info threads` and
`thread apply all bt`: the lock function on the stack of each CPU."""
from __future__ import annotations

import os
import re
import time

from harness import Context, Finding, emulated_seconds

PLANT = "print-in-quiesce"
PLANTED = ("a spinlocked print (prints nothing) in quiesce()'s wait for the other CPUs "
           "and in the spin for the quiesce lock")
CMDLINE = "serial=115200,8n1,0x3f8 trace=quiesce gdb=on quiesce_report_ms=500"
ROUNDS = 400
WATCHDOG = re.compile(r"^quiesce: cpu\d+ (?:still waiting for .*|has not answered .*)$", re.M)
GDB_CMDS = ["echo @@THREADS\\n", "info threads", "echo @@BT\\n", "thread apply all bt",
            "echo @@END\\n", "detach"]
LOCK_FUNCS = ("print_lock_take", "locked_print")


def boot(ctx: Context):
    import disk                     # guest/disk.py
    from hvtools.emu import Machine
    from hvtools.image import Module, build_iso
    img = disk.build_guest_disk(scenarios="quiesce_pair", poweroff=False,
                                args=f"quiesce_rounds={ROUNDS} smp_timeout_ms=600000")
    iso = build_iso(ctx.elf, CMDLINE, modules=[Module("(hd0)+1", nounzip=True)])
    m = Machine(iso=iso, disks=[img], boot="cdrom", cpus=2, serial="socket", timeout=1500,
                workdir=ctx.sub("emu"), name="print-in-quiesce")
    m.start()
    return m


def watch(m, limit_s: float = 900.0):
    """Until the guest's verdict on the pair, or the watchdog's second
    report (a hang it saw), or silence."""
    from hvtools.session import Session
    t0 = last_t = time.monotonic()
    last_len = -1
    while time.monotonic() - t0 < limit_s:
        time.sleep(2.0)
        s = Session.decode(m.output)
        guest = bytes(s.guest).decode("utf-8", "replace")
        text = "\n".join(line for _, line in s.lines())
        if re.search(r"CHECK quiesce_pair\.pair: (PASS|FAIL)", guest):
            return "guest-verdict", s
        if len(WATCHDOG.findall(text)) >= 2:
            return "watchdog", s
        if not m.alive:
            return "emulator-died", s
        if len(m.output) != last_len:
            last_len, last_t = len(m.output), time.monotonic()
        elif time.monotonic() - last_t > 180:
            return "silent", s
    return "timeout", Session.decode(m.output)


def gdb_session(ctx: Context, m) -> str:
    import subprocess
    from gdblink import GdbLink, run_gdb
    link = GdbLink(m)
    try:
        out = run_gdb(link.port, GDB_CMDS, timeout=900, elf=ctx.elf)
        text = out.stdout + out.stderr
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        text += "\n(gdb timed out)"
    finally:
        link.close()
    with open(os.path.join(ctx.workdir, "gdb.out"), "w") as f:
        f.write(text)
    return text


def sections(out: str) -> dict[str, str]:
    parts = re.split(r"^@@(\w+)\n", out, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def lock_stacks(bt: str) -> dict[str, list[str]]:
    """Thread header -> its frames' function names, for threads whose
    stack has a lock function on it."""
    out = {}
    for block in re.split(r"\n(?=Thread \d+ )", bt):
        head = block.splitlines()[0] if block.strip() else ""
        # Frames gdb could not name ("0x... in ?? ()") are left out.
        funcs = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?([A-Za-z_]\w*) \(", block, re.M)
        if any(f in LOCK_FUNCS for f in funcs):
            out[head.strip()] = funcs
    return out


def diagnose(ctx, m, s, quotes, tools) -> Finding:
    text = "\n".join(line for _, line in s.lines())
    reports = WATCHDOG.findall(text)
    quotes += [f"watchdog: {r}" for r in reports[:2]]
    tools.append("quiesce watchdog (hvlog Session)")
    out = gdb_session(ctx, m)
    tools.append("gdb via the stub (info threads, thread apply all bt)")
    sec = sections(out)
    threads = [ln.strip() for ln in sec.get("THREADS", "").splitlines() if "Thread" in ln]
    quotes += [f"gdb: {t}" for t in threads]
    stacks = lock_stacks(sec.get("BT", ""))
    for head, funcs in stacks.items():
        last = max(i for i, f in enumerate(funcs) if f in LOCK_FUNCS)
        quotes.append(f"gdb bt {head}, named frames: {' <- '.join(funcs[:last + 3])}")
    emu = emulated_seconds(s)
    if not stacks:
        why = "gdb: no thread stopped" if not threads else "no lock function on any stack"
        tail = out.strip().splitlines()[-3:]
        quotes += [f"gdb: {ln}" for ln in tail]
        return Finding(False, "quiesce deadlock: " + (reports[0] if reports else "")
                       + f" ({why}: the stub could not show where)",
                       quotes=quotes, tools=tools, emulated_s=emu)
    return Finding(True, "deadlock on the print lock: " + "; ".join(
        describe(h, f) for h, f in stacks.items()) + (f" (watchdog: {reports[0]})" if reports
                                                     else ""),
        quotes=quotes, tools=tools, emulated_s=emu)


def describe(head: str, funcs: list[str]) -> str:
    """One CPU's part: spinning for the lock, or holding it under an NMI."""
    cpu = re.search(r"cpu\d+", head)
    who = cpu.group(0) if cpu else head
    held = next(i for i, f in enumerate(funcs) if f in LOCK_FUNCS)
    if funcs[0] == "print_lock_take":
        return f"{who} spins in print_lock_take <- {' <- '.join(funcs[1:4])}"
    if "nmi_from_idt" in funcs[:held] or "quiesce_answer" in funcs[:held]:
        inner = [f for f in funcs[:held] if f in ("wait_resume", "quiesce_answer",
                                                  "nmi_arrived", "nmi_from_idt")]
        state = ("was spinning for it" if funcs[held] == "print_lock_take" else
                 f"holds it: {funcs[held]} (past print_lock_take)")
        return (f"{who} {state} when the quiesce NMI came, which waits in "
                f"{' <- '.join(inner)}")
    return f"{who}: {' <- '.join(funcs[:held + 1])}"


def run(ctx: Context) -> Finding:
    m = boot(ctx)
    quotes: list[str] = []
    tools: list[str] = []
    try:
        how, s = watch(m)
        ctx.say(f"quiesce_pair: {how}")
        guest = bytes(s.guest).decode("utf-8", "replace")
        verdict = re.search(r"CHECK quiesce_pair\.pair: .*", guest)
        quotes.append(f"quiesce_pair: {how}" + (f": {verdict.group(0).strip()}" if verdict else ""))
        if how != "watchdog":
            return Finding(False, f"no deadlock: {how}"
                           + (f" ({verdict.group(0).strip()})" if verdict else ""),
                           quotes=quotes, tools=["quiesce_pair + quiesce watchdog"],
                           emulated_s=emulated_seconds(s))
        return diagnose(ctx, m, s, quotes, tools)
    finally:
        m.stop()
