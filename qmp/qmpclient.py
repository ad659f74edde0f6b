"""A QMP (QEMU Machine Protocol) client on Python's standard library.

    from qmpclient import QMPClient, QMPCommandError
    with QMPClient("unix:/tmp/qmp.sock") as q:        # greeting + qmp_capabilities
        print(q.version)                              # "7.2.22"
        q.command("stop")
        q.wait_event("STOP", timeout=5)               # events are queued, never lost
        q.command("cont")
        try:
            q.command("no-such-command")
        except QMPCommandError as e:
            print(e.error_class, e.desc)              # CommandNotFound, ...

The protocol (QEMU's docs/interop/qmp-spec.rst): the server greets with
{"QMP": {"version": ..., "capabilities": [...]}}; until the client sends
qmp_capabilities only that command is allowed. Commands are
{"execute": NAME, "arguments": {...}, "id": ID}; the reply carries the same
id and either "return" or "error": {"class", "desc"}. Asynchronous events
{"event", "data", "timestamp"} may arrive at any time between replies.

One reader thread owns the socket's receive side: it parses every message,
files replies by id and appends events to a queue, so an event that arrives
while a command waits for its reply is kept for a later wait_event() or
get_events(). Every command gets a fresh numeric id; a reply without an id
(QEMU's answer to input it could not parse) goes to the oldest command still
waiting.

Addresses (parse_address): "unix:/path", a path containing "/",
"tcp:host:port", "host:port", "[v6addr]:port".

Exceptions: QMPError (base); QMPConnectError (cannot connect, no greeting,
capabilities refused), QMPTimeout (also a TimeoutError), QMPClosed (QEMU
closed the connection or exited), QMPProtocolError (a QMPConnectError:
data came, but no greeting),
QMPCommandError (QEMU refused a command: .error_class, .desc, .command).
"""
from __future__ import annotations

import collections
import itertools
import json
import re
import socket
import threading
import time
from typing import Any, Callable, Iterable

__all__ = ["QMPClient", "QMPError", "QMPConnectError", "QMPTimeout", "QMPClosed",
           "QMPProtocolError", "QMPCommandError", "parse_address", "format_address"]

DEFAULT_TIMEOUT = 10.0
_MAX_MESSAGE = 16 << 20      # a message larger than this is not QMP


class QMPError(Exception):
    """Base class of everything this module raises."""


class QMPConnectError(QMPError):
    """No connection, no greeting, or capabilities negotiation failed."""


class QMPTimeout(QMPError, TimeoutError):
    """A reply or an event did not come in time."""


class QMPClosed(QMPError):
    """The connection is closed (QEMU quit, died, or close() was called)."""


class QMPProtocolError(QMPConnectError):
    """The peer sent data but no QMP greeting: it does not speak QMP."""


class QMPCommandError(QMPError):
    """QEMU answered a command with an error.

    error_class: QEMU's class ("GenericError", "CommandNotFound",
    "DeviceNotFound", "DeviceNotActive", "KVMMissingCap"); desc: its text."""

    def __init__(self, command: str, error_class: str, desc: str, id: Any = None) -> None:
        super().__init__(f"{command}: {error_class}: {desc}")
        self.command, self.error_class, self.desc, self.id = command, error_class, desc, id


