"""Waiting on a running machine's decoded output. Console text and trace
events travel in different frames, so a test that saw a console line waits
again for the events it wants rather than assuming they came first."""
import time

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
