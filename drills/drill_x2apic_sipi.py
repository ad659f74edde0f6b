"""x2apic-sipi: WRMSR 0x830 (the x2APIC ICR) left out of the MSR bitmap
(seed 003, "do_boot_cpu failed": Linux in x2APIC mode sent INIT/SIPI that
reached the hardware instead of the hypervisor's virtual INIT/SIPI, so its
APs never started).

The test guest's SMP bring-up in x2APIC mode (smp_x2apic, 2 CPUs, Bochs 2.7
skylake) under the build. Two tools answer:
  - the MSR bitmap audit (vapic_msr_audit, on in every build): at VMCS
    set-up each CPU checks that the accesses the virtual INIT/SIPI design
    needs exit, and names any that does not;
  - the decoded trace (hvlog's Session): the guest switched to x2APIC mode
    (APIC_MODE with EXTD), says its APs did not start, and not one of its
    INIT/SIPI arrived as an intercepted ICR write (IPI_SEND with mode INIT
    or SIPI) or started an AP (SIPI_RECEIVED).
On the normal build the audit is silent, the INIT/SIPIs are in the trace
and the APs start."""
from __future__ import annotations

import re

import vapic_guest as vg
from harness import Context, Finding, emulated_seconds
from hvtools.emu import BOCHS

PLANT = "x2apic-sipi"
PLANTED = "MSR bitmap leaves WRMSR 0x830 (x2APIC ICR) unintercepted (hv/vmx/msr.c set_bits)"

EXTD = 1 << 10
MODE_INIT, MODE_SIPI = 5, 6


def trace_evidence(s) -> dict:
    modes = [e.args[0] for e in s.events("APIC_MODE")]
    ipis = [e for e in s.events("IPI_SEND") if (e.args[1] >> 8) & 7 in (MODE_INIT, MODE_SIPI)]
    return {"x2apic": any(b & EXTD for b in modes), "init_sipi": len(ipis),
            "sipi_received": len(s.events("SIPI_RECEIVED"))}


def hvlog_quotes(m, elf: str) -> list[str]:
    """hvlog's lines for the guest's switch to x2APIC mode (EXTD set in
    APIC_MODE's apic_base) and its first intercepted IPIs and AP starts,
    or that there were none."""
    mode = [l for l in vg.hvlog_lines(m, elf, "APIC_MODE", 50)
            if (int(re.search(r"apic_base=(0x[0-9a-f]+)", l).group(1), 16) & EXTD)]
    ipis = vg.hvlog_lines(m, elf, "IPI_SEND,SIPI_RECEIVED", 3)
    return mode[:1] + (ipis or ["hvlog --event IPI_SEND,SIPI_RECEIVED: no such event"])


def run(ctx: Context) -> Finding:
    m, s = vg.boot_smp(ctx, "smp_x2apic", "corei7_skylake_x", BOCHS, vg.guest_done)
    audit = [line for _, line in s.lines() if "MSR bitmap audit FAILED" in line]
    named_msr = any(re.search(r"WRMSR 0x830 does not exit", a) for a in audit)
    ev = trace_evidence(s)
    fails = vg.guest_failures(s)
    ctx.say(f"audit: {len(audit)} lines; trace: x2APIC mode {ev['x2apic']}, "
            f"{ev['init_sipi']} INIT/SIPI ICR writes intercepted, {ev['sipi_received']} APs "
            f"started; guest: {len(fails)} FAIL")
    # The trace alone: the guest was in x2APIC mode and missed its APs, and
    # none of its INIT/SIPI exited, so its ICR writes (WRMSR 0x830) did not.
    inferred = ev["x2apic"] and bool(fails) and ev["init_sipi"] == 0
    quotes = audit[:2] + fails[:2]
    quotes += hvlog_quotes(m, ctx.elf)
    quotes.append(f"trace (hvlog Session): APIC_MODE x2APIC={ev['x2apic']}, IPI_SEND INIT/SIPI="
                  f"{ev['init_sipi']}, SIPI_RECEIVED={ev['sipi_received']}; guest: "
                  f"{vg.guest_summary(s) or 'no summary'}")
    tools = ["MSR bitmap audit (vapic_msr_audit, console)", "hvlog trace (Session, hvlog --event)",
             "test guest smp_x2apic"]
    emu = emulated_seconds(s)
    if named_msr or inferred:
        why = ("audit: WRMSR 0x830 (x2APIC ICR) does not exit" if named_msr else
               "trace: the guest's x2APIC ICR writes (WRMSR 0x830) never exited")
        return Finding(True, f"{why}; the guest's INIT/SIPI reached the hardware: "
                       f"{ev['init_sipi']} INIT/SIPI intercepted, {ev['sipi_received']} APs "
                       f"started, guest {len(fails)} FAIL", quotes, tools, emu)
    return Finding(False, f"WRMSR 0x830 exits (audit silent); {ev['init_sipi']} INIT/SIPI "
                   f"intercepted, {ev['sipi_received']} AP starts, guest {len(fails)} FAIL",
                   quotes, tools, emu)
