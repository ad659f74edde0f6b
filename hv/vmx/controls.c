/* VMX controls computed from the capability MSRs (SDM Vol. 3D, A.3-A.5):
 * a control may be 1 only where the MSR's high half allows it and must be 1
 * where its low half says so (26.2.1.1 refuses the entry otherwise). What
 * the hypervisor needs must be allowed by the CPU, or it stops with the
 * feature's name. */
#include <x86.h>
#include "console/console.h"
#include "vmx/controls.h"

static const struct required {
    int reg;                    /* enum ctl_reg */
    uint32_t bit;
    const char *name;
} required[] = {
    /* Every NMI exits, so quiesce and guest NMIs are ours to route; virtual
     * NMIs give the guest its own NMI blocking and the NMI window (24.6.1,
     * 25.3; "virtual NMIs" needs "NMI exiting", 26.2.1.1). */
    { CTL_PIN,   PIN_NMI_EXITING,       "NMI exiting" },
    { CTL_PIN,   PIN_VIRTUAL_NMIS,      "virtual NMIs" },
    /* Only the MSRs and ports we register exit (24.6.4, 24.6.9). */
    { CTL_PROC,  PROC_MSR_BITMAPS,      "MSR bitmaps" },
    { CTL_PROC,  PROC_IO_BITMAPS,       "I/O bitmaps" },
    { CTL_PROC,  PROC_SECONDARY,        "secondary controls" },
    /* EPT hides the hypervisor's memory; unrestricted guest runs the real-
     * mode boot sector (needs EPT, 26.2.1.1); VPID keeps TLBs apart. */
    { CTL_PROC2, PROC2_EPT,             "EPT" },
    { CTL_PROC2, PROC2_VPID,            "VPID" },
    { CTL_PROC2, PROC2_UNRESTRICTED,    "unrestricted guest" },
    /* The hypervisor is 64-bit (24.7.1); EFER is switched on every exit
     * and entry, the guest's differs from ours (27.5.1, 26.3.2.1). */
    { CTL_EXIT,  EXIT_HOST_64,          "64-bit host" },
    { CTL_EXIT,  EXIT_SAVE_EFER,        "save IA32_EFER on exit" },
    { CTL_EXIT,  EXIT_LOAD_EFER,        "load IA32_EFER on exit" },
    { CTL_EXIT,  EXIT_SAVE_DEBUG,       "save debug controls" },
    { CTL_ENTRY, ENTRY_LOAD_DEBUG,      "load debug controls" },
    { CTL_PROC,  PROC_TSC_OFFSET,       "use TSC offsetting" },
    { CTL_ENTRY, ENTRY_LOAD_EFER,       "load IA32_EFER on entry" },
};

static uint64_t cap_msr(int reg, bool true_ctls)
{
    switch (reg) {
    case CTL_PIN:   return rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED : MSR_IA32_VMX_PINBASED_CTLS);
    case CTL_PROC:  return rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED : MSR_IA32_VMX_PROCBASED_CTLS);
    case CTL_PROC2: return rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
    case CTL_EXIT:  return rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_EXIT : MSR_IA32_VMX_EXIT_CTLS);
    default:        return rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY : MSR_IA32_VMX_ENTRY_CTLS);
    }
}

/* allowed-0 (low half) bits must be 1; allowed-1 (high half) may be 1
 * (SDM Vol. 3D, A.3.1). */
static uint32_t adjust(int reg, uint32_t want, bool true_ctls)
{
    uint64_t cap = cap_msr(reg, true_ctls);
    return (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
}

struct vmx_controls vmx_controls;

bool vmx_controls_compute(struct vmx_controls *c)
{
    /* Where IA32_VMX_BASIC[55] is set, the TRUE_* MSRs report which
     * default-1 controls may be 0 (Vol. 3D, A.2); there is no TRUE MSR for
     * the secondary controls. */
    bool true_ctls = rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_TRUE_CTLS;
    uint32_t want[CTL_COUNT] = {
        /* The preemption timer is optional: it hands the CPU back to the
         * hypervisor every few ms (console drain, host commands) even
         * when the guest neither exits nor wakes. */
        [CTL_PIN] = PIN_NMI_EXITING | PIN_VIRTUAL_NMIS | PIN_PREEMPT_TIMER,
        /* TSC offsetting: a guest write of IA32_TSC moves the guest's
         * clock, never the hypervisor's (24.6.5, 25.3; msr.c). */
        [CTL_PROC] = PROC_MSR_BITMAPS | PROC_IO_BITMAPS | PROC_SECONDARY | PROC_TSC_OFFSET,
        /* RDTSCP, INVPCID and XSAVES raise #UD in a guest unless enabled
         * here; where the CPU can't, the CPUID handler hides them. */
        [CTL_PROC2] = PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED | PROC2_RDTSCP |
                      PROC2_INVPCID | PROC2_XSAVES,
        /* The guest's DR7 and IA32_DEBUGCTL survive exits only with the
         * debug-controls pair: an exit otherwise sets DR7 to 0x400 and the
         * next entry does not restore it (27.3.1, 27.5.1, 26.3.2.1). */
        [CTL_EXIT] = EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER |
                     EXIT_SAVE_PAT | EXIT_LOAD_PAT | EXIT_SAVE_DEBUG,
        [CTL_ENTRY] = ENTRY_LOAD_EFER | ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG,
    };
    for (int r = 0; r < CTL_COUNT; r++)
        c->ctl[r] = adjust(r, want[r], true_ctls && r != CTL_PROC2);
    bool ok = true;
    for (unsigned i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!(c->ctl[required[i].reg] & required[i].bit)) {
            printf("vmx: this CPU does not allow \"%s\", which the hypervisor needs\n",
                   required[i].name);
            ok = false;
        }
    /* PAT save/load is nice to have: without it the guest shares ours. */
    return ok;
}
