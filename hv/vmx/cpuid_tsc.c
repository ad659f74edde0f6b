/* CPUID leaves 0x15 and 0x16 tell a guest the TSC's rate without measuring
 * it (SDM Vol. 2A, CPUID: 15H, TSC = crystal Hz * EBX / EAX; 16H, base
 * MHz). Linux believes them (native_calibrate_tsc) and then never checks
 * the rate against a timer. Where they are wrong, the guest's clock is
 * wrong by the same factor: Bochs' skylake and icelake models claim a
 * multi-GHz TSC while Bochs' TSC counts emulated instructions (tens of
 * MHz), so a Linux guest's time ran ~140x slow and its TSC-deadline timer
 * fired as rarely.
 *
 * The hypervisor has measured the rate itself against the PIT (cpu/tsc.c).
 * When the leaves disagree with that by more than an eighth, it answers
 * them as a CPU that does not enumerate the rate: 0x15.EBX = 0 ("the
 * ratio is not enumerated") and 0x16 all zeros. The guest then measures
 * its TSC and LAPIC timer against the platform's timers, as on CPUs
 * without these leaves. On hardware whose leaves are right nothing
 * changes. */
#include <x86.h>
#include "console/console.h"
#include "cpu/tsc.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"

#define LEAF_TSC_CRYSTAL 0x15u
#define LEAF_FREQUENCY   0x16u

/* The rate a guest would derive from the leaves, in kHz (0: none), the
 * way Linux does: crystal Hz from 0x15, or, when 0x15 gives the ratio but
 * not the crystal, the base frequency of 0x16 (the TSC runs at it). */
static uint64_t claimed_tsc_khz(void)
{
    uint32_t max = cpuid(0, 0).eax;
    struct cpuid_regs r15 = { 0 }, r16 = { 0 };
    if (max >= LEAF_TSC_CRYSTAL)
        r15 = cpuid(LEAF_TSC_CRYSTAL, 0);
    if (max >= LEAF_FREQUENCY)
        r16 = cpuid(LEAF_FREQUENCY, 0);
    if (r15.eax && r15.ebx && r15.ecx)
        return (uint64_t)r15.ecx * r15.ebx / r15.eax / 1000;
    return (uint64_t)(r16.eax & 0xffff) * 1000;
}

static bool hide_rate(uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
    if (leaf != LEAF_TSC_CRYSTAL && leaf != LEAF_FREQUENCY)
        return false;
    *r = (struct cpuid_regs){ 0, 0, 0, 0 };     /* not enumerated */
    return true;
}

void vmx_cpuid_tsc_init(void)
{
    uint64_t claimed = claimed_tsc_khz(), measured = tsc_per_ms;
    if (!claimed || (claimed <= measured + measured / 8 && claimed + measured / 8 >= measured))
        return;
    vmx_cpuid_register(hide_rate);
    printf("vmx: CPUID 0x15/0x16 claim a %lu kHz TSC, measured %lu kHz: the guest is told "
           "the rate is not enumerated (it measures it)\n", claimed, measured);
}
