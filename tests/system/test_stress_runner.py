"""The stress runner (host-tools/hvstress, hvtools/stress.py): one cell in
make test (T4, the hypervisor's NMI storm at interval 0 against the test
guest, ~15 s in Bochs), the short T1-T5 matrix in make stress on both
Bochs CPU models. Each cell's verdict comes from the decoded stream and the
guest's own NMI counters; its evidence lands in the results folder."""
import os

import pytest

from hvtools import stress

pytestmark = pytest.mark.emulator


def run(tmp_path, names, **kw):
    o = stress.Options(results=str(tmp_path), label="t", rounds=kw.pop("rounds", 20),
                       storm_rounds=kw.pop("storm_rounds", 100), hang_after=180,
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


@pytest.mark.stress
@pytest.mark.parametrize("model,bochs3", [("corei7_skylake_x", False),
                                          ("corei7_icelake_u", True)])
def test_stress_matrix_t1_t5(tmp_path, model, bochs3):
    top, results = run(tmp_path, list(stress.CELLS), model=model, bochs3=bochs3,
                       rounds=50, storm_rounds=200)
    bad = [f"{r.cell}: {r.verdict} {r.why} ({r.folder})" for r in results if r.verdict != "pass"]
    assert not bad, "\n".join(bad)
