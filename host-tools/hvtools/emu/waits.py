"""Waiting on a running Machine: for a pattern in its serial output, or for
the emulator to exit by itself."""
from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import EmuDied, EmuTimeout

if TYPE_CHECKING:
    from .machine import Machine


def _utf8(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def wait_for(m: Machine, pattern: str | bytes | re.Pattern, timeout: float = 30.0,
             decode: Callable[[bytes], str] | None = None, since: int = 0) -> re.Match:
    """Wait until regex `pattern` (bytes or str) matches m's output.

    decode: bytes->str applied to the output first (default: the
        Machine's decode; str patterns without one use UTF-8).
    since: byte offset in the raw output to search from.
    Returns the re.Match. Raises EmuTimeout / EmuDied.
    """
    decode = decode or m.decode
    rx = re.compile(pattern) if isinstance(pattern, (str, bytes)) else pattern
    want_str = isinstance(rx.pattern, str)
    if want_str and decode is None:
        decode = _utf8
    if not want_str and decode is not None:
        raise TypeError("bytes pattern with a decoder: use a str pattern")
    deadline = time.monotonic() + timeout
    seen = -1
    while True:
        n, data, finished = m.serial.snapshot(since, seen)
        if data is not None:
            seen = n
            found = rx.search(decode(data) if want_str else data)
            if found:
                return found
        if m.timed_out:
            # The watchdog is stopping the emulator: the error says how it ended.
            m.limit_handled.wait(timeout=10)
            raise EmuTimeout(m.describe(
                f"run time limit ({m.timeout}s) hit waiting for {rx.pattern!r}"))
        if finished:
            m.poll()
            raise EmuDied(m.describe(
                f"{m.emu} exited (code {m.returncode}) before {rx.pattern!r} appeared"))
        left = deadline - time.monotonic()
        if left <= 0:
            raise EmuTimeout(m.describe(
                f"timed out after {timeout}s waiting for {rx.pattern!r}"))
        m.serial.wait_change(seen, min(left, 0.5))


def wait_exit(m: Machine, timeout: float = 30.0) -> int | None:
    """Wait for the emulator to exit by itself; returns its status."""
    proc = m.process
    try:
        rc = proc.wait(timeout) if proc is not None and proc.popen is not None \
            else m.returncode
    except subprocess.TimeoutExpired:
        raise EmuTimeout(m.describe(f"{m.emu} still running after {timeout}s")) from None
    m.returncode = rc
    m.serial.join(timeout=5)
    return rc
