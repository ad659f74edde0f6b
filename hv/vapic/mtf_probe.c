/* Does the monitor trap flag work here? The capability MSR is not proof:
 * Bochs 2.7 offers the control but never delivers the MTF exit (its
 * event loop drops the pending MTF event; fixed in later Bochs). Stepping
 * a LAPIC access with a dead MTF leaves the page open until some later
 * exit, so the guest's INIT/SIPI would reach the hardware.
 *
 * So with lapic_step=auto, LAPIC accesses are stepped with TF and #DB
 * until a probe decides. The probe sets MTF on an ordinary entry (no step
 * under way) and looks at the next exit:
 *  - an MTF exit: it works, and later steps use it;
 *  - any other exit with the guest RIP moved: an instruction retired (or
 *    an event was delivered) without the MTF exit the SDM requires: broken;
 *  - any other exit at the same RIP (the instruction itself exited, or an
 *    interrupt came first): no evidence either way, probe again. */
#include "config/config.h"
#include "console/console.h"
#include <percpu.h>
#include "trace/trace.h"
#include "vapic/vapic.h"
#include "vmx/controls.h"
#include "vmx/exit.h"
#include "vmx/vmcs.h"

#define MAX_TRIES 256       /* inconclusive probes before giving up (stay on TF) */

static int verdict = MTF_UNTESTED;

int vapic_mtf_verdict(void)
{
    return __atomic_load_n(&verdict, __ATOMIC_ACQUIRE);
}

void vapic_mtf_probe_init(bool offered)
{
    if (!offered)
        verdict = MTF_ABSENT;
    /* PLANTED BUG (HV_BUGS=no-mtf-probe): the capability MSR is taken as
     * the verdict: an offered monitor trap flag counts as working and no
     * probe runs, so on Bochs 2.7 every xAPIC step waits for an MTF exit
     * that never comes (the guest runs on with the LAPIC page open). */
#ifdef HV_BUG_NO_MTF_PROBE
    else if (hv_config.lapic_trap && hv_config.lapic_step != LAPIC_STEP_TF)
        verdict = MTF_WORKS;
#else
    else if (hv_config.lapic_step == LAPIC_STEP_MTF)
        verdict = MTF_WORKS;    /* the user's word: not probed */
#endif
    else if (hv_config.lapic_step == LAPIC_STEP_TF || !hv_config.lapic_trap)
        verdict = MTF_UNUSED;
}

static void decide(struct vcpu *v, int result, uint32_t basic)
{
    int expect = MTF_UNTESTED;
    if (!__atomic_compare_exchange_n(&verdict, &expect, result, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;     /* another CPU decided first */
    trace_event(TEV_MTF_PROBE, result == MTF_WORKS, basic, v->mtf_probe.rip);
    if (result == MTF_WORKS)
        printf("vapic: the monitor trap flag works (probe on cpu%u): guest xAPIC accesses "
               "are single-stepped with it from now on\n", v->index);
    else if (result == MTF_BROKEN) {
        const char *exit = catalog_exit_name(basic);
        printf("vapic: the monitor trap flag is offered but does not work (probe on cpu%u: "
               "exit %s at guest rip %#lx after entering at %#lx, no MTF exit; Bochs 2.7 "
               "does this): guest xAPIC accesses stay on TF and #DB\n",
               v->index, exit ? exit : "?", vmcs_read(GUEST_RIP), v->mtf_probe.rip);
    }
    else
        printf("vapic: the monitor trap flag probe was inconclusive %u times (cpu%u): "
               "guest xAPIC accesses stay on TF and #DB\n", MAX_TRIES, v->index);
}

void vapic_mtf_probe_arm(struct vcpu *v)
{
    if (vapic_mtf_verdict() != MTF_UNTESTED || v->step.active || v->mtf_probe.armed ||
        v->run_state != GUEST_RUNNING)
        return;
    v->mtf_probe.armed = true;     /* the VMX core sets MTF for this entry */
    v->mtf_probe.rip = vmcs_read(GUEST_RIP);
}

bool vapic_mtf_probe_exit(struct vcpu *v, uint32_t basic)
{
    v->mtf_probe.armed = false;    /* and no MTF from the next entry on */
    if (basic == VMX_EXIT_MONITOR_TRAP_FLAG) {
        decide(v, MTF_WORKS, basic);
        return true;    /* the probe's own exit: nothing else to do */
    }
    if (vmcs_read(GUEST_RIP) != v->mtf_probe.rip)
        decide(v, MTF_BROKEN, basic);
    else if (++v->mtf_probe.tries >= MAX_TRIES)
        decide(v, MTF_UNDECIDED, basic);
    return false;       /* an ordinary exit: handled as usual */
}
