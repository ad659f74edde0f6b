"""Model check of the NMI / quiesce protocol (hv/nmi/nmi_model.pml) with spin.

Each check generates the verifier (spin -a), compiles it (gcc, -DSAFETY: safety
properties only, exhaustive search, no bitstate) and runs it in its own
directory build/model/<check>/, where pan.out and, after an error, the trail
and a readable trail.txt stay for inspection. hv/nmi/MODEL.md explains the
model, the properties and the variants.

The protocol as hv/nmi/nmi.c, quiesce.c, hv/vmx/exit.c (the one composition
of PROC_CONTROLS per entry) and hv/vapic/mtf_probe.c implement it must verify
with no error (N=2 and N=3); the seed's endquiesce() order, the MTF probe's
old read-modify-write after the commit (issue 10), and known-bad variants of
the protocol, must fail with the named error, which proves the model can see
those bugs.
"""
import os
import re
import shutil
import subprocess

import pytest

from testpaths import BUILD, ROOT

MODEL = os.path.join(ROOT, "hv", "nmi", "nmi_model.pml")
WORK = os.path.join(BUILD, "model")


class Pan:
    """The outcome of one verification run."""

    def __init__(self, name, workdir, out):
        self.name = name
        self.workdir = workdir
        self.out = out
        m = re.search(r"errors: (\d+)", out)
        assert m, f"{name}: no 'errors:' line in pan's output:\n{out}"
        self.errors = int(m.group(1))
        m = re.search(r"^pan:1: (.*?) \(at depth \d+\)", out, re.M)
        self.first_error = m.group(1) if m else None
        m = re.search(r"^\s*(\d+) states, stored", out, re.M)
        self.states = int(m.group(1)) if m else None

    def unreached(self, proctype):
        """Statements of a proctype that the search never executed."""
        m = re.search(r"unreached in proctype %s\n(.*?)\t\(\d+ of \d+ states\)"
                      % proctype, self.out, re.S)
        assert m, f"{self.name}: no reachability report for {proctype}"
        return [line.strip() for line in m.group(1).splitlines() if line.strip()]

    def __str__(self):
        return f"{self.name} (in {self.workdir}):\n{self.out}"


def _run(cmd, cwd, timeout):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def verify(name, defines, pan_flags=(), cflags=("-DSAFETY",), opt="-O1", timeout=300):
    """spin -a + gcc + ./pan in build/model/<name>/; returns a Pan. opt: -O1
    compiles in half the time of -O2 and searches as fast; runs expected to
    stop at an early error use -O0."""
    spin = shutil.which("spin")
    assert spin, "spin is not installed: mk/deps.sh installs it (Debian package spin)"
    workdir = os.path.join(WORK, name)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    # The model is copied next to pan: spin -t finds the trail by the model's name.
    shutil.copy(MODEL, workdir)
    _run([spin, "-a", *defines, "nmi_model.pml"], workdir, 60)
    _run(["gcc", opt, "-w", *cflags, "-o", "pan", "pan.c"], workdir, 120)
    out = _run(["./pan", "-m100000", *pan_flags], workdir, timeout)
    with open(os.path.join(workdir, "pan.out"), "w") as f:
        f.write(out)
    assert "max search depth too small" not in out, f"depth limit hit: {out}"
    assert "out of memory" not in out, out
    result = Pan(name, workdir, out)
    if result.errors:
        trail = subprocess.run([spin, "-t", "-p", "-g", *defines, "nmi_model.pml"],
                               cwd=workdir, capture_output=True, text=True, timeout=60)
        with open(os.path.join(workdir, "trail.txt"), "w") as f:
            f.write(trail.stdout)
    return result


# The statements only a run with the MTF probe reaches: its arming and the
# MTF exit (or the hardware's refusal to give it), and whatever else is on
# their lines (the MTF exit's in_guest[c] = 0).
PROBE_ONLY = ('"probe_budget = (probe_budget-1)"', '"mtf_want = 1"',
              '"mtf_hw = 1"', '"mtf_hw = 2"')


def _line(unreached_entry):
    return unreached_entry.split(",")[0]      # "nmi_model.pml:287"


def assert_holds(r, probes=True):
    assert r.errors == 0, str(r)
    assert "Search not completed" not in r.out, str(r)
    # No vacuous success: every statement of the C-side processes was executed
    # somewhere in the search (only the never-reached closing "}" remain;
    # without the probe, its statements too).
    for proctype in ("nmi_unit", "cpu"):
        left = [s for s in r.unreached(proctype) if not s.endswith('"-end-"')]
        if not probes:
            lines = {_line(s) for s in left if s.endswith(PROBE_ONLY)}
            left = [s for s in left if _line(s) not in lines]
        assert not left, f"{r.name}: unreached in {proctype}: {left}"


