"""Run Bochs or QEMU headless, capture the serial line, never leak a process.

    from hvtools.emu import Machine
    with Machine(iso="build/hv.iso", cpus=2, model="corei7_skylake_x") as m:
        m.wait_for(rb"hv: ready", timeout=60)
        m.write(b"x")

Every run gets its own work directory (default build/runs/<name>-<pid>-<n>/)
holding the generated config, the raw serial capture (serial.raw), the
emulator's log (bochs.log), its stdout/stderr (port 0xE9 output lands in
Bochs's stdout; QEMU's goes to e9.log) and, for QEMU, the QMP socket.

Cleanup: the emulator runs in its own session/process group, dies with its
parent thread (PR_SET_PDEATHSIG=SIGKILL), and stop() -- called by __exit__,
by a finaliser and at interpreter exit -- sends SIGTERM to the group, then
SIGKILL.
"""
import codecs
import ctypes
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import weakref

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNS_DIR = os.path.join(ROOT, "build", "runs")

BOCHS = "bochs"     # Debian 12's Bochs 2.7: the default emulator
# Bochs 3.0 built from Debian's source by mk/bochs3.sh (make bochs3): the
# one whose monitor trap flag delivers MTF exits (Bochs 2.7's does not).
BOCHS3 = os.path.join(ROOT, "build", "tools", "bochs-3.0", "bin", "bochs")
QEMU = "qemu-system-x86_64"
BOCHS_BIOS = "/usr/share/bochs/BIOS-bochs-latest"
BOCHS_VGABIOS = "/usr/share/bochs/VGABIOS-lgpl-latest"

# Bochs with `clock: sync=none` runs virtual time at `ips` instructions per
# emulated second, independent of the host. Lower = busy-waits of a fixed
# virtual duration (BIOS, PIT calibration, INIT-SIPI delays) cost fewer host
# cycles; too low makes timer interrupts absurdly frequent for a guest OS.
# 25M boots GRUB in ~1 s (1 CPU) / ~1.9 s (2 CPUs).
DEFAULT_IPS = 25_000_000

_counter = itertools.count()
_PR_SET_PDEATHSIG = 1


class EmuError(Exception):
    """Base class; the message carries the serial tail and log excerpts."""


class EmuTimeout(EmuError):
    pass


class EmuDied(EmuError):
    pass


