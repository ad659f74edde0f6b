"""no-mtf-probe: the monitor trap flag taken as working because the VMX
capability MSR offers it, with no probe (seed 004 on single-stepping
LAPIC accesses; Bochs 2.7's corei7_icelake_u offers MTF and never delivers
the MTF exit).

The test guest's SMP bring-up in xAPIC mode (smp_xapic, 2 CPUs) on Bochs
2.7 with the icelake model, with lapic_emulate=off: every guest xAPIC
access is single-stepped (by default the plain MOVs are emulated without a
step; the accesses still stepped then, odd widths, string copies, a guest
that single-steps or sets breakpoints, are too few to rely on here).
Tools that answer:
  - the LAPIC step watchdog (xapic_step.c, on in every build): a step
    must end at the very next exit once its instruction retired (MTF exit
    or single-step #DB); anything else is reported on the console and as a
    LAPIC_STEP_MISSED trace event naming the step mode and the exit that
    came instead;
  - the decoded trace: whether an MTF_PROBE verdict preceded the steps.
On the normal build the probe finds MTF dead (MTF_PROBE works=0), the
steps use TF and #DB, and the watchdog stays silent."""
from __future__ import annotations

import time

import vapic_guest as vg
from harness import Context, Finding, emulated_seconds
from hvtools import catalog
from hvtools.emu import BOCHS

PLANT = "no-mtf-probe"
PLANTED = "MTF trusted from the VMX capability MSR, probe skipped (hv/vapic/mtf_probe.c)"

WATCHDOG = "LAPIC step watchdog"
AFTER_EVIDENCE_S = 60       # wall seconds to let a hung planted guest show more


class StopWhen:
    """The guest's summary, or a minute after the watchdog's first report
    (a planted guest may hang with the page open: no summary comes)."""
    def __init__(self) -> None:
        self.seen: float | None = None

    def __call__(self, s) -> bool:
        if vg.guest_done(s):
            return True
        if self.seen is None and s.events("LAPIC_STEP_MISSED"):
            self.seen = time.monotonic()
        return self.seen is not None and time.monotonic() - self.seen > AFTER_EVIDENCE_S


def run(ctx: Context) -> Finding:
    m, s = vg.boot_smp(ctx, "smp_xapic", "corei7_icelake_u", BOCHS, StopWhen(), limit_s=900,
                        hv_args="lapic_emulate=off")
    missed = s.events("LAPIC_STEP_MISSED")
    mtf_missed = [e for e in missed if e.args[0] == 1]
    probe = s.events("MTF_PROBE")
    reports = [line for _, line in s.lines() if WATCHDOG in line]
    fails = vg.guest_failures(s)
    ctx.say(f"watchdog: {len(reports)} console reports, {len(missed)} LAPIC_STEP_MISSED "
            f"({len(mtf_missed)} MTF); MTF_PROBE events: {[e.args[0] for e in probe]}; "
            f"guest: {vg.guest_summary(s) or 'no summary'}")
    quotes = reports[:2] + vg.hvlog_lines(m, ctx.elf, "LAPIC_STEP_MISSED,MTF_PROBE", 3)
    quotes.append(f"trace (hvlog Session): {len(missed)} LAPIC_STEP_MISSED ({len(mtf_missed)} "
                  f"with mtf=1), MTF_PROBE {'works=' + str(probe[0].args[0]) if probe else 'none'}"
                  f"; guest: {vg.guest_summary(s) or 'no summary (hung?)'}")
    quotes += fails[:2]
    tools = ["LAPIC step watchdog (xapic_step.c, console + LAPIC_STEP_MISSED)",
             "hvlog trace (Session, hvlog --event)", "test guest smp_xapic"]
    emu = emulated_seconds(s)
    if mtf_missed:
        exits = sorted({vg_exit_name(e) for e in mtf_missed})
        return Finding(True, f"MTF steps never ended (no MTF exit; {', '.join(exits)} came "
                       f"instead, {len(mtf_missed)} times) and no MTF probe verdict preceded "
                       f"them ({'MTF_PROBE absent' if not probe else 'MTF_PROBE present'}): "
                       f"the monitor trap flag was trusted from the capability MSR",
                       quotes, tools, emu)
    return Finding(False, f"no MTF step missed its end ({len(missed)} watchdog events); "
                   f"MTF_PROBE {'works=' + str(probe[0].args[0]) if probe else 'none'}; "
                   f"guest {len(fails)} FAIL", quotes, tools, emu)


def vg_exit_name(e) -> str:
    """The exit argument by name, from the catalogue hvlog decodes with."""
    return catalog.default().name_of("exit", e.args[1]) or f"exit {e.args[1]:#x}"
