"""How the host tools that run until stopped (hvrun, hvlog live) take
Ctrl-C, SIGTERM and SIGHUP: the first one stops the run, and nothing that
comes after it, or after the run is over, costs the closing work (stopping
the emulator, saving the capture, the summary) or the exit status.

    stop = StopSignals(interrupt=False)     # hvrun: its loop polls stop.received
    stop = StopSignals(interrupt=True)      # hvlog: the first one raises KeyboardInterrupt
    try:
        ...run...                           # hvlog: stop.closing() once it has ended
    finally:
        stop.done()

Why not Python's own KeyboardInterrupt: it is raised wherever the signal
lands, and a second press (or a late one, as the emulator exits) landed in
the closing code and killed the tool by SIGINT with the capture unsaved.
SIGINT is installed even when inherited ignored: a tool started in the
background by a shell gets SIGINT ignored, and would not stop on it.
"""
from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    def __init__(self, interrupt: bool) -> None:
        self.interrupt = interrupt
        self.received: int | None = None    # the first stop signal, once it came
        self._running = True
        for s in STOP_SIGNALS:
            signal.signal(s, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.received is None and self._running:
            self.received = signum
            if self.interrupt:
                raise KeyboardInterrupt

    def closing(self) -> None:
        """The run is over: a signal from now on raises nothing (interrupt
        mode; a polling tool just stops polling)."""
        self._running = False

    def done(self) -> None:
        """Just before the tool returns. Ignored, not handled: Python's exit
        puts SIG_DFL back for a handler of its own, so a signal then would
        still kill the exiting process; an ignored one stays ignored."""
        self._running = False
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
