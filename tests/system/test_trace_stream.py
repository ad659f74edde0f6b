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
