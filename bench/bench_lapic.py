#!/usr/bin/python3
"""VM exits per guest LAPIC access, by register, in xAPIC and in x2APIC
mode, measured in one run: the test guest (Bochs, corei7_skylake_x, 2 CPUs)
starts its AP and plays NMI ping-pong in each mode under the hypervisor and
counts its own LAPIC accesses (lapic_stats=1); the hypervisor counts the
exits they caused (EXIT_STATS: 'lapic exits'). xAPIC mode runs twice: with
the default lapic_emulate=on a plain 32-bit MOV (all the guest's accesses
here, and Linux's) is emulated at its EPT violation, one exit each; with
lapic_emulate=off every access is single-stepped, two exits each (the EPT
violation and the end of the step). In x2APIC mode only ICR writes exit,
so EOI must show 0."""
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host-tools"))
sys.path.insert(0, os.path.join(ROOT, "guest"))

import disk  # noqa: E402
from hvtools import frame, image, records  # noqa: E402
from hvtools.emu import Machine  # noqa: E402
from hvtools.image import Module  # noqa: E402
from hvtools.session import Session  # noqa: E402

HV_ELF = os.path.join(ROOT, "build", "hv.elf")
HV_CMDLINE = "lapic_step=auto trace=exc,boot,meta"
ARGS = "nmi_rounds=100 smp_timeout_ms=20000 lapic_stats=1"
NAMES = {0x020: "ID", 0x080: "TPR", 0x0b0: "EOI", 0x0d0: "LDR", 0x0f0: "SVR",
         0x280: "ESR", 0x300: "ICR", 0x310: "ICR_HI", 0x320: "LVT_TIMER",
         0x350: "LVT_LINT0", 0x360: "LVT_LINT1", 0x370: "LVT_ERROR"}


# (guest LAPIC mode, extra hypervisor options, exits per access expected)
RUNS = [("xapic", "lapic_emulate=on", 1), ("xapic", "lapic_emulate=off", 2),
        ("x2apic", "", None)]


def run(mode, extra=""):
    img = disk.build_guest_disk(scenarios=f"smp_{mode},nmi_pingpong", poweroff=False, args=ARGS)
    iso = image.build_iso(HV_ELF, f"{HV_CMDLINE} {extra}".strip(),
                          modules=[Module("(hd0)+1", nounzip=True)])
    m = Machine(iso=iso, disks=[img], boot="cdrom", cpus=2, serial="socket",
                timeout=900, name=f"bench-lapic-{mode}")
    guest = lambda b: bytes(Session.decode(b).guest).decode("utf-8", "replace")  # noqa: E731
    with m:
        m.wait_for(r"GUEST DONE", timeout=900, decode=guest)
        m.write(frame.encode(frame.CONTROL, 0, 0, bytes([records.CTL_EXIT_STATS])))
        m.wait_for(r"exit stats cpu1: total \d+", timeout=120,
                   decode=lambda b: Session.decode(b).text())
        time.sleep(2)
        s = Session.decode(m.output)
    accesses = {}
    for kind, reg, n in re.findall(r"INFO lapic_stats: (\w+) reg (0x[0-9a-f]+) accesses (\d+)",
                                   guest(m.output)):
        if kind == mode:
            accesses[int(reg, 16)] = accesses.get(int(reg, 16), 0) + int(n)
    exits = {}
    for kind, reg, n in re.findall(r"lapic exits cpu\d+: (\w+) reg (0x[0-9a-f]+) (\d+)", s.text()):
        if kind == mode:
            exits[int(reg, 16)] = exits.get(int(reg, 16), 0) + int(n)
    failed = re.findall(r"^CHECK \S+: FAIL.*$", guest(m.output), re.M)
    return accesses, exits, failed


def main():
    bad = False
    for mode, extra, per_access in RUNS:
        accesses, exits, failed = run(mode, extra)
        print(f"{mode}{' (' + extra + ')' if extra else ''}: VM exits per guest LAPIC access, "
              f"by register (2 CPUs, smp_{mode} + nmi_pingpong)")
        print(f"  {'register':<16} {'accesses':>9} {'exits':>9} {'exits/access':>13}")
        for reg in sorted(set(accesses) | set(exits)):
            a, e = accesses.get(reg, 0), exits.get(reg, 0)
            ratio = f"{e / a:13.2f}" if a else f"{'-':>13}"
            name = f"{reg:#05x} {NAMES.get(reg, '')}"
            print(f"  {name:<16} {a:9d} {e:9d} {ratio}")
        if failed:
            print("  guest checks failed: " + "; ".join(failed))
            bad = True
        total_a, total_e = sum(accesses.values()), sum(exits.values())
        if per_access and total_a:
            ok = total_e == per_access * total_a
            print(f"  all registers: {total_a} accesses, {total_e} exits "
                  f"({total_e / total_a:.2f} per access; expected {per_access}: "
                  f"{'met' if ok else 'NOT met'})")
            bad |= not ok
        if mode == "x2apic" and exits.get(0x0b0, 0):
            print("  EOI in x2APIC mode exited: it must pass through")
            bad = True
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
