"""Four CPUs printing and tracing at once (selftest=storm) come out of the
one serial line separated, complete and in order, with zero CRC errors and
zero lost records at the default settings."""
import re

import pytest

from waits import wait_session, wait_text

pytestmark = pytest.mark.emulator

CPUS = 4


def test_four_cpu_storm_is_separated_and_lossless(boot):
    m = boot(cmdline="selftest=storm", cpus=CPUS)
    wait_text(m, r"hv: ready", timeout=300)
    s = wait_session(m, lambda s: len(s.events("TRACE_MARK")) >= CPUS * 300,
                     "every CPU's trace marks")
    summary = s.find(r"selftest storm: (\d+) CPUs x (\d+) lines, (\d+) CPUs missing")
    assert summary, s.text()
    ncpus, lines, missing = map(int, summary.groups())
    assert (ncpus, missing) == (CPUS, 0)
    for cpu in range(CPUS):
        got = [int(x) for x in re.findall(rf"storm cpu{cpu} line (\d+) of", s.console(cpu))]
        assert got == list(range(lines)), f"cpu{cpu} console incomplete or out of order"
        assert f"storm cpu{cpu} done" in s.console(cpu)
        # No line of another CPU leaked into this CPU's console.
        assert not re.search(rf"storm cpu(?!{cpu}\b)\d+ ", s.console(cpu))
        marks = [r.args[0] for r in s.events("TRACE_MARK") if r.cpu == cpu]
        assert marks == [(cpu << 32) | i for i in range(lines)], f"cpu{cpu} trace incomplete"
    # GRUB's text before the first delimiter is the only bad frame.
    assert [e.offset for e in s.frame_errors] in ([], [0]), s.frame_errors
    assert not s.losses, s.losses


def test_hvlog_splits_the_storm_and_exports_one_track_per_cpu(boot, tmp_path):
    """The same storm through the shipped tool: hvlog's summary reports no
    CRC errors and no losses, and its Perfetto export has a track per CPU."""
    import json
    import os
    import subprocess

    from testpaths import ROOT

    m = boot(cmdline="selftest=storm", cpus=CPUS)
    wait_text(m, r"hv: ready", timeout=300)
    wait_session(m, lambda s: len(s.events("TRACE_MARK")) >= CPUS * 300, "trace marks")
    capture = tmp_path / "raw.bin"
    data = bytes(m.output)
    # The machine is still talking: end the capture at a frame boundary.
    capture.write_bytes(data[:data.rfind(b"\x00") + 1])
    out = tmp_path / "trace.json"
    proc = subprocess.run(
        ["/usr/bin/python3", os.path.join(ROOT, "host-tools", "hvlog"), "--file", str(capture),
         "--no-color", "--no-save", "--perfetto", str(out)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    for cpu in range(CPUS):
        assert f"storm cpu{cpu} done" in text
    assert re.search(r"^bad frames:\s+none", text, re.M), text[-2000:]
    assert re.search(r"^link gaps:\s+0 frame\(s\) lost", text, re.M), text[-2000:]
    assert re.search(r"^ring drops:\s+0 record\(s\)", text, re.M), text[-2000:]
    events = json.loads(out.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    tracks = {e["tid"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}
    assert tracks == set(range(CPUS)), tracks
    per_cpu = {cpu: sum(1 for e in events if e.get("ph") == "i" and e.get("tid") == cpu
                        and "TRACE_MARK" in e.get("name", "")) for cpu in range(CPUS)}
    assert per_cpu == {cpu: 300 for cpu in range(CPUS)}, per_cpu


def test_storm_on_three_cpus_while_the_guest_prints(boot):
    """Hypervisor consoles and traces of three CPUs and the test guest's own
    serial output, all on the line at once: every stream complete."""
    import disk  # guest/disk.py
    from hvtools.image import Module

    # A fixed workload (the scenarios of "all" when this test was written):
    # every CHECK line the guest prints costs two I/O exits per byte, each
    # a VMEXIT record on cpu0, and "all" grows (trustvisor's ~45 lines alone
    # overflowed cpu0's ring while the storm kept the drain busy).
    img = disk.build_guest_disk(scenarios="selftest,cpuid,msr,cr4,e820,hvmem,vmcall",
                                poweroff=False)
    m = boot(cmdline="selftest=storm_guest", cpus=CPUS,
             modules=[Module("(hd0)+1", nounzip=True)], disks=[img], boot="cdrom")
    s = wait_session(
        m, lambda s: b"GUEST DONE" in bytes(s.guest)
        and all(f"storm cpu{c} done" in s.console(c) for c in range(1, CPUS))
        and len(s.events("TRACE_MARK")) >= (CPUS - 1) * 300,
        "the guest and every storming CPU to finish", timeout=300)
    for cpu in range(1, CPUS):
        got = [int(x) for x in re.findall(rf"storm cpu{cpu} line (\d+) of", s.console(cpu))]
        assert got == list(range(300)), f"cpu{cpu} console incomplete or out of order"
    guest = bytes(s.guest).decode("utf-8", "replace")
    assert "GUEST SUMMARY passed=" in guest and "failed=0" in guest, guest[-2000:]
    assert "storm" not in guest, "hypervisor text leaked into the guest stream"
    assert [e.offset for e in s.frame_errors] in ([], [0]), s.frame_errors
    assert not s.losses, s.losses


def test_flight_recorder_holds_events_until_asked(boot):
    from hvtools import frame, records
    m = boot(cmdline="flight_recorder=1", cpus=2, serial="socket")
    wait_text(m, r"hypercall PING from cpu0")
    s = wait_session(m, lambda s: s.find(r"guest: launching"), "the guest launch")
    assert not s.records, f"events sent without being asked: {s.records[:3]}"
    m.write(frame.encode(frame.CONTROL, 0, 0, bytes([records.CTL_DUMP_EVENTS])))
    s = wait_session(m, lambda s: len(s.events("CPU_ONLINE")) == 2 and s.events("HYPERCALL"),
                     "the held events")
    assert not s.losses


def test_flight_recorder_is_flushed_on_a_fatal_error(boot):
    m = boot(cmdline="flight_recorder=1 selftest=gp", cpus=1)
    s = wait_session(m, lambda s: s.events("CPU_PARKED"), "the fatal path's flush",
                     fatal_ok=True)
    fatal = s.events("EXC_FATAL")
    assert fatal and fatal[0].args[0] == 13
    assert s.events("CPU_ONLINE") and s.events("BOOT")
