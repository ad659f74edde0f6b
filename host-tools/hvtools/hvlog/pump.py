"""The live loop: source bytes -> raw.bin (first, always) -> LiveDecoder;
keyboard -> GUEST frames; the GDB bridge both ways. Single threaded."""
from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..term import RawTerminal
    from .gdbbridge import GdbBridge
    from .keyboard import KeyForwarder
    from .live import LiveDecoder
    from .sources import Source


class Pump:
    def __init__(self, source: Source, decoder: LiveDecoder,
                 raw: Callable[[bytes], object] | None = None, bridge: GdbBridge | None = None,
                 keys: KeyForwarder | None = None, term: RawTerminal | None = None,
                 idle_after: float = 0.25,
                 on_action: Callable[[str], object] | None = None,
                 commands: list[bytes] | None = None) -> None:
        self.source, self.decoder, self.raw = source, decoder, raw
        self.bridge, self.keys, self.term = bridge, keys, term
        self.idle_after = idle_after
        self.on_action = on_action or (lambda a: None)
        self.bytes_in = 0
        # Host commands (CONTROL payloads) to send once the HELLO shows
        # that the hypervisor listens (hvlog --send).
        self.commands = list(commands or [])
        self.encoder = keys.encoder if keys is not None else None
        self.done = False
        self._last = time.monotonic()
        self._idled = True
        if bridge is not None:
            decoder.on_gdb = bridge.from_hv

    def _source_bytes(self, data):
        if data is None:
            self.done = True
            return
        if not data:
            return
        self.bytes_in += len(data)
        if self.raw is not None:
            self.raw(data)               # never lose bytes: save before decoding
        self.decoder.feed(data)
        self._last = time.monotonic()
        self._idled = False

    def step(self, timeout: float = 0.1) -> bool:
        """One round; False once the source ended or the user quit."""
        if self.done:
            return False
        extra = []
        if self.bridge is not None:
            extra += self.bridge.fds()
        if self.term is not None:
            extra.append(self.term.fd)
        src_fd = self.source.fileno()
        if extra:
            r, _, _ = select.select(extra + ([src_fd] if src_fd is not None else []),
                                    [], [], 0 if src_fd is None else timeout)
            for x in r:
                if x is src_fd:
                    continue
                if self.term is not None and x is self.term.fd:
                    self._keys(self.term.read())
                else:
                    self.bridge.readable(x)
            if src_fd is not None:
                if src_fd in r:
                    self._source_bytes(self.source.read(0))
            else:
                self._source_bytes(self.source.read(timeout))
        else:
            self._source_bytes(self.source.read(timeout))
        if self.commands and self.decoder.hello is not None:
            self._send_commands()
        if not self._idled and time.monotonic() - self._last > self.idle_after:
            self.decoder.idle()
            self._idled = True
        return not self.done

    def _send_commands(self) -> None:
        from .. import frame as _frame
        enc = self.encoder or _frame.Encoder()
        self.encoder = enc
        for payload in self.commands:
            self.source.write(enc.frame(_frame.CONTROL, 0, payload))
        self.commands = []

    def _keys(self, data: bytes):
        wire, actions = self.keys.feed(data)
        if wire:
            self.source.write(wire)
            self.decoder.stats.keys_sent += len(data)
        for a in actions:
            if a == "quit":
                self.done = True
            self.on_action(a)

    def run(self, stop: threading.Event | None = None) -> None:
        while self.step() and not (stop is not None and stop.is_set()):
            pass
