"""Debian's own Linux (kernel + busybox initramfs from Debian's packages)
booted as the guest: hypervisor -> guest disk's boot sector -> GRUB ->
Linux, to the initramfs marker and a clean power-off, in Bochs, 1 CPU."""
import os
import re
import sys

import pytest

from hvtools.image import Module
from testpaths import ROOT
from waits import wait_session

sys.path.insert(0, os.path.join(ROOT, "guest", "linux"))
import linux_guest  # noqa: E402

pytestmark = pytest.mark.emulator

# Per-exit VMEXIT events off: Linux takes two exits per xAPIC access (every
# timer EOI under nox2apic), and at 115200 baud the serial line, not the
# guest, would set the pace. The other classes stay on.
HV_CMDLINE = "serial=115200,8n1,0x3f8 trace=exc,nmi,quiesce,hypercall,apic,boot,meta"


def guest_text(s):
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def test_debian_linux_boots_under_the_hypervisor(boot):
    img = linux_guest.build_linux_disk()
    m = boot(cmdline=HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)], disks=[img],
             boot="cdrom", cpus=1, timeout=1200)
    s = wait_session(m, lambda s: "LINUX-GUEST-DONE" in guest_text(s), "LINUX-GUEST-DONE",
                     timeout=1100)
    out = guest_text(s)
    up = re.search(r"LINUX-GUEST-UP cpus=(\d+) kernel=(\S+)", out)
    assert up and up.group(1) == "1", out[-3000:]
    assert not re.search(r"DMESG:.*(do_boot_cpu|BUG|panic)", out), out[-3000:]
    assert s.find(r"guest: boot sector from module"), s.text()
    assert not s.find(r"^FATAL"), s.text()


SYSRQ_ROUNDS = 5


@pytest.mark.stress
@pytest.mark.xfail(strict=True, reason="known: not yet passing (last seen: Linux stalled "
                   "before SMP bring-up; see the SMP issue's notes)")
@pytest.mark.parametrize("apic", ["x2apic", "nox2apic"])
def test_debian_linux_smp_under_the_hypervisor(boot, apic):
    """2 CPUs: the guest's INIT-SIPI-SIPI reaches its AP through the
    hypervisor (x2APIC: the ICR MSR; nox2apic: the trapped xAPIC page), then
    NMI backtraces to every CPU (sysrq-l) for a fixed number of rounds."""
    extra = f"hvtest=sysrq-l:{SYSRQ_ROUNDS}" + (" nox2apic" if apic == "nox2apic" else "")
    img = linux_guest.build_linux_disk(extra_args=extra)
    m = boot(cmdline=HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)], disks=[img],
             boot="cdrom", cpus=2, timeout=1500)
    s = wait_session(m, lambda s: "LINUX-GUEST-DONE" in guest_text(s), "LINUX-GUEST-DONE",
                     timeout=1400)
    out = guest_text(s)
    up = re.search(r"LINUX-GUEST-UP cpus=(\d+)", out)
    assert up and up.group(1) == "2", out[-3000:]
    assert re.search(r"processor\s*: 1", out), out[-3000:]
    assert "HVTEST sysrq-l done" in out, out[-3000:]
    assert not re.search(r"DMESG:.*(do_boot_cpu|BUG|panic)", out), out[-3000:]
    assert s.find(r"vapic: cpu1: guest AP starts at"), s.text()
    assert not s.find(r"^FATAL"), s.text()
