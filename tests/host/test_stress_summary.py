"""results/stress.md (hvtools/stress_summary.py, hvstress --summary): the
newest run of each matrix label counts, a failing or unfinished cell makes
the page say so (and the exit status 1), and nothing run is not a pass."""
import os
import subprocess
import sys

from hvtools import stress_summary

HVSTRESS = os.path.join(os.path.dirname(__file__), "..", "..", "host-tools", "hvstress")


def matrix(results, name, verdicts, title="stress matrix: bochs x"):
    top = results / name
    top.mkdir()
    (top / "table.txt").write_text(f"{title}\n\ncell ...\n")
    for cell, verdict in verdicts.items():
        (top / cell).mkdir()
        if verdict is not None:
            (top / cell / "verdict.txt").write_text(f"{verdict}\nwhy\n")
            (top / cell / "summary.txt").write_text(f"{cell} {verdict} 12s bochs/m/2cpu what\n")
    return top


def test_newest_run_per_label_decides(tmp_path):
    matrix(tmp_path, "20261201-100000-stress-test-skylake-2cpu", {"T1": "hang", "T2": "pass"})
    matrix(tmp_path, "20261202-100000-stress-test-skylake-2cpu", {"T1": "pass", "T2": "pass"})
    matrix(tmp_path, "20261202-110000-stress-test-icelake-4cpu", {"T1": "pass"})
    matrix(tmp_path, "20261202-120000-drills", {"T1": "hv-fatal"})     # not a stress matrix
    found = stress_summary.newest_matrices(str(tmp_path))
    assert found == {
        "stress-test-icelake-4cpu": str(tmp_path / "20261202-110000-stress-test-icelake-4cpu"),
        "stress-test-skylake-2cpu": str(tmp_path / "20261202-100000-stress-test-skylake-2cpu"),
    }
    text, ok = stress_summary.markdown(str(tmp_path))
    assert ok and "Every cell passed." in text
    assert "T1 hang" not in text and "20261201-100000" not in text
    assert "T1 12s" not in text and "T1 pass 12s bochs/m/2cpu what" in text


def test_a_failed_or_unfinished_cell_is_not_a_pass(tmp_path):
    matrix(tmp_path, "20261202-100000-stress-test-skylake-2cpu", {"T1": "pass", "T2": "nmi-mismatch"})
    text, ok = stress_summary.markdown(str(tmp_path))
    assert not ok and "NOT every cell passed." in text and "T2 nmi-mismatch" in text
    matrix(tmp_path, "20261203-100000-stress-test-skylake-2cpu", {"T1": "pass", "T2": None})
    text, ok = stress_summary.markdown(str(tmp_path))
    assert not ok and "T2 no-verdict" in text


def test_a_run_that_wrote_no_table_is_not_a_pass(tmp_path):
    matrix(tmp_path, "20261202-100000-stress-test-skylake-2cpu", {"T1": "pass"})
    (tmp_path / "20261202-130000-stress-linux-skylake-2cpu").mkdir()    # died at boot
    text, ok = stress_summary.markdown(str(tmp_path))
    assert not ok and "no table.txt" in text and "no cells" in text


def test_nothing_run_is_not_a_pass(tmp_path):
    text, ok = stress_summary.markdown(str(tmp_path))
    assert not ok and "No matrix has run." in text
    text, ok = stress_summary.markdown(str(tmp_path / "missing"))
    assert not ok


def test_cli_writes_stress_md_and_exits_by_the_verdicts(tmp_path):
    matrix(tmp_path, "20261202-100000-stress-linux-skylake-2cpu", {"T1": "pass"})
    p = subprocess.run([sys.executable, HVSTRESS, "--summary", "--results", str(tmp_path)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    md = (tmp_path / "stress.md").read_text()
    assert "stress-linux-skylake-2cpu" in md and "20261202-100000-stress-linux-skylake-2cpu/table.html" in md
    matrix(tmp_path, "20261202-110000-stress-test-skylake-4cpu", {"T4": "hang"})
    p = subprocess.run([sys.executable, HVSTRESS, "--summary", "--results", str(tmp_path)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "T4 hang" in (tmp_path / "stress.md").read_text()
