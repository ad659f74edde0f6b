"""Booting the test guest (guest/, its scenarios chosen by name) under a
hypervisor image in Bochs, for drills that need a guest's behaviour: the
disk and ISO as tests/system/test_smp.py builds them, the serial line
decoded by hvtools' Session. One emulator at a time; it is stopped by its
own Machine before this returns."""
from __future__ import annotations

import os
import re
import time

import harness  # noqa: F401  (puts host-tools/ and guest/ on sys.path)
import disk     # guest/disk.py
from hvtools.emu import Machine
from hvtools.image import Module, build_iso
from hvtools.session import Session

HV_CMDLINE = "serial=115200,8n1,0x3f8 trace=exc,nmi,quiesce,hypercall,apic,boot,meta"


def guest_text(s: Session) -> str:
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def ended(s: Session) -> bool:
    """The guest's summary, its fault report or the hypervisor's FATAL."""
    out = guest_text(s)
    return "GUEST DONE" in out or "GUEST FAULT" in out or bool(s.find(r"^FATAL"))


def run_guest(elf: str, workdir: str, scenarios: list[str], args: str = "", cpus: int = 2,
              model: str = "corei7_skylake_x", timeout: float = 900.0, stall: float = 150.0,
              say=print) -> tuple[Session, str]:
    """Boots, waits for the end (or the timeout, or the emulator's death, or
    `stall` wall seconds without a byte on the serial line), lets a FATAL
    dump finish, stops the machine. Returns the decoded session and how
    the run ended ("ended", "stalled", "timeout", "emulator-died")."""
    img = disk.build_guest_disk(scenarios=",".join(scenarios), poweroff=False, args=args)
    iso = build_iso(elf, HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)])
    m = Machine(emu="bochs", iso=iso, disks=[img], boot="cdrom", cpus=cpus, model=model,
                serial="socket", timeout=timeout + 60, workdir=os.path.join(workdir, "emu"),
                name="drill")
    m.start()
    how = "timeout"
    try:
        deadline = time.monotonic() + timeout
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(2.0)
            if len(m.output) != seen:
                seen, quiet_since = len(m.output), time.monotonic()
            elif time.monotonic() - quiet_since > stall:
                how = "stalled"
                break
            if ended(Session.decode(m.output)):
                how = "ended"
                time.sleep(3.0)     # the rest of a FATAL dump
                break
            if not m.alive:
                how = "emulator-died"
                break
    finally:
        m.stop()
    raw = m.output
    with open(os.path.join(workdir, "raw.bin"), "wb") as f:
        f.write(raw)
    s = Session.decode(raw, final=True)
    with open(os.path.join(workdir, "decoded.log"), "w") as f:
        f.write(s.text() + "\n---- guest ----\n" + guest_text(s))
    say(f"guest run ({','.join(scenarios)}, {cpus} CPUs): {how}")
    return s, how


def checks(s: Session) -> list[tuple[str, str, str]]:
    """The guest's CHECK lines: (scenario, check, PASS or FAIL reason)."""
    return re.findall(r"^CHECK (\w+)\.(\w+): (PASS|FAIL.*)$", guest_text(s), re.M)
