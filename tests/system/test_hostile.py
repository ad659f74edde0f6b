"""The hostile guest (guest/scenarios/hostile/, issue 10): the test guest
tries everything a hostile guest would -- every VMCALL number and random
ones, VMX instructions, VMX and unknown MSRs, illegal CR0/CR3/CR4 and XCR0
values, odd LAPIC accesses, every ICR delivery mode, COM1 abuse and a flood,
the hypervisor's memory and addresses nothing decodes, breakpoints and
single steps across exits -- and checks that it gets the architectural
answer; then it triple-faults. The hypervisor reports every refusal
("guest cpuN: refused KIND: ..."), resets the machine on the triple fault
and the guest boots a second time (a CMOS marker tells it so).

Under the hypervisor (corei7_skylake_x: 1 CPU on Bochs 2.7, 2 CPUs on
Bochs 2.7 and on Bochs 3.0, see triple_fault_checked) every CHECK line
must PASS. Bare in Bochs (no hypervisor) the architectural
checks must PASS and exactly the hypervisor-only ones FAIL with "no
hypervisor present": that validates the expectations on Bochs' own CPU.

The stress variant (--run-stress) boots the scenario again and again for
about ten minutes with hostile_order=random and a fresh seed each time; a
failure names the seed (hostile_seed=N replays it)."""
import os
import random
import re
import sys
import time

import pytest

from hvtools.emu import BOCHS, BOCHS3, RUNS_DIR, Machine
from hvtools.image import Module
from testpaths import ROOT
from waits import wait_session

sys.path.insert(0, os.path.join(ROOT, "guest"))
import disk  # noqa: E402  (guest/disk.py)

pytestmark = pytest.mark.emulator

NOHV = "no hypervisor present"
MODEL = "corei7_skylake_x"
# The default tracing (every class on): the per-exit vmx events stay in
# the flight recorder (flight=vmx), so the guest's thousands of exits do not
# wait for the serial line; the refusal reports are console lines.
HV_CMDLINE = "serial=115200,8n1,0x3f8"
# Bochs' own "ignore unknown MSRs" default would answer them like a CPU
# never does: real hardware raises #GP.
BOCHS_EXTRA = ["cpu: ignore_bad_msrs=0"]
SEED = 1
# Refusal kinds the attempts must produce (hv/trace/names.def REFUSAL).
KINDS = ["VMX_INSN", "MSR", "CR_WRITE", "XSETBV", "VMCALL", "HV_MEMORY", "LAPIC_ACCESS",
         "ICR", "TRIPLE_FAULT"]

