"""The stress runner (host-tools/hvstress, hvtools/stress.py). In make
test: one cell (T4, the hypervisor's NMI storm at interval 0 against the
test guest, ~15 s in Bochs), the short T1-T5 matrix on Debian's Linux with
2 CPUs (every cell in one boot, ~7 min), and the planted hang (T5 with
cpu1 parked, interrupts off, ~80 s): the runner must call it a hang from
the silent stream and save gdb's view of every CPU, the Perfetto JSON and
the sequence table. In make stress: the full matrix on 2 and 4 CPUs on
both Bochs CPU models and a longer one on Linux, written to results/
(results/stress.md sums them up). Each cell's verdict comes from the
decoded stream and the guest's own NMI counters; its evidence lands in
the results folder."""
import json
import os
import re

import pytest

from hvtools import stress

pytestmark = pytest.mark.emulator


# make stress leaves its matrices where a user looks for them (results/).
RESULTS = stress.Options().results


def run(results, names, **kw):
    o = stress.Options(results=str(results), label=kw.pop("label", "t"),
                       rounds=kw.pop("rounds", 20),
                       storm_rounds=kw.pop("storm_rounds", 100),
                       hang_after=kw.pop("hang_after", 180),
                       timeout=900, **kw)
    top, results = stress.run_matrix(names, o, say=lambda m: None)
    return top, results


def test_stress_cell_t4_storm_at_interval_0_passes_with_evidence(tmp_path):
    top, [r] = run(tmp_path, ["T4"])
    assert r.verdict == "pass", (r.why, r.folder)
    # Interval 0: NMIs merge, so every CPU got at least one and at most all.
    assert set(r.nmi["sent"]) == {0, 1} and all(n == 100 for n in r.nmi["sent"].values())
    assert all(1 <= r.nmi["received"][c] <= 100 for c in (0, 1)), r.nmi
    for f in ("raw.bin", "decoded.log", "verdict.txt", "summary.txt"):
        assert os.path.getsize(os.path.join(r.folder, f)) > 0, f
    assert open(os.path.join(r.folder, "verdict.txt")).readline().strip() == "pass"
    assert "T4" in open(os.path.join(top, "table.txt")).read()


def test_planted_hang_is_a_hang_with_every_cpus_evidence(tmp_path):
    # cpu1 parks (cli; spin) at iteration 5 of 20; cpu0 ends its loop and
    # waits for it: the guest falls silent.
    top, [r] = run(tmp_path, ["T5"], hang_cpu=1, hang_round=5, hang_after=20)
    assert r.verdict == "hang", (r.why, r.folder)
    assert r.gdb == "attached", r.gdb
    gdb = open(os.path.join(r.folder, "gdb.txt")).read()
    from hvtools.stress_gdb import sections
    s = sections(gdb)
    assert len(re.findall(r"^\*?\s+\d+\s+Thread \d+ \(cpu\d", s["THREADS"], re.M)) == 2, gdb
    for cpu in (0, 1):
        # A hypervisor backtrace: frame 0 and the VM-exit path under it.
        bt = s[f"HV_BT cpu{cpu}"]
        assert re.search(r"^#0 ", bt, re.M) and re.search(r"^#\d+ .*vmx_exit", bt, re.M), bt
        # monitor nmi: a counter row per CPU (nmis injected coalesced ...).
        assert re.search(rf"^{cpu}\s+\d+\s+\d+\s+\d+\s+\d+", s["NMI"], re.M), s["NMI"]
        assert re.search(r"^rip\s+0x[0-9a-f]+", s[f"GUEST cpu{cpu}"], re.M), s[f"GUEST cpu{cpu}"]
    # The guest view finds the parked CPU where the planted hang put it.
    assert re.search(r"^rip\s+\S+\s+\S+ <stress_park\+\d+>", s["GUEST cpu1"], re.M), \
        s["GUEST cpu1"]
    doc = json.load(open(os.path.join(r.folder, "perfetto.json")))
    inst = [e for e in doc["traceEvents"] if e["ph"] == "i"]
    # The flight recorder's per-exit events from both CPUs are in it.
    assert {e["tid"] for e in inst if e["name"] == "VMEXIT"} == {0, 1}, len(inst)
    seq = open(os.path.join(r.folder, "sequence.md")).read()
    rows = [ln for ln in seq.splitlines() if re.match(r"\| \d+ ", ln)]
    assert "CPU 0" in seq and "CPU 1" in seq and len(rows) >= 20, seq[:2000]
    assert open(os.path.join(r.folder, "verdict.txt")).readline().strip() == "hang"
    assert "T5/gdb.txt" in open(os.path.join(top, "table.html")).read()


