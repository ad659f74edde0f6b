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
