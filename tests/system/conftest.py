"""Fixtures for system tests: boot build/hv.elf in an emulator.

    def test_banner(boot):
        m = boot(cmdline="serial=115200,8n1,0x3f8", cpus=2)
        m.wait_for(rb"hv: ", timeout=60)

boot(...) builds (or reuses) a GRUB image for build/hv.elf with that command
line and returns a started hvtools.emu.Machine; every machine is stopped at
teardown. Run directories live in build/runs/<test>-<pid>-<n>/ (bochsrc,
serial.raw, bochs.log, bochs.stdout with port 0xE9 output). They are deleted
when the test passes (unless HV_KEEP_RUNS=1 is set) and kept when it
fails; the failure report names them in an "emulator runs" section, and
every EmuTimeout/EmuDied message already names its run directory.
"""
import os
import re

import pytest

from hvtools import image
from hvtools.emu import RUNS_DIR, Machine

HV_ELF = os.path.join(image.ROOT, "build", "hv.elf")
DEFAULT_CMDLINE = "serial=115200,8n1,0x3f8"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    machines = getattr(item, "_hv_machines", None)
    if rep.failed and machines:
        lines = []
        for m in machines:
            lines.append(f"{m.emu} cpus={m.cpus} model={m.model}: {m.workdir}")
            lines.append(f"    serial: {m.serial_path}")
            lines.append(f"    log:    {m.log_path}")
        rep.sections.append(("emulator runs (kept)", "\n".join(lines)))


@pytest.fixture
def boot(request):
    """Factory: boot(cmdline=..., cpus=1, model=..., emu='bochs', timeout=...,
    memory=256, modules=(), disks=(), serial='file', decode=None, elf=HV_ELF,
    **machine_kwargs) -> started Machine."""
    machines = []
    request.node._hv_machines = machines
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]

    def _boot(cmdline=DEFAULT_CMDLINE, cpus=1, model="corei7_skylake_x", emu="bochs",
              timeout=300, memory=256, modules=(), disks=(), serial="file",
              decode=None, elf=HV_ELF, **kw):
        if not os.path.exists(elf):
            pytest.fail(f"{elf} is not built: run `make` first")
        iso = image.build_iso(elf, cmdline, modules=modules)
        workdir = os.path.join(RUNS_DIR, f"{slug}-{os.getpid()}-{len(machines)}")
        m = Machine(emu=emu, iso=iso, disks=disks, cpus=cpus, model=model,
                    memory=memory, serial=serial, timeout=timeout, workdir=workdir,
                    name=slug, decode=decode, **kw)
        machines.append(m)
        m.start()
        return m

    yield _boot

    passed = all(getattr(request.node, "rep_" + w, None) is None
                 or getattr(request.node, "rep_" + w).passed
                 for w in ("setup", "call"))
    for m in machines:
        m.stop()
        if passed and os.environ.get("HV_KEEP_RUNS") != "1":
            m.remove_workdir()