@pytest.mark.stress
@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("model,bochs3", [("corei7_skylake_x", False),
                                          ("corei7_icelake_u", True)])
def test_stress_matrix_t1_t5(model, bochs3, cpus):
    top, results = run(RESULTS, list(stress.CELLS), model=model, bochs3=bochs3, cpus=cpus,
                       rounds=50, storm_rounds=200,
                       label=f"stress-test-{model.split('_')[1]}-{cpus}cpu")
    bad = [f"{r.cell}: {r.verdict} {r.why} ({r.folder})" for r in results if r.verdict != "pass"]
    assert not bad, "\n".join(bad)


def test_stress_matrix_t1_t5_on_linux_in_one_boot(tmp_path):
    """Debian's Linux, 2 CPUs in Bochs: T1-T5 one after another in one boot
    (guest/linux/init's stress command, pal_demo's loops: REG, two PAL calls
    the program checks, UNREG; TEST calls), the host's NMI_STORM in the
    storm cells, a few rounds each."""
    check_linux_matrix(tmp_path, rounds=3, storm_rounds=50)


@pytest.mark.stress
def test_stress_matrix_t1_t5_on_linux_longer():
    check_linux_matrix(RESULTS, rounds=10, storm_rounds=200, label="stress-linux-skylake-2cpu")


def check_linux_matrix(results, rounds, storm_rounds, label="t"):
    """Every cell passes; the NMIs Linux counted per CPU (/proc/interrupts)
    are within what the hypervisor sent in the storm cells (quiesce NMIs can
    merge with storm NMIs: at least 1, at most all) and none in the others;
    each PAL loop made its rounds of checked calls."""
    top, results = run(results, list(stress.CELLS), guest="linux", rounds=rounds,
                       storm_rounds=storm_rounds, label=label)
    assert [r.cell for r in results] == list(stress.CELLS)
    bad = [f"{r.cell}: {r.verdict} {r.why} ({r.folder})" for r in results if r.verdict != "pass"]
    assert not bad, "\n".join(bad)
    for r in results:
        cell = stress.CELLS[r.cell]
        got = r.nmi["received"]
        assert set(got) == {0, 1}, (r.cell, r.nmi)
        if cell.storm:
            assert r.nmi["sent"] == {0: storm_rounds, 1: storm_rounds}, (r.cell, r.nmi)
            assert all(1 <= got[c] <= storm_rounds for c in (0, 1)), (r.cell, r.nmi)
        else:
            assert r.nmi["sent"] == {} and got == {0: 0, 1: 0}, (r.cell, r.nmi)
        guest = open(os.path.join(r.folder, "decoded.log")).read().split("---- guest ----")[1]
        for c in range(2):
            if cell.pal_cpus >> c & 1:
                m = re.search(rf"cell={r.cell} cpu{c} main: PALDEMO main ok rounds=(\d+) "
                              r"calls=(\d+) cpus=(\S+)", guest)
                assert m and int(m.group(1)) >= rounds and int(m.group(2)) == 2 * int(
                    m.group(1)) and int(m.group(3), 16) == 1 << c, (r.cell, c, guest[-3000:])
            if cell.test_cpus >> c & 1:
                m = re.search(rf"cell={r.cell} cpu{c} test: PALDEMO test ok n=(\d+)", guest)
                assert m and int(m.group(1)) == rounds, (r.cell, c, guest[-3000:])
        if cell.storm:
            # The storm's injection is in the cell's own slice of the capture.
            hv = open(os.path.join(r.folder, "decoded.log")).read().split("---- guest ----")[0]
            assert "nmi storm: end" in hv, r.cell
    # One boot: one capture for the matrix, and the cells in it in order.
    boot = open(os.path.join(top, "boot", "decoded.log")).read()
    ends = [m.group(1) for m in re.finditer(r"STRESS END cell=(T\d)", boot)]
    assert ends == list(stress.CELLS), ends
    assert "T5" in open(os.path.join(top, "table.txt")).read()
