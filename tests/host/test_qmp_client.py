"""The QMP client (qmp/qmpclient.py) against a fake QMP server (qmp_fake.py):
greeting and negotiation, ids, events between replies, errors, timeouts,
Unix and TCP sockets, QEMU going away."""
import socket
import threading
import time

import pytest

from qmp_fake import FakeError, FakeQMP, Raw, event_msg, line
from qmpclient import (QMPClient, QMPClosed, QMPCommandError, QMPConnectError,
                       QMPProtocolError, QMPTimeout, parse_address)


@pytest.fixture(params=["unix", "tcp"])
def server(request, tmp_path):
    path = str(tmp_path / "qmp.sock") if request.param == "unix" else None
    with FakeQMP(unix_path=path) as srv:
        yield srv


def test_greeting_and_capabilities_negotiated_first(server):
    with QMPClient(server.address, timeout=5) as q:
        assert q.version == "7.2.22"
        assert q.capabilities == ["oob"]
        assert q.command("query-status")["status"] == "running"
    names = [c["execute"] for c in server.received]
    assert names == ["qmp_capabilities", "query-status"]


def test_without_negotiation_the_server_refuses(server):
    with QMPClient(server.address, timeout=5, negotiate=False) as q:
        with pytest.raises(QMPCommandError) as e:
            q.command("query-status")
        assert e.value.error_class == "CommandNotFound"


def test_every_command_has_its_own_id(server):
    with QMPClient(server.address, timeout=5) as q:
        for _ in range(3):
            q.command("inject-nmi")
    ids = [c["id"] for c in server.received]
    assert len(set(ids)) == len(ids) == 4


def test_arguments_are_sent(server):
    server.handlers["human-monitor-command"] = lambda a: f"ran {a['command-line']}\r\n"
    with QMPClient(server.address, timeout=5) as q:
        assert q.hmp("info cpus") == "ran info cpus\r\n"
        q.command("inject-nmi", {"x": 1}, y=2)
    assert server.received[1]["arguments"] == {"command-line": "info cpus"}
    assert server.received[2]["arguments"] == {"x": 1, "y": 2}


def test_error_reply_is_an_exception_with_class_and_desc(server):
    def refuse(args):
        raise FakeError("GenericError", "Injecting NMI is not supported")
    server.handlers["inject-nmi"] = refuse
    with QMPClient(server.address, timeout=5) as q:
        with pytest.raises(QMPCommandError) as e:
            q.command("inject-nmi")
        assert (e.value.command, e.value.error_class, e.value.desc) == \
            ("inject-nmi", "GenericError", "Injecting NMI is not supported")
        with pytest.raises(QMPCommandError) as e:
            q.command("no-such-thing")
        assert e.value.error_class == "CommandNotFound"
        # The connection is still usable after errors.
        assert q.command("query-status")["running"] is True


def test_events_between_replies_are_kept_in_order(server):
    # Two events arrive before the reply to "stop", one in the same packet.
    server.handlers["stop"] = lambda a: Raw(
        line(event_msg("STOP")),
        line(event_msg("CUSTOM", {"n": 1})) + b'{"return": {}, "id": $ID}\r\n')
    with QMPClient(server.address, timeout=5) as q:
        assert q.command("stop") == {}
        assert [e["event"] for e in q.events()] == ["STOP", "CUSTOM"]
        assert q.wait_event("CUSTOM", timeout=1)["data"] == {"n": 1}
        ev = q.wait_event(timeout=1)
        assert ev["event"] == "STOP" and ev["data"] == {}
        assert "seconds" in ev["timestamp"]
        assert q.events() == []


def test_wait_event_waits_for_a_later_event(server):
    with QMPClient(server.address, timeout=5) as q:
        threading.Timer(0.2, server.event, ("RESUME",)).start()
        t0 = time.monotonic()
        assert q.wait_event("RESUME", timeout=5)["event"] == "RESUME"
        assert time.monotonic() - t0 >= 0.15


def test_wait_event_match_and_get_events(server):
    with QMPClient(server.address, timeout=5) as q:
        for i in range(4):
            server.event("TICK", {"i": i})
        server.event("OTHER")
        q.wait_event("OTHER", timeout=2)             # all five arrived
        assert q.wait_event("TICK", match=lambda e: e["data"]["i"] == 2,
                            timeout=1)["data"]["i"] == 2
        assert [e["data"]["i"] for e in q.get_events("TICK")] == [0, 1, 3]
        assert q.get_events() == []


def test_bounded_event_queue_counts_what_it_drops(server):
    with QMPClient(server.address, timeout=5, max_events=3) as q:
        for i in range(5):
            server.event("TICK", {"i": i})
        server.event("LAST")
        q.wait_event("LAST", timeout=2)
        assert [e["data"]["i"] for e in q.get_events()] == [3, 4]
        assert q.events_dropped == 3


def test_reply_split_across_packets(server):
    server.handlers["query-status"] = lambda a: Raw(
        b'{"return": {"status": "pa', b'used", "running": false}, "id": $ID}\r\n',
        delay=0.05)
    with QMPClient(server.address, timeout=5) as q:
        assert q.command("query-status")["status"] == "paused"


