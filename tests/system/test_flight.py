"""The default trace policy on a running machine (flight=vmx): the per-exit
vmx events stay in each CPU's flight recorder and leave only when asked
for (DUMP_EVENTS), as FLIGHT records whose seq holes are all reported as
overwritten; the streamed EXIT_COUNTS summaries add up to the
hypervisor's exact exit counters; the streamed TRACE seqs stay exact."""
import re
import time

import pytest

import disk  # guest/disk.py
from hvtools import catalog, frame, records
from hvtools.image import Module
from seq_gaps import unexplained_gaps
from waits import wait_session, wait_text

pytestmark = pytest.mark.emulator

IO_INSTRUCTION = 30


def guest_text(s):
    return bytes(s.guest).decode("utf-8", "replace").replace("\r", "")


def summaries(s, cpu=0):
    return [r for r in s.events("EXIT_COUNTS") if r.cpu == cpu]


def exit_sums(s, cpu=0):
    """Exits by reason, summed over this CPU's EXIT_COUNTS records."""
    sums = {}
    for r in summaries(s, cpu):
        for v in r.args:
            if v:
                sums[v & 0xFFFF] = sums.get(v & 0xFFFF, 0) + (v >> 16)
    return sums


def command(m, op):
    m.write(frame.encode(frame.CONTROL, 0, 0, bytes([op])))


def test_flight_recorder_dump_and_exit_counts(boot):
    cat = catalog.default()
    vmx_class = next(c.bit for c in cat.classes.values() if c.name == "vmx")
    img = disk.build_guest_disk(scenarios="cpuid,msr,vmcall", poweroff=False)
    m = boot(modules=[Module("(hd0)+1", nounzip=True)], disks=[img], boot="cdrom",
             serial="socket")
    wait_session(m, lambda s: "GUEST DONE" in guest_text(s), "the guest's summary", timeout=300)
    # The guest halts for good: once three summaries in a row carry no I/O
    # exit, its COM1 output is over and the summaries have counted it all.
    s = wait_session(m, lambda s: len(summaries(s)) > 3 and not any(
        (v & 0xFFFF) == IO_INSTRUCTION for r in summaries(s)[-3:] for v in r.args if v),
        "three summaries without I/O exits", timeout=120)
    sums = exit_sums(s)
    com1 = len(bytes(s.guest))
    # Each byte the guest wrote to COM1 was at least one OUT exit.
    assert sums.get(IO_INSTRUCTION, 0) >= com1 > 1000, (sums, com1)
    # Per-exit events were held, not streamed, and nothing was dumped yet.
    streamed_vmx = [r for r in s.records if r.channel == frame.TRACE and r.id >> 5 == vmx_class]
    assert not streamed_vmx, streamed_vmx[:3]
    assert not [r for r in s.records if r.channel == frame.FLIGHT]

    # The hypervisor's exact counters (EXIT_STATS) against the summaries.
    n = len(s.lines())
    command(m, records.CTL_EXIT_STATS)
    s = wait_text(m, r"exit stats: end", timeout=120)
    stats = {}
    for line in [ln for c, ln in s.lines()[n:]]:
        mm = re.match(r"exit stats cpu0: (\w+) (\d+)$", line)
        if mm and mm.group(1) not in ("total", "last"):
            reason = next(k for k, v in cat.tables["exit"].items() if v == mm.group(1))
            stats[reason] = int(mm.group(2))
    assert stats.get(IO_INSTRUCTION) == sums[IO_INSTRUCTION], (stats, sums)
    for reason, count in sums.items():
        assert count <= stats.get(reason, 0), (reason, sums, stats)

    # DUMP_EVENTS: the flight recorder's per-exit events, on FLIGHT frames.
    command(m, records.CTL_DUMP_EVENTS)
    last, stable = -1, 0
    deadline = time.monotonic() + 120
    while stable < 3 and time.monotonic() < deadline:
        time.sleep(1)
        s = wait_session(m, lambda s: True, "")
        got = sum(1 for r in s.records if r.channel == frame.FLIGHT)
        stable = stable + 1 if got == last and got else 0
        last = got
    flight = [r for r in s.records if r.channel == frame.FLIGHT]
    vmexits = [r for r in flight if r.name == "VMEXIT"]
    assert len(vmexits) > 100, len(vmexits)
    assert all(r.id >> 5 == vmx_class for r in flight), {r.name for r in flight}
    assert any(r.args[0] == IO_INSTRUCTION for r in vmexits)
    # Exact accounting: every flight hole is reported as overwritten (the
    # guest's thousands of exits did not fit); the streamed trace has no
    # hole its loss reports do not cover.
    assert any(l.kind == "flight" for l in s.losses)
    assert unexplained_gaps(s, frame.FLIGHT) == []
    assert unexplained_gaps(s, frame.TRACE) == []
    assert not [l for l in s.losses if l.kind == "ring" and l.before_seq in
                {r.seq for r in flight}]


@pytest.mark.parametrize("cmdline,streamed", [
    ("", False), ("flight=none", True), ("trace_drain=block", True),
    ("trace_drain=block flight=vmx", False)])
def test_policy_options_choose_what_streams(boot, cmdline, streamed):
    """Where the built-in guest's VMEXIT events go: held by default, on the
    TRACE stream with flight=none and with trace_drain=block (which streams
    every class unless flight= says otherwise)."""
    m = boot(cmdline=f"serial=115200,8n1,0x3f8 {cmdline}".strip(), cpus=1)
    wait_text(m, r"hypercall PING from cpu0")
    # The PING's HYPERCALL_RET is streamed in every case; the VMCALL exit
    # that led to it was recorded before it.
    s = wait_session(m, lambda s: s.events("HYPERCALL_RET") and s.events("EXIT_COUNTS"),
                     "the PING's return and a summary")
    vmexits = [r for r in s.records if r.name == "VMEXIT"]
    assert all(r.channel == frame.TRACE for r in vmexits)
    assert bool(vmexits) == streamed, (cmdline, len(vmexits))
