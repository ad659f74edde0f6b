"""gdb against the hypervisor while Debian's Linux runs as its guest (2
CPUs): gdb attaches (which breaks in) while Linux waits for a line on its
serial port (its CPUs idle in the kernel), switches to the guest's view,
and `hv-linux` (gdb/hvlinux.py) names and unwinds the kernel's frames from
the boot image itself: its kallsyms as symbols, its ORC tables as the
unwinder, the KASLR slide from the guest's IDT. Each CPU's backtrace must
be named from the CPU's rip to the end of the idle task's stack; then gdb
continues, the host sends the line, and Linux finishes.

Independent check of the names: `hvtest=kallsyms-idle` has Linux send its
own /proc/kallsyms lines for the idle path's functions; each must be where
the image's table, moved by the slide gdb found, puts it."""
import os
import re
import sys

import pytest

from gdblink import GdbLink
from hvtools import frame
from hvtools.image import Module
from hvtools.kernel import kallsyms, vmlinux
from test_gdbstub import gdb_output, sections, start_gdb, wait_file
from testpaths import ROOT
from waits import wait_session

sys.path.insert(0, os.path.join(ROOT, "guest", "linux"))
import linux_guest  # noqa: E402

# In `make test`, though long: Linux takes ~300 s of its own time to reach
# its rx line in Bochs (16 minutes of wall time on this 2-core host).
pytestmark = pytest.mark.emulator

HV_CMDLINE = ("serial=115200,8n1,0x3f8 gdb=on "
              "trace=exc,nmi,quiesce,hypercall,apic,boot,meta")
IMAGE = os.path.join(ROOT, "build", "linux-guest", "vmlinuz")


def guest_text(s):
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def guest_ksyms(text):
    """`hvtest=kallsyms-idle`: "HVTEST ksym-range START END NAME" lines."""
    return {name: int(start, 16) for start, _, name in
            re.findall(r"HVTEST ksym-range ([0-9a-f]+) ([0-9a-f]+) (\S+)", text)}


def test_gdb_backtraces_a_running_linux_guest(boot):
    img = linux_guest.build_linux_disk(extra_args="hvtest=kallsyms-idle,rx")
    m = boot(cmdline=HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)], disks=[img],
             boot="cdrom", cpus=2, timeout=1800, serial="socket")
    s = wait_session(m, lambda s: "HVTEST rx ready" in guest_text(s), "HVTEST rx ready",
                     timeout=1200)
    link = GdbLink(m)
    session = [f"source {ROOT}/gdb/hv.gdb",            # what a user loads: hv-linux
               "set remotetimeout 120",                 # hv.gdb's 10 s is for a live line
               "echo @@STOPPED\\n", "info threads",
               "monitor guest", "maintenance flush register-cache",
               "echo @@LINUX\\n", f"hv-linux {IMAGE}"]
    for t in (1, 2):
        session += [f"echo @@BT{t}\\n", f"thread {t}", "info registers rip", "bt 30"]
    session += ["monitor hv", "echo @@CONTINUE\\n", "continue"]
    gdb = start_gdb(m.workdir, link.port, session)
    try:
        wait_file(os.path.join(m.workdir, "gdb.out"), "@@CONTINUE", 600)
        m.write(frame.encode(frame.GUEST, 0, 0, b"bye\n"))
        s = wait_session(m, lambda s: "LINUX-GUEST-DONE" in guest_text(s), "LINUX-GUEST-DONE",
                         timeout=600)
    finally:
        gdb.kill()                      # it waits in `continue` for a stop that never comes
        link.close()
    out = gdb_output(m.workdir)
    sec = sections(out)

    # The slide gdb found in the guest's IDT puts the image's symbols where
    # the running kernel's own /proc/kallsyms says they are.
    slide = re.search(r"KASLR slide (0x[0-9a-f]+)", sec["LINUX"])
    assert slide, sec["LINUX"]
    slide = int(slide.group(1), 16)
    table = {n: a for a, _, n in kallsyms.read_kallsyms(vmlinux.load(IMAGE))}
    theirs = guest_ksyms(guest_text(s))
    assert {"do_idle", "default_idle", "cpuidle_enter_state"} <= set(theirs), sorted(theirs)
    assert {n: table[n] + slide for n in theirs} == theirs

    for t in (1, 2):
        bt = sec[f"BT{t}"]
        rip = re.search(r"rip\s+(0x[0-9a-f]+)", bt)
        assert rip and int(rip.group(1), 16) >= 0xffffffff80000000, bt
        frames = re.findall(r"^#\d+\s+(0x[0-9a-f]+) in (\S+) \(", bt, re.M)
        assert frames and int(frames[0][0], 16) == int(rip.group(1), 16), bt
        names = [n for _, n in frames]
        # Every frame named, through the idle loop, to the stack's end
        # (a zero pc, where gdb stops).
        assert names[-1] == "??" and int(frames[-1][0], 16) == 0, bt
        assert "??" not in names[:-1], bt
        assert {"do_idle", "cpu_startup_entry"} <= set(names), bt
    assert "HVTEST rx got: bye" in guest_text(s)
