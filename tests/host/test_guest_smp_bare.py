"""The test guest's SMP and NMI scenarios (smp_xapic, smp_x2apic,
nmi_pingpong, nmi_storm, quiesce_pair) booted bare -- no hypervisor -- in
Bochs with 2 and 4 CPUs (and once in QEMU TCG, whose vCPUs run in parallel
threads). Bare, every check passes except exactly the VMCALL-based ones,
which FAIL with "no hypervisor present". Under the hypervisor all of them
must PASS (tests/system/).

Each boot is lean: small counts on the guest command line (nmi_rounds,
storm_sends, ...) and a short smp_timeout_ms so a hang fails fast."""
import re

import pytest

from test_guest_bare import NOHV, assert_pattern, boot_guest, guest_elf  # noqa: F401

# Bochs runs virtual time (a wait costs instructions, not host load): 3 s
# virtual is plenty. QEMU TCG's vCPU threads compete for host cores: more.
LEAN = "nmi_rounds=40 storm_sends=60 storm_pingpong=8 quiesce_rounds=5 smp_timeout_ms=3000"
LEAN_QEMU = LEAN.replace("smp_timeout_ms=3000", "smp_timeout_ms=20000")
CHAIN = ["nmi_pingpong", "nmi_storm", "quiesce_pair"]


def smp_checks(scn, ncpus):
    mode = "x2apic_mode" if scn == "smp_x2apic" else "xapic_mode"
    checks = ["madt", mode, "cpus", "round1", "ap_identity", "lvt", "init_deassert_ignored",
              "round2"] + (["round3"] if ncpus >= 3 else [])
    return [(c, "PASS") for c in checks]


def scenario_checks(scn, ncpus):
    """The checks scenario scn prints bare with ncpus CPUs: check -> PASS or NOHV."""
    if scn.startswith("smp_"):
        return smp_checks(scn, ncpus)
    if scn == "nmi_pingpong":
        return [("aps_ready", "PASS"), ("pingpong", "PASS"), ("hv_nmi_counts", NOHV)]
    if scn == "nmi_storm":
        return [("aps_ready", "PASS"), ("storm_done", "PASS"), ("received", "PASS"),
                ("hv_nmi_counts", NOHV), ("quiesce", NOHV), ("vmcalls", NOHV),
                ("pingpong_after", "PASS"), ("lint1_nmi", "PASS")]
    if scn == "quiesce_pair":
        return [("aps_ready", "PASS"), ("pair", NOHV)] + ([("all", NOHV)] if ncpus >= 3 else [])
    raise KeyError(scn)


def expected(scenarios, ncpus):
    return [(s, c, r) for s in scenarios for c, r in scenario_checks(s, ncpus)]


def assert_clean_run(run, scenarios, ncpus, want=None):
    want = want or expected(scenarios, ncpus)
    assert run.scenarios == scenarios, run.text()
    assert_pattern(run, want)
    npass = sum(1 for *_, r in want if r == "PASS")
    assert run.summary() == (npass, len(want) - npass), run.text()
    assert run.lines[-1] == "GUEST DONE", run.text()
    assert not [l for l in run.lines if "GUEST FAULT" in l], run.text()
    kinds = ("GUEST START ", "INFO ", "SCENARIO ", "CHECK ", "GUEST SUMMARY ", "GUEST DONE")
    assert all(l.startswith(kinds) for l in run.lines if l), run.text()
    # The MADT CPUs, one INFO line each, BSP first.
    scn = scenarios[0]
    cpus = [l for l in run.lines if re.match(rf"INFO {scn}: cpu \d+: APIC ID \d+ \(", l)]
    assert len(cpus) == ncpus and "the BSP" in cpus[0], run.text()


def assert_not_applicable(run, ncpus, scenarios):
    """With 2 CPUs the 3-CPU parts say why they do not run."""
    for scn in scenarios:
        if scn.startswith("smp_"):
            lines = [l for l in run.lines if l.startswith(f"INFO {scn}: round 3 not applicable")]
            assert len(lines) == (1 if ncpus < 3 else 0), run.text()
    if "quiesce_pair" in scenarios:
        lines = [l for l in run.lines if l.startswith("INFO quiesce_pair: phase 'all' not applicable")]
        assert len(lines) == (1 if ncpus < 3 else 0), run.text()


def storm_numbers(run, ncpus):
    """Per-CPU (sent, received, sent_to_it) from nmi_storm's INFO lines."""
    rx = re.compile(r"^INFO nmi_storm: cpu (\d+): sent (\d+) NMIs \(all including self\), "
                    r"received (\d+) of the (\d+) sent to it")
    got = {int(m.group(1)): tuple(int(m.group(i)) for i in (2, 3, 4))
           for m in map(rx.match, run.lines) if m}
    assert sorted(got) == list(range(ncpus)), run.text()
    return got


def assert_storm_sane(run, ncpus, sends):
    for cpu, (sent, received, sent_to) in storm_numbers(run, ncpus).items():
        assert sent == sends and sent_to == sends * ncpus, run.text()
        assert 0 < received <= sent_to, run.text()


