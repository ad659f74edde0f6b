"""gdb against the hypervisor in an emulator: the framed transport.

GdbLink bridges a running Machine (serial='socket') to a local TCP port the
way `hvlog --gdb-port` does (the same GdbBridge class): GDB frames from the
hypervisor go to gdb, gdb's bytes go back as GDB frames. run_gdb() runs
Debian's stock gdb in batch mode against it, with build/hv.elf loaded."""
from __future__ import annotations

import os
import select
import subprocess
import threading

from hvtools import frame
from hvtools.hvlog.gdbbridge import GdbBridge

from testpaths import BUILD

HV_ELF = os.path.join(BUILD, "hv.elf")


class GdbLink:
    def __init__(self, machine):
        self.m = machine
        self.enc = frame.Encoder()
        self.bridge = GdbBridge(0, machine.write, self.enc)
        self.port = self.bridge.port
        self.dec = frame.FrameDecoder()
        self.gdb_bytes = 0              # bytes the hypervisor sent on the GDB channel
        self.guest = bytearray()        # the guest's console (GUEST frames)
        self._stop = threading.Event()
        self._pos = 0
        self._t = threading.Thread(target=self._run, daemon=True, name="gdblink")
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            data = self.m.read_since(self._pos, timeout=0.02)
            self._pos += len(data)
            for f in self.dec.feed(data) if data else ():
                if isinstance(f, frame.Frame) and f.type == frame.GDB:
                    self.gdb_bytes += len(f.payload)
                    self.bridge.from_hv(f.payload)
                elif isinstance(f, frame.Frame) and f.type == frame.GUEST:
                    self.guest += f.payload
            r, _, _ = select.select(self.bridge.fds(), [], [], 0.01)
            for s in r:
                self.bridge.readable(s)

    def guest_text(self) -> str:
        return bytes(self.guest).decode("utf-8", "replace").replace("\r", "")

    def close(self):
        self._stop.set()
        self._t.join(5)
        self.bridge.close()


def run_gdb(port: int, commands: list[str], timeout: float = 600, elf: str = HV_ELF,
            pre: list[str] = ()) -> subprocess.CompletedProcess:
    """gdb -batch: load elf, connect, run commands (each an -ex). A command
    that fails does not stop the rest in batch mode with -ex, so tests check
    the output of each."""
    argv = ["gdb", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", "set width 0"]
    for c in pre:
        argv += ["-ex", c]
    argv += ["-ex", f"file {elf}", "-ex", "set remotetimeout 60",
             "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        argv += ["-ex", c]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


class RawLink:
    """gdb=raw: the serial line is plain RSP; a local TCP port carries its
    bytes both ways unchanged (what `target remote /dev/ttyS0` does on a
    real machine). Bytes that arrived before gdb connected are kept in
    `before` (boot text), not given to gdb."""

    def __init__(self, machine):
        import socket
        self.m = machine
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.client = None
        self._pos = len(machine.output)
        self.before = bytes(machine.output)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True, name="rawlink")
        self._t.start()

    def _run(self):
        self.listener.settimeout(0.05)
        while not self._stop.is_set():
            if self.client is None:
                try:
                    self.client, _ = self.listener.accept()
                    self.client.setblocking(False)
                except OSError:
                    continue
            data = self.m.read_since(self._pos, timeout=0.02)
            self._pos += len(data)
            if data:
                self.client.setblocking(True)
                self.client.sendall(data)
                self.client.setblocking(False)
            try:
                got = self.client.recv(4096)
                if got:
                    self.m.write(got)
            except BlockingIOError:
                pass
            except OSError:
                return

    def close(self):
        self._stop.set()
        self._t.join(5)
        if self.client:
            self.client.close()
        self.listener.close()
