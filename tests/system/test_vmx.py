"""The VMX core without a disk: every CPU in VMX root operation, the built-in
guest's VMCALL round trip, and VM-entry failures explained by name."""
import re

import pytest

from waits import wait_events, wait_session, wait_text as wait

pytestmark = pytest.mark.emulator


def test_every_cpu_in_vmx_root_and_builtin_guest_pings(boot):
    # flight=none: this test checks the exact sequence of VM exits, which
    # the default policy keeps in the flight recorder (the built-in guest
    # makes few enough exits for the line).
    m = boot(cmdline="serial=115200,8n1,0x3f8 flight=none", cpus=2)
    wait(m, r"hypercall PING from cpu0")
    s = wait_events(m, "HYPERCALL_RET", count=2)
    for cpu in (0, 1):
        assert s.find(rf"vmx: cpu{cpu} in VMX root operation", cpu=cpu), s.text()
    assert s.find(r"guest: no boot sector module; starting the built-in idle guest")
    # Preemption-timer exits (the hypervisor taking the CPU back every few
    # ms) come and go with timing; every other exit is deterministic.
    exits = [r for r in s.events("VMEXIT") if r.cpu == 0 and r.args[0] != 52]
    hello = b"built-in guest: hello\r\n"
    # An emulated LSR read before every byte and one more before the NUL,
    # one emulated OUT per byte, then PING and the diag hypapp.
    io = [30, 30] * len(hello) + [30]
    assert [r.args[0] for r in exits] == io + [18, 18], exits
    assert [r.args[1] for r in exits[-2:]] == [0x7c23, 0x7c2c], "VMCALLs at the wrong RIPs"
    assert bytes(s.guest) == hello, bytes(s.guest)
    calls = s.events("HYPERCALL")
    assert calls and calls[0].args[0] == 0x48560000 and calls[0].args[2] == 0x1234
    rets = s.events("HYPERCALL_RET")
    assert [(r.args[0], r.args[1]) for r in rets] == [(0x48560000, 0), (0x100, 0)], rets
    assert s.find(r"hypapp diag: VMCALL functions 0x100-0x10f")


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
    # VMENTRY_FAIL is a per-exit (vmx) event: it waits in the flight
    # recorder, which the fatal path sends after the streamed events, so
    # CPU_PARKED can arrive first.
    s = wait_session(m, lambda s: s.events("CPU_PARKED") and s.events("VMENTRY_FAIL"),
                     "the parked CPU and the flight recorder's dump", fatal_ok=True)
    assert s.find(expect), s.text()
    bad = "0x0" if field == "GUEST_RFLAGS" else "0xffffffffffffffff"
    assert s.find(rf"^\s+{field}\s+{bad}$"), f"dump does not show {field} = {bad}"
    for group in ("CTRL", "RO", "GUEST", "HOST"):
        assert s.find(rf"-- {group} fields --"), group
    fail = s.events("VMENTRY_FAIL")[-1]
    # insn_error, reason: error 8 for bad host state, exit reason 33 for guest state
    assert (fail.args[0], fail.args[1]) == ((0, 33) if field == "GUEST_RFLAGS" else (8, 0)), fail


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
    assert stats["VMCALL"] == "2" and stats["IO_INSTRUCTION"] == "47", stats
    assert int(stats.get("PREEMPTION_TIMER", 0)) > 0, stats
    assert int(stats["total"]) == sum(int(v) for k, v in stats.items() if k != "total")


def test_guest_serial_passthrough_gives_the_guest_the_real_port(boot):
    # flight=none: the VMEXIT events below are per-exit ones, which the
    # default policy holds in the flight recorder.
    m = boot(cmdline="guest_serial=passthrough serial_mode=plain flight=none", cpus=1)
    m.wait_for(rb"HYPERCALL_RET eax=0x100", timeout=120)
    text = bytes(m.output).decode("latin-1")
    assert "[cpu0] hv: ready" in text       # plain mode, readable without hvlog
    assert "\x00" not in text               # no frames at all
    # The guest's COM1 accesses never exit: no I/O-instruction exit (30).
    assert "VMEXIT reason=0x12" in text and "reason=0x1e" not in text, text
    # The guest's bytes reach the wire; a hypervisor line may land in the
    # middle of them (one port, two writers), so take those out first.
    guest_bytes = re.sub(r"\[cpu\d+\] [^\n]*\n", "", text)
    assert "built-in guest: hello\r\n" in guest_bytes, text
