"""Machine: one emulator run (config, process, serial reader, waits) and the
diagnostics every error message carries."""
from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import IO

from . import config, waits
from .config import BOCHS, BOCHS3, DEFAULT_IPS, RUNS_DIR, Disk
from .errors import EmuDied, EmuError
from .process import Process, free_port, kvm_usable, read_file
from .serial import SerialReader

_counter = itertools.count()


def _tail_text(data: bytes | str, n: int) -> str:
    if isinstance(data, bytes):
        return data[-n:].decode("utf-8", "replace")
    return data[-n:]


class Machine:
    """One emulator run.

    emu: 'bochs' or 'qemu'.
    iso: boot CD image. disks: hard disk images (paths or Disk).
    boot: 'cdrom' or 'disk' (default: cdrom if iso else disk).
    cpus, model (Bochs cpu model), memory (MB).
    serial: 'file' (emulator writes serial.raw; no input) or 'socket'
        (TCP, input via write()).
    timeout: overall wall-clock limit in seconds (None = none): a watchdog
        stops the emulator, later waits raise EmuTimeout.
    workdir: run directory (default build/runs/<name>-<pid>-<n>/).
    kvm: QEMU only; False (default) runs TCG, the same CPU on every
        machine; True uses KVM; 'auto' uses KVM when /dev/kvm opens.
    qemu_cpu: QEMU -cpu (default 'host' with KVM, 'max' with TCG).
    qmp: QEMU only; create a QMP unix socket (path in .qmp_path);
        qmp_client() returns a client connected to it (qmp/qmpclient.py).
    debug_exit: QEMU only; add isa-debug-exit at 0xf4.
    ips, magic_break, reset_on_triple_fault: Bochs only. Triple faults stop
        Bochs by default (like QEMU's -no-reboot) instead of rebooting.
    time0: Bochs only; the CMOS clock at power-on: "local" (the host's
        time), "utc", or seconds since 1970 (a fixed start makes runs
        repeat in emulated time: bench/bench_guest_boot.py).
    bochs: Bochs only; the binary (BOCHS, the system's 2.7, or BOCHS3).
    decode: default bytes->str function for wait_for().
    extra_config: extra bochsrc lines / extra QEMU arguments.
    """

    def __init__(self, emu: str = "bochs", iso: str | None = None,
                 disks: Iterable[Disk | str | os.PathLike] = (), boot: str | None = None,
                 cpus: int = 1, model: str = "corei7_skylake_x", memory: int = 256,
                 serial: str = "file", timeout: float | None = None,
                 workdir: str | None = None, name: str | None = None,
                 kvm: bool | str = False, qemu_cpu: str | None = None, qmp: bool = False,
                 debug_exit: bool = False, ips: int = DEFAULT_IPS, magic_break: bool = False,
                 reset_on_triple_fault: bool = False, time0: str | int = "local",
                 decode: Callable[[bytes], str] | None = None,
                 extra_config: Sequence[str] = (), bochs: str = BOCHS) -> None:
        if emu not in ("bochs", "qemu"):
            raise ValueError(f"emu must be 'bochs' or 'qemu', not {emu!r}")
        if serial not in ("file", "socket"):
            raise ValueError(f"serial must be 'file' or 'socket', not {serial!r}")
        if iso is None and not disks:
            raise ValueError("nothing to boot: give iso and/or disks")
        self.emu, self.cpus, self.model, self.memory = emu, cpus, model, memory
        self.iso = os.path.abspath(iso) if iso else None
        self.disks = [Disk.coerce(d) for d in disks]
        for d in self.disks:
            d.path = os.path.abspath(d.path)
        self.boot = boot or ("cdrom" if iso else "disk")
        self.serial_mode, self.timeout = serial, timeout
        self.kvm = kvm_usable() if kvm == "auto" else bool(kvm)
        self.qemu_cpu, self.qmp, self.debug_exit = qemu_cpu, qmp, debug_exit
        self.ips, self.magic_break = ips, magic_break
        self.time0 = time0
        self.reset_on_triple_fault = reset_on_triple_fault
        self.bochs = bochs
        if emu == "bochs" and os.sep in bochs and not os.access(bochs, os.X_OK):
            raise EmuError(f"{bochs} is not built" +
                           (": run `make bochs3`" if bochs == BOCHS3 else ""))
        self.decode, self.extra_config = decode, list(extra_config)
        self.name = name or emu
        self.workdir = os.path.abspath(workdir or os.path.join(
            RUNS_DIR, f"{self.name}-{os.getpid()}-{next(_counter)}"))
        os.makedirs(self.workdir, exist_ok=True)

        self.serial_path = os.path.join(self.workdir, "serial.raw")
        self.stdout_path = os.path.join(self.workdir, f"{emu}.stdout")
        self.stderr_path = os.path.join(self.workdir, f"{emu}.stderr")
        # Bochs writes its own log; QEMU's diagnostics go to stderr.
        self.log_path = (os.path.join(self.workdir, "bochs.log") if emu == "bochs"
                         else self.stderr_path)
        self.e9_path = (self.stdout_path if emu == "bochs"
                        else os.path.join(self.workdir, "e9.log"))
        self.config_path: str | None = None
        self.qmp_path: str | None = None
        self._qmp_client = None
        self.port: int | None = None
        self.argv: list[str] | None = None

        self.serial = SerialReader(self.name)
        self.process: Process | None = None
        self._files: list[IO[bytes]] = []
        self._finalizer: weakref.finalize | None = None
        self._watchdog: threading.Timer | None = None
        self._locks_created: list[str] = []
        self.timed_out = False       # the overall time limit was hit
        self.limit_handled = threading.Event()   # ... and the emulator is stopped
        self.started_at: float | None = None
        self.returncode: int | None = None

    # ---- lifecycle -------------------------------------------------------
    def __enter__(self) -> Machine:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> bool:
        self.stop()
        return False

    def start(self) -> Machine:
        if self.process is not None:
            raise RuntimeError("machine already started")
        sock = None
        for attempt in range(3):
            if self.serial_mode == "socket":
                self.port = free_port()
            if self.emu == "bochs":
                self.argv, self.config_path = config.write_bochs_files(self)
            else:
                self.argv, self.qmp_path = config.qemu_argv(self)
            self._launch()
            if self.serial_mode != "socket":
                break
            sock = self._connect()
            if sock is not None:
                break
            # The emulator died before accepting the serial connection:
            # retry only when it looks like a port clash.
            self._cleanup_proc()
            rc = self.returncode
            text = (read_file(self.log_path, 20000) + read_file(self.stderr_path, 20000)
                    ).decode("utf-8", "replace").lower()
            if not re.search(r"bind|in use", text) or attempt == 2:
                self.returncode = rc
                raise EmuDied(self.describe(
                    f"{self.emu} exited (code {rc}) before the serial socket connected"))
        if sock is not None:
            self.serial.start_socket(sock)
        else:
            self.serial.start_file(self.serial_path, lambda: self.alive)
        if self.timeout:
            self._watchdog = threading.Timer(self.timeout, self._on_time_limit)
            self._watchdog.daemon = True
            self._watchdog.start()
        return self

    def _launch(self) -> None:
        try:
            os.unlink(self.serial_path)
        except FileNotFoundError:
            pass
        self._locks_created = [d.path + ".lock" for d in self.disks
                               if self.emu == "bochs" and not os.path.exists(d.path + ".lock")]
        stdout = open(self.stdout_path, "wb")
        stderr = open(self.stderr_path, "wb")
        self._files = [stdout, stderr]
        with open(os.path.join(self.workdir, "cmdline"), "w") as f:
            f.write(" ".join(self.argv) + "\n")
        self.process = Process(self.argv, self.workdir, stdout, stderr)
        self.started_at = time.monotonic()
        # Finaliser: runs on garbage collection and (atexit=True) at exit.
        self._finalizer = weakref.finalize(self, Process.kill, self.process, 0.5)

    def _connect(self, limit: float = 30.0) -> socket.socket | None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self.process.running:
                return None
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
            except OSError:
                time.sleep(0.05)
                continue
            s.settimeout(0.2)
            return s
        return None

    def _cleanup_proc(self) -> None:
        if self.process is not None:
            rc = self.process.kill()
            if rc is not None:
                self.returncode = rc
            if self._finalizer is not None:
                self._finalizer.detach()
        for f in self._files:
            if not f.closed:
                f.close()
        for lock in self._locks_created:
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass

    def stop(self) -> int | None:
        """Stop the emulator (idempotent); returns its exit status."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._qmp_client is not None:
            self._qmp_client.close()
        self._cleanup_proc()
        self.serial.stop()
        if self.serial_mode == "socket":
            with open(self.serial_path, "wb") as f:
                f.write(self.serial.output)
        return self.returncode

    def _on_time_limit(self) -> None:
        self.timed_out = True
        try:
            self._cleanup_proc()
        finally:
            self.limit_handled.set()
            self.serial.wake()

    def remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- state -----------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.process.pgid if self.process else None

    @property
    def pgid(self) -> int | None:
        return self.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.running

    def poll(self) -> int | None:
        """Exit status if the emulator has exited, else None."""
        if self.process is not None:
            rc = self.process.poll()
            if rc is not None:
                self.returncode = rc
        return self.returncode if not self.alive else None

    @property
    def output(self) -> bytes:
        """All raw serial bytes received so far."""
        return self.serial.output

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    @property
    def e9_output(self) -> bytes:
        """Port 0xE9 output (Bochs: mixed into its stdout)."""
        return read_file(self.e9_path)

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at if self.started_at else 0.0

    # ---- QMP -------------------------------------------------------------
    def qmp_client(self, timeout: float = 30.0):
        """The QMP client of this QEMU (qmp=True): connected on first use
        (waiting up to `timeout` for the socket), the same one afterwards,
        closed by stop(). A closed one (QEMU quit) is replaced by a new
        connection attempt."""
        from .qmp import connect_machine
        q = self._qmp_client
        if q is None or not q.is_open:
            q = self._qmp_client = connect_machine(self, timeout)
        return q

    # ---- serial ----------------------------------------------------------
    def write(self, data: bytes | str) -> None:
        """Send bytes to the guest's serial line (serial='socket' only)."""
        if self.serial_mode != "socket":
            raise EmuError("write() needs serial='socket'")
        if isinstance(data, str):
            data = data.encode()
        if not self.serial.connected:
            raise EmuDied(self.describe("serial socket is closed"))
        self.serial.send(data)

    def read_since(self, pos: int, timeout: float = 0.1) -> bytes:
        """Bytes received after offset pos; waits up to timeout for some."""
        return self.serial.read_since(pos, timeout)

    def wait_for(self, pattern: str | bytes | re.Pattern, timeout: float = 30.0,
                 decode: Callable[[bytes], str] | None = None, since: int = 0) -> re.Match:
        """Wait until regex `pattern` (bytes or str) matches the output; see
        waits.wait_for. Raises EmuTimeout / EmuDied."""
        return waits.wait_for(self, pattern, timeout, decode, since)

    def wait_exit(self, timeout: float = 30.0) -> int | None:
        """Wait for the emulator to exit by itself; returns its status."""
        return waits.wait_exit(self, timeout)

    # ---- diagnostics -----------------------------------------------------
    def log_problems(self, limit: int = 30) -> list[str]:
        """PANIC/ERROR lines of the Bochs log (or QEMU stderr lines)."""
        text = read_file(self.log_path).decode("utf-8", "replace")
        if self.emu == "bochs":
            lines = [l for l in text.splitlines() if re.match(r"^\d+[ep]\[", l)]
        else:
            lines = [l for l in text.splitlines() if l.strip()]
        return lines[-limit:]

    def log_tail(self, n: int = 15) -> list[str]:
        return read_file(self.log_path, 64 * 1024).decode("utf-8", "replace").splitlines()[-n:]

    def describe(self, headline: str) -> str:
        out = self.output
        parts = [f"{headline}",
                 f"  emulator: {self.emu}, {self.cpus} cpu(s), model {self.model}, "
                 f"{self.elapsed():.1f}s since start, exit status {self.returncode}",
                 f"  run dir:  {self.workdir}  (serial.raw, {os.path.basename(self.log_path)}, "
                 f"{os.path.basename(self.stdout_path)})",
                 f"--- serial tail ({len(out)} bytes total) ---",
                 _tail_text(out, 2000)]
        problems = self.log_problems()
        if problems:
            parts += ["--- emulator PANIC/ERROR lines ---"] + problems
        parts += ["--- emulator log tail ---"] + self.log_tail()
        if self.emu == "bochs":
            so = read_file(self.stdout_path, 4000).decode("utf-8", "replace")
            if so.strip():
                parts += ["--- bochs stdout tail (port 0xE9 output, exit message) ---",
                          so.rstrip()[-1500:]]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return (f"<Machine {self.emu} cpus={self.cpus} pid={self.pid} "
                f"alive={self.alive} dir={self.workdir}>")
