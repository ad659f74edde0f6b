"""The stress runner's logic without an emulator: the end-of-cell judgement
on made-up guest output (the verdict comes from the guest's counters and
CHECK lines); the hang detector run by the runner's own watch loop against
a made-up serial stream on a fake clock; the matrix's HTML table; the
per-cell exports around the verdict's moment; the progress/ETA arithmetic;
how a gdb session is judged."""
import html.parser
import json
import os

import pytest

from hvcapture import boot as capture_boot
from hvtools import frame, stress, stress_gdb, stress_progress, stress_report

T1, T4, T5 = stress.CELLS["T1"], stress.CELLS["T4"], stress.CELLS["T5"]


def out(r0, r1, checks="CHECK stress.loops: PASS\nCHECK stress.hv_nmi_counts: PASS\n"):
    return (f"STRESS NMI cpu0 received={r0} injected={r0} merged=0\n"
            f"STRESS NMI cpu1 received={r1} injected={r1} merged=0\n" + checks + "STRESS END\n")


def judge(cell, text, interval, sent):
    return stress.judge_end(text, "", cell, interval, sent)[0]


def test_exact_storm_counts_pass_and_a_lost_nmi_is_a_mismatch():
    t4 = stress.Cell("T4x", "storm", storm=True)
    assert judge(t4, out(40, 40), 5000, {0: 40, 1: 40}) == "pass"
    assert judge(t4, out(40, 39), 5000, {0: 40, 1: 40}) == "nmi-mismatch"


def test_short_intervals_allow_merging_but_never_invention_or_silence():
    assert judge(T4, out(2, 3), 0, {0: 100, 1: 100}) == "pass"
    assert judge(T4, out(101, 3), 0, {0: 100, 1: 100}) == "nmi-mismatch"
    assert judge(T4, out(0, 3), 0, {0: 100, 1: 100}) == "nmi-mismatch"
    # PAL loops quiesce: their NMIs may merge with the storm's, even at 5 ms.
    assert judge(T1, out(30, 40), 5000, {0: 40, 1: 40}) == "pass"


def test_failed_loops_and_failed_counts_and_stray_nmis():
    bad_loop = out(0, 0, "CHECK stress.loops: FAIL cpu 1: 3 of 20 iterations\n")
    assert judge(T5, bad_loop, 0, {}) == "loop-fail"
    bad_hv = out(0, 0, "CHECK stress.hv_nmi_counts: FAIL cpu 0: counted 2, injected 3\n")
    assert judge(T5, bad_hv, 0, {}) == "nmi-mismatch"
    assert judge(T5, out(1, 0), 0, {}) == "nmi-mismatch"


class Clock:
    """Stands in for the time module inside hvtools.stress."""

    def __init__(self):
        self.t = 0.0

    def monotonic(self):
        return self.t

    def sleep(self, s):
        self.t += s


class FakeMachine:
    """A machine whose serial capture grows with the fake clock: `lines`
    is [(second, guest line)], each sent as a GUEST frame at that time."""

    def __init__(self, clock, lines):
        self.clock, self.alive, self.sent = clock, True, []
        enc = frame.Encoder()
        self.chunks = [(t, enc.frame(frame.GUEST, 0, (ln + "\n").encode())) for t, ln in lines]

    @property
    def output(self):
        return b"\x00" + b"".join(c for t, c in self.chunks if t <= self.clock.t)

    def offset_at(self, t):
        return 1 + sum(len(c) for s, c in self.chunks if s <= t)

    def write(self, data):
        self.sent.append(data)

    def read_since(self, pos, timeout=0.1):
        return self.output[pos:]

    def stop(self):
        self.alive = False


def watch(monkeypatch, tmp_path, lines, hang_after=5.0, boot_after=30.0):
    clock = Clock()
    monkeypatch.setattr(stress, "time", clock)
    o = stress.Options(hang_after=hang_after, boot_after=boot_after, timeout=500)
    run = stress.CellRun(stress.CELLS["T5"], o, str(tmp_path))
    m = FakeMachine(clock, lines)
    verdict, why = run.watch(m)
    return verdict, why, clock.t, run.moment, m


