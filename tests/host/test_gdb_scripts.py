"""gdb/hv.gdb and gdb/hvgdb.py in stock gdb, without a target: the commands
are defined, the pretty-printers are registered and format the ELF's static
data (gdb reads .data/.bss from the file), values built in Python with known
contents decode by name, unreadable memory prints <unavailable>, and the
tables parsed from names.def / vmcs_fields.def give the known names. Also
hvrun's --gdb-port bridge, with a socket and no emulator."""
import importlib.machinery
import importlib.util
import os
import shutil
import socket
import subprocess
import textwrap
import threading
import time

import pytest

from testpaths import BUILD, ROOT

ELF = os.path.join(BUILD, "hv.elf")
GDB = shutil.which("gdb")
pytestmark = pytest.mark.skipif(GDB is None, reason="gdb is not installed (mk/deps.sh)")


@pytest.fixture(scope="module", autouse=True)
def hv_elf():
    if not os.path.isfile(ELF):
        subprocess.run(["make", "all"], cwd=ROOT, check=True, capture_output=True)
    return ELF


def gdb(*commands, script=None, tmp_path=None):
    """gdb -batch -nx -x gdb/hv.gdb -ex ... [-x script.py]: its output."""
    argv = [GDB, "-batch", "-nx", "-x", os.path.join(ROOT, "gdb", "hv.gdb")]
    for c in commands:
        argv += ["-ex", c]
    if script is not None:
        path = tmp_path / "check.py"
        path.write_text(textwrap.dedent(script))
        argv += ["-x", str(path)]
    p = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    assert "Traceback" not in out and "Python Exception" not in out, out
    return out


def test_loads_the_elf_and_defines_the_commands():
    cmds = ["hv-connect-framed", "hv-connect-raw", "hv-cpus", "hv-vmcs", "hv-trace",
            "hv-guest", "hv-hv", "hv-exits", "hv-vcpu", "hv-vmcs-fields", "hv-rings"]
    out = gdb("info files", *("help " + c for c in cmds))
    assert "hv.elf" in out
    assert "Undefined command" not in out, out
    assert "hv-cpus: every CPU" in out
    assert "hv-connect-framed [PORT]" in out
    assert "hv-vmcs-fields -v N" in out


def test_connect_commands():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                   # nobody listens there now
    out = gdb("set tcp connect-timeout 1", "hv-connect-framed %d" % port, "hv-connect-raw")
    assert "127.0.0.1:%d: Connection" % port in out, out
    assert "usage: hv-connect-raw DEVICE-or-HOST:PORT" in out


def test_wrappers_reach_monitor():
    # No target: the wrapper runs `monitor`, which gdb refuses by name.
    out = gdb("hv-cpus", "hv-trace 5")
    assert out.count('"monitor" command not supported by this target') == 2


def test_printers_registered():
    out = gdb("info pretty-printer")
    for name in ("hv", "vcpu", "trace_ring", "percpu"):
        assert name in out


def test_static_data_through_the_printers():
    out = gdb("set print pretty off", "print vcpus[0]", "print percpu_table[0]", "hv-vcpu 1",
              "hv-rings 0", "print/r percpu_table[0].index")
    assert "vcpu 0 {index = 0, launched = false, run_state = GUEST_WAIT_SIPI (0)" in out
    assert "last_reason = none" in out and "step = idle" in out
    assert "cpu 0 {index = 0, apic_id = 0, online = false, parked = false, " \
           "exc_depth = 0, nmi_count = 0" in out
    assert out.count("trace_ring {size = 0 (not set up)") == 3


