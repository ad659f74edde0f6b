"""hvtools.stress's end-of-cell judgement on made-up guest output (no
emulator): the verdict comes from the guest's counters and CHECK lines."""
from hvtools import stress

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
