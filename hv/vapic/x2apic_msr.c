/* The two APIC MSRs whose writes exit: the x2APIC ICR (INIT/SIPI) and
 * IA32_APIC_BASE (mode changes, checked as the CPU would before they are
 * made real). Every other x2APIC MSR passes through with no exit. */
#include "console/console.h"
#include "trace/trace.h"
#include <x86.h>
#include "vapic/vapic.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"

#define BASE_BSP        (1ull << 8)
#define BASE_EXTD       (1ull << 10)
#define BASE_EN         (1ull << 11)

static bool apic_base_write_ok(uint64_t cur, uint64_t val)
{
    uint32_t phys_bits = cpuid(0x80000008, 0).eax & 0xff;
    uint64_t reserved = ~(BASE_BSP | BASE_EXTD | BASE_EN | (((1ull << phys_bits) - 1) & ~0xfffull));
    if (val & reserved)
        return false;
    if ((val & BASE_EXTD) && !(val & BASE_EN))
        return false;                   /* x2APIC without enable: invalid */
    if ((val & BASE_EXTD) && !(cpuid(1, 0).ecx & (1u << 21)))
        return false;                   /* no x2APIC on this CPU */
    if ((cur & BASE_EXTD) && (val & BASE_EN) && !(val & BASE_EXTD))
        return false;                   /* x2APIC -> xAPIC needs a disable first */
    return true;
}

/* WRMSR to the x2APIC ICR: INIT/SIPI are ours; in xAPIC mode the MSR
 * does not exist (#GP, SDM Vol. 3A, 11.12.1.2). */
static bool write_icr(struct vcpu *v, uint32_t msr, uint64_t value)
{
    v->lapic_exits[1][(msr - 0x800) & 0x3f]++;
    if (!(rdmsr(MSR_IA32_APIC_BASE) & BASE_EXTD))
        return false;
    vapic_icr_write(v, value >> 32, (uint32_t)value, true);
    return true;
}

static bool write_apic_base(struct vcpu *v, uint32_t msr, uint64_t value)
{
    uint64_t cur = rdmsr(MSR_IA32_APIC_BASE);
    if (!apic_base_write_ok(cur, value)) {
        printf("guest cpu%u: IA32_APIC_BASE %#lx -> %#lx is not a legal change; #GP injected\n",
               v->index, cur, value);
        return false;
    }
    if ((value & BASE_EN) && (value & ~0xfffull) != GUEST_LAPIC_GPA)
        printf("guest cpu%u: moving the LAPIC to %#lx is not supported: the hypervisor keeps "
               "trapping %#lx\n", v->index, (uint64_t)(value & ~0xfffull), (uint64_t)GUEST_LAPIC_GPA);
    wrmsr(MSR_IA32_APIC_BASE, (value & ~BASE_BSP) | (cur & BASE_BSP));
    trace_event(TEV_APIC_MODE, value);
    return true;
}

/* Reads pass: the guest sees the real ICR and APIC base. */
static const struct msr_intercept apic_msrs[] = {
    { MSR_X2APIC_ICR, MSR_X2APIC_ICR, true, NULL, write_icr, "vapic" },
    { MSR_IA32_APIC_BASE, MSR_IA32_APIC_BASE, true, NULL, write_apic_base, "vapic" },
};

void vapic_msr_init(void)
{
    for (unsigned i = 0; i < sizeof(apic_msrs) / sizeof(apic_msrs[0]); i++)
        vmx_msr_register(&apic_msrs[i]);
}
