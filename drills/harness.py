"""What every drill shares: the planted build, the clock, the finding.

A drill module (drills/drill_<name>.py) defines

    PLANT = "<name>"                # one of the Makefile's HV_BUG_NAMES
    PLANTED = "<one line: what the planted change does>"
    def run(ctx: Context) -> Finding

run() exposes the bug with the project's tools only (the stress runner,
the serial line decoded by hvlog's Session, gdb through the stub, the
binary scans, the spin model) and returns what they said. It runs twice:
on the planted build (ctx.planted, must name the cause) and on the normal
build (must not). It never reads text the planted code prints about itself:
planted code prints nothing (tests/host/test_planted.py, and the runner
compares the planted image's strings with the normal one's)."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(HERE)
for p in ("host-tools", "guest", "qmp", "tests/system", "tests"):
    sys.path.insert(0, os.path.join(ROOT, p))

NORMAL_ELF = os.path.join(ROOT, "build", "hv.elf")


def planted_elf(name: str) -> str:
    return os.path.join(ROOT, "build", "bugs", name, "hv.elf")


def build_planted(name: str) -> str:
    """make HV_BUGS=<name>: the hypervisor with that one bug planted."""
    subprocess.run(["make", "-s", "-C", ROOT, f"HV_BUGS={name}", "all"], check=True,
                   stdout=subprocess.DEVNULL)
    return planted_elf(name)


@dataclasses.dataclass
class Finding:
    named: bool                     # the tools named the planted cause
    cause: str                      # what they named, in a line
    quotes: list[str] = dataclasses.field(default_factory=list)   # their own output
    tools: list[str] = dataclasses.field(default_factory=list)    # which tools
    emulated_s: float | None = None  # guest-visible time to the diagnosis
    wall_s: float = 0.0             # filled by the runner


@dataclasses.dataclass
class Context:
    plant: str
    planted: bool                   # False: the same drill on the normal build
    elf: str
    workdir: str
    t0: float = dataclasses.field(default_factory=time.monotonic)

    def say(self, msg: str) -> None:
        print(f"  [{self.plant}{'' if self.planted else ' (clean)'}] {msg}", flush=True)

    def sub(self, name: str) -> str:
        d = os.path.join(self.workdir, name)
        os.makedirs(d, exist_ok=True)
        return d

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def emulated_seconds(session) -> float | None:
    """The hypervisor's own clock at the last record it sent: its TSC over
    the rate its last HELLO announced (how long the machine had run)."""
    hello = session.hello
    if not hello or not hello.tsc_khz or not session.records:
        return None
    return max(r.tsc for r in session.records) / (hello.tsc_khz * 1000.0)
