"""Hang evidence for the stress runner: stock gdb attached to the
hypervisor's GDB stub (gdb=on) through the framed serial line, the way
`hvlog --gdb-port` bridges it (the same GdbBridge), while the machine is
still hung.

What gdb is asked (one batch session, every command an -ex, so a failed
command does not stop the rest): `info threads`; for every CPU (thread N is
cpu N-1) `bt` in the hypervisor's view; `monitor nmi` (the per-CPU NMI
counters); then `monitor guest` and, per CPU, the guest's `info registers
rip` and `bt` (the test guest's symbols are loaded too, so a parked CPU's
RIP has a name; for the Linux guest `hv-linux` (gdb/hvlinux.py) names and
unwinds the kernel's frames from its boot image instead); `monitor hv`;
`detach` (the machine runs on, so the flight recorder can still be
dumped). Each part is preceded by an "@@NAME" line.
"""
from __future__ import annotations

import os
import re
import select
import subprocess
import threading

from . import frame
from .hvlog.gdbbridge import GdbBridge
from .image import ROOT

GUEST_ELF = os.path.join(ROOT, "build", "guest", "guest.elf")
LINUX_IMAGE = os.path.join(ROOT, "build", "linux-guest", "vmlinuz")
# gdb-Python for the Linux guest's frames (the hv-linux command).
LOAD_HVLINUX = (f"python import sys; sys.path.insert(0, {os.path.join(ROOT, 'gdb')!r}); "
                "import hvlinux; hvlinux.setup()")


def gdb_commands(cpus: int, guest_elf: str | None = GUEST_ELF, linux: bool = False) -> list[str]:
    """The session after `target remote` (see the module's docstring)."""
    cmds = ["echo @@THREADS\\n", "info threads"]
    for n in range(1, cpus + 1):
        cmds += [f"echo @@HV_BT cpu{n - 1}\\n", f"thread {n}", "bt"]
    cmds += ["echo @@NMI\\n", "monitor nmi", "monitor guest",
             "maintenance flush register-cache"]
    if linux:
        # The KASLR slide from the guest's IDT (on thread 1, in the guest view).
        cmds += ["echo @@LINUX\\n", "thread 1", "hv-linux"]
    for n in range(1, cpus + 1):
        cmds += [f"echo @@GUEST cpu{n - 1}\\n", f"thread {n}", "info registers rip"]
        if guest_elf or linux:
            cmds.append("bt 8")
    return cmds + ["echo @@END\\n", "monitor hv", "maintenance flush register-cache", "detach"]


def gdb_argv(elf: str, port: int, cpus: int, guest_elf: str | None = GUEST_ELF,
             guest: str = "test") -> list[str]:
    """guest: "test" (the test guest's ELF symbols) or "linux" (hv-linux)."""
    argv = ["gdb", "-nx", "-batch"]
    pre = ["set pagination off", "set confirm off", "set width 0", f"file {elf}"]
    linux = guest == "linux" and os.path.exists(LINUX_IMAGE)
    if linux:
        pre.append(LOAD_HVLINUX)
        guest_elf = None
    elif guest == "test" and guest_elf and os.path.exists(guest_elf):
        # Identity-mapped at 2 MiB, far from the hypervisor's 64 MiB: no overlap.
        pre.append(f"add-symbol-file {guest_elf}")
    else:
        guest_elf = None
    pre += ["set remotetimeout 30", f"target remote 127.0.0.1:{port}"]
    for c in pre + gdb_commands(cpus, guest_elf, linux):
        argv += ["-ex", c]
    return argv


def sections(out: str) -> dict[str, str]:
    """gdb's output between the "@@NAME" markers, by name."""
    parts = re.split(r"^@@([^\n]+)\n", out, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def attach_problem(out: str, cpus: int) -> str | None:
    """Why the session shows no usable state, or None when it does: gdb
    reached the stub, listed every CPU as a thread and got a frame on each."""
    s = sections(out)
    threads = re.findall(r"^\*?\s+(\d+)\s+Thread ", s.get("THREADS", ""), re.M)
    if not threads:
        # gdb's last complaint is the one that ended its attempt.
        said = [m.group(0).strip() for m in re.finditer(
            r"^.*(refused|timed out|Remote communication error|Ignoring packet error|"
            r"not responding|Remote replied|Remote connection closed).*$", out, re.M | re.I)]
        return "gdb did not attach" + (f": {said[-1]}" if said else " (no threads listed)")
    if len(threads) != cpus:
        return f"gdb attached but listed {len(threads)} threads, not {cpus}"
    no_bt = [k for k, v in s.items() if k.startswith("HV_BT") and not re.search(r"^#0 ", v, re.M)]
    if no_bt:
        return "no backtrace for " + ", ".join(k.split()[-1] for k in no_bt)
    return None


class GdbLink:
    """Bridges a running Machine's GDB channel to a local TCP port."""

    def __init__(self, machine) -> None:
        self.m = machine
        self.bridge = GdbBridge(0, machine.write, frame.Encoder())
        self.port = self.bridge.port
        self.dec = frame.FrameDecoder()
        self._pos = len(machine.output)     # gdb needs nothing from before it came
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True, name="stress-gdb")
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.m.read_since(self._pos, timeout=0.02)
            except Exception:   # noqa: BLE001 -- the machine went away: gdb times out
                return
            self._pos += len(data)
            for f in self.dec.feed(data) if data else ():
                if isinstance(f, frame.Frame) and f.type == frame.GDB:
                    self.bridge.from_hv(f.payload)
            r, _, _ = select.select(self.bridge.fds(), [], [], 0.01)
            for s in r:
                self.bridge.readable(s)

    def close(self) -> None:
        self._stop.set()
        self._t.join(5)
        self.bridge.close()


def collect(machine, elf: str, cpus: int, path: str, timeout: float = 240.0,
            guest: str = "test") -> str | None:
    """Run the session against the hung machine; gdb.txt gets the command,
    gdb's output and a last line saying whether it attached (and if not, why).
    Returns the problem, or None."""
    problem, out, argv = None, "", []
    try:
        link = GdbLink(machine)
    except Exception as e:      # noqa: BLE001 -- said in gdb.txt; the verdict stands
        problem = f"no GDB bridge: {e}"
    else:
        argv = gdb_argv(elf, link.port, cpus, guest=guest)
        try:
            # One stream: monitor output (stderr) in its place among the sections.
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=timeout)
            out = p.stdout
            problem = attach_problem(out, cpus)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(
                e.stdout, bytes) else (e.stdout or "")
            problem = f"gdb did not finish within {timeout:.0f} s"
        except OSError as e:
            problem = f"cannot run gdb: {e}"
        finally:
            link.close()
    with open(path, "w") as f:
        f.write("# " + " ".join(repr(a) if " " in a else a for a in argv) + "\n")
        f.write(out if out.endswith("\n") or not out else out + "\n")
        f.write(f"# gdb: {'attached, every CPU shown' if problem is None else problem}\n")
    return problem
