"""The serial line's bytes: a reader thread appends them to one buffer, from
the emulator's TCP socket (serial='socket') or from the file it writes
(serial='file'); readers wait on a condition variable."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable


class SerialReader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.cond = threading.Condition()
        self._buf = bytearray()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._done = False

    # ---- starting and stopping ----------------------------------------------
    def start_socket(self, sock: socket.socket) -> None:
        """Read from a connected socket until it closes or stop()."""
        self._sock = sock
        self._start(self._socket_loop)

    def start_file(self, path: str, alive: Callable[[], bool]) -> None:
        """Tail the file the emulator writes until stop() or, once alive()
        is false, the file is drained."""
        self._start(lambda: self._file_loop(path, alive))

    def _start(self, loop: Callable[[], None]) -> None:
        def run() -> None:
            try:
                loop()
            finally:
                with self.cond:
                    self._done = True
                    self.cond.notify_all()
        self._thread = threading.Thread(target=run, daemon=True, name=f"serial-{self.name}")
        self._thread.start()

    def stop(self) -> None:
        """Ends the thread (waits up to 5 s for it) and closes the socket."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        self.wake()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def wake(self) -> None:
        """Wake every waiter (the run ended or hit its time limit)."""
        with self.cond:
            self.cond.notify_all()

    # ---- the loops -------------------------------------------------------------
    def _append(self, data: bytes) -> None:
        with self.cond:
            self._buf += data
            self.cond.notify_all()

    def _socket_loop(self) -> None:
        sock = self._sock
        while not self._stopping.is_set():
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            self._append(data)

    def _file_loop(self, path: str, alive: Callable[[], bool]) -> None:
        f = None
        try:
            while True:
                done = self._stopping.is_set() or not alive()
                if f is None:
                    try:
                        f = open(path, "rb")
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
        finally:
            if f is not None:
                f.close()

    # ---- reading and writing -----------------------------------------------------
    @property
    def output(self) -> bytes:
        """All bytes received so far."""
        with self.cond:
            return bytes(self._buf)

    def __len__(self) -> int:
        with self.cond:
            return len(self._buf)

    def finished(self) -> bool:
        """No more output can arrive. Call with or without self.cond held."""
        return self._thread is None or not self._thread.is_alive() or self._done

    def read_since(self, pos: int, timeout: float = 0.1) -> bytes:
        """Bytes received after offset pos; waits up to timeout for some."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self._buf) <= pos and not self.finished():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return bytes(self._buf[pos:])

    def snapshot(self, since: int, seen: int) -> tuple[int, bytes | None, bool]:
        """(length now, the bytes after `since` if the length is not `seen`
        any more else None, finished())."""
        with self.cond:
            n = len(self._buf)
            data = bytes(self._buf[since:]) if n != seen else None
            return n, data, self.finished()

    def wait_change(self, seen: int, timeout: float) -> None:
        """Waits up to timeout while the length is still `seen` and more can come."""
        with self.cond:
            if len(self._buf) == seen and not self.finished():
                self.cond.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def send(self, data: bytes) -> None:
        """Bytes to the emulator's serial port (socket mode only)."""
        if self._sock is None:
            raise OSError("serial socket is closed")
        self._sock.sendall(data)
