/* The APIC MSRs that exit: writes of the x2APIC ICR (INIT/SIPI), and
 * IA32_APIC_BASE, which the guest only ever sees virtually (v->apic_base):
 * its mode changes are checked as the CPU would (SDM Vol. 3A, 10.12.5) and
 * only xAPIC -> x2APIC reaches the hardware; the base stays 0xfee00000
 * (moving it would let the guest's IPIs bypass the trapped page, or put
 * the APIC over the hypervisor's memory) and disabling is virtual (the
 * hypervisor keeps its LAPIC). Every other x2APIC MSR passes through. */
#include "console/console.h"
#include "trace/trace.h"
#include <x86.h>
#include "vapic/vapic.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/refuse.h"

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
    if (!(cur & BASE_EN) && (val & BASE_EXTD))
        return false;                   /* disabled -> x2APIC goes through xAPIC */
    return true;
}

/* WRMSR to the x2APIC ICR: INIT/SIPI are ours; in xAPIC mode the MSR
 * does not exist (#GP, SDM Vol. 3A, 11.12.1.2). */
static bool write_icr(struct vcpu *v, uint32_t msr, uint64_t value)
{
    v->lapic_exits[1][(msr - 0x800) & 0x3f]++;
    if (!(v->apic_base & BASE_EXTD))
        return false;
    vapic_icr_write(v, value >> 32, (uint32_t)value, true);
    return true;
}

static bool read_apic_base(struct vcpu *v, uint32_t msr, uint64_t *value)
{
    *value = v->apic_base;
    return true;
}

static bool write_apic_base(struct vcpu *v, uint32_t msr, uint64_t value)
{
    uint64_t cur = v->apic_base;
    if (!apic_base_write_ok(cur, value)) {
        guest_refused(v, REFUSE_APIC_BASE, value, "IA32_APIC_BASE %#lx -> %#lx is not a legal "
                      "change; #GP", cur, value);
        return false;
    }
    if ((value & BASE_EN) && (value & ~0xfffull) != GUEST_LAPIC_GPA)
        guest_refused(v, REFUSE_APIC_BASE, value, "moving the LAPIC to %#lx ignored: it stays "
                      "at %#lx", (uint64_t)(value & ~0xfffull), (uint64_t)GUEST_LAPIC_GPA);
    if (!(value & BASE_EN) && (cur & BASE_EN))
        printf("guest cpu%u: LAPIC disabled (virtually: the hypervisor keeps using it)\n",
               v->index);
    /* Only entering x2APIC mode is made real: the guest's x2APIC MSRs go
     * straight to the hardware from then on. */
    if ((value & BASE_EXTD) && !(rdmsr(MSR_IA32_APIC_BASE) & BASE_EXTD))
        wrmsr(MSR_IA32_APIC_BASE, rdmsr(MSR_IA32_APIC_BASE) | BASE_EXTD);
    v->apic_base = (cur & BASE_BSP) | (value & (BASE_EN | BASE_EXTD)) | GUEST_LAPIC_GPA;
    trace_event(TEV_APIC_MODE, v->apic_base);
    return true;
}

/* ICR reads pass (the real ICR, delivery status included). */
static const struct msr_intercept apic_msrs[] = {
    { MSR_X2APIC_ICR, MSR_X2APIC_ICR, true, NULL, write_icr, "vapic" },
    { MSR_IA32_APIC_BASE, MSR_IA32_APIC_BASE, false, read_apic_base, write_apic_base, "vapic" },
};

/* What the virtual INIT/SIPI design needs to see exit (vapic.h): without
 * the ICR write the guest's x2APIC INIT/SIPI reach the hardware (its APs
 * never start: in VMX root operation INIT is blocked and a SIPI ignored,
 * SDM Vol. 3C, 23.8), without APIC_BASE the guest moves or disables the
 * real LAPIC. */
static const struct { uint32_t msr; bool write; const char *what; } needed[] = {
    { MSR_X2APIC_ICR, true, "the x2APIC ICR: the guest's INIT/SIPI would reach the hardware" },
    { MSR_IA32_APIC_BASE, true, "IA32_APIC_BASE: the guest would change the real LAPIC" },
    { MSR_IA32_APIC_BASE, false, "IA32_APIC_BASE: the guest would see the real one" },
};

/* Checks this CPU's VMCS, as the CPU will use it: every needed access
 * must exit. A gap is reported (the guest still runs: its symptom is the
 * evidence), and counted in the result. */
unsigned vapic_msr_audit(struct vcpu *v)
{
    unsigned gaps = 0;
    for (unsigned i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (vmx_msr_exits(needed[i].msr, needed[i].write))
            continue;
        gaps++;
        printf("vapic: cpu%u: MSR bitmap audit FAILED: %s %#x does not exit (%s)\n", v->index,
               needed[i].write ? "WRMSR" : "RDMSR", needed[i].msr, needed[i].what);
    }
    return gaps;
}

void vapic_msr_init(void)
{
    for (unsigned i = 0; i < sizeof(apic_msrs) / sizeof(apic_msrs[0]); i++)
        vmx_msr_register(&apic_msrs[i]);
}