def test_pretty_printed_messages(server):
    server.handlers["query-status"] = lambda a: Raw(
        b'{\n    "return": {\n        "status": "running"\n    },\n    "id": $ID\n}\n')
    with QMPClient(server.address, timeout=5) as q:
        assert q.command("query-status") == {"status": "running"}


def test_reply_without_id_goes_to_the_waiting_command(server):
    server.handlers["bad"] = lambda a: Raw(
        b'{"error": {"class": "GenericError", "desc": "JSON parse error"}}\r\n')
    with QMPClient(server.address, timeout=5) as q:
        with pytest.raises(QMPCommandError) as e:
            q.command("bad")
        assert e.value.desc == "JSON parse error"


def test_garbage_line_is_skipped(server):
    server.handlers["query-status"] = lambda a: Raw(
        b'not json at all\r\n{"return": {"status": "running"}, "id": $ID}\r\n')
    with QMPClient(server.address, timeout=5) as q:
        assert q.command("query-status") == {"status": "running"}
        assert q.unknown


def test_timeout_then_late_reply_is_dropped(server):
    server.handlers["slow"] = lambda a: Raw(b"")          # never answers now
    with QMPClient(server.address, timeout=5) as q:
        t0 = time.monotonic()
        with pytest.raises(QMPTimeout):
            q.command("slow", timeout=0.3)
        assert 0.25 < time.monotonic() - t0 < 2
        server.send(b'{"return": "late", "id": 2}\r\n')    # the slow command's id
        assert q.command("query-status")["running"] is True
        with pytest.raises(TimeoutError):                  # QMPTimeout is one
            q.wait_event("NEVER", timeout=0.1)


def test_qemu_going_away_fails_waiters(server):
    server.handlers["hang"] = lambda a: Raw(b"")
    with QMPClient(server.address, timeout=10) as q:
        threading.Timer(0.2, server.drop).start()
        t0 = time.monotonic()
        with pytest.raises(QMPClosed):
            q.command("hang")
        assert time.monotonic() - t0 < 5
        assert not q.is_open
        with pytest.raises(QMPClosed):
            q.command("query-status")
        with pytest.raises(QMPClosed):
            q.wait_event("STOP", timeout=5)


def test_events_before_close_stay_readable(server):
    server.handlers["quit"] = lambda a: {}
    with QMPClient(server.address, timeout=5) as q:
        server.event("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
        q.command("quit")
        assert q.wait_event("SHUTDOWN", timeout=2)["data"]["reason"] == "host-qmp-quit"


def test_no_greeting_is_a_connect_error(tmp_path):
    with FakeQMP(unix_path=str(tmp_path / "s"), greeting=None) as srv:
        with pytest.raises(QMPConnectError, match="no greeting"):
            QMPClient(srv.address, timeout=0.5)


def test_not_qmp_is_a_protocol_error(tmp_path):
    with FakeQMP(unix_path=str(tmp_path / "s"), greeting=b"login: \r\n") as srv:
        with pytest.raises(QMPProtocolError, match="not a QMP socket"):
            QMPClient(srv.address, timeout=0.6)


def test_connect_errors_name_the_address(tmp_path):
    missing = str(tmp_path / "missing.sock")
    with pytest.raises(QMPConnectError, match="missing.sock"):
        QMPClient(f"unix:{missing}", timeout=1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # bound, not listening: refused
        with pytest.raises(QMPConnectError, match=str(port)):
            QMPClient(f"127.0.0.1:{port}", timeout=1)


def test_wait_for_a_socket_that_appears_later(tmp_path):
    path = str(tmp_path / "late.sock")
    holder = {}

    def later():
        holder["srv"] = FakeQMP(unix_path=path).start()
    threading.Timer(0.3, later).start()
    try:
        with QMPClient(path, timeout=5, wait=5) as q:
            assert q.command("query-status")["running"]
    finally:
        time.sleep(0.01)
        if "srv" in holder:
            holder["srv"].stop()


@pytest.mark.parametrize("text,want", [
    ("unix:/tmp/q.sock", ("unix", "/tmp/q.sock")),
    ("/tmp/q.sock", ("unix", "/tmp/q.sock")),
    ("./q", ("unix", "./q")),
    ("q.sock", ("unix", "q.sock")),
    ("tcp:localhost:4444", ("tcp", ("localhost", 4444))),
    ("10.0.0.1:4444", ("tcp", ("10.0.0.1", 4444))),
    (":4444", ("tcp", ("127.0.0.1", 4444))),
    ("[::1]:4444", ("tcp", ("::1", 4444))),
])
def test_parse_address(text, want):
    assert parse_address(text) == want


@pytest.mark.parametrize("bad", ["", "unix:", "localhost", "host:port", "host:99999",
                                 "tcp:a:b:c"])
def test_parse_address_rejects(bad):
    with pytest.raises(ValueError):
        parse_address(bad)


def test_many_commands_from_two_threads(server):
    with QMPClient(server.address, timeout=5) as q:
        errors = []

        def work():
            try:
                for _ in range(100):
                    q.command("inject-nmi")
            except Exception as e:       # pragma: no cover - reported below
                errors.append(e)
        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors
    assert sum(c["execute"] == "inject-nmi" for c in server.received) == 200
