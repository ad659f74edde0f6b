/* x2apic_hint=kvm: tell a Linux guest that x2APIC without interrupt
 * remapping is supported here, the only way Linux accepts it.
 *
 * Without interrupt remapping, Linux keeps x2APIC mode only when a
 * hypervisor it recognises says so (x86_init.hyper.x2apic_available: KVM,
 * Xen, Hyper-V, VMware, ACRN, Jailhouse); otherwise it switches back to
 * xAPIC ("x2apic: IRQ remapping doesn't support X2APIC mode"). Firmware
 * that locks x2APIC (IA32_XAPIC_DISABLE_STATUS) is no way out on Debian
 * 12's kernel 6.1: its x2apic_disable() drops to xAPIC ops without
 * touching the locked LAPIC and the boot CPU faults in setup_local_APIC.
 *
 * So, when asked, the KVM signature is answered at CPUID 0x40000100 (Linux
 * scans 0x40000000-0x4000ff00 in steps of 0x100; this hypervisor's own
 * signature stays at 0x40000000), with no KVM features at 0x40000101: no
 * kvmclock, no PV EOI, no hypercalls, only "this is a virtual machine whose
 * x2APIC may be used as is". Linux then enables x2APIC itself, in physical
 * destination mode. Off by default: the guest is told something about its
 * platform that the hypervisor does not otherwise implement. */
#include "config/config.h"
#include "console/console.h"
#include "vapic/vapic.h"
#include "vmx/exit_table.h"

#define KVM_SIG_LEAF        0x40000100u
#define KVM_FEATURES_LEAF   0x40000101u

static bool x2apic_hint_cpuid(uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
    if (leaf == KVM_SIG_LEAF) {
        r->eax = KVM_FEATURES_LEAF;                     /* highest leaf here */
        r->ebx = 0x4b4d564b;                            /* "KVMK" */
        r->ecx = 0x564b4d56;                            /* "VMKV" */
        r->edx = 0x0000004d;                            /* "M\0\0\0" */
        return true;
    }
    if (leaf == KVM_FEATURES_LEAF) {
        *r = (struct cpuid_regs){ 0, 0, 0, 0 };         /* no KVM features */
        return true;
    }
    return false;
}

void x2apic_hint_init(void)
{
    if (hv_config.x2apic_hint != X2APIC_HINT_KVM)
        return;
    vmx_cpuid_register(x2apic_hint_cpuid);
    printf("vapic: x2apic_hint=kvm: CPUID 0x40000100 carries the KVM signature (no KVM "
           "features), so Linux keeps x2APIC mode without interrupt remapping\n");
}