def test_known_values_decode_by_name(tmp_path):
    out = gdb(script="""
        import gdb, struct, hvgdb
        gdb.execute("set print pretty off")
        def build(tname, extra=(), **fields):
            t = gdb.lookup_type(tname)
            buf = bytearray(t.sizeof)
            for off, fmt, value in extra:
                struct.pack_into(fmt, buf, off, value)
            for path, (fmt, value) in fields.items():
                off, ty = 0, t
                for part in path.split("."):
                    f = {f.name: f for f in ty.fields()}[part]
                    off += f.bitpos // 8
                    ty = f.type.strip_typedefs()
                struct.pack_into(fmt, buf, off, value)
            return gdb.Value(bytes(buf), t)
        cnt = gdb.lookup_type("struct vcpu")["exit_count"].bitpos // 8
        v = build("struct vcpu", [(cnt + 8 * 10, "<Q", 30), (cnt + 8 * 12, "<Q", 10)], index=("<I", 1), exits=("<Q", 40), last_reason=("<I", 10),
                  run_state=("<I", 2), launched=("<B", 1), nmi_injected=("<Q", 7),
                  **{"step.active": ("<B", 1), "step.mtf": ("<B", 1), "step.reg": ("<I", 0x300)})
        print("VCPU", hvgdb.VcpuPrinter(v).to_string())
        # 3 records (seq 3 next), head 0x60 bytes past a tail of 0x10040.
        tail = 0x10040
        r = build("struct trace_ring", resv=("<Q", (3 << 32) | ((tail + 0x60) >> 3)),
                  seq_hint=("<Q", 2), tail=("<Q", tail), mask=("<I", 0xffff),
                  buf=("<Q", 0x4000000), policy=("<I", 1), dropped=("<Q", 5),
                  overwritten=("<Q", 6), stale_skipped=("<Q", 4))
        print("RING", hvgdb.TraceRingPrinter(r).to_string())
        bad = gdb.parse_and_eval("*(struct percpu *)0")
        print("BAD", hvgdb.PercpuPrinter(bad).to_string())
        print("BADV", hvgdb.VcpuPrinter(gdb.parse_and_eval("*(struct vcpu *)0")).to_string())
        print("EXIT", gdb.parse_and_eval("$hv_exit_name(48)").string())
    """, tmp_path=tmp_path)
    vcpu = next(l for l in out.splitlines() if l.startswith("VCPU"))
    assert "run_state = GUEST_RUNNING (2)" in vcpu
    assert "last_reason = CPUID (10)" in vcpu
    assert "top_exits = [CPUID 30, HLT 10]" in vcpu
    assert "launched = true" in vcpu and "injected = 7" in vcpu
    assert "step = read reg 0x300" in vcpu and "by MTF" in vcpu
    ring = next(l for l in out.splitlines() if l.startswith("RING"))
    for part in ("size = 65536", "head = 65696", "tail = 65600", "pending_bytes = 96",
                 "next_seq = 3", "policy = RING_DROP_NEWEST (1)", "dropped = 5",
                 "overwritten = 6", "stale_skipped = 4"):
        assert part in ring, (part, ring)
    bad = next(l for l in out.splitlines() if l.startswith("BAD "))
    assert "index = <unavailable>" in bad and "nmi_count = <unavailable>" in bad
    assert "exits = <unavailable>" in next(l for l in out.splitlines()
                                          if l.startswith("BADV"))
    assert "EXIT EPT_VIOLATION" in out


def test_tables_from_the_def_files(tmp_path):
    out = gdb(script="""
        import hvgdb
        for r in (0, 1, 10, 12, 18, 48, 0x80000021):
            print("EXITNAME", r, hvgdb.exit_name(r))
        print("VMERR", hvgdb.VMERR_NAMES.get(7))
        f = hvgdb.VMCS_BY_NAME
        for n in ("GUEST_RIP", "EXIT_REASON", "VPID", "EPT_POINTER"):
            print("FIELD", n, hex(f[n].encoding), f[n].width, f[n].group)
        # The same table as the ELF's own vmcs_field_table (generated by cpp).
        import gdb
        n = int(gdb.parse_and_eval("vmcs_field_count"))
        elf = [(gdb.parse_and_eval("vmcs_field_table[%d]" % i)) for i in range(n)]
        same = [(e["name"].string(), int(e["encoding"])) for e in elf] == \\
               [(x.name, x.encoding) for x in hvgdb.VMCS_FIELDS]
        print("SAME_AS_ELF", same, n)
    """, tmp_path=tmp_path)
    for want in ("EXITNAME 0 EXCEPTION_NMI", "EXITNAME 1 EXTERNAL_INTERRUPT",
                 "EXITNAME 10 CPUID", "EXITNAME 12 HLT", "EXITNAME 18 VMCALL",
                 "EXITNAME 48 EPT_VIOLATION",
                 "EXITNAME 2147483681 ENTRY_FAIL_GUEST_STATE (entry failure)",
                 "FIELD GUEST_RIP 0x681e WNAT GUEST", "FIELD EXIT_REASON 0x4402 W32 RO",
                 "FIELD VPID 0x0 W16 CTRL", "FIELD EPT_POINTER 0x201a W64 CTRL",
                 "SAME_AS_ELF True"):
        assert want in out, (want, out)
    assert "VMERR None" not in out


DUMP = """\
cpu1 VMCS at 0x1234000:
  -- CTRL fields --
  VPID                     0x1
  PIN_CONTROLS             0x3f
  -- RO fields --
  VM_INSN_ERROR            0
  EXIT_REASON              0xa
  EXIT_INTR_INFO           0x80000b0e
  -- GUEST fields --
  GUEST_RIP                0x7c00
  GUEST_ACTIVITY_STATE     0x3
  GUEST_INTERRUPTIBILITY   0x8
  GUEST_PAT                (unreadable)
  NOT_A_FIELD              0x5
"""


