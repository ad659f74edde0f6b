#include <x86.h>
#include "console/console.h"
#include "vmx/controls.h"
#include "vmx/features.h"

struct vmx_features vmx_features;

static const char *yn(bool b) { return b ? "yes" : "no"; }

bool vmx_features_probe(void)
{
    struct vmx_features *f = &vmx_features;
    struct cpuid_regs r = cpuid(1, 0);
    f->vmx = r.ecx & (1u << 5);
    f->x2apic = r.ecx & (1u << 21);
    if (f->vmx) {
        uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
        f->feature_control_locked = fc & FEATURE_CONTROL_LOCK;
        f->vmx_outside_smx = fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX;
        bool true_ctls = rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_TRUE_CTLS;
        uint32_t pin = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED
                                       : MSR_IA32_VMX_PINBASED_CTLS) >> 32;
        uint32_t proc = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED
                                        : MSR_IA32_VMX_PROCBASED_CTLS) >> 32;
        f->nmi_exiting = pin & PIN_NMI_EXITING;
        f->virtual_nmis = pin & PIN_VIRTUAL_NMIS;
        f->preemption_timer = pin & PIN_PREEMPT_TIMER;
        f->nmi_window = proc & PROC_NMI_WINDOW;
        f->monitor_trap_flag = proc & PROC_MONITOR_TRAP;
        f->secondary_controls = proc & PROC_SECONDARY;
        if (f->secondary_controls) {
            uint32_t proc2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) >> 32;
            f->ept = proc2 & PROC2_EPT;
            f->vpid = proc2 & PROC2_VPID;
            f->unrestricted_guest = proc2 & PROC2_UNRESTRICTED;
        }
    }
    printf("vmx: features: vmx=%s ept=%s vpid=%s unrestricted_guest=%s "
           "nmi_exiting=%s virtual_nmis=%s nmi_window=%s monitor_trap_flag=%s "
           "preemption_timer=%s x2apic=%s\n",
           yn(f->vmx), yn(f->ept), yn(f->vpid), yn(f->unrestricted_guest),
           yn(f->nmi_exiting), yn(f->virtual_nmis), yn(f->nmi_window),
           yn(f->monitor_trap_flag), yn(f->preemption_timer), yn(f->x2apic));
    if (f->vmx && f->feature_control_locked && !f->vmx_outside_smx)
        printf("vmx: firmware locked IA32_FEATURE_CONTROL with VMX disabled\n");
    return f->vmx;
}
