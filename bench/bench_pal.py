#!/usr/bin/python3
"""What a TrustVisor PAL costs, beside a plain VMCALL, in one run (Bochs,
corei7_skylake_x, 1 CPU, trace=none): the test guest's trustvisor_bench
scenario times N HVABI PING round trips, N calls of a registered PAL
(guest -> PAL -> guest) and N REG + UNREG pairs with RDTSC, and counts
this vCPU's VM exits around each phase (DIAG_EXITS). Printed per
operation: VM exits and emulated microseconds (TSC ticks / the TSC rate the
guest calibrated against the PIT), and PAL call / VMCALL ratios; then the
hypervisor's exits by reason for the whole boot (EXIT_STATS), which must
hold at least N EPT violations and N exception exits (a PAL call's entry
and return). Bochs'
time is emulated (instructions at a fixed rate), so the microseconds
compare paths with each other, not with real hardware. Two VMCALL
baselines: PING, whose handler also prints a console line (polled serial
output dominates it), and DIAG_EXITS, which only reads a counter (the bare
exit-and-resume). REG and UNREG print a console line each too.

    bench_pal.py [N]        (default 200)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host-tools"))
sys.path.insert(0, os.path.join(ROOT, "guest"))

import disk  # noqa: E402
from hvtools import frame, image, records  # noqa: E402
from hvtools.emu import Machine  # noqa: E402
from hvtools.image import Module  # noqa: E402
from hvtools.session import Session  # noqa: E402

HV_ELF = os.path.join(ROOT, "build", "hv.elf")
HV_CMDLINE = "serial=115200,8n1,0x3f8 trace=none"
PHASES = [("vmcall", "VMCALL round trip (PING)"), ("vmcall_bare", "VMCALL round trip (bare)"),
          ("pal_call", "PAL call round trip"),
          ("reg_unreg", "REG + UNREG pair")]


def guest_text(data):
    return bytes(Session.decode(data).guest).decode("utf-8", "replace").replace("\r", "")


def run(n):
    img = disk.build_guest_disk(scenarios="trustvisor_bench", poweroff=False,
                                args=f"tvbench_n={n}")
    iso = image.build_iso(HV_ELF, HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)])
    m = Machine(iso=iso, disks=[img], boot="cdrom", cpus=1, serial="socket", timeout=1800,
                name="bench-pal")
    with m:
        m.wait_for(r"GUEST DONE|GUEST FAULT", timeout=1800, decode=guest_text)
        m.write(frame.encode(frame.CONTROL, 0, 0, bytes([records.CTL_EXIT_STATS])))
        m.wait_for(r"exit stats: end", timeout=120, decode=lambda b: Session.decode(b).text())
        text = Session.decode(m.output).text()
    reasons = {}
    for reason, n in re.findall(r"exit stats cpu\d+: ([A-Z_0-9]+) (\d+)$", text, re.M):
        reasons[reason] = reasons.get(reason, 0) + int(n)
    return guest_text(m.output), reasons


def parse(out):
    khz = re.search(r"INFO tvbench: tsc_khz=(\d+)", out)
    phases = {name: (int(n), int(t), int(e)) for name, n, t, e in
              re.findall(r"INFO tvbench: (\w+) n=(\d+) ticks=(\d+) exits=(\d+)", out)}
    failed = re.findall(r"^CHECK \S+: FAIL.*$", out, re.M)
    return (int(khz.group(1)) if khz else 0), phases, failed


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    out, reasons = run(n)
    khz, phases, failed = parse(out)
    if failed or "GUEST FAULT" in out or khz == 0 or set(phases) != {p for p, _ in PHASES}:
        print("bench_pal: the guest did not measure every phase")
        print("\n".join(failed) or out[-3000:])
        sys.exit(1)
    print(f"TrustVisor PAL cost, {n} of each, 1 CPU, trace=none; guest TSC {khz} kHz "
          f"(calibrated against the PIT); emulated time")
    print(f"  {'operation':<28} {'exits/op':>9} {'us/op':>10} {'ticks/op':>10}")
    per = {}
    for name, label in PHASES:
        cnt, ticks, exits = phases[name]
        per[name] = (exits / cnt, ticks / cnt * 1000 / khz)
        print(f"  {label:<28} {exits / cnt:9.2f} {per[name][1]:10.2f} {ticks / cnt:10.0f}")
    # The hypervisor's own count for the whole boot, by reason: each PAL
    # call is one EPT violation (the entry fetch) and one exception exit
    # (the #PF of its return), so both must be at least N.
    print("  whole boot, exits by reason (EXIT_STATS): " +
          ", ".join(f"{r} {c}" for r, c in sorted(reasons.items())))
    short = [r for r in ("EPT_VIOLATION", "EXCEPTION_NMI") if reasons.get(r, 0) < n]
    if short:
        print(f"bench_pal: fewer than {n} {' and '.join(short)} exits for {n} PAL calls")
        sys.exit(1)
    for name in ("pal_call", "reg_unreg"):
        for base in ("vmcall", "vmcall_bare"):
            e, us = per[name]
            print(f"  {name} / {base}: exits x{e / per[base][0]:.2f}, "
                  f"time x{us / per[base][1]:.2f}")


if __name__ == "__main__":
    main()