# ---- addresses --------------------------------------------------------------
def parse_address(text: str) -> tuple[str, Any]:
    """("unix", path) or ("tcp", (host, port)) for an address string.
    Raises ValueError with the accepted forms for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty QMP address")
    s = text.strip()
    if s.startswith("unix:"):
        path = s[5:]
        if not path:
            raise ValueError(f"{text!r}: unix: needs a socket path")
        return "unix", path
    if s.startswith("tcp:"):
        s = s[4:]
    elif "/" in s or s.endswith(".sock"):
        return "unix", s
    m = re.fullmatch(r"\[([0-9A-Fa-f:.%a-zA-Z]+)\]:(\d+)|([^:\[\]]*):(\d+)", s)
    if not m:
        raise ValueError(f"{text!r} is not a QMP address: use unix:PATH, a path with '/', "
                         "tcp:HOST:PORT or HOST:PORT")
    host = m.group(1) if m.group(1) is not None else (m.group(3) or "127.0.0.1")
    port = int(m.group(2) or m.group(4))
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: port {port} is out of range 1..65535")
    return "tcp", (host, port)


def format_address(addr: tuple[str, Any]) -> str:
    kind, where = addr
    if kind == "unix":
        return f"unix:{where}"
    host, port = where
    return f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"


# ---- the client -------------------------------------------------------------
class QMPClient:
    """One QMP connection.

    address: a string for parse_address, or a ("unix"|"tcp", ...) tuple.
    timeout: default seconds for connecting, the greeting and each command.
    wait: keep retrying a socket that does not exist yet / refuses, for up
        to this many seconds (QEMU still starting).
    negotiate: send qmp_capabilities after the greeting (default True).
    max_events: bound of the event queue (None: unbounded); when bounded,
        the oldest events are dropped and counted in .events_dropped.
    connect: connect in the constructor (default True).
    """

    def __init__(self, address: str | tuple[str, Any], timeout: float = DEFAULT_TIMEOUT,
                 wait: float = 0.0, negotiate: bool = True, max_events: int | None = None,
                 connect: bool = True) -> None:
        self.address = parse_address(address) if isinstance(address, str) else address
        self.timeout, self.wait, self.negotiate = timeout, wait, negotiate
        self.greeting: dict | None = None
        self.capabilities: list[str] = []
        self.events_dropped = 0
        self.bytes_received = 0
        self.unknown: list[dict] = []        # messages that are neither reply nor event
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._events: collections.deque[dict] = collections.deque()
        self._max_events = max_events
        self._replies: dict[Any, dict] = {}
        self._waiting: dict[Any, str] = {}   # id -> command name, oldest first
        self._ids = itertools.count(1)
        self._closed_reason: str | None = None
        if connect:
            self.connect()

    # ---- lifecycle ----------------------------------------------------------
    def __enter__(self) -> QMPClient:
        if self._sock is None:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> bool:
        self.close()
        return False

    def __repr__(self) -> str:
        state = "open" if self.is_open else f"closed ({self._closed_reason})"
        return f"<QMPClient {format_address(self.address)} {state}>"

    def connect(self) -> QMPClient:
        """Connect, read the greeting, negotiate capabilities."""
        if self._sock is not None:
            raise QMPError("already connected")
        self._sock = self._open_socket()
        self._closed_reason = None
        self._reader = threading.Thread(target=self._read_loop, name="qmp-reader",
                                        daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while self.greeting is None and self._closed_reason is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            greeting, reason = self.greeting, self._closed_reason
        if greeting is None:
            self.close()
            if self.bytes_received:
                raise QMPProtocolError(f"{format_address(self.address)}: "
                                       f"{self.bytes_received} bytes but no QMP greeting "
                                       f"within {self.timeout:g}s: not a QMP socket")
            why = (f"connection closed before the greeting: {reason}" if reason else
                   f"no greeting within {self.timeout:g}s (not a QMP socket, or another "
                   "client holds it: QEMU serves one client per -qmp socket)")
            raise QMPConnectError(f"{format_address(self.address)}: {why}")
        self.capabilities = list(greeting.get("capabilities", []))
        if self.negotiate:
            try:
                self.command("qmp_capabilities")
            except QMPError as e:
                self.close()
                raise QMPConnectError(f"{format_address(self.address)}: "
                                      f"qmp_capabilities failed: {e}") from e
        return self

    def _open_socket(self) -> socket.socket:
        kind, where = self.address
        deadline = time.monotonic() + max(self.wait, 0.0)
        while True:
            try:
                if kind == "unix":
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(self.timeout)
                    try:
                        s.connect(where)
                    except BaseException:
                        s.close()
                        raise
                else:
                    s = socket.create_connection(where, timeout=self.timeout)
                s.settimeout(None)
                return s
            except (FileNotFoundError, ConnectionRefusedError) as e:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise QMPConnectError(f"{format_address(self.address)}: {e.strerror or e}"
                                      + (" (no such socket: is QEMU running with -qmp?)"
                                         if isinstance(e, FileNotFoundError) else
                                         " (nobody listens there)")) from e
            except socket.timeout as e:
                raise QMPConnectError(f"{format_address(self.address)}: "
                                      f"connect timed out after {self.timeout:g}s") from e
            except OSError as e:
                raise QMPConnectError(f"{format_address(self.address)}: "
                                      f"{e.strerror or e}") from e

    def close(self) -> None:
        """Close the connection (idempotent). Queued events stay readable."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._set_closed("closed by the client")
        r = self._reader
        if r is not None and r is not threading.current_thread():
            r.join(timeout=2.0)

    @property
    def is_open(self) -> bool:
        return self._sock is not None and self._closed_reason is None

    @property
    def closed_reason(self) -> str | None:
        return self._closed_reason

    @property
    def version(self) -> str:
        """QEMU's version from the greeting, "major.minor.micro"."""
        v = ((self.greeting or {}).get("version") or {}).get("qemu") or {}
        return f"{v.get('major', '?')}.{v.get('minor', '?')}.{v.get('micro', '?')}"

    # ---- the reader thread --------------------------------------------------
    def _set_closed(self, reason: str) -> None:
        with self._cond:
            if self._closed_reason is None:
                self._closed_reason = reason
            self._cond.notify_all()

    def _read_loop(self) -> None:
        sock = self._sock
        pending = ""          # text of a message not yet complete
        reason = "connection closed by QEMU"
        dec = json.JSONDecoder()
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except OSError as e:
                    reason = f"connection lost: {e.strerror or e}"
                    break
                if not data:
                    break
                self.bytes_received += len(data)
                pending += data.decode("utf-8", "replace")
                pending = self._parse(pending, dec)
                if len(pending) > _MAX_MESSAGE:
                    reason = "protocol error: a message larger than 16 MiB"
                    break
        finally:
            self._set_closed(reason)

    def _parse(self, text: str, dec: json.JSONDecoder) -> str:
        """Dispatch every complete JSON object in text; return the rest."""
        while True:
            text = text.lstrip()
            if not text:
                return ""
            try:
                obj, end = dec.raw_decode(text)
            except json.JSONDecodeError:
                # Incomplete -- or garbage: skip a bad line once a newline
                # shows it ended, when what follows it parses.
                nl = text.find("\n")
                if nl < 0 or not text[nl + 1:].strip():
                    return text
                self.unknown.append({"unparsed": text[:nl]})
                text = text[nl + 1:]
                continue
            text = text[end:]
            if isinstance(obj, dict):
                self._dispatch(obj)
            else:
                self.unknown.append({"unparsed": obj})

    def _dispatch(self, msg: dict) -> None:
        with self._cond:
            if "QMP" in msg and self.greeting is None:
                self.greeting = msg["QMP"] if isinstance(msg["QMP"], dict) else {}
            elif "event" in msg:
                msg.setdefault("data", {})
                msg["received"] = time.monotonic()
                if self._max_events is not None and len(self._events) >= self._max_events:
                    self._events.popleft()
                    self.events_dropped += 1
                self._events.append(msg)
            elif "return" in msg or "error" in msg:
                mid = msg.get("id")
                if mid is None and self._waiting:
                    mid = next(iter(self._waiting))     # oldest command waiting
                if mid in self._waiting:
                    self._replies[mid] = msg
                # else: a reply to a command that timed out: dropped (qmp-spec)
            else:
                self.unknown.append(msg)
            self._cond.notify_all()

    # ---- commands -----------------------------------------------------------
    def send(self, name: str, arguments: dict | None = None, oob: bool = False) -> int:
        """Send a command without waiting; returns its id for wait_reply()."""
        if self._sock is None or self._closed_reason is not None:
            raise QMPClosed(f"{name}: {self._closed_reason or 'not connected'}")
        mid = next(self._ids)
        msg: dict[str, Any] = {"exec-oob" if oob else "execute": name, "id": mid}
        if arguments:
            msg["arguments"] = arguments
        data = (json.dumps(msg) + "\n").encode()
        with self._cond:
            self._waiting[mid] = name
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as e:
            with self._cond:
                self._waiting.pop(mid, None)
            self._set_closed(f"connection lost: {e.strerror or e}")
            raise QMPClosed(f"{name}: connection lost ({e.strerror or e}): QEMU gone?") from e
        return mid

    def wait_reply(self, mid: int, timeout: float | None = None) -> Any:
        """The return value of command `mid`; QMPCommandError on an error
        reply, QMPTimeout, QMPClosed."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            name = self._waiting.get(mid, "?")
            try:
                while mid not in self._replies:
                    if self._closed_reason is not None:
                        raise QMPClosed(f"{name}: no reply, {self._closed_reason}")
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise QMPTimeout(f"{name}: no reply within {timeout:g}s")
                    self._cond.wait(left)
                reply = self._replies.pop(mid)
            finally:
                self._waiting.pop(mid, None)
                self._replies.pop(mid, None)
        if "error" in reply:
            err = reply["error"] if isinstance(reply["error"], dict) else {}
            raise QMPCommandError(name, str(err.get("class", "GenericError")),
                                  str(err.get("desc", "")), mid)
        return reply.get("return")

    def command(self, name: str, arguments: dict | None = None, timeout: float | None = None,
                **kwargs: Any) -> Any:
        """Run a command and return its "return" value. Arguments come as a
        dict or as keywords (QMP names with '-' need the dict).

        q.command("human-monitor-command", {"command-line": "info cpus"})"""
        args = dict(arguments or {}, **kwargs)
        return self.wait_reply(self.send(name, args or None), timeout)

    def hmp(self, command_line: str, timeout: float | None = None) -> str:
        """A human monitor command through QMP; returns its text output."""
        return self.command("human-monitor-command", {"command-line": command_line},
                            timeout=timeout)

    # ---- events -------------------------------------------------------------
    @staticmethod
    def _matches(ev: dict, names: Iterable[str] | None, match: Callable[[dict], bool] | None
                 ) -> bool:
        return (names is None or ev["event"] in names) and (match is None or match(ev))

    @staticmethod
    def _names(name: str | Iterable[str] | None) -> set[str] | None:
        if name is None:
            return None
        return {name} if isinstance(name, str) else set(name)

    def events(self) -> list[dict]:
        """A snapshot of the queued events (not removed)."""
        with self._cond:
            return list(self._events)

    def get_events(self, name: str | Iterable[str] | None = None) -> list[dict]:
        """Remove and return the queued events (only those named, if given)."""
        names = self._names(name)
        with self._cond:
            taken = [e for e in self._events if self._matches(e, names, None)]
            if taken:
                self._events = collections.deque(
                    e for e in self._events if not self._matches(e, names, None))
            return taken

    def clear_events(self) -> int:
        with self._cond:
            n = len(self._events)
            self._events.clear()
            return n

    def wait_event(self, name: str | Iterable[str] | None = None, timeout: float | None = None,
                   match: Callable[[dict], bool] | None = None) -> dict:
        """Remove and return the first queued event with that name (any
        event if None) for which match(event) is true, waiting up to timeout
        seconds. Events already queued count. QMPTimeout, or QMPClosed once
        the connection is gone and no such event is queued."""
        names = self._names(name)
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self._events):
                    if self._matches(ev, names, match):
                        del self._events[i]
                        return ev
                what = "/".join(sorted(names)) if names else "any event"
                if self._closed_reason is not None:
                    raise QMPClosed(f"waiting for {what}: {self._closed_reason}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QMPTimeout(f"no {what} within {timeout:g}s")
                self._cond.wait(left)


def connect(address: str, timeout: float = DEFAULT_TIMEOUT, wait: float = 0.0) -> QMPClient:
    """QMPClient(address, timeout, wait): connected and negotiated."""
    return QMPClient(address, timeout=timeout, wait=wait)


if __name__ == "__main__":      # tiny manual check: qmpclient.py ADDRESS [COMMAND]
    import sys
    with QMPClient(sys.argv[1]) as _q:
        print(json.dumps(_q.command(sys.argv[2] if len(sys.argv) > 2 else "query-status"),
                         indent=2))
