#ifndef HV_VMX_FEATURES_H
#define HV_VMX_FEATURES_H
#include <stdbool.h>

/* What this CPU offers, read from CPUID and the VMX capability MSRs (the
 * allowed-1 halves; TRUE_* MSRs where IA32_VMX_BASIC says they exist). */
struct vmx_features {
    bool vmx, ept, vpid, unrestricted_guest, virtual_nmis, nmi_exiting,
         nmi_window, monitor_trap_flag, preemption_timer, x2apic,
         secondary_controls, feature_control_locked, vmx_outside_smx;
};

extern struct vmx_features vmx_features;

/* Fills vmx_features and prints the one-line report. Never faults: no VMX
 * MSR is read unless CPUID says VMX exists. Returns vmx_features.vmx. */
bool vmx_features_probe(void);

#endif
