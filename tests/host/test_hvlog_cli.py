"""host-tools/hvlog end to end, as a subprocess, on capture files and stdin."""
import glob
import json
import os
import re
import socket
import subprocess

import pytest

from test_hvlog_util import Capture, standard
from testpaths import ROOT

HVLOG = os.path.join(ROOT, "host-tools", "hvlog")


def run(*args, input=None, cwd=None):
    return subprocess.run([HVLOG, *args], input=input, capture_output=True, timeout=60,
                          cwd=cwd or ROOT)


@pytest.fixture
def capfile(tmp_path):
    c = standard()
    p = tmp_path / "cap.bin"
    p.write_bytes(bytes(c.out))
    return c, p


def test_file_end_to_end_with_results(capfile, tmp_path):
    c, p = capfile
    res = tmp_path / "res"
    out_json = tmp_path / "t.json"
    r = run("--file", str(p), "--no-color", "--save", "--results", str(res), "--label", "e2e",
            "--perfetto", str(out_json), "--sequence", "1#3:1#5", "--no-elf")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "\x1b" not in out
    for cpu in range(3):
        for line in c.lines(cpu):
            assert f"cpu{cpu}| {line}" in out
    assert re.search(r"^\| *Index *\|", out, re.M) and "CPU 1" in out
    [folder] = glob.glob(str(res / "*-e2e"))
    assert sorted(os.listdir(folder)) == ["decoded.log", "raw.bin", "sequence.md", "summary.txt"]
    assert open(os.path.join(folder, "raw.bin"), "rb").read() == bytes(c.out)
    log = open(os.path.join(folder, "decoded.log")).read()
    assert "\x1b" not in log and "cpu2| cpu2 round 29:" in log
    summ = open(os.path.join(folder, "summary.txt")).read()
    assert "crc 1" in summ and "ring drops:      7" in summ
    assert summ in r.stderr.decode()
    doc = json.load(open(out_json))
    assert {e["tid"] for e in doc["traceEvents"] if e["name"] == "thread_name"} == {0, 1, 2}


def test_file_not_saved_by_default_and_filters(capfile, tmp_path):
    c, p = capfile
    res = tmp_path / "res"
    r = run("--file", str(p), "--results", str(res), "--cpu", "2", "--event", "NMI_*",
            "--no-console")
    assert r.returncode == 0, r.stderr
    assert not res.exists()
    out = r.stdout.decode().splitlines()
    ev = [l for l in out if "cpu" in l and "* " in l]
    assert ev and all("cpu2* NMI_" in l for l in ev)
    assert not [l for l in out if "cpu0|" in l or "cpu2|" in l]


def test_stdin_source():
    c = standard(rounds=2)
    r = run("-", "--no-color", input=bytes(c.out))
    assert r.returncode == 0, r.stderr
    assert "cpu1| cpu1 round 1: value=" in r.stdout.decode()


def test_catalogue_mismatch_exits_3_but_keeps_raw(tmp_path):
    c = Capture(crc=0x12345678)
    c.raw(b"\x00")
    c.hello(1)
    c.say(0, b"hi\n")
    c.flush_all()
    p = tmp_path / "m.bin"
    p.write_bytes(bytes(c.out))
    r = run("--file", str(p), "--save", "--results", str(tmp_path / "r"))
    assert r.returncode == 3
    err = r.stderr.decode()
    assert "0x12345678" in err and f"{c.cat.crc:#010x}" in err and "--force-catalog" in err
    [raw] = glob.glob(str(tmp_path / "r" / "*" / "raw.bin"))
    assert open(raw, "rb").read() == bytes(c.out)
    r = run("--file", str(p), "--force-catalog", "--no-color")
    assert r.returncode == 0 and "cpu0| hi" in r.stdout.decode()


@pytest.mark.parametrize("args,needle", [
    (["--file", "/nonexistent/cap.bin"], "no such file"),
    (["--file", "X", "--cpu", "zero"], "bad --cpu"),
    (["--file", "X", "--event", "VMEXITT"], "did you mean VMEXIT"),
    (["--file", "X", "--class", "quiesc"], "did you mean quiesce"),
    (["--file", "X", "--sequence", "a:b"], "bad end"),
    (["--file", "X", "--tcp", "h:1"], "exactly one source"),
    ([], "exactly one source"),
    (["--file", "X", "--gdb-port", "0"], "can be written"),
    (["--file", "X", "--elf", "/nonexistent/hv.elf"], "no such file"),
])
def test_bad_input_exits_2_with_message(capfile, args, needle):
    _, p = capfile
    args = [str(p) if a == "X" else a for a in args]
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr.decode()


def test_gdb_port_in_use(capfile):
    hv = socket.create_server(("127.0.0.1", 0))
    busy = socket.create_server(("127.0.0.1", 0))
    try:
        r = run("--tcp", f"127.0.0.1:{hv.getsockname()[1]}", "--no-save",
                "--gdb-port", str(busy.getsockname()[1]))
        assert r.returncode == 2 and "already in use" in r.stderr.decode()
    finally:
        hv.close()
        busy.close()


def test_symbols_from_elf(tmp_path):
    elf = os.path.join(ROOT, "build", "hv.elf")
    if not os.path.isfile(elf):
        pytest.skip("build/hv.elf not built")
    from hvtools.records import Symbolizer
    sym = Symbolizer(elf)
    addr = sym._syms[len(sym._syms) // 2][0]
    c = Capture()
    c.raw(b"\x00")
    c.hello(1)
    c.event(0, "NMI_ENTER", (addr, 0))
    c.flush_all()
    p = tmp_path / "s.bin"
    p.write_bytes(bytes(c.out))
    r = run("--file", str(p), "--elf", elf, "--no-color")
    assert r.returncode == 0
    assert f"<{sym(addr)}>" in r.stdout.decode()
