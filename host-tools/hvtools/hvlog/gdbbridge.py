"""GDB bridge: a local TCP port (127.0.0.1 only) for gdb's `target remote`.
Bytes from gdb go to the hypervisor as GDB frames (cpu 0); GDB frame
payloads from the hypervisor go to gdb. One gdb at a time; GDB bytes that
arrive while no gdb is attached are dropped and counted (gdb asks again
when it attaches)."""
from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from .. import frame as _frame
from ..stream import Stats
from .keyboard import guest_frames


class BridgeError(Exception):
    pass


class GdbBridge:
    def __init__(self, port: int, send: Callable[[bytes], object], encoder: _frame.Encoder,
                 stats: Stats | None = None, host: str = "127.0.0.1",
                 say: Callable[[str], object] | None = None) -> None:
        """send(bytes): write wire bytes to the hypervisor's line."""
        self.send, self.encoder, self.stats = send, encoder, stats
        self.say = say or (lambda msg: None)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.listener.bind((host, port))
        except OSError as e:
            self.listener.close()
            if e.errno == errno.EADDRINUSE:
                raise BridgeError(f"--gdb-port {port}: port already in use") from None
            raise BridgeError(f"--gdb-port {port}: {e.strerror}") from None
        self.listener.listen(1)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.client = None

    def fds(self) -> list[socket.socket]:
        return [self.listener] + ([self.client] if self.client else [])

    def readable(self, sock: socket.socket) -> None:
        if sock is self.listener:
            try:
                c, addr = self.listener.accept()
            except BlockingIOError:
                return
            if self.client is not None:
                c.close()           # one gdb at a time
                return
            c.setblocking(False)
            self.client = c
            self.say(f"gdb attached from {addr[0]}:{addr[1]}")
            return
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop_client()
            return
        if self.stats is not None:
            self.stats.gdb_to_hv += len(data)
        self.send(guest_frames(self.encoder, data, _frame.GDB))

    def from_hv(self, payload: bytes) -> None:
        if self.client is None:
            if self.stats is not None:
                self.stats.gdb_dropped += len(payload)
            return
        try:
            self.client.setblocking(True)
            self.client.sendall(payload)
            self.client.setblocking(False)
        except OSError:
            self._drop_client()

    def _drop_client(self):
        if self.client is not None:
            self.client.close()
            self.client = None
            self.say("gdb detached")

    def close(self) -> None:
        self._drop_client()
        self.listener.close()