# ---- the protocol as the C code implements it: no error ---------------------
# (name, defines): the bounds are explained in MODEL.md ("Bounds"). The MTF
# probe multiplies the state space by about 6 (it may arm on any entry, and
# its MTF exit is one more exit), so the larger bounds run without it
# (PROBES=0) and the probe runs have one NMI fewer.
CORRECT = [
    ("n2", ["-DN=2", "-DPROBES=0"]),                # 2 guest IPIs + 1 external
    ("n2_two_rounds", ["-DN=2", "-DQCALLS=2", "-DPROBES=0"]),  # 2 quiesces per CPU
    ("n2_three_ipis", ["-DN=2", "-DIPIS=3", "-DPROBES=0"]),
    ("n3", ["-DN=3", "-DIPIS=1", "-DPROBES=0"]),    # 1 guest IPI + 1 external
    ("n3_two_ipis", ["-DN=3", "-DIPIS=2", "-DEXT=0", "-DPROBES=0"]),
    # with the MTF probe (one probe entry, anywhere; MTF works or is dead)
    ("n2_probe", ["-DN=2", "-DIPIS=1", "-DPROBES=1"]),  # 1 guest IPI + 1 external
    ("n3_probe", ["-DN=3", "-DIPIS=1", "-DQCPUS=1", "-DPROBES=1"]),
]


@pytest.mark.parametrize("name,defines", CORRECT, ids=[c[0] for c in CORRECT])
def test_protocol_holds(name, defines):
    assert_holds(verify("ok_" + name, defines), probes="-DPROBES=0" not in defines)


def test_protocol_always_terminates():
    """No cycle at all in the state graph (-DNP, pan -l, no progress labels):
    every run ends, so the end-state check of the other runs covers every
    kind of hang, livelocks included."""
    r = verify("ok_n2_no_cycles", ["-DN=2", "-DPROBES=0"], pan_flags=["-l"],
               cflags=["-DNP"])
    assert r.errors == 0, str(r)


# Larger bounds: minutes and a few GB, so only with make stress.
BIG = [
    ("n3_full", ["-DN=3", "-DPROBES=0"]),           # 2 IPIs + 1 external, N=3
    ("n3_three_quiescers", ["-DN=3", "-DIPIS=1", "-DQCPUS=3", "-DPROBES=0"]),
    ("n3_probe", ["-DN=3", "-DIPIS=1", "-DPROBES=1"]),  # 1 IPI + 1 external, 2 quiescers
]


@pytest.mark.stress
@pytest.mark.parametrize("name,defines", BIG, ids=[c[0] for c in BIG])
def test_protocol_holds_big(name, defines):
    assert_holds(verify("big_" + name, defines, pan_flags=["-w26"], opt="-O2",
                        timeout=1800), probes="-DPROBES=0" not in defines)