def _set_pdeathsig():
    # Runs in the child between fork and exec: if the parent (thread) dies,
    # the kernel SIGKILLs the emulator.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def free_port():
    """A TCP port that was free a moment ago (the kernel's choice, so two
    parallel workers practically never get the same one; start() retries if
    the emulator still fails to bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail_text(data, n):
    if isinstance(data, bytes):
        data = data[-n:].decode("utf-8", "replace")
    else:
        data = data[-n:]
    return data


def _read_file(path, limit=None):
    try:
        with open(path, "rb") as f:
            if limit:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
            return f.read()
    except OSError:
        return b""


class _Proc:
    """Owns the emulator process; kill() is what the finaliser/atexit call.
    Holds no reference to the Machine so the Machine can be collected."""

    def __init__(self, popen):
        self.popen = popen
        self.pgid = popen.pid       # start_new_session: pgid == pid
        self.lock = threading.Lock()

    def kill(self, grace=2.0):
        with self.lock:
            p = self.popen
            if p is None:
                return None
            # Only signal while the child is unreaped: once reaped its pid
            # (== pgid) could belong to somebody else.
            if p.poll() is None:
                for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                    try:
                        os.killpg(self.pgid, sig)
                    except ProcessLookupError:
                        pass
                    try:
                        p.wait(timeout=wait)
                        break
                    except subprocess.TimeoutExpired:
                        continue
            self.popen = None
            return p.returncode


class Disk:
    """A hard disk image. mode: Bochs mode. The default, volatile, opens the
    image read-only with writes going to a throw-away redo log: cached images
    are never changed, and parallel runs can share one image (a flat image is
    locked by the first Bochs that opens it)."""

    def __init__(self, path, mode="volatile"):
        self.path, self.mode = os.fspath(path), mode

    @classmethod
    def coerce(cls, d):
        return d if isinstance(d, Disk) else cls(d)


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
    qmp: QEMU only; create a QMP unix socket (path in .qmp_path).
    debug_exit: QEMU only; add isa-debug-exit at 0xf4.
    ips, magic_break, reset_on_triple_fault: Bochs only. Triple faults stop
        Bochs by default (like QEMU's -no-reboot) instead of rebooting.
    bochs: Bochs only; the binary (BOCHS, the system's 2.7, or BOCHS3).
    decode: default bytes->str function for wait_for().
    extra_config: extra bochsrc lines / extra QEMU arguments.
    """

    def __init__(self, emu="bochs", iso=None, disks=(), boot=None, cpus=1,
                 model="corei7_skylake_x", memory=256, serial="file", timeout=None,
                 workdir=None, name=None, kvm=False, qemu_cpu=None, qmp=False,
                 debug_exit=False, ips=DEFAULT_IPS, magic_break=False,
                 reset_on_triple_fault=False, decode=None, extra_config=(), bochs=BOCHS):
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
        self.config_path = None
        self.qmp_path = None
        self.port = None
        self.argv = None

        self._buf = bytearray()
        self._cond = threading.Condition()
        self._reader = None
        self._sock = None
        self._stopping = threading.Event()
        self._proc = None
        self._reader_done = False
        self._finalizer = None
        self._watchdog = None
        self._locks_created = []
        self.timed_out = False       # the overall time limit was hit
        self.started_at = None
        self.returncode = None

    # ---- lifecycle -------------------------------------------------------
    def __enter__(self):
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if self._proc is not None:
            raise RuntimeError("machine already started")
        for attempt in range(3):
            if self.serial_mode == "socket":
                self.port = free_port()
            self.argv = self._bochs_argv() if self.emu == "bochs" else self._qemu_argv()
            self._launch()
            if self.serial_mode != "socket" or self._connect():
                break
            # The emulator died before accepting the serial connection:
            # retry only when it looks like a port clash.
            self._cleanup_proc()
            rc = self.returncode
            text = (_read_file(self.log_path, 20000) + _read_file(self.stderr_path, 20000)
                    ).decode("utf-8", "replace").lower()
            if not re.search(r"bind|in use", text) or attempt == 2:
                self.returncode = rc
                raise EmuDied(self.describe(
                    f"{self.emu} exited (code {rc}) before the serial socket connected"))
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"serial-{self.name}")
        self._reader.start()
        if self.timeout:
            self._watchdog = threading.Timer(self.timeout, self._on_time_limit)
            self._watchdog.daemon = True
            self._watchdog.start()
        return self

    def _launch(self):
        for f in (self.serial_path,):
            try:
                os.unlink(f)
            except FileNotFoundError:
                pass
        self._locks_created = [d.path + ".lock" for d in self.disks
                               if self.emu == "bochs" and not os.path.exists(d.path + ".lock")]
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        with open(os.path.join(self.workdir, "cmdline"), "w") as f:
            f.write(" ".join(self.argv) + "\n")
        popen = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                 stdout=self._stdout, stderr=self._stderr,
                                 start_new_session=True, preexec_fn=_set_pdeathsig)
        self._proc = _Proc(popen)
        self.started_at = time.monotonic()
        # Finaliser: runs on garbage collection and (atexit=True) at exit.
        self._finalizer = weakref.finalize(self, _Proc.kill, self._proc, 0.5)

    def _connect(self, limit=30.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self._proc.popen.poll() is not None:
                return False
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
            except OSError:
                time.sleep(0.05)
                continue
            s.settimeout(0.2)
            self._sock = s
            return True
        return False

    def _cleanup_proc(self):
        if self._proc is not None:
            rc = self._proc.kill()
            if rc is not None:
                self.returncode = rc
            if self._finalizer is not None:
                self._finalizer.detach()
        for f in (getattr(self, "_stdout", None), getattr(self, "_stderr", None)):
            if f is not None and not f.closed:
                f.close()
        for lock in self._locks_created:
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass

    def stop(self):
        """Stop the emulator (idempotent); returns its exit status."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._stopping.set()
        self._cleanup_proc()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=5)
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        if self.serial_mode == "socket":
            with open(self.serial_path, "wb") as f:
                f.write(bytes(self._buf))
        with self._cond:
            self._cond.notify_all()
        return self.returncode

    def _on_time_limit(self):
        self.timed_out = True
        self._cleanup_proc()
        with self._cond:
            self._cond.notify_all()

    def remove_workdir(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- state -----------------------------------------------------------
    @property
    def pid(self):
        return self._proc.pgid if self._proc else None

    @property
    def pgid(self):
        return self.pid

    @property
    def alive(self):
        return (self._proc is not None and self._proc.popen is not None
                and self._proc.popen.poll() is None)

    def poll(self):
        """Exit status if the emulator has exited, else None."""
        if self._proc is not None and self._proc.popen is not None:
            rc = self._proc.popen.poll()
            if rc is not None:
                self.returncode = rc
        return self.returncode if not self.alive else None

    @property
    def output(self):
        """All raw serial bytes received so far."""
        with self._cond:
            return bytes(self._buf)

    @property
    def text(self):
        return self.output.decode("utf-8", "replace")

    @property
    def e9_output(self):
        """Port 0xE9 output (Bochs: mixed into its stdout)."""
        return _read_file(self.e9_path)

    def elapsed(self):
        return time.monotonic() - self.started_at if self.started_at else 0.0

    # ---- serial ----------------------------------------------------------
    def _append(self, data):
        with self._cond:
            self._buf += data
            self._cond.notify_all()

    def _read_loop(self):
        if self._sock is not None:
            while not self._stopping.is_set():
                try:
                    data = self._sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self._append(data)
        else:
            f = None
            while True:
                done = self._stopping.is_set() or not self.alive
                if f is None:
                    try:
                        f = open(self.serial_path, "rb")
                    except FileNotFoundError:
                        if done:
                            break
                        time.sleep(0.02)
                        continue
                data = f.read(65536)
                if data:
                    self._append(data)
                    continue
                if done:       # emulator gone and file drained
                    break
                time.sleep(0.02)
            if f is not None:
                f.close()
        with self._cond:
            self._reader_done = True
            self._cond.notify_all()

    def write(self, data):
        """Send bytes to the guest's serial line (serial='socket' only)."""
        if self.serial_mode != "socket":
            raise EmuError("write() needs serial='socket'")
        if isinstance(data, str):
            data = data.encode()
        if self._sock is None:
            raise EmuDied(self.describe("serial socket is closed"))
        self._sock.sendall(data)

    def read_since(self, pos, timeout=0.1):
        """Bytes received after offset pos; waits up to timeout for some."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._buf) <= pos and not self._finished():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return bytes(self._buf[pos:])

    def _finished(self):
        """No more output can arrive."""
        return (self._reader is None or not self._reader.is_alive()
                or getattr(self, "_reader_done", False))

    def wait_for(self, pattern, timeout=30.0, decode=None, since=0):
        """Wait until regex `pattern` (bytes or str) matches the output.

        decode: bytes->str applied to the output first (default: the
            Machine's decode; str patterns without one use UTF-8).
        since: byte offset in the raw output to search from.
        Returns the re.Match. Raises EmuTimeout / EmuDied.
        """
        decode = decode or self.decode
        rx = re.compile(pattern) if isinstance(pattern, (str, bytes)) else pattern
        want_str = isinstance(rx.pattern, str)
        if want_str and decode is None:
            decode = lambda b: b.decode("utf-8", "replace")
        if not want_str and decode is not None:
            raise TypeError("bytes pattern with a decoder: use a str pattern")
        deadline = time.monotonic() + timeout
        seen = -1
        while True:
            with self._cond:
                n = len(self._buf)
                data = bytes(self._buf[since:]) if n != seen else None
                finished = self._finished()
            if data is not None:
                seen = n
                m = rx.search(decode(data) if want_str else data)
                if m:
                    return m
            if self.timed_out:
                raise EmuTimeout(self.describe(
                    f"run time limit ({self.timeout}s) hit waiting for {rx.pattern!r}"))
            if finished:
                self.poll()
                raise EmuDied(self.describe(
                    f"{self.emu} exited (code {self.returncode}) before "
                    f"{rx.pattern!r} appeared"))
            left = deadline - time.monotonic()
            if left <= 0:
                raise EmuTimeout(self.describe(
                    f"timed out after {timeout}s waiting for {rx.pattern!r}"))
            with self._cond:
                if len(self._buf) == seen and not self._finished():
                    self._cond.wait(min(left, 0.5))

    def wait_exit(self, timeout=30.0):
        """Wait for the emulator to exit by itself; returns its status."""
        try:
            rc = self._proc.popen.wait(timeout=timeout) if self._proc and self._proc.popen \
                else self.returncode
        except subprocess.TimeoutExpired:
            raise EmuTimeout(self.describe(f"{self.emu} still running after {timeout}s"))
        self.returncode = rc
        if self._reader is not None:
            self._reader.join(timeout=5)
        return rc

    # ---- diagnostics -----------------------------------------------------
    def log_problems(self, limit=30):
        """PANIC/ERROR lines of the Bochs log (or QEMU stderr lines)."""
        if self.emu == "bochs":
            text = _read_file(self.log_path).decode("utf-8", "replace")
            lines = [l for l in text.splitlines() if re.match(r"^\d+[ep]\[", l)]
        else:
            text = _read_file(self.log_path).decode("utf-8", "replace")
            lines = [l for l in text.splitlines() if l.strip()]
        return lines[-limit:]

    def log_tail(self, n=15):
        return _read_file(self.log_path, 64 * 1024).decode("utf-8", "replace").splitlines()[-n:]

    def describe(self, headline):
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
            so = _read_file(self.stdout_path, 4000).decode("utf-8", "replace")
            if so.strip():
                parts += ["--- bochs stdout tail (port 0xE9 output, exit message) ---",
                          so.rstrip()[-1500:]]
        return "\n".join(parts)

    # ---- command lines ---------------------------------------------------
    def _bochs_argv(self):
        rc_path = os.path.join(self.workdir, "bochs.rc")
        with open(rc_path, "w") as f:
            f.write("c\n")
        cfg = [
            "# generated by hvtools.emu",
            f"memory: guest={self.memory}, host={self.memory}",
            f"cpu: model={self.model}, count={self.cpus}, ips={self.ips}, "
            f"reset_on_triple_fault={int(self.reset_on_triple_fault)}",
            f"romimage: file={BOCHS_BIOS}",
            f"vgaromimage: file={BOCHS_VGABIOS}",
            'display_library: rfb, options="timeout=0"',
            "clock: sync=none, time0=local",
            "speaker: enabled=0",
            # Bochs opens ALSA at start-up even with the speaker off, and on
            # a machine without a sound card that aborts the emulator
            # ("buffer overflow detected"): every driver is the dummy one.
            "sound: driver=dummy",
            "mouse: enabled=0",
            "port_e9_hack: enabled=1",
            f"magic_break: enabled={int(self.magic_break)}",
            f"log: {self.log_path}",
            "panic: action=fatal",
            "error: action=report",
            "info: action=report",
            "debug: action=ignore",
            "ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14",
            "ata1: enabled=1, ioaddr1=0x170, ioaddr2=0x370, irq=15",
        ]
        slots = ["ata0-master", "ata0-slave", "ata1-master", "ata1-slave"]
        disks = list(self.disks)
        if self.iso:
            cd_slot = "ata0-master" if not disks else "ata0-slave"
        for slot in slots:
            if self.iso and slot == cd_slot:
                cfg.append(f"{slot}: type=cdrom, path={self.iso}, status=inserted")
            elif disks:
                d = disks.pop(0)
                cfg.append(f"{slot}: type=disk, mode={d.mode}, path={d.path}")
        if disks:
            raise ValueError("too many disks for Bochs (4 ATA slots)")
        cfg.append(f"boot: {self.boot}")
        if self.serial_mode == "socket":
            cfg.append(f"com1: enabled=1, mode=socket-server, dev=localhost:{self.port}")
        else:
            cfg.append(f"com1: enabled=1, mode=file, dev={self.serial_path}")
        cfg += self.extra_config
        self.config_path = os.path.join(self.workdir, "bochsrc")
        with open(self.config_path, "w") as f:
            f.write("\n".join(cfg) + "\n")
        return [self.bochs, "-q", "-f", self.config_path, "-rc", rc_path]

    def _qemu_argv(self):
        cpu = self.qemu_cpu or ("host" if self.kvm else "max")
        a = [QEMU, "-display", "none", "-no-reboot", "-monitor", "none",
             "-m", str(self.memory), "-smp", str(self.cpus), "-cpu", cpu,
             "-debugcon", f"file:{self.e9_path}", "-global", "isa-debugcon.iobase=0xe9"]
        if self.kvm:
            a.append("-enable-kvm")
        else:
            a += ["-accel", "tcg"]
        for i, d in zip((0, 1, 3), self.disks):
            a += ["-drive", f"file={d.path},format=raw,if=ide,index={i}"]
        if self.iso:
            a += ["-cdrom", self.iso]
        a += ["-boot", "d" if self.boot == "cdrom" else "c"]
        if self.serial_mode == "socket":
            a += ["-serial", f"tcp:127.0.0.1:{self.port},server=on,wait=on"]
        else:
            a += ["-serial", f"file:{self.serial_path}"]
        if self.qmp:
            self.qmp_path = os.path.join(self.workdir, "qmp.sock")
            if len(self.qmp_path) > 100:      # sun_path limit
                import tempfile
                self.qmp_path = os.path.join(tempfile.mkdtemp(prefix="hvqmp-"), "qmp.sock")
            a += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if self.debug_exit:
            a += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        a += self.extra_config
        return a

    def __repr__(self):
        return (f"<Machine {self.emu} cpus={self.cpus} pid={self.pid} "
                f"alive={self.alive} dir={self.workdir}>")