def assert_started_rounds(run, scn, ncpus):
    """The closing INFO lines: every AP last started in round 3 (>= 3 CPUs:
    all but cpu 1, which sent round 3) or round 2."""
    rx = re.compile(rf"^INFO {scn}: cpu (\d+): APIC ID \d+, started \d+ times, "
                    r"last in round (\d) at vector 0x[0-9a-f]{2}$")
    rounds = {int(m.group(1)): int(m.group(2)) for m in map(rx.match, run.lines) if m}
    want = {c: 3 if ncpus >= 3 and c >= 2 else 2 for c in range(1, ncpus)}
    assert rounds == want, run.text()


# ---- Bochs -------------------------------------------------------------------------
@pytest.mark.emulator
@pytest.mark.parametrize("ncpus", [2, 4])
def test_bochs_smp_xapic_chain(boot_guest, ncpus):
    """xAPIC: the three start rounds, then NMI ping-pong, the NMI storm and
    the quiesce collision on the started APs."""
    scenarios = ["smp_xapic"] + CHAIN
    run = boot_guest(",".join(scenarios), emu="bochs", cpus=ncpus, args=LEAN)
    assert_clean_run(run, scenarios, ncpus)
    assert_not_applicable(run, ncpus, scenarios)
    assert_started_rounds(run, "smp_xapic", ncpus)
    assert_storm_sane(run, ncpus, 60)
    assert any(l.startswith("INFO nmi_pingpong: 40 NMI round trips") and "(xAPIC mode)" in l
               for l in run.lines), run.text()


@pytest.mark.emulator
def test_bochs_smp_x2apic_chain(boot_guest):
    """x2APIC (WRMSR 0x830 for every IPI): the same chain on 4 CPUs."""
    scenarios = ["smp_x2apic"] + CHAIN
    run = boot_guest(",".join(scenarios), emu="bochs", cpus=4, args=LEAN)
    assert_clean_run(run, scenarios, 4)
    assert_started_rounds(run, "smp_x2apic", 4)
    assert_storm_sane(run, 4, 60)
    assert any(l.startswith("INFO nmi_storm: 4 CPUs each send 60 NMIs") and "(x2APIC mode)" in l
               for l in run.lines), run.text()


@pytest.mark.emulator
def test_bochs_icelake_x2apic_then_xapic_refused(boot_guest):
    """corei7_icelake_u, 2 CPUs: x2APIC start rounds; a later smp_xapic
    refuses to go back to xAPIC (only a reset does that; Bochs never
    re-enables a globally disabled LAPIC) and the machine stays usable: the
    ping-pong still runs, in x2APIC mode."""
    scenarios = ["smp_x2apic", "smp_xapic", "nmi_pingpong"]
    run = boot_guest(",".join(scenarios), emu="bochs", cpus=2, model="corei7_icelake_u",
                     args=LEAN)
    want = expected(["smp_x2apic"], 2) + [
        ("smp_xapic", "madt", "PASS"),
        ("smp_xapic", "xapic_mode", "the LAPICs are in x2APIC mode"),
    ] + expected(["nmi_pingpong"], 2)
    assert_clean_run(run, scenarios, 2, want)
    assert any(l.startswith("INFO nmi_pingpong: 40 NMI round trips") and "(x2APIC mode)" in l
               for l in run.lines), run.text()


@pytest.mark.emulator
def test_bochs_nmi_scenarios_start_the_aps_themselves(boot_guest):
    """Without an smp_* scenario first, nmi_pingpong starts the APs in the
    live (xAPIC) mode."""
    scenarios = ["nmi_pingpong", "quiesce_pair"]
    run = boot_guest(",".join(scenarios), emu="bochs", cpus=2, args=LEAN)
    assert_clean_run(run, scenarios, 2)
    assert "INFO nmi_pingpong: starting the APs in the live xAPIC mode (no smp_* scenario did)" \
        in run.lines, run.text()


@pytest.mark.emulator
def test_bochs_one_cpu_says_so(boot_guest):
    """One CPU: every SMP scenario FAILs clearly instead of hanging."""
    scenarios = ["smp_xapic", "nmi_storm"]
    run = boot_guest(",".join(scenarios), emu="bochs", cpus=1, args=LEAN)
    want = [("smp_xapic", "madt", "PASS"), ("smp_xapic", "xapic_mode", "PASS"),
            ("smp_xapic", "cpus", "only one CPU in the MADT"),
            ("nmi_storm", "aps_ready", "only one CPU in the MADT")]
    assert_clean_run(run, scenarios, 1, want)


# ---- QEMU (TCG: vCPUs in parallel host threads) --------------------------------------
@pytest.mark.emulator
def test_qemu_smp_xapic_chain(boot_guest):
    """The xAPIC chain where the CPUs really run at the same time: NMIs
    merge here (received < sent), which the storm must accept."""
    scenarios = ["smp_xapic"] + CHAIN
    run = boot_guest(",".join(scenarios), emu="qemu", cpus=4, args=LEAN_QEMU)
    assert_clean_run(run, scenarios, 4)
    assert_started_rounds(run, "smp_xapic", 4)
    assert_storm_sane(run, 4, 60)
