"""endquiesce-order: endquiesce() in the XMHF seed's order (seed 001,
"Redesign NMI handling"): the resume is signalled while the quiesce
request is still up, and the request withdrawn only after every CPU
acknowledged the resume. A CPU released meanwhile that takes one more NMI
(a guest NMI, a storm NMI, the quiesce NMI it held) sees the request,
stops a second time and waits for a signal that is about to drop.

The tools, in order:
1. binscan.stores(): the order in which endquiesce() in this hv.elf
   writes quiesce_request and resume_signal (objdump of the binary, not
   the source: the build is what runs);
2. the spin model (hv/nmi/nmi_model.pml) of the order the binary has:
   the seed's order (SEED_ORDER) when the binary signals first, the
   committed one otherwise. Spin's counterexample is the diagnosis: the
   order of events that breaks the protocol;
3. optionally (DRILL_EMULATOR=1): the stress runner's T3 cell, looking
   for the hypervisor's own check (a CPU stopped twice for one request)
   and a resume watchdog report. Not on by default: in Bochs the race
   never showed (2026-12-02, planted build: T3 with 2 CPUs, 30 rounds,
   200 us storm; T3 with 4 CPUs, 40 rounds, 100 us storm, 160 quiesces;
   quiesce_pair with 4 CPUs under an interval-0 NMI_STORM, 1496 quiesces:
   no CPU stopped twice, no hang). The window is the few instructions
   between a CPU's release and the quiescer's late withdrawal, and Bochs
   runs the CPUs nearly in lockstep. The trace has no event at the
   withdrawal itself, so `hvlog --sequence` cannot show its order either."""
import os
import re
import sys

from hvtools import binscan

from harness import ROOT, Context, Finding, emulated_seconds

sys.path.insert(0, os.path.join(ROOT, "tests", "host"))

PLANT = "endquiesce-order"
PLANTED = ("endquiesce() signals resume before it withdraws the quiesce request "
           "(the seed's order)")
WATCHED = ("quiesce_request", "resume_signal")


def store_order(elf: str) -> list[binscan.Insn]:
    return binscan.stores(elf, "endquiesce", WATCHED)


def signals_first(order: list[binscan.Insn]) -> bool:
    """resume_signal written before quiesce_request is: the seed's order."""
    names = [i.target for i in order]
    return ("resume_signal" in names and "quiesce_request" in names and
            names.index("resume_signal") < names.index("quiesce_request"))


# The steps of spin's trail that make the story: the resume raised, the
# second answer, the withdrawal, the second acknowledgement.
TRAIL_STEPS = re.compile(r"^\s*\d+:\s+proc\s+\d+ \((cpu|nmi_unit):\d+\) \S+ \(state \d+\)\s+"
                         r"\[(resume_signal = 1|quiesce_request = 0|resume_signal = 0|"
                         r"\(\(\(1&&quiesce_request\)&&!\(stopped\[c\]\)\)\)|"
                         r"quiesce_acks = \(quiesce_acks\+1\)|resume_acks = \(resume_acks\+1\))\]")


def trail_story(workdir: str) -> list[str]:
    path = os.path.join(workdir, "trail.txt")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().splitlines()
    # Only the part after the first resume signal: the end of the quiesce.
    start = next((n for n, ln in enumerate(lines) if "[resume_signal = 1]" in ln), 0)
    return [ln.strip() for ln in lines[start:] if TRAIL_STEPS.match(ln)]


def model(ctx: Context, seed: bool):
    import test_nmi_model as m      # tests/host: spin -a, gcc, pan, trail
    name = f"drill_endquiesce_{'planted' if ctx.planted else 'clean'}"
    defines = ["-DN=2"] + (["-DSEED_ORDER"] if seed else ["-DPROBES=0"])
    return m.verify(name, defines, opt="-O0" if seed else "-O1"), defines


def emulator(ctx: Context) -> tuple[list[str], float | None]:
    """The T3 stress cell (two REG/UNREG loops, each a pair of quiesces,
    and an NMI storm): what the hypervisor's check and its QUIESCE events
    say."""
    from hvtools import stress
    from hvtools.session import Session
    o = stress.Options(elf=ctx.elf, rounds=int(os.environ.get("DRILL_ROUNDS", "30")),
                       storm_interval_us=200, storm_rounds=2000, hang_after=240.0,
                       timeout=1500.0, results=ctx.sub("stress"), label="drill")
    res = stress.CellRun(stress.CELLS["T3"], o, ctx.sub("T3")).run()
    with open(os.path.join(res.folder, "raw.bin"), "rb") as f:
        s = Session.decode(f.read())
    text = "\n".join(line for _, line in s.lines())
    quotes = [f"stress T3: {res.verdict} {res.why}".strip()]
    quotes += re.findall(r"^.*stopped twice for one request.*$", text, re.M)[:3]
    quotes += re.findall(r"^.*still waiting for the resume signal.*$", text, re.M)[:2]
    return quotes, emulated_seconds(s)


def run(ctx: Context) -> Finding:
    order = store_order(ctx.elf)
    seed = signals_first(order)
    quotes = [f"binscan.stores(endquiesce): {i.mnemonic} {i.operands} -> {i.target} "
              f"at {i.addr:#x}" for i in order]
    ctx.say("store order in endquiesce: " + " -> ".join(i.target for i in order))
    r, defines = model(ctx, seed)
    ctx.say(f"spin {' '.join(defines)}: errors: {r.errors} {r.first_error or ''}")
    quotes.append(f"spin {' '.join(defines)}: errors: {r.errors}"
                  + (f", pan:1: {r.first_error}" if r.first_error else f", {r.states} states"))
    quotes += [f"trail: {ln}" for ln in trail_story(r.workdir)]
    tools = ["binscan.stores (hv.elf)", "spin model (hv/nmi/nmi_model.pml)"]
    emu_s = None
    if os.environ.get("DRILL_EMULATOR") == "1":
        more, emu_s = emulator(ctx)
        quotes += more
        tools.append("stress runner T3 + hvlog decode")
    if not seed or not r.errors:
        return Finding(False, "endquiesce() withdraws the request before it signals resume; "
                       f"the model of that order holds ({r.states} states, errors: 0)",
                       quotes=quotes, tools=tools, emulated_s=emu_s)
    return Finding(True, "endquiesce() raises resume_signal before it clears quiesce_request: "
                   "a CPU released while the request is still up answers it a second time "
                   f"(spin: {r.first_error}; trail in {r.workdir})",
                   quotes=quotes, tools=tools, emulated_s=emu_s)
