"""The VMX core without a disk: every CPU in VMX root operation, the built-in
guest's VMCALL round trip, and VM-entry failures explained by name."""
import re

import pytest

from waits import wait_events, wait_text as wait

pytestmark = pytest.mark.emulator


def test_every_cpu_in_vmx_root_and_builtin_guest_pings(boot):
    m = boot(cpus=2)
    wait(m, r"hypercall PING from cpu0")
    s = wait_events(m, "HYPERCALL_RET")
    for cpu in (0, 1):
        assert s.find(rf"vmx: cpu{cpu} in VMX root operation", cpu=cpu), s.text()
    assert s.find(r"guest: no boot sector module; starting the built-in idle guest")
    # Preemption-timer exits (the hypervisor taking the CPU back every few
    # ms) come and go with timing; every other exit is deterministic.
    exits = [r for r in s.events("VMEXIT") if r.cpu == 0 and r.args[0] != 52]
    hello = b"built-in guest: hello\r\n"
    # One emulated OUT to COM1 per byte, then exactly one VMCALL.
    assert [r.args[0] for r in exits] == [30] * len(hello) + [18], exits
    assert exits[-1].args[1] == 0x7c17, "VMCALL exit at the wrong guest RIP"
    assert bytes(s.guest) == hello, bytes(s.guest)
    calls = s.events("HYPERCALL")
    assert calls and calls[0].args[0] == 0 and calls[0].args[2] == 0x1234
    assert s.events("HYPERCALL_RET")[0].args[1] == 0


def test_guest_e820_hides_the_hypervisor(boot):
    m = boot(cpus=1)
    s = wait(m, r"guest: launching")
    fp = s.find(r"hv footprint: \[(0x[0-9a-f]+)-(0x[0-9a-f]+)\)")
    lo, hi = (int(x, 16) for x in fp.groups())
    entries = [(int(a, 16), int(b, 16), int(t)) for a, b, t in
               re.findall(r"e820 \[([0-9a-f]+)-([0-9a-f]+)\) type (\d+)", s.text())]
    assert entries, s.text()
    assert any(a <= lo and hi <= b and t != 1 for a, b, t in entries), "footprint not reserved"
    assert not any(t == 1 and a < hi and lo < b for a, b, t in entries), "footprint usable"


@pytest.mark.parametrize("field,expect", [
    ("GUEST_RFLAGS", r"VM entry failed: exit reason 33 \(ENTRY_FAIL_GUEST_STATE\)"),
    ("HOST_CR3", r"VM entry failed: ENTRY_INVALID_HOST_STATE \(VM-instruction error 8\)"),
])
def test_vm_entry_failure_names_field_and_error(boot, field, expect):
    m = boot(cmdline=f"vmx_corrupt={field}", cpus=1)
    wait(m, r"HOST_RIP\s+0x[0-9a-f]+")
    s = wait_events(m, "CPU_PARKED")
    assert s.find(expect), s.text()
    bad = "0x0" if field == "GUEST_RFLAGS" else "0xffffffffffffffff"
    assert s.find(rf"^\s+{field}\s+{bad}$"), f"dump does not show {field} = {bad}"
    for group in ("CTRL", "RO", "GUEST", "HOST"):
        assert s.find(rf"-- {group} fields --"), group
    assert s.events("VMENTRY_FAIL") and s.events("CPU_PARKED")


def test_unknown_vmx_corrupt_field_is_reported_not_fatal(boot):
    m = boot(cmdline="vmx_corrupt=NO_SUCH_FIELD", cpus=1)
    s = wait(m, r"hypercall PING from cpu0")
    assert s.find(r"vmx_corrupt=NO_SUCH_FIELD names no VMCS field; nothing corrupted")


def test_host_command_exit_stats_reaches_a_halted_guest_cpu(boot):
    """The guest halts with interrupts off; the preemption timer still hands
    the CPU back, so a host command (EXIT_STATS) sent on the line is seen and
    answered with exact per-reason counts."""
    from hvtools import frame, records
    m = boot(cpus=1, serial="socket")
    wait(m, r"hypercall PING from cpu0")
    m.write(frame.encode(frame.CONTROL, 0, 0, bytes([records.CTL_EXIT_STATS])))
    s = wait(m, r"exit stats cpu0: VMCALL \d+", timeout=120)
    stats = dict(re.findall(r"exit stats cpu0: (\w+) (\d+)", s.text()))
    assert stats["VMCALL"] == "1" and stats["IO_INSTRUCTION"] == "23", stats
    assert int(stats.get("PREEMPTION_TIMER", 0)) > 0, stats
    assert int(stats["total"]) == sum(int(v) for k, v in stats.items() if k != "total")
