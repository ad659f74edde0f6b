"""qmp/nmi-storm against the fake QMP server: what it sends (counted and
timed on the server side) and its exit status; never its wording."""
import os
import subprocess
import threading
import time

import pytest

from qmp_fake import FakeError, FakeQMP
from testpaths import ROOT

PY = "/usr/bin/python3"
TOOL = os.path.join(ROOT, "qmp", "nmi-storm")


def run(*args, timeout=60, env=None):
    return subprocess.run([PY, TOOL, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture
def server(tmp_path):
    srv = FakeQMP(unix_path=str(tmp_path / "qmp.sock"))
    srv.times = []
    srv.handlers["inject-nmi"] = lambda a: srv.times.append(time.monotonic()) or {}
    with srv:
        yield srv


def commands(srv, name):
    return [c for c in srv.received if c.get("execute") == name]


def test_count_with_fixed_interval(server):
    t0 = time.monotonic()
    r = run("-s", server.address, "inject", "--count", "20", "--interval", "20ms")
    assert r.returncode == 0, r.stderr
    assert len(server.times) == 20
    gaps = [b - a for a, b in zip(server.times, server.times[1:])]
    # Ticks are scheduled from the start: the total is 19 intervals.
    assert 19 * 0.020 * 0.9 <= server.times[-1] - server.times[0] <= 19 * 0.020 + 0.5
    # Never a burst: a tick after a late one still waits half an interval.
    assert min(gaps) >= 0.010, gaps
    assert time.monotonic() - t0 < 20


def test_back_to_back(server):
    r = run("-s", server.address, "inject", "-n", "300", "--b2b")
    assert r.returncode == 0, r.stderr
    assert len(server.times) == 300
    assert server.times[-1] - server.times[0] < 300 * 0.010   # no pauses


def test_interval_zero_is_back_to_back(server):
    r = run("-s", server.address, "inject", "-n", "50", "--interval", "0")
    assert r.returncode == 0, r.stderr
    assert len(server.times) == 50


def test_random_interval_stays_in_range(server):
    r = run("-s", server.address, "inject", "-n", "30", "--random", "5ms:25ms", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert len(server.times) == 30
    gaps = [b - a for a, b in zip(server.times, server.times[1:])]
    # Arrival times: a late server thread squeezes one gap when it catches
    # up (seen on the loaded 2-core host), so a couple may fall short.
    assert sum(g < 0.004 for g in gaps) <= 2, gaps
    assert 29 * 0.005 <= server.times[-1] - server.times[0] <= 29 * 0.025 + 0.5
    assert max(gaps) - min(gaps) > 0.003          # not a fixed interval


def test_duration(server):
    t0 = time.monotonic()
    r = run("-s", server.address, "inject", "--duration", "1s", "--interval", "50ms")
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert 15 <= len(server.times) <= 22          # ~20 in one second
    assert took < 10


def test_progress_line_forced_does_not_change_the_storm(server):
    r = run("-s", server.address, "inject", "-n", "10", "--interval", "30ms", "--progress")
    assert r.returncode == 0, r.stderr
    assert len(server.times) == 10


def test_refused_nmis_are_counted_and_the_storm_goes_on(server):
    n = {"i": 0}

    def every_other(args):
        n["i"] += 1
        if n["i"] % 2:
            raise FakeError("GenericError", "NMI refused")
        return {}
    server.handlers["inject-nmi"] = every_other
    r = run("-s", server.address, "inject", "-n", "10", "--b2b")
    assert r.returncode == 1
    assert len(commands(server, "inject-nmi")) == 10


def test_stop_on_error(server):
    def refuse(args):
        raise FakeError("GenericError", "Injecting NMI is not supported")
    server.handlers["inject-nmi"] = refuse
    r = run("-s", server.address, "inject", "-n", "10", "--b2b", "--stop-on-error")
    assert r.returncode == 1
    assert len(commands(server, "inject-nmi")) == 1


def test_qemu_gone_mid_storm(server):
    threading.Timer(0.5, server.drop).start()
    r = run("-s", server.address, "inject", "--duration", "20s", "--interval", "10ms")
    assert r.returncode == 3
    assert 10 < len(server.times) < 200


def test_bad_input_is_a_usage_error(server, tmp_path):
    for args in (["-s", "nonsense", "status"],
                 ["-s", server.address, "inject", "--interval", "soon"],
                 ["-s", server.address, "inject", "--count", "0"],
                 ["-s", server.address, "inject", "--random", "20ms:1ms"],
                 ["-s", server.address, "inject", "--count", "3", "--duration", "1s"],
                 ["-s", server.address, "frobnicate"]):
        r = run(*args)
        assert r.returncode == 2, args
        assert r.stderr.strip(), args
    env = {k: v for k, v in os.environ.items() if k != "QMP_SOCKET"}
    assert run("status", env=env).returncode == 2
    assert commands(server, "inject-nmi") == []


def test_no_qemu_there(tmp_path):
    r = run("-s", str(tmp_path / "none.sock"), "status")
    assert r.returncode == 2 and r.stderr.strip()


def test_socket_from_environment(server):
    env = dict(os.environ, QMP_SOCKET=server.address)
    assert run("inject", "-n", "2", "--b2b", env=env).returncode == 0
    assert len(server.times) == 2


@pytest.mark.parametrize("cmd,qmp", [("stop", "stop"), ("cont", "cont"), ("quit", "quit"),
                                     ("status", "query-status")])
def test_vm_commands(server, cmd, qmp):
    server.handlers.setdefault(qmp, lambda a: {})
    r = run("-s", server.address, cmd)
    assert r.returncode == 0, r.stderr
    assert len(commands(server, qmp)) == 1


def test_stop_waits_for_the_event_when_asked(server):
    server.handlers["stop"] = lambda a: threading.Timer(0.3, server.event, ("STOP",)).start() or {}
    t0 = time.monotonic()
    r = run("-s", server.address, "stop", "--wait-event")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 >= 0.3


def test_hmp_passthrough(server):
    server.handlers["human-monitor-command"] = lambda a: "RAX=0000000000000000\r\n"
    r = run("-s", server.address, "hmp", "info registers")
    assert r.returncode == 0, r.stderr
    assert commands(server, "human-monitor-command")[0]["arguments"] == \
        {"command-line": "info registers"}
    assert "RAX=0000000000000000" in r.stdout       # QEMU's output, passed through


def test_refused_command_exit_status(server):
    def refuse(args):
        raise FakeError("GenericError", "unknown command: 'bogus'")
    server.handlers["human-monitor-command"] = refuse
    assert run("-s", server.address, "hmp", "bogus").returncode == 1


def test_tcp_socket():
    with FakeQMP() as srv:
        assert srv.address.startswith("tcp:")
        assert run("-s", srv.address, "inject", "-n", "3", "--b2b").returncode == 0
        assert len(commands(srv, "inject-nmi")) == 3


def test_help_has_examples():
    r = run("--help")
    assert r.returncode == 0
    assert "inject" in r.stdout and "hmp" in r.stdout
