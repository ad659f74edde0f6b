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


def guest_text(s):
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def test_debian_linux_boots_under_the_hypervisor(boot):
    img = linux_guest.build_linux_disk()
    m = boot(modules=[Module("(hd0)+1", nounzip=True)], disks=[img], boot="cdrom",
             cpus=1, timeout=1200)
    s = wait_session(m, lambda s: "LINUX-GUEST-DONE" in guest_text(s), "LINUX-GUEST-DONE",
                     timeout=1100)
    out = guest_text(s)
    up = re.search(r"LINUX-GUEST-UP cpus=(\d+) kernel=(\S+)", out)
    assert up and up.group(1) == "1", out[-3000:]
    assert not re.search(r"DMESG:.*(do_boot_cpu|BUG|panic)", out), out[-3000:]
    assert s.find(r"guest: boot sector from module"), s.text()
    assert not s.find(r"^FATAL"), s.text()
