"""Where the serial bytes come from. Every source has
    read(timeout) -> bytes (b"" = nothing yet) or None (end of stream)
    write(bytes)  (live sources: to the hypervisor), .writable, .live
    fileno() or None (for select), close(), describe().
"""
from __future__ import annotations

import os
import select
import socket
import time

CHUNK = 65536


class SourceError(Exception):
    pass


class Source:
    """What every source has (see the module's docstring)."""
    writable = False
    live = False

    def fileno(self) -> int | None:
        return None

    def write(self, data: bytes) -> None:
        raise SourceError(f"{self.describe()} cannot be written to")

    def close(self) -> None:
        pass


class FileSource(Source):
    """A capture file; follow=True keeps reading as it grows (tail -f)."""

    def __init__(self, path: str, follow: bool = False) -> None:
        try:
            self.f = open(path, "rb", buffering=0)
        except OSError as e:
            raise SourceError(f"cannot open {path}: {e.strerror}") from None
        self.path = path
        self.follow = follow
        self.live = follow

    def read(self, timeout: float = 0.1) -> bytes | None:
        data = self.f.read(CHUNK)
        if data:
            return data
        if not self.follow:
            return None
        time.sleep(timeout)
        return b""

    def close(self) -> None:
        self.f.close()

    def describe(self) -> str:
        return f"file {self.path}" + (" (follow)" if self.follow else "")


class FdSource(Source):
    """stdin (`-`) or any readable file descriptor."""

    def __init__(self, fd: int = 0, name: str = "stdin") -> None:
        self.fd, self.name = fd, name
        self.live = True

    def fileno(self) -> int | None:
        return self.fd

    def read(self, timeout: float = 0.1) -> bytes | None:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return b""
        data = os.read(self.fd, CHUNK)
        return data if data else None

    def describe(self) -> str:
        return self.name


class TcpSource(Source):
    """Bochs `com1: mode=socket-server`, QEMU `-serial tcp:HOST:PORT,server`."""
    writable = True
    live = True

    def __init__(self, spec: str, connect_timeout: float = 10.0) -> None:
        host, sep, port = spec.rpartition(":")
        if not sep or not port.isdigit():
            raise SourceError(f"--tcp {spec!r}: expected HOST:PORT")
        self.addr = (host or "127.0.0.1", int(port))
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self.sock = socket.create_connection(self.addr, timeout=5)
                break
            except OSError as e:
                if time.monotonic() >= deadline:
                    raise SourceError(f"cannot connect to {self.addr[0]}:{self.addr[1]}: "
                                      f"{e.strerror or e}") from None
                time.sleep(0.2)
        self.sock.setblocking(False)

    def fileno(self) -> int | None:
        return self.sock.fileno()

    def read(self, timeout: float = 0.1) -> bytes | None:
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return b""
        try:
            data = self.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            return None
        return data if data else None

    def write(self, data: bytes) -> None:
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def close(self) -> None:
        self.sock.close()

    def describe(self) -> str:
        return f"tcp {self.addr[0]}:{self.addr[1]}"


class SerialSource(Source):
    writable = True
    live = True

    def __init__(self, dev: str, baud: int = 115200) -> None:
        import serial
        try:
            self.port = serial.Serial(dev, baud, timeout=0)
        except (serial.SerialException, OSError, ValueError) as e:
            raise SourceError(f"cannot open serial port {dev}: {e}") from None
        self.dev, self.baud = dev, baud
        # What a closed or unplugged port raises.
        self._gone = (serial.SerialException, OSError)

    def fileno(self) -> int | None:
        try:
            return self.port.fileno()
        except self._gone:
            return None

    def read(self, timeout: float = 0.1) -> bytes | None:
        fd = self.fileno()
        if fd is not None:
            select.select([fd], [], [], timeout)
        else:
            time.sleep(timeout / 10)
        try:
            return self.port.read(CHUNK)     # timeout=0: what is there now
        except self._gone:                  # unplugged
            return None

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def close(self) -> None:
        self.port.close()

    def describe(self) -> str:
        return f"serial {self.dev} @ {self.baud}"
