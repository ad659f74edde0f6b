"""gdb against the hypervisor while Debian's Linux runs as its guest (2
CPUs): gdb attaches (which breaks in) while Linux waits for a line on its
serial port (its CPUs idle in the kernel), switches to the guest's view,
and gets a backtrace of each CPU named by the kernel's own symbols; then
continues, the host sends the line, and Linux finishes.

The symbols come from the guest's /proc/kallsyms (Debian ships no
System.map; its -dbg package is ~1 GB): `hvtest=kallsyms-idle` sends the
idle path's functions with their ends, which is where an idle CPU is; the
whole table (`hvtest=kallsyms`, ~1.5 MB) takes minutes on a 115200 line in
Bochs, too long for `make test`."""
import os
import re
import sys

import pytest

import ksyms
from gdblink import GdbLink
from hvtools import frame
from hvtools.image import Module
from test_gdbstub import gdb_output, sections, start_gdb, wait_file
from testpaths import ROOT
from waits import wait_session

sys.path.insert(0, os.path.join(ROOT, "guest", "linux"))
import linux_guest  # noqa: E402

# Not in `make test`, and not yet seen to pass. Where it stands (this
# session's runs, Bochs, 2 CPUs, a loaded host): Linux reaches "rx ready"
# at ~300 s of its own (now right) time, 14-18 minutes of wall time (it
# never did within 20 minutes before: its clock ran ~140x slow, issue 10,
# and kallsyms-idle took ~500 s); gdb breaks in, switches to the guest's
# view and backtraces both CPUs, naming frames from these symbols
# (cpuidle_enter_state); but frame 0 sits in an idle function outside the
# list, and gdb cannot unwind up to do_idle: Debian's kernel has no frame
# pointers (ORC), and only its DWARF (the ~1 GB -dbg package) would say how.
# `make stress` runs it.
pytestmark = [pytest.mark.emulator, pytest.mark.stress]

HV_CMDLINE = ("serial=115200,8n1,0x3f8 gdb=on "
              "trace=exc,nmi,quiesce,hypercall,apic,boot,meta")


def guest_text(s):
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def test_gdb_backtraces_a_running_linux_guest(boot):
    img = linux_guest.build_linux_disk(extra_args="hvtest=kallsyms-idle,rx")
    m = boot(cmdline=HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)], disks=[img],
             boot="cdrom", cpus=2, timeout=1800, serial="socket")
    s = wait_session(m, lambda s: "HVTEST rx ready" in guest_text(s), "HVTEST rx ready",
                     timeout=1200)
    syms = ksyms.ranges_from_console(guest_text(s))
    names = {n for _, n, _ in syms}
    assert {"do_idle", "default_idle"} <= names, sorted(names)
    elf = os.path.join(m.workdir, "linux-idle-syms.elf")
    ksyms.write_symbol_elf(elf, syms)
    link = GdbLink(m)
    session = ["echo @@STOPPED\\n", "info threads",
               "monitor guest", "maintenance flush register-cache",
               f"add-symbol-file {elf}"]
    for t in (1, 2):
        session += [f"echo @@BT{t}\\n", f"thread {t}", "info registers rip", "bt 8"]
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
    for t in (1, 2):
        bt = sec[f"BT{t}"]
        rip = re.search(r"rip\s+(0x[0-9a-f]+)", bt)
        assert rip and int(rip.group(1), 16) >= 0xffffffff80000000, bt
        named = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+) \(", bt, re.M)
        assert named and named[0] in names, bt         # frame 0: where the CPU idles
        assert "do_idle" in named, bt                  # and up the idle task's stack
    assert "HVTEST rx got: bye" in guest_text(s)

