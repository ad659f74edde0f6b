"""Quiesce from the hypervisor itself (no guest needed): every other CPU is
stopped through its NMI path, each section is exclusive, and a CPU that does
not answer is named instead of the machine hanging silently."""
import pytest

from waits import wait_events, wait_text as wait

pytestmark = pytest.mark.emulator


@pytest.mark.parametrize("cpus", [2, 4])
def test_quiesce_stops_every_other_cpu_exclusively(boot, cpus):
    m = boot(cmdline="selftest=quiesce guest=none", cpus=cpus)
    s = wait(m, r"selftest quiesce: \d+ rounds", timeout=240)
    line = s.find(r"selftest quiesce: (\d+) rounds, (\d+) other CPUs stopped each time, "
                  r"(\d+) not exclusive")
    assert line, s.text()
    rounds, others, bad = map(int, line.groups())
    assert others == cpus - 1 and bad == 0, line.group(0)
    s = wait_events(m, "QUIESCE_ALL_IN", count=rounds)
    # Every other CPU joined every round, through its root-mode NMI path.
    # Each CPU's events leave at their own pace (trace never waits for the
    # line), so cpu0's rounds being in says nothing of the others' yet.
    s = wait_events(m, "QUIESCE_JOINED", count=rounds * (cpus - 1))
    joined = s.events("QUIESCE_JOINED")
    assert {r.cpu for r in joined} == set(range(1, cpus))
    assert not s.find(r"FATAL|unclaimed NMI"), s.text()


def test_silent_cpu_is_named_and_quiesce_completes_when_it_answers(boot):
    m = boot(cmdline="selftest=quiesce_stuck guest=none quiesce_report_ms=300", cpus=2)
    s = wait(m, r"selftest quiesce_stuck: quiesce completed", timeout=240)
    assert s.find(r"quiesce: cpu1 \(apic \d+\) has not answered the quiesce NMI after \d+ ms"), \
        s.text()
    assert s.find(r"quiesce: cpu1 state: .*inside an exception/NMI handler"), s.text()
    assert s.find(r"quiesce completed after \d+ ms with 1 CPUs stopped"), s.text()
    s = wait_events(m, "QUIESCE_STRAGGLER")
    assert s.events("QUIESCE_STRAGGLER")[0].args[0] == 1