BOOT = [(1, "GUEST START scenarios=stress"), (5, "INFO stress: starting the APs")]


def test_silence_after_the_markers_is_a_hang_at_the_set_time(monkeypatch, tmp_path):
    lines = BOOT + [(10, "STRESS READY cpus=2 test=0x3 pal=0x0 rounds=20 storm=0")]
    lines += [(10 + i, f"STRESS PROGRESS cpu0 test {i}/20 nmi=0") for i in range(1, 11)]
    # Guest lines that are not progress markers do not keep a cell alive.
    lines += [(23, "INFO stress: something else")]
    v, why, t, moment, m = watch(monkeypatch, tmp_path, lines)
    assert v == "hang" and "5 s" in why
    assert 25 < t <= 27                 # 5 s after the last marker (at 20), 1 s polls
    assert moment == m.offset_at(20)    # the verdict's moment: the last marker


def test_booting_gets_its_own_longer_limit(monkeypatch, tmp_path):
    # 9 s to the first marker is more than hang_after (5) but within boot_after.
    lines = BOOT + [(9 + i, f"STRESS PROGRESS nmi total={i}") for i in range(4)]
    v, _, t, _, _ = watch(monkeypatch, tmp_path, lines)
    assert v == "hang" and 17 < t <= 19
    v, why, t, _, _ = watch(monkeypatch, tmp_path, BOOT, boot_after=30)
    assert v == "hang" and "boot" in why and 30 < t <= 32     # from the start


def test_steady_markers_never_hang_and_the_end_passes(monkeypatch, tmp_path):
    lines = [(2 + i, f"STRESS PROGRESS cpu{i % 2} test {i // 2}/40 nmi=0") for i in range(80)]
    lines += [(83, "CHECK stress.loops: PASS"),
              (83, "STRESS NMI cpu0 received=0 injected=0 merged=0"),
              (83, "STRESS NMI cpu1 received=0 injected=0 merged=0"), (83, "STRESS END")]
    v, why, t, moment, m = watch(monkeypatch, tmp_path, lines, hang_after=3)
    assert (v, why) == ("pass", "") and 83 <= t <= 85
    assert moment == len(m.output)