# The checks that only the hypervisor can make true (bare: FAIL NOHV).
HV_ONLY = {
    "vmcall_sweep", "vmcall_random", "msr_feature_control_read",
    "msr_feature_control_write_gp", "msr_vmx_caps_read_gp",
    "msr_apic_base_relocation_ignored", "cr4_vmxe_gp", "lapic_wide_unaligned_reads",
    "lapic_odd_writes", "lapic_odd_writes_dropped", "icr_smi_self", "icr_init_self",
    "icr_byte_write", "icr_qword_write", "footprint_read_gp", "footprint_write_gp",
    "tf_vmcall",
}
# Every check of the first boot in the fixed order (1 CPU; 2 CPUs add the
# *_aps_alive ones). xsetbv_* need CPUID XSAVE, which the model has.
FIRST_BOOT = [
    "aps_ready", "vmcall_sweep", "vmcall_random",
    "vmx_vmxon_ud", "vmx_vmptrld_ud", "vmx_vmread_ud", "vmx_vmwrite_ud", "vmx_vmclear_ud",
    "vmx_vmlaunch_ud", "vmx_vmresume_ud", "vmx_vmxoff_ud", "vmx_invept_ud", "vmx_invvpid_ud",
    "vmx_vmptrst_ud", "vmx_vmfunc_ud",
    "msr_feature_control_read", "msr_feature_control_write_gp", "msr_vmx_caps_read_gp",
    "msr_vmx_caps_write_gp", "msr_efer_reserved_gp", "msr_unknown_gp", "msr_x2apic_read_gp",
    "msr_x2apic_write_gp", "msr_apic_base_rewrite", "msr_apic_base_relocation_ignored",
    "msr_apic_base_illegal_gp",
    "cr0_pg_without_pe_gp", "cr0_bit32_gp", "cr0_nw_without_cd_gp", "cr0_pg_off_in_long_mode_gp",
    "still_long_mode", "cr4_vmxe_gp", "cr4_reserved_bit15_gp", "cr4_reserved_bit63_gp",
    "cr3_above_maxphyaddr_gp",
    "xsetbv_opmask_without_zmm_gp", "xsetbv_no_x87_gp", "xsetbv_avx_without_sse_gp",
    "xsetbv_ecx1_gp", "xsetbv_bit63_gp", "xsetbv_unsupported_bit_gp", "xsetbv_rcx_high_ignored",
    "lapic_read_all", "lapic_narrow_reads", "lapic_wide_unaligned_reads", "lapic_odd_writes",
    "lapic_odd_writes_dropped", "lapic_rep_movs_icr", "lapic_aps_alive",
    "icr_fixed_self", "icr_fixed_self_shorthand", "icr_fixed_absent", "icr_fixed_logical_absent",
    "icr_lowpri_absent", "icr_lowpri_logical_absent", "icr_lowpri_self", "icr_nmi_self",
    "icr_nmi_absent", "icr_nmi_logical_absent", "icr_smi_absent", "icr_smi_logical_absent",
    "icr_smi_self", "icr_init_absent", "icr_init_logical_absent", "icr_init_self",
    "icr_sipi_absent", "icr_sipi_logical_absent", "icr_sipi_self", "icr_extint_absent",
    "icr_extint_logical_absent", "icr_byte_write", "icr_qword_write", "icr_rmw_orl",
    "icr_aps_alive",
    "com1_divisor_readback", "com1_ier_readback", "com1_mcr_readback", "com1_loopback",
    "com1_flood",
    "footprint_read_gp", "footprint_write_gp", "above_4g_reads_ones", "above_4g_writes_dropped",
    "ram_top_1g_reads_ones", "ram_top_1g_writes_dropped",
    "int3_reaches_guest", "icebp_reaches_guest", "dr0_breakpoint", "dr0_breakpoint_after_exits",
    "tf_vmcall", "tf_cpuid", "tf_lapic_read",
    "aps_alive",
]
SMP_ONLY = {"lapic_aps_alive", "icr_aps_alive", "aps_alive"}
DR0_CHECKS = {"dr0_breakpoint", "dr0_breakpoint_after_exits"}

CHECK_RX = re.compile(r"^CHECK (\w+)\.(\w+): (PASS|FAIL)(?: (.*))?$", re.M)


def first_boot_checks(cpus, dr0=True):
    return [c for c in FIRST_BOOT
            if (cpus > 1 or c not in SMP_ONLY) and (dr0 or c not in DR0_CHECKS)]


def split_boots(out):
    """The guest's output, one string per GUEST START."""
    parts = out.split("GUEST START ")
    return ["GUEST START " + p for p in parts[1:]]


def checks_of(text):
    return [(m.group(2), m.group(3), m.group(4) or "") for m in CHECK_RX.finditer(text)
            if m.group(1) == "hostile"]


def failing(checks):
    return "\n".join(f"hostile.{c}: FAIL {w}" for c, r, w in checks if r != "PASS")


def guest_text(s):
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def second_boot_done(s):
    out = guest_text(s)
    return len(split_boots(out)) >= 2 and "GUEST DONE" in split_boots(out)[-1]


# Each Bochs has one SMP bug in the way of one attempt, so on 2 CPUs the
# scenario runs on both, each leaving out only the attempt its emulator
# gets wrong (1 CPU: everything, on Bochs 2.7):
#  - Bochs 2.7 with more than one CPU freezes its clock after a hardware
#    reset through the 0xcf9 reset register (the BIOS's keyboard check then
#    times out: ">>PANIC<< Keyboard error:21" at the very tick of the
#    reset): no triple fault there (hostile_triple=0);
#  - Bochs 3.0 with more than one CPU triple-faults on a DR0 execute
#    breakpoint's #DB, bare too, without the hypervisor (seen: 458 resets
#    at the breakpoint in 10 minutes of a bare 2-CPU run; 1 CPU delivers
#    it): no DR0 breakpoint there (hostile_dr0=0). The DR0 breakpoint on 2
#    and 4 CPUs is also test_gdbstub's (scenario gdb, Bochs 2.7).
def triple_fault_checked(cpus, bochs=BOCHS):
    return cpus == 1 or bochs == BOCHS3


