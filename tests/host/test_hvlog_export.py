"""--perfetto JSON and the --sequence table."""
import json

import pytest

from hvtools import frame
from hvtools.hvlog import decode_bytes, perfetto, sequence
from test_hvlog_util import Capture, standard


def test_perfetto_one_track_per_cpu(tmp_path):
    c = standard(rounds=12)
    items, d = decode_bytes(bytes(c.out), keep=True)
    path = tmp_path / "t.json"
    perfetto.write(str(path), d.kept, d.clock, d.cat, None, d.ncpus)
    doc = json.loads(path.read_text())
    ev = doc["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {0: "cpu 0", 1: "cpu 1", 2: "cpu 2"}
    inst = [e for e in ev if e["ph"] == "i"]
    assert {e["pid"] for e in inst} == {1} and {e["tid"] for e in inst} == {0, 1, 2}
    vm = [e for e in inst if e["name"] == "VMEXIT" and e["tid"] == 0]
    assert len(vm) == 12 and vm[0]["args"]["reason"] in ("HLT", "IO_INSTRUCTION", "WRMSR")
    # ts in us from tsc / tsc_khz, relative to the first record
    first = c.events[0][0][3]
    assert vm[0]["ts"] == pytest.approx((first - d.clock.t0) * 1000 / 2_000_000)
    cons = [e for e in inst if e["cat"] == "console" and e["tid"] == 2]
    assert [e["args"]["text"] for e in cons] == c.lines(2)
    assert any(e["cat"] == "loss" and e["tid"] == 2 for e in inst)
    assert doc["otherData"]["time_unit"] == "us"


def test_perfetto_raw_tsc_when_rate_unknown():
    c = Capture()
    c.raw(b"\x00")
    c.hello(1, 0)
    c.event(0, "VMEXIT", (10, 1))
    c.event(0, "VMEXIT", (10, 2))
    c.flush_all()
    items, d = decode_bytes(bytes(c.out), keep=True)
    doc = perfetto.build(d.kept, d.clock, d.cat)
    ts = [e["ts"] for e in doc["traceEvents"] if e["ph"] == "i"]
    assert ts == [0, 137] and doc["otherData"]["time_unit"] == "tsc cycles"


def _quiesce_capture():
    """The seed notes' "normal quiesce" as a trace: cpu0 requests, 1..3 join."""
    c = Capture()
    c.raw(b"\x00")
    c.hello(4)
    c.event(0, "VMEXIT", (12, 0x1000))                   # 1
    c.event(0, "QUIESCE_REQUEST", (0xe,))                # 2
    for cpu in (1, 2, 3):
        c.event(cpu, "NMI_ENTER", (0x2000, 1))
    for cpu in (1, 2, 3):
        c.event(cpu, "QUIESCE_JOINED", (0, 500 + cpu))
    c.say(0, b"all CPUs quiesced\n")
    c.event(0, "QUIESCE_ALL_IN", (0xe, 900))
    for cpu in (1, 2, 3):
        c.event(cpu, "QUIESCE_RELEASED", (0, 100))
    c.flush_all()
    return c


def test_sequence_table_columns_and_rows():
    c = _quiesce_capture()
    items, d = decode_bytes(bytes(c.out), keep=True)
    tab = sequence.table(d.kept, sequence.parse_window(":"), d.clock, d.cat, None, range(4))
    lines = tab.splitlines()
    head = [x.strip() for x in lines[0].strip("|").split("|")]
    assert head == ["Index", "Time (us)", "CPU 0", "CPU 1", "CPU 2", "CPU 3"]
    body = [[x.strip() for x in l.strip("|").split("|")] for l in lines[2:]]
    assert len(body) == 13
    assert body[0][2] == "VMEXIT reason=HLT guest_rip=0x1000" and body[0][3:] == ["", "", ""]
    assert body[1][2].startswith("QUIESCE_REQUEST")
    assert [r[3] for r in body[2:5]] == ["NMI_ENTER rip=0x2000 origin=guest", "", ""]
    assert body[3][4].startswith("NMI_ENTER") and body[4][5].startswith("NMI_ENTER")
    assert body[8][2] == "all CPUs quiesced"
    times = [float(r[1]) for r in body]
    assert times == sorted(times)


def test_sequence_window_by_record_and_time():
    c = _quiesce_capture()
    items, d = decode_bytes(bytes(c.out), keep=True)
    # CPU 1's record seq 1 (QUIESCE_JOINED) to CPU 3's seq 1
    cpus, rows = sequence.rows(d.kept, sequence.parse_window("1#1:3#1"), d.clock, d.cat)
    assert [list(r[1].values())[0].split()[0] for r in rows] == ["QUIESCE_JOINED"] * 3
    t0 = d.clock.t0
    lo = sequence.parse_window(f"{t0}:{t0 + 137}")
    assert len(sequence.rows(d.kept, lo, d.clock, d.cat)[1]) == 2
    us = sequence.parse_window("0us:0.07us")              # 137 cycles = 0.0685 us
    assert len(sequence.rows(d.kept, us, d.clock, d.cat)[1]) == 2


def test_sequence_shares_a_row_at_equal_tsc_and_marks_losses():
    c = Capture()
    c.raw(b"\x00")
    c.hello(2)
    c.event(0, "NMI_ENTER", (1, 1))
    c.event(1, "NMI_ENTER", (1, 1), lost=3)
    c.pending[(frame.TRACE, 1)] = [(k, s, l, c.pending[(frame.TRACE, 0)][0][3], x)
                                   for k, s, l, t, x in c.pending[(frame.TRACE, 1)]]
    c.flush_all()
    items, d = decode_bytes(bytes(c.out), keep=True)
    cpus, rows = sequence.rows(d.kept, sequence.parse_window(":"), d.clock, d.cat)
    assert cpus == [0, 1]
    assert rows[0][1] == {0: "NMI_ENTER rip=0x1 origin=guest", 1: "(3 records lost)"}
    assert rows[1][1] == {1: "NMI_ENTER rip=0x1 origin=guest"}


@pytest.mark.parametrize("spec", ["1:2:3", "abc:", "1#:5", "5"])
def test_sequence_bad_window(spec):
    with pytest.raises(sequence.WindowError):
        sequence.parse_window(spec)
