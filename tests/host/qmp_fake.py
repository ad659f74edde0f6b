"""A fake QMP server for the client's and nmi-storm's tests: a thread with a
listening socket (Unix or TCP) that greets, insists on qmp_capabilities
first as QEMU does, and answers commands from a table of handlers.

    srv = FakeQMP(unix_path=...)            # or FakeQMP() for TCP on 127.0.0.1
    srv.handlers["query-status"] = lambda args: {"status": "running", "running": True}
    srv.start(); ...; srv.stop()

A handler returns the "return" value, raises FakeError(class, desc) for an
error reply, or returns a Raw(list of bytes chunks) to send exactly those
bytes instead of a reply (split messages, missing ids, events first, ...).
greeting=b"..." sends those bytes instead of a QMP greeting.
srv.event(name, data) sends an event to the connected client at once.
srv.received lists every command object the server got."""
import json
import os
import socket
import threading
import time


class FakeError(Exception):
    def __init__(self, cls, desc):
        super().__init__(desc)
        self.cls, self.desc = cls, desc


class Raw:
    def __init__(self, *chunks, delay=0.0):
        self.chunks, self.delay = chunks, delay


GREETING = {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7},
                                "package": "fake"}, "capabilities": ["oob"]}}


def event_msg(name, data=None, t=None):
    t = time.time() if t is None else t
    msg = {"event": name, "timestamp": {"seconds": int(t),
                                        "microseconds": int((t % 1) * 1e6)}}
    if data is not None:
        msg["data"] = data
    return msg


def line(obj):
    return (json.dumps(obj) + "\r\n").encode()


class FakeQMP:
    def __init__(self, unix_path=None, greeting=GREETING, require_caps=True):
        self.unix_path = unix_path
        self.greeting = greeting
        self.require_caps = require_caps
        self.handlers = {
            "query-status": lambda a: {"status": "running", "singlestep": False,
                                       "running": True},
            "inject-nmi": lambda a: {},
        }
        self.received = []
        self.conn = None
        self.connections = 0
        self._stop = threading.Event()
        self._send_lock = threading.Lock()
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.address = f"unix:{unix_path}"
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.address = f"tcp:127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.listen(4)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        self.drop()
        self.thread.join(timeout=5)
        self.sock.close()
        if self.unix_path and os.path.exists(self.unix_path):
            os.unlink(self.unix_path)

    def drop(self):
        """Close the client's connection (QEMU going away)."""
        c, self.conn = self.conn, None
        if c is not None:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def send(self, data):
        with self._send_lock:
            if self.conn is not None:
                self.conn.sendall(data)

    def event(self, name, data=None):
        self.send(line(event_msg(name, data)))

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            self.conn = conn
            try:
                self._serve(conn)
            except OSError:
                pass
            finally:
                if self.conn is conn:
                    self.drop()

    def _serve(self, conn):
        conn.settimeout(0.1)
        if isinstance(self.greeting, bytes):      # not QMP at all
            self.send(self.greeting)
        elif self.greeting is not None:
            self.send(line(self.greeting))
        caps = not self.require_caps
        buf = b""
        dec = json.JSONDecoder()
        while not self._stop.is_set() and self.conn is conn:
            try:
                data = conn.recv(4096)
            except socket.timeout:
                continue
            if not data:
                return
            buf += data
            while True:
                text = buf.decode().lstrip()
                if not text:
                    buf = b""
                    break
                try:
                    cmd, end = dec.raw_decode(text)
                except json.JSONDecodeError:
                    break
                buf = text[end:].encode()
                self.received.append(cmd)
                caps = self._answer(cmd, caps)

    def _answer(self, cmd, caps):
        name = cmd.get("execute") or cmd.get("exec-oob")
        reply = {"id": cmd["id"]} if "id" in cmd else {}
        if name == "qmp_capabilities":
            if caps:
                reply["error"] = {"class": "CommandNotFound",
                                  "desc": "Capabilities negotiation is already complete, "
                                          "command ignored"}
            else:
                reply["return"] = {}
            self.send(line(reply))
            return True
        if not caps:
            reply["error"] = {"class": "CommandNotFound",
                              "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}
            self.send(line(reply))
            return caps
        h = self.handlers.get(name)
        if h is None:
            reply["error"] = {"class": "CommandNotFound",
                              "desc": f"The command {name} has not been found"}
            self.send(line(reply))
            return caps
        try:
            ret = h(cmd.get("arguments", {}))
        except FakeError as e:
            reply["error"] = {"class": e.cls, "desc": e.desc}
        else:
            if isinstance(ret, Raw):
                for chunk in ret.chunks:
                    self.send(chunk.replace(b"$ID", json.dumps(cmd.get("id")).encode()))
                    if ret.delay:
                        time.sleep(ret.delay)
                return caps
            reply["return"] = ret
        self.send(line(reply))
        if name == "quit":
            self.drop()
        return caps
