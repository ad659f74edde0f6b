"""What the two vapic drills (x2apic-sipi, no-mtf-probe) share: boot a
hypervisor build with the test guest's SMP scenario in Bochs (one emulator
at a time), wait for the guest's summary or for the evidence, and read the
result back with the project's tools (hvlog's Session for the checks,
hvlog itself for the lines quoted).

This is drill code, not a test: a wait that runs out is a result (the
guest hung), never an exception."""
from __future__ import annotations

import os
import re
import subprocess
import time

import disk                                 # guest/disk.py
import guestrun
from guestrun import HV_CMDLINE, guest_text  # noqa: F401 (drills use both from here)
from hvtools import image
from hvtools.emu import Machine
from hvtools.image import Module
from hvtools.session import Session

from harness import ROOT, Context

# A short AP timeout: a planted run fails its rounds sooner.
GUEST_ARGS = "smp_timeout_ms=5000"


guest_done = guestrun.ended     # the guest's summary, fault report or a FATAL


def boot_smp(ctx: Context, scenario: str, model: str, bochs: str, stop, cpus: int = 2,
             limit_s: float = 900, hv_args: str = "") -> tuple[Machine, Session]:
    """Boots ctx.elf with the guest running `scenario`; returns when
    stop(session) is true, the emulator exits or limit_s (wall) passes.
    The machine is stopped; its run directory is under ctx.workdir."""
    img = disk.build_guest_disk(scenarios=scenario, poweroff=False, args=GUEST_ARGS)
    iso = image.build_iso(ctx.elf, " ".join(a for a in (HV_CMDLINE, hv_args) if a), modules=[Module("(hd0)+1", nounzip=True)])
    m = Machine(emu="bochs", iso=iso, disks=[img], boot="cdrom", cpus=cpus, model=model,
                serial="socket", timeout=limit_s + 60, workdir=ctx.sub("bochs"),
                name=f"drill-{ctx.plant}", bochs=bochs)
    ctx.say(f"booting {os.path.basename(bochs)} {model}, {cpus} CPUs, guest scenario "
            f"{scenario} (run directory {m.workdir})")
    m.start()
    deadline = time.monotonic() + limit_s
    try:
        while True:
            s = Session.decode(m.output)
            if stop(s) or not m.alive or time.monotonic() > deadline:
                break
            time.sleep(1.0)
    finally:
        m.stop()
    s = Session.decode(m.output, final=True)
    ctx.say(f"stopped: {len(m.output)} serial bytes, guest {'done' if guest_done(s) else 'NOT done'}")
    return m, s


def hvlog_lines(m: Machine, elf: str, events: str, limit: int = 6) -> list[str]:
    """hvlog's own rendering of the capture's trace events matching the
    globs (the first `limit` lines), as a user would read them."""
    out = subprocess.run(
        [os.path.join(ROOT, "host-tools", "hvlog"), "--file", m.serial_path, "--elf", elf,
         "--no-color", "--no-console", "--no-guest", "--no-save", "--event", events],
        capture_output=True, text=True, timeout=300).stdout
    lines = [l.rstrip() for l in out.splitlines() if re.search(r"\b(" + events.replace(
        ",", "|").replace("*", r"\w*") + r")\b", l)]
    return lines[:limit]


def guest_failures(s: Session) -> list[str]:
    return re.findall(r"^CHECK \w+\.\w+: FAIL.*$", guest_text(s), re.M)


def guest_summary(s: Session) -> str | None:
    m = re.search(r"^GUEST SUMMARY .*$", guest_text(s), re.M)
    return m.group(0) if m else None
