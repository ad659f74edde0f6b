"""The emulator process: started in its own session, tied to the thread that
started it, stopped as a whole process group."""
from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import threading
from typing import IO

# util-linux's setpriv (Debian: essential) sets PR_SET_PDEATHSIG and execs
# the emulator, so the emulator keeps setpriv's pid (== its process group).
# If the thread that started it dies -- even by SIGKILL, when no finaliser
# or atexit handler can run -- the kernel SIGKILLs the emulator. This
# replaces a preexec_fn (unsafe with threads) calling prctl through ctypes.
# The death signal only covers a parent that dies after the prctl: a runner
# killed in the moment between fork and setpriv's prctl (a test harness
# killing a runner right after start(), a Ctrl-C) left the emulator running
# for good, orphaned. So a shell between setpriv and the emulator checks,
# after the prctl, that its parent is still the runner, and execs the
# emulator only then (the check that prctl(2) itself recommends).
_SETPRIV = shutil.which("setpriv")
PARENT_GONE = 125       # the guard's exit status when the runner had died
_GUARD = f'[ "$PPID" = "$0" ] || exit {PARENT_GONE}; exec "$@"'


def guarded_argv(argv: list[str], parent: int) -> list[str]:
    """argv run under the death signal, and only if `parent` is still its
    parent once the death signal is armed."""
    return [_SETPRIV, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", _GUARD,
            str(parent)] + list(argv)


def kvm_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def free_port() -> int:
    """A TCP port that was free a moment ago (the kernel's choice, so two
    parallel workers practically never get the same one; Machine.start()
    retries if the emulator still fails to bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_file(path: str, limit: int | None = None) -> bytes:
    """The file's bytes (its last `limit` bytes), b"" if it cannot be read."""
    try:
        with open(path, "rb") as f:
            if limit:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
            return f.read()
    except OSError:
        return b""


class Process:
    """Owns the emulator process; kill() is what the finaliser/atexit call.
    Holds no reference to the Machine so the Machine can be collected."""

    def __init__(self, argv: list[str], cwd: str, stdout: IO[bytes],
                 stderr: IO[bytes]) -> None:
        if shutil.which(argv[0]) is None:     # what Popen raises without setpriv
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
        if _SETPRIV is not None:
            argv = guarded_argv(argv, os.getpid())
        self.popen: subprocess.Popen | None = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            start_new_session=True)
        self.pgid = self.popen.pid      # start_new_session: pgid == pid
        self.lock = threading.Lock()

    def poll(self) -> int | None:
        """Exit status once exited (None while running or after kill())."""
        p = self.popen
        return p.poll() if p is not None else None

    @property
    def running(self) -> bool:
        p = self.popen
        return p is not None and p.poll() is None

    def wait(self, timeout: float | None) -> int | None:
        """Waits for the exit (subprocess.TimeoutExpired after timeout)."""
        p = self.popen
        return p.wait(timeout=timeout) if p is not None else None

    def kill(self, grace: float = 2.0) -> int | None:
        """SIGTERM to the group, SIGKILL after `grace` seconds; returns the
        exit status (None if already killed)."""
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