def test_html_table_colours_verdicts_and_links_the_folders(tmp_path):
    top = tmp_path / "20261202-000000-x"
    rows = []
    for cell, verdict in (("T1", "pass"), ("T2", "hang"), ("T3", "hv-fatal")):
        (top / cell).mkdir(parents=True)
        for f in ("verdict.txt", "decoded.log") + (("gdb.txt",) if verdict == "hang" else ()):
            (top / cell / f).write_text("x")
        rows.append((cell, verdict, 12.0, f"why <{verdict}>", str(top / cell)))
    doc = stress_report.html_table("m", rows, str(top))

    class P(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.links = [], []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "tr" and "style" in a:
                self.rows.append(a["style"])
            if tag == "a":
                self.links.append(a["href"])
    p = P()
    p.feed(doc)
    colours = [s.split("background:")[1] for s in p.rows]
    assert colours == [stress_report.colour(v) for v in ("pass", "hang", "hv-fatal")]
    assert len(set(colours)) == 3
    assert {"T1/", "T2/", "T3/", "T2/gdb.txt", "T1/decoded.log"} <= set(p.links)
    assert "T1/gdb.txt" not in p.links          # only files that exist
    for href in p.links:                        # relative: the folder can move
        assert os.path.exists(top / href), href
    assert "&lt;hang&gt;" in doc


def test_exports_hold_the_events_and_the_rows_around_the_moment(tmp_path):
    raw = bytes(capture_boot(ncpus=2, rounds=400).out)
    stress_report.exports(raw, len(raw) // 2, str(tmp_path), None)
    assert not (tmp_path / "exports-error.txt").exists()
    doc = json.loads((tmp_path / "perfetto.json").read_text())
    assert sum(e["name"] == "VMEXIT" for e in doc["traceEvents"]) == 800
    seq = (tmp_path / "sequence.md").read_text()
    rows = [ln for ln in seq.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert 100 <= len(rows) <= stress_report.ROWS_BEFORE + stress_report.ROWS_AFTER
    # Rounds from the middle of the run, neither its start nor its end.
    rounds = sorted({int(r.split("round ")[1].split()[0]) for r in rows if "round " in r})
    assert rounds and 100 < rounds[0] and rounds[-1] < 300, rounds


def test_moment_window_counts_rows_on_both_sides():
    tscs = list(range(0, 1000, 10))
    w = stress_report.moment_window(tscs, 500, before=5, after=3)
    assert (w.lo, w.hi) == (("tsc", 460), ("tsc", 530))
    w = stress_report.moment_window(tscs, None, before=5, after=3)
    assert (w.lo, w.hi) == (("tsc", 950), ("tsc", 990))


def test_cell_fraction_and_eta():
    o = stress.Options(rounds=20, cpus=2, storm_rounds=100)
    t5, t4 = stress.CELLS["T5"], stress.CELLS["T4"]
    f = stress_progress.cell_fraction
    assert f("GUEST START\n", t5, o) == 0.0
    ready = "STRESS READY cpus=2\n"
    half = ready + "STRESS PROGRESS cpu0 test 10/20 nmi=0\nSTRESS PROGRESS cpu1 test 20/20 nmi=0\n"
    one = ready + "STRESS PROGRESS cpu0 test 10/20 nmi=0\n"     # cpu1 not heard yet
    assert f(one, t5, o) == f(ready, t5, o)     # a loop is as far as its slowest CPU
    assert f(ready, t5, o) < f(half, t5, o) < f(half + "STRESS END\n", t5, o) == 1.0
    assert f(ready + "STRESS PROGRESS nmi total=100\n", t4, o) == pytest.approx(
        stress_progress.BOOT + (1 - stress_progress.BOOT - stress_progress.TAIL) * 0.5)
    eta = stress_progress.eta
    assert eta([], 5, 0.0, 3) is None
    assert eta([], 10, 0.5, 2) == pytest.approx(10 + 2 * 20)       # its own rate
    assert eta([30, 50], 10, 0.05, 1) == pytest.approx(30 + 40)     # the finished cells' mean
    assert stress_progress.fmt_eta(3725) == "ETA 1:02:05"


GDB_OK = """@@THREADS
  Id   Target Id                                   Frame
* 1    Thread 1 (cpu0 apic 0, stopped, in a VM exit) gdb_capture_here ()
  2    Thread 2 (cpu1 apic 1, stopped, in a VM exit) gdb_capture_here ()
@@HV_BT cpu0
#0  gdb_capture_here () at hv/gdbstub/stub_internal.h:91
@@HV_BT cpu1
#0  gdb_capture_here () at hv/gdbstub/stub_internal.h:91
@@NMI
cpu  nmis  injected coalesced dropped pending quiesce-answers
@@END
"""


def test_gdb_session_judged_by_what_it_shows():
    assert stress_gdb.attach_problem(GDB_OK, 2) is None
    assert "2 threads, not 3" in stress_gdb.attach_problem(GDB_OK, 3)
    no_bt = GDB_OK.replace("@@HV_BT cpu1\n#0  gdb", "@@HV_BT cpu1\nThread 2 not alive")
    assert stress_gdb.attach_problem(no_bt, 2) == "no backtrace for cpu1"
    # What gdb 13 prints when the stub never answers (remotetimeout 2).
    silent = ("Ignoring packet error, continuing...\nRemote replied unexpectedly to "
              "'vMustReplyEmpty': timeout\n@@THREADS\nNo threads.\n")
    assert stress_gdb.attach_problem(silent, 2) == \
        "gdb did not attach: Remote replied unexpectedly to 'vMustReplyEmpty': timeout"
    cmds = stress_gdb.gdb_commands(4)
    assert [c for c in cmds if c.startswith("thread ")] == [f"thread {n}" for n in
                                                             (1, 2, 3, 4, 1, 2, 3, 4)]
    assert cmds.count("bt") == 4 and "monitor nmi" in cmds and cmds[-1] == "detach"


def test_the_linux_guests_gdb_session_names_kernel_frames(monkeypatch):
    """--guest linux: no test-guest symbols; gdb/hvlinux.py is loaded and
    hv-linux runs in the guest view before the guest backtraces."""
    monkeypatch.setattr(stress_gdb, "LINUX_IMAGE", __file__)   # built or not
    argv = stress_gdb.gdb_argv("hv.elf", 1234, 2, guest="linux")
    ex = argv[argv.index("-ex"):][1::2]
    assert stress_gdb.LOAD_HVLINUX in ex and not any("add-symbol-file" in c for c in ex)
    at = ex.index("hv-linux")
    assert ex.index("monitor guest") < at < ex.index("echo @@GUEST cpu0\\n")
    assert ex[at + 1:].count("bt 8") == 2
    test = stress_gdb.gdb_argv("hv.elf", 1234, 2)
    assert "hv-linux" not in test and stress_gdb.LOAD_HVLINUX not in test


def test_a_hang_stays_a_hang_when_gdb_cannot_attach(monkeypatch, tmp_path):
    """CellRun.run end to end on a fake machine that falls silent, with a
    gdb that shows nothing: the verdict is the stream's, gdb.txt says why
    there is no gdb evidence, and the exports are there."""
    clock = Clock()
    monkeypatch.setattr(stress, "time", clock)
    lines = BOOT + [(10 + i, f"STRESS PROGRESS cpu0 test {i}/20 nmi=0") for i in range(3)]
    m = FakeMachine(clock, lines)
    monkeypatch.setattr(stress, "boot_cell", lambda cell, o, workdir: m)
    monkeypatch.setattr(stress_gdb, "gdb_argv", lambda *a, **k: ["true"])
    o = stress.Options(hang_after=5, timeout=500)
    r = stress.CellRun(stress.CELLS["T5"], o, str(tmp_path / "T5")).run()
    assert r.verdict == "hang" and r.gdb == "gdb did not attach (no threads listed)"
    assert frame.encode(frame.CONTROL, 0, 1, bytes([0x10])) in m.sent     # DUMP_EVENTS
    gdb = (tmp_path / "T5" / "gdb.txt").read_text()
    assert gdb.splitlines()[-1] == "# gdb: gdb did not attach (no threads listed)"
    assert (tmp_path / "T5" / "verdict.txt").read_text().startswith("hang\n")
    assert "[gdb: gdb did not attach" in (tmp_path / "T5" / "summary.txt").read_text()
    for f in ("perfetto.json", "sequence.md", "raw.bin", "decoded.log"):
        assert (tmp_path / "T5" / f).stat().st_size > 0, f


# ---- the Linux guest's cells (stress_linux) ---------------------------------
def linux_cell(name, loops, nmi=(0, 0), extra=""):
    """A cell's lines as guest/linux/init prints them (printk prefix and all)."""
    lines = [f"STRESS READY cell={name} cpus=2 pal=0 test= rounds=3 n=3 storm=1",
             f"STRESS PROGRESS cell={name} up=1.0 NMI: 0 0"]
    lines += [f"STRESS LOOP cell={name} {ln}" for ln in loops]
    lines += [f"STRESS NMI cpu{c} received={n} before=5 after={5 + n}" for c, n in enumerate(nmi)]
    lines += [extra] if extra else []
    return "".join(f"[  12.{i:06d}] {ln}\n" for i, ln in enumerate(lines + [
        f"STRESS END cell={name}"]))


def test_linux_cells_are_cut_from_one_stream_and_judged_each_on_its_own():
    from hvtools import stress_linux
    main = ("cpu{c} main: PALDEMO main ok rounds={r} calls={k} cpus={m} t0={t0} t1={t1}")
    t1 = linux_cell("T1", [main.format(c=0, r=5, k=10, m="0x1", t0=1, t1=9)], (7, 3))
    t2 = linux_cell("T2", [main.format(c=0, r=3, k=6, m="0x1", t0=10, t1=20),
                           main.format(c=1, r=3, k=6, m="0x2", t0=12, t1=22)])
    out = stress_linux.PRINTK.sub("", t1 + t2)
    o = stress.Options(cpus=2, rounds=3)
    seg1, seg2 = stress_linux.segment(out, "T1"), stress_linux.segment(out, "T2")
    assert "cell=T2" not in seg1 and "cell=T1" not in seg2
    # T1: the storm's counts (at most sent, at least one), its loop's rounds.
    v, _, nmi = stress.judge_end(seg1, "", T1, 1000, {0: 50, 1: 50})
    assert v == "pass" and nmi["received"] == {0: 7, 1: 3}
    assert stress_linux.check_loops(seg1, T1, o) is None
    assert stress.judge_end(seg1, "", T1, 1000, {0: 5, 1: 50})[0] == "nmi-mismatch"
    # T2: both loops, overlapping in time; a loop on the wrong CPU, too few
    # rounds or loops one after the other are loop failures.
    T2 = stress.CELLS["T2"]
    assert stress.judge_end(seg2, "", T2, 1000, {})[0] == "pass"
    assert stress_linux.check_loops(seg2, T2, o) is None
    for loops in ([main.format(c=0, r=3, k=6, m="0x3", t0=10, t1=20),
                   main.format(c=1, r=3, k=6, m="0x2", t0=12, t1=22)],
                  [main.format(c=0, r=2, k=4, m="0x1", t0=10, t1=20),
                   main.format(c=1, r=3, k=6, m="0x2", t0=12, t1=22)],
                  [main.format(c=0, r=3, k=6, m="0x1", t0=10, t1=11),
                   main.format(c=1, r=3, k=6, m="0x2", t0=12, t1=22)],
                  [main.format(c=0, r=3, k=6, m="0x1", t0=10, t1=20)]):
        seg = stress_linux.segment(stress_linux.PRINTK.sub("", linux_cell("T2", loops)), "T2")
        assert stress_linux.check_loops(seg, T2, o), loops
    # A loop's own failure (its CHECK line) and stray NMIs without a storm.
    bad = linux_cell("T2", [], extra="CHECK stress.loops: FAIL cell T2 cpu1 main: REG error")
    assert stress.judge_end(stress_linux.PRINTK.sub("", bad), "", T2, 1000, {})[0] == "loop-fail"
    stray = stress_linux.PRINTK.sub("", linux_cell("T2", [], (0, 1)))
    assert stress.judge_end(stray, "", T2, 1000, {})[0] == "nmi-mismatch"


def test_linux_storms_are_told_apart_by_their_end_lines():
    from hvtools import stress_linux
    hv = ["boot", "nmi storm: sent cpu0 50", "nmi storm: sent cpu1 50", "nmi storm: end",
          "x", "nmi storm: sent cpu0 7", "nmi storm: sent cpu1 8", "nmi storm: end", "y"]
    s = stress_linux.storm_slices(hv)
    assert len(s) == 3 and s[2] == ["y"]
    assert stress.hv_sent("\n".join(s[0])) == {0: 50, 1: 50}
    assert stress.hv_sent("\n".join(s[1])) == {0: 7, 1: 8}
    raw = b"abc\0def\0gh"
    assert stress_linux.cut(raw, 9) == 8 and stress_linux.cut(raw, 5) == 4
    assert stress_linux.cut(raw, len(raw)) == len(raw)