def dr0_checked(cpus, bochs=BOCHS):
    return cpus == 1 or bochs != BOCHS3


def first_boot_done(s):
    out = guest_text(s)
    return "GUEST DONE" in out


def run_under_hv(boot, cpus, args, timeout=1500, bochs=BOCHS):
    triple = triple_fault_checked(cpus, bochs)
    if not triple:
        args += " hostile_triple=0"
    if not dr0_checked(cpus, bochs):
        args += " hostile_dr0=0"
    img = disk.build_guest_disk(scenarios="hostile", poweroff=False, args=args)
    m = boot(cmdline=HV_CMDLINE, modules=[Module("(hd0)+1", nounzip=True)], disks=[img],
             boot="cdrom", cpus=cpus, model=MODEL, timeout=timeout + 60, serial="socket",
             extra_config=BOCHS_EXTRA, bochs=bochs)
    done = second_boot_done if triple else first_boot_done
    try:
        s = wait_session(m, lambda s: done(s) or "GUEST FAULT" in guest_text(s),
                         "the guest's summary" + (" after its second boot" if triple else ""),
                         timeout=timeout)
    except AssertionError as e:
        # Say why the emulator stopped (a BIOS panic after the reset, ...).
        problems = "\n".join(m.log_problems()) if hasattr(m, "log_problems") else ""
        out = guest_text(wait_session_now(m))
        raise AssertionError(f"{e}\n--- emulator log problems:\n{problems}\n"
                             f"--- guest (tail):\n{out[-2500:]}") from None
    return m, s


def wait_session_now(m):
    from hvtools.session import Session
    return Session.decode(m.output)


def assert_hostile_run(s, cpus, seed, fixed_order=True, bochs=BOCHS):
    out = guest_text(s)
    ctx = f"(cpus={cpus}, {os.path.relpath(bochs, ROOT) if bochs != BOCHS else 'bochs'}, " \
          f"hostile_seed={seed})"
    tail = s.text()[-3000:]
    assert "GUEST FAULT" not in out, f"{ctx}\n{out[-4000:]}"
    boots = split_boots(out)
    triple = triple_fault_checked(cpus, bochs)
    expected = first_boot_checks(cpus, dr0_checked(cpus, bochs))
    assert len(boots) == (2 if triple else 1), f"{ctx} got {len(boots)} guest boots\n{out[-3000:]}"
    first = boots[0]
    checks = checks_of(first)
    bad = failing(checks)
    assert not bad, f"{ctx} failing checks of the first boot:\n{bad}\n--- hypervisor:\n{tail}"
    names = [c for c, _, _ in checks]
    if fixed_order:
        assert names == expected, f"{ctx}\n{names}"
    else:
        assert set(names) >= set(expected) - {"aps_ready"}, f"{ctx}\n{names}"
    # The console still worked after the COM1 abuse and the flood.
    assert re.search(r"INFO hostile: flood of \d+ bytes done", first), first[-2000:]
    text = s.text()
    kinds = KINDS if triple else [k for k in KINDS if k != "TRIPLE_FAULT"]
    missing = [k for k in kinds if not re.search(rf"guest cpu\d+: refused {k}\b", text)]
    assert not missing, f"{ctx} no 'refused KIND' console line for {missing}\n{tail}"
    assert not s.find(r"^FATAL"), f"{ctx}\n{tail}"
    # Odd-width LAPIC accesses, the guest's own single steps: no LAPIC step
    # may miss its end, and the MSR bitmap audit holds (xapic_step.c,
    # x2apic_msr.c).
    assert not s.find(r"LAPIC step watchdog|MSR bitmap audit FAILED"), f"{ctx}\n{tail}"
    if cpus > 1:
        assert re.search(rf"INFO hostile: {cpus - 1} AP\(s\) answered after every attempt class",
                         first), first[-2000:]
    if not triple:
        assert re.search(r"GUEST SUMMARY passed=\d+ failed=0", first), first[-2000:]
        return
    second = boots[1]
    # The first boot's lines all went out before the triple fault.
    assert re.search(r"INFO hostile: first boot: passed=(\d+) failed=0", first), f"{ctx}\n{first[-2000:]}"
    assert "INFO hostile: CMOS marker set; triple fault now" in first, first[-2000:]
    # The second boot: after a second hypervisor start, hostile.second_boot.
    assert checks_of(second) == [("second_boot", "PASS", "")], f"{ctx}\n{second}"
    assert re.search(r"GUEST SUMMARY passed=1 failed=0", second), second
    assert len(s.hellos) >= 2, f"{ctx} one hypervisor HELLO only: no second hypervisor boot\n{tail}"
    assert len(re.findall(r"hv: ready", s.text())) >= 2, f"{ctx}\n{tail}"


