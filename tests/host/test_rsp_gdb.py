"""Stock gdb (Debian's gdb 13, batch mode) against the RSP core: the core
runs over a pipe in build/host/rsp_mock with a fake 4-CPU target
(tests/unit/rsp_mock_target.h). Proves the target description and the
packets work with the gdb users have, without an emulator.

Each command is its own -ex: an error in one (the unreadable address)
does not end the session, which is part of what is checked."""
import os
import shutil
import subprocess

import pytest

from testpaths import BUILD

MOCK = os.path.join(BUILD, "host", "rsp_mock")
GDB = shutil.which("gdb")
BASE = 0x100000

pytestmark = pytest.mark.skipif(GDB is None, reason="gdb not installed (apt-get install gdb)")


def run_gdb(tmp_path, commands, threads=4, timeout=60):
    assert os.path.exists(MOCK), f"{MOCK} not built: run make host"
    log = tmp_path / "rsp.log"
    args = [GDB, "-batch", "-nx", "-ex", "set pagination off", "-ex", "set width 0",
            "-ex", f"target remote | {MOCK} --threads {threads} --log {log}"]
    for c in commands:
        args += ["-ex", c]
    # One stream, so errors stay in order with the output around them.
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    out = proc.stdout
    traffic = log.read_text(errors="replace") if log.exists() else ""
    return out, traffic


def test_session(tmp_path):
    out, traffic = run_gdb(tmp_path, [
        "echo ==regs\\n", "info registers rip cr3 efer dr7",
        "echo ==threads\\n", "info threads",
        "echo ==x8\\n", f"x/8xb {BASE:#x}",
        f"set *(int*){BASE + 0x1000:#x} = 5",
        "echo ==readback\\n", f"print *(int*){BASE + 0x1000:#x}",
        "echo ==bad\\n", "x/4gx 0xdead000000000000",
        "echo ==alive\\n", "print 40+2",
        f"break *{BASE + 0x40:#x}",
        "echo ==cont\\n", "continue",
        "echo ==pc\\n", "print/x $pc",
        "echo ==stepi\\n", "stepi", "print/x $pc",
        "echo ==thread2\\n", "thread 3", "print/x $pc",
        "echo ==monitor\\n", "monitor echo hello from the stub",
        "echo ==eflags\\n", "info registers eflags",
        "echo ==detach\\n", "detach",
    ])
    parts = dict(p.split("\n", 1) for p in out.split("==")[1:])
    ctx = f"gdb output:\n{out}\ntraffic tail:\n{traffic[-3000:]}"

    # The description: accepted, no complaint, the system feature shows.
    for bad in ("target description", "Architecture rejected", "tdesc", "Remote 'g' packet"):
        assert bad not in out, ctx
    assert "qXfer:features:read:target.xml" in traffic, ctx
    regs = parts["regs"]
    assert "0x100010" in regs and "cr3" in regs and "0x201000" in regs, ctx
    assert "efer" in regs and "0xd01" in regs and "dr7" in regs and "0x400" in regs, ctx
    # Every thread, with its extra info.
    for t in range(1, 5):
        assert f"CPU{t - 1} apic={2 * (t - 1)}" in parts["threads"], ctx
    assert parts["x8"].count("0x90") == 8, ctx
    assert "= 5" in parts["readback"], ctx
    assert "Cannot access memory at address 0xdead000000000000" in parts["bad"], ctx
    assert "= 42" in parts["alive"], ctx
    # The breakpoint is hit by CPU 1 (thread 2) in the mock; gdb says so.
    assert "Thread 2 hit Breakpoint 1" in parts["cont"], ctx
    assert "0x100040" in parts["pc"], ctx
    assert "0x100041" in parts["stepi"], ctx
    assert "Switching to thread 3" in parts["thread2"] and "0x100030" in parts["thread2"], ctx
    assert "hello from the stub" in parts["monitor"], ctx
    assert "[ IF ]" in parts["eflags"], ctx
    assert "detached" in parts["detach"], ctx
    # gdb went to no-ack mode and used the binary write and vCont.
    assert "$QStartNoAckMode" in traffic and "$X" in traffic and "$vCont;" in traffic, ctx


def test_watchpoint_and_unavailable_registers(tmp_path):
    out, traffic = run_gdb(tmp_path, [
        f"watch *(int*){BASE + 0x1000:#x}",
        "echo ==cont\\n", "continue",
        "echo ==all\\n", "info all-registers",
        "echo ==mon\\n", "monitor cpus",
        "echo ==nosuch\\n", "monitor nosuch",
        "echo ==end\\n", "detach",
    ], threads=2)
    parts = dict(p.split("\n", 1) for p in out.split("==")[1:])
    ctx = f"gdb output:\n{out}\ntraffic tail:\n{traffic[-3000:]}"
    assert "$Z2," in traffic, ctx
    assert "Hardware watchpoint 1" in parts["cont"] and "New value" in parts["cont"], ctx
    # x87 state is not saved by the hypervisor: gdb shows it unavailable.
    assert "st0            <unavailable>" in parts["all"], ctx
    assert "fs_base" in parts["all"] and "cr0" in parts["all"], ctx
    assert "cpu 0:" in parts["mon"] and "cpu 1:" in parts["mon"], ctx
    assert "does not support this command" in parts["nosuch"], ctx


def test_big_monitor_output_and_chunked_description(tmp_path):
    # 5000 bytes of monitor output take several O packets.
    out, traffic = run_gdb(tmp_path, ["monitor big", "detach"], threads=1)
    assert "z" * 5000 in out.replace("\n", ""), out[-2000:]
    assert traffic.count("-> $O") >= 2, traffic[-2000:]
