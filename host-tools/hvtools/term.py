"""The keyboard of a terminal, key by key: the one raw-terminal helper of
hvlog and hvrun (standard library tty, termios, selectors).

    with RawTerminal(sys.stdin.fileno(), signals=False) as term:
        keys = term.read(timeout=0.1)       # b"" when nothing was typed
"""
from __future__ import annotations

import os
import selectors
import termios
import tty

_IFLAG, _LFLAG = 0, 3       # termios.tcgetattr() list indices (tty.IFLAG, tty.LFLAG)


class RawTerminal:
    """Context manager: every key is delivered at once and not echoed
    (tty.setcbreak), Enter sends CR (no ICRNL), no XON/XOFF flow control,
    8-bit clean; output processing stays as it was, so "\\n" still starts a
    new line. signals=False: Ctrl-C, Ctrl-Z and Ctrl-\\ are bytes like any
    other (they go to the guest) instead of signals to us. The old settings
    come back on exit, whatever happens."""

    def __init__(self, fd: int = 0, signals: bool = True) -> None:
        self.fd = fd
        self.signals = signals
        self.saved: list | None = None
        self._sel: selectors.BaseSelector | None = None

    def __enter__(self) -> RawTerminal:
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        mode = termios.tcgetattr(self.fd)
        mode[_IFLAG] &= ~(termios.IXON | termios.ICRNL | termios.INLCR | termios.ISTRIP
                          | termios.BRKINT)
        mode[_LFLAG] &= ~termios.IEXTEN         # Ctrl-V, Ctrl-O: plain bytes too
        if not self.signals:
            mode[_LFLAG] &= ~termios.ISIG
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.fd, selectors.EVENT_READ)
        return self

    def restore(self) -> None:
        """Put the saved settings back (idempotent)."""
        if self._sel is not None:
            self._sel.close()
            self._sel = None
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)
            self.saved = None

    def __exit__(self, *exc: object) -> bool:
        self.restore()
        return False

    def fileno(self) -> int:
        return self.fd

    def read(self, timeout: float | None = None) -> bytes:
        """What was typed: waits up to timeout seconds (None: reads at once,
        blocking until a key if there is none)."""
        if timeout is not None and self._sel is not None \
                and not self._sel.select(timeout):
            return b""
        return os.read(self.fd, 1024)
