/* A guest's ICR write, from either mode: INIT and SIPI are turned into the
 * target CPU's guest start (sipi.c); SMIs are refused (the guest has no SMM
 * of its own here, and a real SMI would enter the firmware's SMM under the
 * hypervisor); every other IPI is sent as written, with only the bits a
 * write may carry. */
#include "console/console.h"
#include "cpu/lapic.h"
#include <percpu.h>
#include "trace/trace.h"
#include <x86.h>
#include "vapic/vapic.h"
#include "vmx/refuse.h"

#define ICR_MODE(lo)        (((lo) >> 8) & 7)
#define ICR_LOGICAL         (1u << 11)
#define ICR_LEVEL_ASSERT    (1u << 14)
#define ICR_TRIGGER_LEVEL   (1u << 15)
#define ICR_SHORTHAND(lo)   (((lo) >> 18) & 3)
/* vector, mode, dest mode, level, trigger, shorthand: the bits a write
 * carries (delivery status and reserved bits are not the guest's to set) */
#define ICR_WRITABLE        0x000ccfffu
enum { MODE_SMI = 2, MODE_INIT = 5, MODE_SIPI = 6 };
enum { SH_NONE, SH_SELF, SH_ALL, SH_OTHERS };

static void forward(uint32_t dest, uint32_t lo, bool x2apic)
{
    lo &= ICR_WRITABLE;
    if (x2apic)
        wrmsr(MSR_X2APIC_ICR, ((uint64_t)dest << 32) | lo);
    else
        lapic_write(XAPIC_ICR_LO, lo);  /* ICR high is the guest's already */
}

static bool targets(uint32_t cpu, uint32_t self, uint32_t dest, uint32_t shorthand, bool x2apic)
{
    switch (shorthand) {
    case SH_SELF:   return cpu == self;
    case SH_ALL:    return true;
    case SH_OTHERS: return cpu != self;
    default:
        if (dest == (x2apic ? 0xffffffffu : 0xffu))
            return true;    /* physical broadcast */
        return percpu_table[cpu].apic_id == dest;
    }
}

static void init_or_sipi(struct vcpu *v, uint32_t dest, uint32_t lo, bool x2apic)
{
    uint32_t mode = ICR_MODE(lo), shorthand = ICR_SHORTHAND(lo);
    const char *what = mode == MODE_INIT ? "INIT" : "SIPI";
    unsigned hit = 0;
    if (shorthand == SH_NONE && (lo & ICR_LOGICAL)) {
        guest_refused(v, REFUSE_ICR, lo, "%s with a logical destination (%#x) is not "
                      "supported; not sent", what, dest);
        return;
    }
    for (uint32_t c = 0; c < cpu_count; c++) {
        if (!targets(c, v->index, dest, shorthand, x2apic))
            continue;
        hit++;
        if (c == v->index) {
            guest_refused(v, REFUSE_ICR, lo, "%s to itself not sent", what);
        } else if (!vcpus[c].vmcs_phys) {
            guest_refused(v, REFUSE_ICR, lo, "%s to cpu%u, which is not running the "
                          "hypervisor; not sent", what, c);
        } else if (mode == MODE_INIT) {
            vapic_guest_init(&vcpus[c]);
        } else {
            vapic_guest_sipi(&vcpus[c], lo & 0xff);
        }
    }
    if (!hit)
        guest_refused(v, REFUSE_ICR, dest, "%s to APIC id %#x: no such CPU; not sent", what, dest);
}

void vapic_icr_write(struct vcpu *v, uint32_t dest, uint32_t lo, bool x2apic)
{
    uint32_t mode = ICR_MODE(lo);
    trace_event(TEV_IPI_SEND, dest, lo);
    if (mode == MODE_SMI) {
        guest_refused(v, REFUSE_ICR, lo, "SMI IPI to %#x not sent", dest);
        return;
    }
    if (mode != MODE_INIT && mode != MODE_SIPI) {
        forward(dest, lo, x2apic);
        return;
    }
    if (mode == MODE_INIT && (lo & ICR_TRIGGER_LEVEL) && !(lo & ICR_LEVEL_ASSERT))
        return;     /* INIT level de-assert: no effect on modern CPUs (10.6.1) */
    init_or_sipi(v, dest, lo, x2apic);
}