# ---- the seed's endquiesce() order must fail --------------------------------
def test_seed_order_double_ack():
    """Seed order: a CPU released by resume_signal takes its latched NMI while
    quiesce_request is still set and stops a second time in the same quiesce
    (the seed log's "EOQ received, resuming" followed by "Quiesced")."""
    r = verify("seed_n2", ["-DN=2", "-DSEED_ORDER"], opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == "assertion violated (quiesce_acks<=(2-1))", str(r)


def test_seed_order_deadlock():
    """Without the ack-count assertion spin goes on to the seed's deadlock: a
    CPU waits for a resume_signal that has already come and gone."""
    r = verify("seed_n2_deadlock", ["-DN=2", "-DSEED_ORDER", "-DNO_ACK_ASSERT"],
               opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == "invalid end state", str(r)


def test_seed_order_lost_nmi():
    """Ignoring end states too (pan -E), the seed order also loses a guest
    NMI: it is taken for a second quiesce NMI and never injected."""
    r = verify("seed_n2_lost", ["-DN=2", "-DSEED_ORDER", "-DNO_ACK_ASSERT"],
               pan_flags=["-E"], opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == "assertion violated (unmatched[c]<=0)", str(r)


def test_seed_order_n3():
    r = verify("seed_n3", ["-DN=3", "-DSEED_ORDER"], opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == "assertion violated (quiesce_acks<=(3-1))", str(r)


# ---- known-bad variants of the protocol must fail (MODEL.md explains) -------
STUCK_NMI = ("assertion violated (( !(hw_latched[c])&& !(nmi_pending[c]))&& "
             "!(guest_nmi_blocked[c]))")


def test_entry_race_as_first_specified():
    """The injection as first specified (one decision in nmi_before_entry(),
    nobody else arms NMI-window exiting): an NMI taken in root after the
    decision and before VMRESUME stays pending in a guest that never exits
    again. (Property 5, window_ok, would stop the search earlier, at the
    VMRESUME: left out to show the end.)"""
    r = verify("entry_race_n2", ["-DN=2", "-DNO_WINDOW_FIX", "-DNO_WINDOW_INVARIANT"],
               opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == STUCK_NMI, str(r)


def test_entry_race_without_second_look():
    """The C scheme without nmi_before_entry()'s second look at nmi_pending
    after entry_committed: an NMI between the first look and the commit is
    stuck the same way."""
    r = verify("entry_race_norecheck_n2",
               ["-DN=2", "-DNO_RECHECK", "-DNO_WINDOW_INVARIANT"], opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == STUCK_NMI, str(r)


def test_quiesce_nmi_overtaking_request_deadlocks():
    """If the quiesce NMIs can arrive before the store of quiesce_request is
    visible (x2APIC ICR write without a fence), they are taken for guest NMIs
    and the quiescer waits for ever."""
    r = verify("x2apic_nofence_n2", ["-DN=2", "-DX2APIC_NO_FENCE"], opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == "invalid end state", str(r)


# ---- issue 10: the MTF probe's read-modify-write after the commit -----------
WINDOW_LOST = "assertion violated window_ok"


@pytest.mark.parametrize("name,defines", [
    ("n2", ["-DN=2", "-DIPIS=1"]),
    ("n3", ["-DN=3", "-DIPIS=1", "-DQCPUS=1"]),
], ids=["n2", "n3"])
def test_probe_after_commit_loses_window(name, defines):
    """The old order (same bounds as the probe runs that hold): the probe
    reads PROC_CONTROLS after the commit, an NMI taken through the IDT sets
    NMI-window exiting, the probe writes back what it read | MTF. The guest
    runs with an NMI pending and the window off (property 5)."""
    r = verify("probe_after_commit_" + name, [*defines, "-DPROBE_AFTER_COMMIT"],
               opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == WINDOW_LOST, str(r)


def test_probe_after_commit_nmi_never_delivered():
    """Without property 5 spin goes on to the consequence: where the MTF
    exit does not come either (the hardware the probe exists for, Bochs 2.7)
    nothing delivers the NMI."""
    r = verify("probe_after_commit_stuck_n2",
               ["-DN=2", "-DIPIS=1", "-DPROBE_AFTER_COMMIT", "-DNO_WINDOW_INVARIANT"],
               opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == STUCK_NMI, str(r)
    with open(os.path.join(r.workdir, "trail.txt")) as f:
        trail = f.read()
    assert "mtf_hw = 2" in trail, trail      # MTF_DEAD: no MTF exit


# ---- the debugger's all-stop (issue 11; MODEL.md, "Debugger stop") ----------
# The model of hv/gdbstub/stop.c as committed finds that a CPU can park for a
# stop that has already been released (invalid end state). FIX_* model
# candidate fixes of the C code (not applied to it). With the three found so
# far, plus FIX_STOP_DEPTH, the small N=2 bounds hold except for the spurious
# guest NMI (property 3), which is checked on its own; N=3 and N=2 with an
# external NMI still fail (MODEL.md), so they are not in make test.
STOP_FIXES = ["-DFIX_POLL_CLAIM", "-DFIX_LEAVE_GEN", "-DFIX_GEN_BEFORE_CAS",
              "-DFIX_STOP_DEPTH"]
STOP_BASE = ["-DN=2", "-DPROBES=0", "-DIPIS=1", "-DEXT=0"]


def test_stop_as_committed_parks_forever():
    """stop.c as committed: a CPU polling in a quiesce spin decides to stop,
    the stop IPI overtakes it and parks it inside the NMI; the reporter
    continues; the poll goes on and parks for the next release_gen, which
    never comes."""
    r = verify("stop_committed_n2", [*STOP_BASE, "-DSTOPS=1"], opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == "invalid end state", str(r)


def test_stop_spurious_guest_nmi():
    """One NMI answers the stop (ipi_in_flight) and a quiesce raised while
    the CPU was parked in it; the quiesce's own NMI comes later and goes to
    the guest: an NMI nobody sent to it."""
    r = verify("stop_spurious_n2", [*STOP_BASE, "-DSTOPS=1", *STOP_FIXES], opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == "assertion violated (spare[c]>=0)", str(r)


@pytest.mark.parametrize("name,defines", [
    ("n2_one_stop", [*STOP_BASE, "-DSTOPS=1"]),
    ("n2_two_stops", [*STOP_BASE, "-DSTOPS=2"]),
], ids=["n2_one_stop", "n2_two_stops"])
def test_stop_with_fixes_holds(name, defines):
    r = verify("stop_fixed_" + name, [*defines, *STOP_FIXES, "-DNO_SPURIOUS_CHECK"])
    assert r.errors == 0, str(r)
    assert "Search not completed" not in r.out, str(r)


@pytest.mark.parametrize("variant", ["STOP_NO_RECHECK", "STOP_WAIT_IN_QUIESCE",
                                     "STOP_RELEASE_FIRST"])
def test_stop_bad_variant_fails(variant):
    """Known-bad variants, on top of the bounds that hold: each leaves a CPU
    (or the reporter) waiting for ever."""
    r = verify("stop_bad_" + variant.lower(),
               [*STOP_BASE, "-DSTOPS=2", *STOP_FIXES, "-DNO_SPURIOUS_CHECK",
                "-D" + variant], opt="-O0")
    assert r.errors > 0, str(r)
    assert r.first_error == "invalid end state", str(r)
