"""Waiting on a running machine's decoded output. Console text and trace
events travel in different frames, so a test that saw a console line waits
again for the events it wants rather than assuming they came first."""
import re
import time

from hvtools import frame, records
from hvtools.session import Session


def wait_text(machine, pattern, timeout=240):
    machine.wait_for(pattern, timeout=timeout, decode=lambda b: Session.decode(b).text())
    return Session.decode(machine.output)


def wait_session(machine, predicate, what, timeout=60, fatal_ok=False):
    """Polls until predicate(Session) is true; returns that Session. A
    hypervisor FATAL report ends the wait at once (unless fatal_ok)."""
    deadline = time.monotonic() + timeout
    while True:
        s = Session.decode(machine.output)
        if predicate(s):
            return s
        if not fatal_ok and s.find(r"^FATAL "):
            time.sleep(1)   # let the rest of the dump arrive for the message
            s = Session.decode(machine.output)
            raise AssertionError(f"hypervisor FATAL while waiting for {what}:\n{s.text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{s.text()[-3000:]}")
        if not machine.alive:
            # Its last bytes may have come after this round's decode.
            s = Session.decode(machine.output)
            if predicate(s):
                return s
            raise AssertionError(f"emulator exited while waiting for {what}:\n{s.text()[-3000:]}")
        time.sleep(0.2)


def wait_events(machine, name, count=1, timeout=60):
    # Waiting for events after a console marker: a FATAL there is the
    # caller's business (fault selftests expect one).
    return wait_session(machine, lambda s: len(s.events(name)) >= count,
                        f"{count} {name} event(s)", timeout, fatal_ok=True)


def exit_stats_and_trace(machine, timeout=120):
    """The hypervisor's exit counts by reason summed over all CPUs (one
    EXIT_STATS host command), and a Session in which every CPU's trace is
    complete up to that command. Trace leaves after console and guest text
    (it never holds them back: hv/serial/txq.h), so a test that saw the
    guest finish has not seen its events yet: the dump's last line is
    stamped by cpu0 now, and every CPU that streams EXIT_COUNTS (one per
    100 ms while it takes exits) is waited for until it has a record
    stamped later (one CPU's records arrive in order)."""
    machine.write(frame.encode(frame.CONTROL, 0, 0, bytes([records.CTL_EXIT_STATS])))
    s = wait_session(machine, lambda s: s.find(r"^exit stats: end$"), "exit stats", timeout)
    counts = {}
    for reason, n in re.findall(r"exit stats cpu\d+: ([A-Z_0-9]+) (\d+)$", s.text(), re.M):
        counts[reason] = counts.get(reason, 0) + int(n)
    stamp = s.line_tsc(r"^exit stats: end$")
    cpus = {r.cpu for r in s.events("EXIT_COUNTS")}

    def caught_up(s):
        newest = {}
        for r in s.records:
            newest[r.cpu] = max(newest.get(r.cpu, 0), r.tsc)
        return all(newest.get(c, 0) >= stamp for c in cpus)
    return counts, wait_session(machine, caught_up, "every CPU's trace up to the exit stats",
                                timeout, fatal_ok=True)