def test_vmcs_fields_from_a_saved_dump_and_from_memory(tmp_path):
    dump = tmp_path / "dump.txt"
    dump.write_text("".join("[hv cpu1] " + l + "\n" for l in DUMP.splitlines()))
    out = gdb("hv-vmcs-fields -f " + str(dump), "hv-vmcs-fields -v 0", "hv-vmcs-fields",
              "hv-vmcs-fields -t")
    lines = out.splitlines()
    assert "cpu1 VMCS at 0x1234000" in lines

    def row(name):
        return next(l for l in lines if l.split()[:1] == [name])
    assert row("VPID").split()[1:4] == ["0x0000", "W16", "0x0001"]
    assert row("EXIT_REASON").split()[3:] == ["0x0000000a", "CPUID"]
    assert "valid, hw exception, vector 14, error code" in row("EXIT_INTR_INFO")
    assert row("GUEST_RIP").split()[3] == "0x0000000000007c00"
    assert row("GUEST_ACTIVITY_STATE").endswith("wait-for-SIPI")
    assert row("GUEST_INTERRUPTIBILITY").endswith("blocking NMI")
    assert row("GUEST_PAT").endswith("<unavailable>")
    assert "NOT_A_FIELD" not in out
    assert "cpu0 VMCS at 0x0 (the copies in vcpus[], no exit yet)" in out
    assert "needs no target" in out            # plain hv-vmcs-fields, no target
    assert "HOST_RIP                 0x6c16 WNAT HOST" in out


def fake_stub(listener, log):
    """Just enough RSP for gdb to attach; qRcmd answers with O packets."""
    def pkt(text):
        b = text.encode()
        return b"$" + b + b"#%02x" % (sum(b) & 0xff)
    c, _ = listener.accept()
    buf = b""
    with c:
        while True:
            data = c.recv(4096)
            if not data:
                return
            buf += data
            while True:
                buf = buf.lstrip(b"+\x03")
                end = buf.find(b"#")
                if not buf.startswith(b"$") or end < 0 or len(buf) < end + 3:
                    break
                p, buf = buf[1:end].decode(), buf[end + 3:]
                c.sendall(b"+")
                reply = {"?": "S05", "g": "00" * (8 * 17 + 4)}.get(p, "")
                if p.startswith("qSupported"):
                    reply = "PacketSize=1000"
                elif p.startswith("m"):
                    reply = "00" * int(p.split(",")[1], 16)
                elif p.startswith("qRcmd,"):
                    cmd = bytes.fromhex(p[6:]).decode()
                    log.append(cmd)
                    out = DUMP if cmd == "vmcs" else "monitor said %s\n" % cmd
                    c.sendall(pkt("O" + out.encode().hex()))
                    reply = "OK"
                c.sendall(pkt(reply))


def test_wrappers_on_a_target():
    """Each wrapper sends its monitor command; hv-vmcs-fields formats the
    reply gdb captured from the remote's O packets."""
    listener = socket.create_server(("127.0.0.1", 0))
    log = []
    t = threading.Thread(target=fake_stub, args=(listener, log), daemon=True)
    t.start()
    out = gdb("hv-connect-framed %d" % listener.getsockname()[1], "hv-cpus", "hv-vmcs",
              "hv-trace", "hv-trace 7", "hv-guest", "hv-hv", "hv-exits", "hv-vmcs-fields",
              "disconnect")
    listener.close()
    assert log == ["cpus", "vmcs", "trace", "trace 7", "guest", "hv", "exits", "vmcs"]
    assert "monitor said cpus" in out and "monitor said trace 7" in out
    assert "  EXIT_REASON              0x4402 W32  0x0000000a         CPUID" in out


def load_hvrun():
    path = os.path.join(ROOT, "host-tools", "hvrun")
    loader = importlib.machinery.SourceFileLoader("hvrun_mod", path)
    spec = importlib.util.spec_from_loader("hvrun_mod", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_hvrun_gdb_port_bridges_both_ways():
    from hvtools import frame
    from hvtools.hvlog import live_decoder
    hvrun = load_hvrun()
    dec = live_decoder(elf=None, color=False)
    sent = []
    bridge = hvrun.open_gdb_bridge(dec, 0, sent.append)
    assert bridge is not None
    try:
        c = socket.create_connection(("127.0.0.1", bridge.port), timeout=5)
        deadline = time.monotonic() + 5
        c.sendall(b"$?#3f")
        while not sent and time.monotonic() < deadline:
            hvrun.service_gdb(bridge)
            time.sleep(0.01)
        assert sent
        got = frame.FrameDecoder().decode_all(b"".join(sent))
        assert [(f.type, bytes(f.payload)) for f in got] == [(frame.GDB, b"$?#3f")], got
        # The hypervisor's GDB frame comes out on gdb's socket as bytes.
        dec.feed(frame.Encoder().frame(frame.GDB, 0, b"$S05#b8"))
        assert c.recv(100) == b"$S05#b8"
        c.close()
    finally:
        bridge.close()
    assert hvrun.open_gdb_bridge(hvrun.RawDecoder(), 0, sent.append) is None
