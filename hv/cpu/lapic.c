#include "cpu/lapic.h"
#include <x86.h>

#define APIC_BASE_X2APIC  (1u << 10)
#define X2APIC_MSR(off)   (0x800 + ((off) >> 4))

static volatile uint32_t *xapic_reg(uint32_t off)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE) & ~0xfffull & ((1ull << 52) - 1);
    return (volatile uint32_t *)(base + off);
}

bool lapic_x2apic_mode(void)
{
    return rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_X2APIC;
}

uint32_t lapic_id(void)
{
    if (lapic_x2apic_mode())
        return (uint32_t)rdmsr(X2APIC_MSR(XAPIC_ID));
    return *xapic_reg(XAPIC_ID) >> 24;
}

void lapic_enable(void)
{
    /* Software-enable with spurious vector 0xff (ignored by the IDT). */
    if (lapic_x2apic_mode())
        wrmsr(X2APIC_MSR(XAPIC_SVR), rdmsr(X2APIC_MSR(XAPIC_SVR)) | 0x1ff);
    else
        *xapic_reg(XAPIC_SVR) |= 0x1ff;
}

void lapic_send_ipi(uint32_t dest, uint32_t icr_low)
{
    if (lapic_x2apic_mode()) {
        /* A WRMSR to the x2APIC ICR is not serializing: without the fence
         * the IPI can overtake our earlier stores (a quiesce NMI arriving
         * before quiesce_request is visible; nmi_model.pml X2APIC_NO_FENCE). */
        __asm__ volatile("mfence; lfence" ::: "memory");
        wrmsr(X2APIC_MSR(XAPIC_ICR_LO), ((uint64_t)dest << 32) | icr_low);
        return;
    }
    /* The guest may have written ICR high and not yet ICR low (each is a
     * separate exit): put its destination back after ours. */
    uint32_t guest_hi = *xapic_reg(XAPIC_ICR_HI);
    *xapic_reg(XAPIC_ICR_HI) = dest << 24;
    *xapic_reg(XAPIC_ICR_LO) = icr_low;
    for (int i = 0; i < 1000000 && (*xapic_reg(XAPIC_ICR_LO) & (1u << 12)); i++)
        cpu_relax();    /* delivery status: sent */
    *xapic_reg(XAPIC_ICR_HI) = guest_hi;
}

uint32_t lapic_read(uint32_t off) { return *xapic_reg(off); }
void lapic_write(uint32_t off, uint32_t v) { *xapic_reg(off) = v; }

void lapic_eoi(void)
{
    if (lapic_x2apic_mode())
        wrmsr(X2APIC_MSR(XAPIC_EOI), 0);
    else
        *xapic_reg(XAPIC_EOI) = 0;
}
