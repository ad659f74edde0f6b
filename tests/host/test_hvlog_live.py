"""Live sources: TCP (a local server plays the emulator), the GDB bridge
with a fake hypervisor and a fake gdb, keyboard -> GUEST frames, Ctrl-C."""
import glob
import os
import signal
import socket
import subprocess
import threading
import time


from hvtools import frame
from hvtools.hvlog import LiveDecoder
from hvtools.hvlog.gdbbridge import GdbBridge
from hvtools.hvlog.keyboard import ESCAPE, KeyForwarder
from hvtools.hvlog.pump import Pump
from hvtools.hvlog.sources import TcpSource
from test_hvlog_cli import HVLOG, ROOT
from test_hvlog_util import standard


def frames_of(data):
    return [f for f in frame.FrameDecoder().decode_all(data) if isinstance(f, frame.Frame)]


def recv_until(sock, pred, timeout=5.0):
    buf = b""
    sock.settimeout(0.2)
    end = time.monotonic() + timeout
    while time.monotonic() < end and not pred(buf):
        try:
            d = sock.recv(4096)
            if not d:
                break
            buf += d
        except socket.timeout:
            pass
    return buf


def test_keyboard_bytes_become_guest_frames():
    enc = frame.Encoder()
    k = KeyForwarder(enc)
    wire, act = k.feed(b"ls -l\r")
    [f] = frames_of(wire)
    assert (f.type, f.cpu, f.seq, f.payload) == (frame.GUEST, 0, 0, b"ls -l\r")
    wire, act = k.feed(b"x" * 1100)
    fs = frames_of(wire)
    assert [len(f.payload) for f in fs] == [512, 512, 76] and [f.seq for f in fs] == [1, 2, 3]
    assert k.feed(b"\x03")[0] and frames_of(k.feed(b"\x03")[0])[0].payload == b"\x03"
    # escape: Ctrl-] Ctrl-] sends one; Ctrl-] q quits and sends nothing after
    wire, act = k.feed(bytes([ESCAPE, ESCAPE]) + b"a")
    assert frames_of(wire)[0].payload == bytes([ESCAPE]) + b"a" and act == []
    wire, act = k.feed(b"b" + bytes([ESCAPE]))
    assert frames_of(wire)[0].payload == b"b" and act == []
    wire, act = k.feed(b"qzzz")
    assert wire == b"" and act == ["quit"]
    wire, act = k.feed(bytes([ESCAPE]) + b"s" + bytes([ESCAPE]) + b"x")
    assert act == ["summary"] and frames_of(wire)[0].payload == bytes([ESCAPE]) + b"x"


