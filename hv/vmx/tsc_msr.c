/* The guest's time-stamp counter is its own: guest TSC = host TSC + this
 * vCPU's TSC offset ("use TSC offsetting", SDM Vol. 3C, 24.6.5; RDTSC,
 * RDTSCP and RDMSR of IA32_TSC add it in non-root operation, 25.3). A
 * guest write of IA32_TSC or IA32_TSC_ADJUST moves only the offset, never
 * the counter the hypervisor's own time base reads; IA32_TSC_DEADLINE is
 * translated by the same offset, since the LAPIC compares it against the
 * real counter. */
#include <stddef.h>
#include <x86.h>
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/vmcs.h"

#define MSR_IA32_TSC            0x10
#define MSR_IA32_TSC_ADJUST     0x3b
#define MSR_IA32_TSC_DEADLINE   0x6e0

static bool read_deadline(struct vcpu *v, uint32_t msr, uint64_t *value);
static bool write_deadline(struct vcpu *v, uint32_t msr, uint64_t value);

/* The deadline needs translating only once some guest TSC differs from the
 * host's: until then its accesses cost no exit. */
static void intercept_deadline(void)
{
    static const struct msr_intercept deadline = {
        MSR_IA32_TSC_DEADLINE, MSR_IA32_TSC_DEADLINE, false, read_deadline, write_deadline,
        "vmx tsc" };
    static int done;
    if (!__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        vmx_msr_register(&deadline);
}

static void set_offset(struct vcpu *v, int64_t offset)
{
    if (offset)
        intercept_deadline();
    /* Writing IA32_TSC adds the same change to IA32_TSC_ADJUST (Vol. 3B,
     * 17.17.3), so both stay consistent for the guest. */
    v->tsc_adjust += offset - v->tsc_offset;
    v->tsc_offset = offset;
    vmcs_write(TSC_OFFSET, (uint64_t)offset);
}

static bool write_tsc(struct vcpu *v, uint32_t msr, uint64_t value)
{
    set_offset(v, (int64_t)(value - rdtsc()));
    return true;
}

static bool read_tsc_adjust(struct vcpu *v, uint32_t msr, uint64_t *value)
{
    *value = (uint64_t)v->tsc_adjust;
    return true;
}

static bool write_tsc_adjust(struct vcpu *v, uint32_t msr, uint64_t value)
{
    set_offset(v, v->tsc_offset + ((int64_t)value - v->tsc_adjust));
    v->tsc_adjust = (int64_t)value;
    return true;
}

static bool read_deadline(struct vcpu *v, uint32_t msr, uint64_t *value)
{
    uint64_t real = rdmsr(MSR_IA32_TSC_DEADLINE);
    *value = real ? real + (uint64_t)v->tsc_offset : 0;     /* 0: disarmed */
    return true;
}

static bool write_deadline(struct vcpu *v, uint32_t msr, uint64_t value)
{
    uint64_t real = value ? value - (uint64_t)v->tsc_offset : 0;
    if (value && !real)
        real = 1;           /* a deadline in the past still fires */
    wrmsr(MSR_IA32_TSC_DEADLINE, real);
    return true;
}

static const struct msr_intercept tsc_msrs[] = {
    /* Reads of IA32_TSC pass: the CPU adds the offset itself. */
    { MSR_IA32_TSC, MSR_IA32_TSC, true, NULL, write_tsc, "vmx tsc" },
    { MSR_IA32_TSC_ADJUST, MSR_IA32_TSC_ADJUST, false, read_tsc_adjust, write_tsc_adjust,
      "vmx tsc" },
};

void vmx_tsc_msrs_init(void)
{
    struct cpuid_regs r = cpuid(7, 0);
    bool has_adjust = r.ebx & (1u << 1);
    for (unsigned i = 0; i < sizeof(tsc_msrs) / sizeof(tsc_msrs[0]); i++)
        if (tsc_msrs[i].first != MSR_IA32_TSC_ADJUST || has_adjust)
            vmx_msr_register(&tsc_msrs[i]);
}