@pytest.mark.parametrize("cpus,bochs", [(1, BOCHS), (2, BOCHS), (2, BOCHS3)],
                         ids=["1-bochs2.7", "2-bochs2.7", "2-bochs3.0"])
def test_hostile_guest_under_the_hypervisor(boot, cpus, bochs):
    m, s = run_under_hv(boot, cpus, f"hostile_seed={SEED}", bochs=bochs)
    assert_hostile_run(s, cpus, SEED, bochs=bochs)


# ---- bare: the expectations checked against Bochs' own CPU ---------------------------
@pytest.mark.parametrize("cpus", [1, 2])
def test_hostile_guest_bare_in_bochs(request, cpus):
    subprocess_build_guest()
    img = disk.build_guest_disk(scenarios="hostile", poweroff=True, args=f"hostile_seed={SEED}")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    m = Machine(emu="bochs", disks=[img], cpus=cpus, model=MODEL, timeout=600,
                workdir=os.path.join(RUNS_DIR, f"{slug}-{os.getpid()}"), name=slug,
                reset_on_triple_fault=True, extra_config=BOCHS_EXTRA)
    ok = False
    try:
        m.start()
        m.wait_for(r"GUEST DONE", timeout=580)
        out = m.text.replace("\r", "")
        boots = split_boots(out)
        assert len(boots) == 2, out[-3000:]
        got = checks_of(boots[0])
        assert [c for c, _, _ in got] == first_boot_checks(cpus), [c for c, _, _ in got]
        for c, r, w in got:
            if c in HV_ONLY:
                assert r == "FAIL" and w.startswith(NOHV), f"hostile.{c}: {r} {w}"
            else:
                assert r == "PASS", f"hostile.{c}: FAIL {w}\n{boots[0][-3000:]}"
        assert checks_of(boots[1]) == [("second_boot", "PASS", "")], boots[1]
        ok = True
    finally:
        m.stop()
        if ok:
            m.remove_workdir()
        else:
            print(f"kept run directory: {m.workdir}")


def subprocess_build_guest():
    import subprocess
    p = subprocess.run(["make", "-s", "-f", "guest/guest.mk", "guest"], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


# ---- stress: random order and values, about ten minutes -------------------------------
STRESS_SECONDS = int(os.environ.get("HOSTILE_STRESS_SECONDS", "600"))


@pytest.mark.stress
@pytest.mark.parametrize("cpus", [2])
def test_hostile_guest_random_order_stress(boot, cpus):
    deadline = time.monotonic() + STRESS_SECONDS
    runs = []
    while not runs or time.monotonic() < deadline:
        seed = random.randrange(1, 2**63)
        print(f"hostile stress: run {len(runs) + 1}, hostile_seed={seed}")
        m, s = run_under_hv(boot, cpus, f"hostile_order=random hostile_seed={seed} "
                            "hostile_rounds=2")
        out = guest_text(s)
        assert f"INFO hostile: seed {seed} " in out, out[:2000]
        assert_hostile_run(s, cpus, seed, fixed_order=False)
        m.stop()
        runs.append(seed)
    print(f"hostile stress: {len(runs)} runs, seeds {runs}")