class FakeHv:
    """The emulator's serial socket: accepts hvlog, sends and records bytes."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn = None
        self.got = b""
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self):
        self.conn, _ = self.server.accept()

    def wait_conn(self):
        self._t.join(5)
        assert self.conn is not None

    def close(self):
        if self.conn:
            self.conn.close()
        self.server.close()


def test_tcp_source_in_process():
    c = standard(rounds=4)
    hv = FakeHv()
    src = TcpSource(f"127.0.0.1:{hv.port}")
    hv.wait_conn()
    data = bytes(c.out)
    for i in range(0, len(data), 333):
        hv.conn.sendall(data[i:i + 333])
    hv.conn.close()
    d = LiveDecoder()
    raw = bytearray()
    p = Pump(src, d, raw.extend)
    p.run()
    d.close()
    assert bytes(raw) == data
    assert [s.lines for k, s in sorted(d.stats.streams.items()) if k[0] == "console"] == \
        [len(c.lines(cpu)) for cpu in range(3)]
    hv.close()


def test_tcp_cli_and_ctrl_c_keeps_every_byte(tmp_path):
    c = standard()
    data = bytes(c.out)
    hv = FakeHv()
    proc = subprocess.Popen([HVLOG, "--tcp", f"127.0.0.1:{hv.port}", "--no-color",
                             "--results", str(tmp_path), "--label", "live"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    hv.wait_conn()
    half = len(data) // 2
    hv.conn.sendall(data[:half])
    deadline = time.monotonic() + 10
    raw = None
    while time.monotonic() < deadline:
        found = glob.glob(str(tmp_path / "*-live" / "raw.bin"))
        if found and os.path.getsize(found[0]) == half:
            log = os.path.join(os.path.dirname(found[0]), "decoded.log")
            if "cpu0| cpu0 round 0:" in open(log).read():
                raw = found[0]
                break
        time.sleep(0.05)
    assert raw, "raw.bin not written as bytes arrive"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)   # generous: make test loads both cores
    hv.close()
    assert proc.returncode == 0, err
    assert open(raw, "rb").read() == data[:half]
    folder = os.path.dirname(raw)
    assert "interrupted" in open(os.path.join(folder, "summary.txt")).read()
    assert "cpu0| cpu0 round 0:" in out.decode()
    assert open(os.path.join(folder, "decoded.log")).read().count("cpu0| ") >= 1


def test_tcp_cli_signals_again_while_closing_change_nothing(tmp_path):
    """The first SIGINT stops hvlog; the ones after it (a user pressing
    Ctrl-C twice, a harness adding SIGTERM) land while it closes and saves,
    and must not cost the summary or the exit status."""
    data = bytes(standard().out)
    hv = FakeHv()
    proc = subprocess.Popen([HVLOG, "--tcp", f"127.0.0.1:{hv.port}", "--no-color",
                             "--results", str(tmp_path), "--label", "twice"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    hv.wait_conn()
    hv.conn.sendall(data)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = glob.glob(str(tmp_path / "*-twice" / "raw.bin"))
        if found and os.path.getsize(found[0]) == len(data):
            break
        time.sleep(0.05)
    sent = 0
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGTERM if sent % 4 == 3 else signal.SIGINT)
        sent += 1
        time.sleep(0.001)
    err = proc.communicate(timeout=30)[1]
    hv.close()
    assert sent > 1
    assert proc.returncode == 0, (proc.returncode, err[-2000:])
    summary = glob.glob(str(tmp_path / "*-twice" / "summary.txt"))
    assert summary and "interrupted" in open(summary[0]).read()


def test_gdb_bridge_both_ways():
    hv = FakeHv()
    src = TcpSource(f"127.0.0.1:{hv.port}")
    hv.wait_conn()
    enc = frame.Encoder()
    d = LiveDecoder()
    bridge = GdbBridge(0, src.write, enc, d.stats)
    pump = Pump(src, d, bridge=bridge)
    stop = threading.Event()
    t = threading.Thread(target=pump.run, args=(stop,), daemon=True)
    t.start()
    try:
        hvenc = frame.Encoder()
        # before gdb attaches: dropped and counted
        hv.conn.sendall(b"\x00" + hvenc.frame(frame.GDB, 0, b"$S05#b8"))
        time.sleep(0.3)
        assert d.stats.gdb_dropped == 7
        gdb = socket.create_connection(("127.0.0.1", bridge.port))
        # gdb -> hypervisor: GDB frames, cpu 0, consecutive seq
        gdb.sendall(b"+$qSupported:multiprocess+#c6")
        got = recv_until(hv.conn, lambda b: b"\x00" in b)
        fs = frames_of(got)
        assert [(f.type, f.cpu) for f in fs] == [(frame.GDB, 0)] * len(fs)
        assert b"".join(f.payload for f in fs) == b"+$qSupported:multiprocess+#c6"
        # hypervisor -> gdb, interleaved with console traffic
        from test_hvlog_util import Capture
        cc = Capture()
        cc.enc = hvenc
        cc.say(0, b"hv text\n")
        cc.flush_all()
        hv.conn.sendall(hvenc.frame(frame.GDB, 0, b"+$PacketSize=1000#") + bytes(cc.out)
                        + hvenc.frame(frame.GDB, 0, b"8d"))
        assert recv_until(gdb, lambda b: b.endswith(b"#8d")) == b"+$PacketSize=1000#8d"
        # a second gdb is turned away while the first is attached
        g2 = socket.create_connection(("127.0.0.1", bridge.port))
        assert recv_until(g2, lambda b: False, timeout=0.5) == b""
        g2.close()
        gdb.close()
    finally:
        stop.set()
        t.join(5)
        bridge.close()
        src.close()
        hv.close()
    assert d.stats.gdb_to_hv == len(b"+$qSupported:multiprocess+#c6")


def test_keyboard_on_a_tty_goes_to_the_guest_and_terminal_is_restored(tmp_path):
    import pty
    import termios
    hv = FakeHv()
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([HVLOG, "--tcp", f"127.0.0.1:{hv.port}", "--no-save", "--no-color"],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        hv.wait_conn()
        deadline = time.monotonic() + 10
        while termios.tcgetattr(slave) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert termios.tcgetattr(slave)[3] & termios.ICANON == 0     # cbreak/raw
        os.write(master, b"ls\r\x03")
        got = recv_until(hv.conn, lambda b: b.count(b"\x00") >= 1)
        fs = frames_of(got)
        assert b"".join(f.payload for f in fs) == b"ls\r\x03"
        assert all((f.type, f.cpu) == (frame.GUEST, 0) for f in fs)
        os.write(master, bytes([ESCAPE]) + b"q")
        out, err = proc.communicate(timeout=60)   # generous: make test loads both cores
        assert proc.returncode == 0, err
        assert "keyboard:        4 bytes" in err.decode()
        assert termios.tcgetattr(slave) == before
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
        hv.close()


def test_hvrun_seam_text_decoder():
    from hvtools.hvlog import live_decoder
    c = standard(rounds=2)
    d = live_decoder(elf="/nonexistent/hv.elf", color=False)
    text = d.feed(bytes(c.out)) + d.idle() + d.flush()
    assert "cpu1| cpu1 round 1: value=" in text and "\x1b" not in text
    assert "guest| root" in text
    [f] = frames_of(d.encode_input(b"ls\r"))
    assert (f.type, f.cpu, f.payload) == (frame.GUEST, 0, b"ls\r")
