"""nmi-direct-inject: a guest NMI written straight into the VM-entry
interruption-information field whenever one is pending, whatever the guest
blocks, and never NMI-window exiting (seeds 001/002: XMHF's NMI
injection). With virtual NMIs an injection while the guest has blocking by
NMI fails the entry on hardware (SDM Vol. 3C, 26.3.1.5); Bochs (2.7, and
3.0's cpu/vmx.cc, where that check is commented out) only refuses it under
STI or MOV-SS blocking, and otherwise delivers it: the guest's NMI handler
is entered again before its IRET, on the same IST stack.

The scenario that exposes it is the test guest's nmi_window (2 CPUs): cpu 1
sends cpu 0 a second NMI while cpu 0's guest is held in its NMI handler.
Correct: the NMI exits, stays pending, the hypervisor asks for the NMI
window and injects at the NMI_WINDOW exit after the guest's IRET; the
guest counts exactly two NMIs, none nested.

Tools: the decoded serial line (hvtools Session): the NMI trace events
(NMI_ENTER / NMI_PENDING / NMI_INJECTED / NMI_WINDOW, with guest RIPs),
the guest RIP of every injection symbolised against the test guest's ELF
(addr2line; tests/system/guest_nmi.py, which test_smp.py also runs), the guest's own CHECK lines, and how the run ended. Named:
an NMI injected at a guest RIP inside the guest's NMI hook (so while the
guest was handling an NMI, before its IRET), with the events that led to
it."""
from __future__ import annotations

import guestrun
from guest_nmi import event_line, guest_rip, guest_symbols, injections_in_handler, nmi_events
from harness import Context, Finding, emulated_seconds

PLANT = "nmi-direct-inject"
PLANTED = ("nmi_before_entry injects a pending NMI whatever the guest's interruptibility "
           "(NMI/STI/MOV-SS blocking) and never uses NMI-window exiting")


def run(ctx: Context) -> Finding:
    s, how = guestrun.run_guest(ctx.elf, ctx.sub("guest"), ["nmi_window"],
                                args="nmi_window_rounds=5 smp_timeout_ms=20000",
                                timeout=480, stall=120, say=ctx.say)
    events = nmi_events(s)
    syms = guest_symbols(e.args[0] for e in events if guest_rip(e))
    windows = [e for e in events if e.name == "NMI_WINDOW"]
    injected = [e for e in events if e.name == "NMI_INJECTED"]
    checks = guestrun.checks(s)
    fails = [f"CHECK {a}.{b}: {r}" for a, b, r in checks if r != "PASS"]
    summary = (f"nmi_window run {how}: {len(injected)} NMI_INJECTED, {len(windows)} "
               f"NMI_WINDOW exits, guest checks: "
               + (", ".join(f"{a}.{b} {r[:4]}" for a, b, r in checks) or "none reported"))
    ctx.say(summary)
    quotes = [summary] + fails[:2]
    if s.find(r"^FATAL"):
        quotes.append(s.find(r"^FATAL .*").group(0))
    nested = injections_in_handler(events, syms)
    tools = ["test guest nmi_window in Bochs 2.7 (2 CPUs)",
             "hvtools Session (NMI trace events, guest CHECK lines)", "addr2line on guest.elf"]
    emu = emulated_seconds(s)
    if not nested:
        quotes += [event_line(e, syms) for e in sorted(injected[:3] + windows[:2],
                                                       key=lambda e: (e.cpu, e.seq))]
        return Finding(False, f"no NMI injected inside the guest's NMI handler ({summary})",
                       quotes=quotes, tools=tools, emulated_s=emu)
    k, chain = nested[0]
    quotes += [event_line(e, syms) for e in chain]
    inj = events[k]
    via = ("at an NMI_WINDOW exit" if any(e.name == "NMI_WINDOW" for e in chain)
           else "with no NMI_WINDOW exit since the NMI exit that made it pending")
    cause = (f"cpu{inj.cpu}: NMI injected at guest RIP {inj.args[0]:#x} = "
             f"{syms[inj.args[0]]}, inside the guest's NMI handler (blocking by NMI, before "
             f"its IRET), {via}; {len(windows)} NMI_WINDOW exits in the whole run: the "
             "injection (nmi_before_entry) ignores the guest's interruptibility "
             f"(SDM Vol. 3C, 26.3.1.5); the run {how}")
    return Finding(True, cause, quotes=quotes, tools=tools, emulated_s=emu)
