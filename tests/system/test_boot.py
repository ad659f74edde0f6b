"""The foundation, booted for real: SMP bring-up, fatal-path dumps, the
feature report, and the no-VMX path. Every boot is decoded from the framed
serial line exactly as hvlog would see it."""
import re

import pytest

from hvelf import symbol_range
from waits import wait_events, wait_session, wait_text

pytestmark = pytest.mark.emulator

READY = r"hv: ready"


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_every_cpu_reports_in(boot, cpus):
    m = boot(cpus=cpus, model="corei7_skylake_x")
    wait_text(m, READY, timeout=240)
    s = wait_events(m, "CPU_ONLINE", count=cpus)
    apic_ids = {}
    for cpu in range(cpus):
        found = s.find(rf"cpu{cpu} online: apic id (\d+)", cpu=cpu)
        assert found, f"cpu{cpu} never reported in:\n{s.text()}"
        apic_ids[cpu] = int(found.group(1))
    assert len(set(apic_ids.values())) == cpus, f"APIC ids not distinct: {apic_ids}"
    assert s.find(rf"smp: {cpus} of {cpus} CPUs online"), s.text()
    # The line is clean once the hypervisor owns it: GRUB's text before the
    # first delimiter is the only bad frame allowed.
    assert len(s.frame_errors) <= 1, s.frame_errors
    assert all(e.offset == 0 for e in s.frame_errors), s.frame_errors
    assert not s.losses, s.losses
    assert s.hello and s.hello.ncpus == cpus
    online = s.events("CPU_ONLINE")
    assert sorted(r.cpu for r in online) == list(range(cpus))


EXPECTED = {
    # selftest: (vector, mnemonic, function whose code must hold the RIP)
    "ud": (6, "#UD", "selftest_ud"),
    "pf": (14, "#PF", "selftest_pf"),
    "gp": (13, "#GP", "selftest_gp"),
    "df": (8, "#DF", None),     # the SDM leaves #DF's saved RIP undefined
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_selftest_fault_dump(boot, kind):
    vector, mnemonic, func = EXPECTED[kind]
    m = boot(cmdline=f"selftest={kind}", cpus=1)
    wait_text(m, r"frames: 0x[0-9a-f]+.*", timeout=180)
    s = wait_events(m, "CPU_PARKED")
    head = s.find(r"FATAL cpu0 apic\d+: unhandled exception: exception (\S+) \(vector (\d+)\)")
    assert head, s.text()
    assert (head.group(1), int(head.group(2))) == (mnemonic, vector)
    for reg in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r15",
                "cr0", "cr2", "cr3", "cr4", "rflags", "rsp"):
        assert re.search(rf"\b{reg}\s+[0-9a-f]{{4,16}}", s.text()), f"{reg} missing"
    if func:
        rip = int(s.find(r"rip ([0-9a-f]{16})").group(1), 16)
        lo, hi = symbol_range(func)
        assert lo <= rip < hi, f"rip {rip:#x} not in {func} [{lo:#x},{hi:#x})"
        frames = [int(x, 16) for x in re.findall(r"0x[0-9a-f]+", s.find(r"frames: (.*)").group(1))]
        lo_run, hi_run = symbol_range("selftest_run")
        assert any(lo_run <= f < hi_run for f in frames[1:]), \
            f"backtrace {list(map(hex, frames))} does not reach selftest_run"
    if kind == "pf":
        cr2 = int(s.find(r"cr2 ([0-9a-f]{16})").group(1), 16)
        assert cr2 == 0x00007F0000000000
    fatal = s.events("EXC_ENTER")
    assert fatal and fatal[-1].args[0] == vector, "trace lacks the exception"
    assert s.events("CPU_PARKED"), "the CPU did not park"


def test_selftest_nmi_is_reported_and_returns(boot):
    m = boot(cmdline="selftest=nmi", cpus=1)
    wait_text(m, r"selftest nmi: NMI handled, back in selftest_nmi", timeout=180)
    s = wait_events(m, "NMI_EXIT")
    head = s.find(r"exception #NMI \(vector (\d+)\)")
    assert head and int(head.group(1)) == 2, s.text()
    # The NMI is asynchronous: it may land in a callee (sending the IPI), so
    # the interrupted RIP or one of its callers must be selftest_nmi.
    frames = [int(x, 16) for x in re.findall(r"0x[0-9a-f]+", s.find(r"frames: (.*)").group(1))]
    lo, hi = symbol_range("selftest_nmi")
    assert any(lo <= f < hi for f in frames), \
        f"NMI frames {list(map(hex, frames))} do not include selftest_nmi"
    assert s.events("NMI_ENTER") and s.events("NMI_EXIT")
    s = wait_text(m, READY, timeout=60)


@pytest.mark.parametrize("model,mtf", [("corei7_skylake_x", "no"), ("corei7_icelake_u", "yes")])
def test_feature_report(boot, model, mtf):
    m = boot(cpus=1, model=model)
    s = wait_text(m, READY, timeout=180)
    line = s.find(r"vmx: features: .*")
    assert line, s.text()
    feats = dict(kv.split("=") for kv in line.group(0).split(": ", 2)[2].split())
    assert feats["vmx"] == "yes" and feats["ept"] == "yes"
    assert feats["unrestricted_guest"] == "yes" and feats["virtual_nmis"] == "yes"
    assert feats["monitor_trap_flag"] == mtf


def test_qemu_without_vmx_halts_cleanly(boot):
    m = boot(emu="qemu", cpus=2)
    wait_text(m, r"hv: halted: .*", timeout=120)
    s = wait_events(m, "CPU_PARKED")
    assert s.find(r"hv: halted: no VMX: this CPU does not offer Intel VT-x"), s.text()
    assert s.find(r"vmx: features: vmx=no")
    assert not s.find(r"FATAL"), s.text()
    assert not s.events("EXC_ENTER"), "a fault happened on the no-VMX path"


def test_bad_command_line_words_are_reported_and_defaults_kept(boot):
    """A typo on the GRUB line is named and skipped; the machine boots with
    the default for that option, and the good words still take effect."""
    m = boot(cmdline="x2apic_hint=bogus guest_serial=both lapic_trap=maybe nosuch=1 "
                     "novalue lapic_step=tf", cpus=1, model="corei7_icelake_u")
    s = wait_text(m, READY, timeout=240)
    for word in ("x2apic_hint=bogus", "guest_serial=both", "lapic_trap=maybe"):
        assert s.find(rf"bad value in '{word}'; default kept"), s.text()
    assert s.find(r"unknown option 'nosuch' ignored"), s.text()
    assert s.find(r"option 'novalue' needs a value"), s.text()
    assert not s.find(r"x2apic_hint=kvm"), s.text()            # default: none
    assert not s.find(r"lapic_trap=off"), s.text()             # default: on
    # The good word after the bad ones: icelake offers MTF, tf says no.
    assert s.find(r"single-stepped with TF and #DB \(lapic_step=tf\)"), s.text()
