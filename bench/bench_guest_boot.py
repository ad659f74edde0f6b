#!/usr/bin/python3
"""One guest boot with and without the hypervisor, side by side in one run
(Bochs, corei7_skylake_x, 1 CPU): wall time from power-on to the test
guest's GUEST DONE, their ratio, and the hypervisor's exact VM exit counts
by reason (asked for with the EXIT_STATS host command)."""
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


def guest_text(data):
    return bytes(Session.decode(data).guest).decode("utf-8", "replace")


def boot_bare(guest_disk):
    m = Machine(disks=[guest_disk], boot="disk", cpus=1, timeout=600, name="bench-bare")
    t0 = time.monotonic()
    with m:
        m.wait_for(rb"GUEST DONE", timeout=600)
        return time.monotonic() - t0


def boot_under_hv(guest_disk):
    iso = image.build_iso(HV_ELF, "", modules=[Module("(hd0)+1", nounzip=True)])
    m = Machine(iso=iso, disks=[guest_disk], boot="cdrom", cpus=1, serial="socket",
                timeout=600, name="bench-hv")
    t0 = time.monotonic()
    with m:
        m.wait_for(r"GUEST DONE", timeout=600, decode=guest_text)
        elapsed = time.monotonic() - t0
        m.write(frame.encode(frame.CONTROL, 0, 0, bytes([records.CTL_EXIT_STATS])))
        m.wait_for(r"exit stats cpu0: total \d+", timeout=120,
                   decode=lambda b: Session.decode(b).text())
        time.sleep(1)       # the remaining lines of the table
        stats = re.findall(r"exit stats cpu0: (\w+) (\d+)", Session.decode(m.output).text())
    return elapsed, stats


def main():
    guest_disk = disk.build_guest_disk(scenarios="all", poweroff=False)
    bare = boot_bare(guest_disk)
    hv, stats = boot_under_hv(guest_disk)
    print("test guest boot (Bochs corei7_skylake_x, 1 CPU), power-on to GUEST DONE")
    print(f"  {'without hypervisor':<24} {bare:8.2f} s")
    print(f"  {'with hypervisor':<24} {hv:8.2f} s")
    print(f"  {'ratio (with / without)':<24} {hv / bare:8.2f}")
    print("VM exits during that boot, by reason (EXIT_STATS, exact counters):")
    for name, count in sorted(stats, key=lambda kv: (kv[0] != "total", -int(kv[1]))):
        print(f"  {name:<24} {int(count):8d}")
    print("note: the run with the hypervisor also boots the hypervisor's own GRUB,")
    print("      and each guest COM1 byte is an emulated I/O exit.")


if __name__ == "__main__":
    main()
