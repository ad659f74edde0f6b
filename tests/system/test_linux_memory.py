"""Memory above 4 GiB: a Bochs machine with 6 GiB boots Debian's Linux
under the hypervisor, and Linux sees the RAM above 4 GiB (its MemTotal and
the E820 map it was given). The EPT maps everything the firmware reports;
before, it stopped at 4 GiB and the first access above was FATAL."""
import re

import pytest

from hvtools.image import Module
from waits import wait_session
import linux_guest

pytestmark = pytest.mark.emulator

# The default tracing (every class on; the per-exit vmx events stay in the
# flight recorder, flight=vmx).
HV_CMDLINE = "serial=115200,8n1,0x3f8"
GIB_KB = 1024 * 1024


def guest_text(s):
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def test_linux_sees_memory_above_4gib(boot):
    img = linux_guest.build_linux_disk(extra_args="hvtest=meminfo")
    m = boot(cmdline=HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)], disks=[img],
             boot="cdrom", cpus=1, memory=6144, timeout=1200)
    s = wait_session(m, lambda s: "LINUX-GUEST-DONE" in guest_text(s), "LINUX-GUEST-DONE",
                     timeout=1100)
    out = guest_text(s)
    total = re.search(r"HVTEST meminfo MemTotal: +(\d+) kB", out)
    assert total, out[-3000:]
    # 6 GiB less the PCI hole below 4 GiB, the hypervisor's footprint and
    # the kernel's reservations: well above 4 GiB in any case.
    assert int(total.group(1)) > 4 * GIB_KB + GIB_KB // 2, out[-3000:]
    high = re.findall(r"HVTEST e820 .*\[mem 0x0*1[0-9a-f]{8}-0x[0-9a-f]+\] usable", out)
    assert high, out[-3000:]
    # The hypervisor mapped it at start (the firmware reported it).
    assert s.find(r"ept: identity map of \[0, 0x1[0-9a-f]{8}\)"), s.text()[-3000:]
    assert not s.find(r"^FATAL"), s.text()[-3000:]
