"""Where the hypervisor injected the guest's NMIs, in the test guest's own
code: an NMI injected while the guest runs one of its NMI hooks was
injected inside its NMI handler, before the IRET that ends its NMI
blocking (SDM Vol. 3C, 26.3.1.5: with virtual NMIs such an injection fails
the entry on hardware; Bochs delivers it, nested). Used by
tests/system/test_smp.py on every nmi_window run and by the
nmi-direct-inject drill (drills/drill_nmi_direct_inject.py)."""
import os
import re
import subprocess

from testpaths import ROOT

GUEST_ELF = os.path.join(ROOT, "build", "guest", "guest.elf")
# The test guest's NMI hooks (guest/scenarios/nmi*.c): code that only runs
# inside its vector-2 handler, with NMIs blocked until its IRET.
NMI_HOOK = re.compile(r"nmi_hook$")
NMI_EVENTS = ("NMI_ENTER", "NMI_PENDING", "NMI_EXIT", "NMI_INJECTED", "NMI_WINDOW",
              "NMI_COALESCED", "NMI_DROPPED")


def guest_rip(e) -> bool:
    """Is the event's first argument a guest RIP? (NMI_ENTER/EXIT: origin 1)"""
    return e.name in ("NMI_INJECTED", "NMI_WINDOW") or (
        e.name in ("NMI_ENTER", "NMI_EXIT") and len(e.args) > 1 and e.args[1] == 1)


def guest_symbols(rips) -> dict:
    """Guest RIP -> "function (file:line)" in the test guest's ELF; code
    inlined into other functions names them too, innermost first:
    "rdtsc (guest/guest.h:61) in tsc_expired, window_nmi_hook"."""
    rips = sorted(set(rips))
    if not rips:
        return {}
    out = subprocess.run(["addr2line", "-a", "-f", "-i", "-e", GUEST_ELF] + [hex(r) for r in rips],
                         capture_output=True, text=True, check=True).stdout
    syms = {}
    for r, block in zip(rips, re.split(r"^0x[0-9a-f]+\n", out, flags=re.M)[1:]):
        lines = block.strip("\n").split("\n")
        frames = list(zip(lines[0::2], lines[1::2]))
        fn, at = frames[0]
        text = f"{fn} ({os.path.relpath(at.split(' ')[0], ROOT)})"
        if len(frames) > 1:
            text += " in " + ", ".join(f for f, _ in frames[1:])
        syms[r] = text
    return syms


def functions(sym: str) -> list:
    """The function names in a guest_symbols() text, innermost first."""
    if not sym:
        return []
    head, _, outer = sym.partition(" in ")
    return [head.split(" ")[0]] + [f for f in outer.split(", ") if f]


def nmi_events(session) -> list:
    return [e for e in session.records if e.name in NMI_EVENTS]


def event_line(e, syms: dict) -> str:
    """One NMI event, guest RIPs symbolised."""
    args = list(e.args)
    if e.name in ("NMI_INJECTED", "NMI_WINDOW") and args:
        args[0] = f"guest_rip={args[0]:#x} {syms.get(args[0], '')}".rstrip()
    elif e.name in ("NMI_ENTER", "NMI_EXIT") and args:
        where = syms.get(args[0], "") if guest_rip(e) else "(in the hypervisor)"
        args[0] = f"rip={args[0]:#x} {where}".rstrip()
    return f"cpu{e.cpu} #{e.seq} {e.name} " + " ".join(str(a) for a in args)


def injections_in_handler(events: list, syms: dict) -> list:
    """Injections at a guest RIP in an NMI hook: [(index in events, the
    events on that CPU from its previous injection to this one)]."""
    out = []
    for k, e in enumerate(events):
        if e.name != "NMI_INJECTED" or \
                not any(NMI_HOOK.search(f) for f in functions(syms.get(e.args[0], ""))):
            continue
        same = [x for x in events[:k + 1] if x.cpu == e.cpu]
        prev = max((j for j, x in enumerate(same[:-1]) if x.name == "NMI_INJECTED"), default=0)
        out.append((k, same[prev:]))
    return out
