"""Run Bochs or QEMU headless, capture the serial line, never leak a process.

    from hvtools.emu import Machine
    with Machine(iso="build/hv.iso", cpus=2, model="corei7_skylake_x") as m:
        m.wait_for(rb"hv: ready", timeout=60)
        m.write(b"x")

Every run gets its own work directory (default build/runs/<name>-<pid>-<n>/)
holding the generated config, the raw serial capture (serial.raw), the
emulator's log (bochs.log), its stdout/stderr (port 0xE9 output lands in
Bochs's stdout; QEMU's goes to e9.log) and, for QEMU, the QMP socket.

Cleanup: the emulator runs in its own session/process group, dies with the
thread that started it (PR_SET_PDEATHSIG=SIGKILL, set by util-linux's
setpriv; a shell guard execs the emulator only if the runner is still its
parent once that is armed), and stop() -- called by __exit__, by a finaliser and at
interpreter exit -- sends SIGTERM to the group, then SIGKILL.

The package, by concern:
    config.py   paths, emulator binaries, disks; bochsrc and QEMU arguments
    process.py  starting, signalling and reaping the emulator
    serial.py   the serial reader thread and the captured bytes
    waits.py    waiting for output or for the emulator's exit
    errors.py   EmuError, EmuTimeout, EmuDied
    qmp.py      Machine.qmp_client(): QEMU's QMP socket through qmp/qmpclient.py
    machine.py  Machine: one run, the above together, diagnostics
"""
from .config import (BOCHS, BOCHS3, BOCHS_BIOS, BOCHS_VGABIOS, DEFAULT_IPS,  # noqa: F401
                     QEMU, ROOT, RUNS_DIR, Disk)
from .errors import EmuDied, EmuError, EmuTimeout  # noqa: F401
from .machine import Machine  # noqa: F401
from .process import free_port, kvm_usable  # noqa: F401

__all__ = ["BOCHS", "BOCHS3", "BOCHS_BIOS", "BOCHS_VGABIOS", "DEFAULT_IPS", "QEMU", "ROOT",
           "RUNS_DIR", "Disk", "EmuDied", "EmuError", "EmuTimeout", "Machine",
           "free_port", "kvm_usable"]
