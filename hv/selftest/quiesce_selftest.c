/* selftest=quiesce: the BSP quiesces the other CPUs (idling in root, so the
 * quiesce NMIs go through their IDT) many times and checks each section is
 * exclusive. selftest=quiesce_stuck: cpu1 sits in its NMI handler (NMIs
 * blocked) for a while, so the quiesce must name it in a report instead of
 * hanging silently, and completes once cpu1 comes back. */
#include "config/config.h"
#include "console/console.h"
#include "cpu/lapic.h"
#include <percpu.h>
#include "cpu/tsc.h"
#include <x86.h>
#include "cpu/exception.h"
#include "nmi/nmi.h"
#include "selftest/selftest.h"
#include "vmx/vcpu.h"

#define QUIESCE_ROUNDS 50

static volatile bool stuck_armed;

/* cpu1's first NMI while armed: stay in the handler for 2.5 report periods. */
static bool stuck_hook(struct regs *r)
{
    if (this_cpu_index() == 1 && __atomic_exchange_n(&stuck_armed, false, __ATOMIC_ACQ_REL)) {
        uint64_t until = rdtsc() + hv_config.quiesce_report_ms * 5 / 2 * tsc_per_ms;
        while (rdtsc() < until)
            cpu_relax();
    }
    return nmi_from_idt(r);
}

void selftest_quiesce(void)
{
    struct vcpu *v = &vcpus[this_cpu_index()];
    char why[80];
    uint32_t bad = 0, others = 0;
    nmi_init();
    for (int i = 0; i < QUIESCE_ROUNDS; i++) {
        others = quiesce(v);
        if (!quiesce_section_exclusive(v, why, sizeof(why))) {
            printf("selftest quiesce: round %d not exclusive: %s\n", i, why);
            bad++;
        }
        endquiesce(v);
    }
    printf("selftest quiesce: %d rounds, %u other CPUs stopped each time, %u not exclusive\n",
           QUIESCE_ROUNDS, others, bad);
}

void selftest_quiesce_stuck(void)
{
    struct vcpu *v = &vcpus[this_cpu_index()];
    if (cpu_count < 2) {
        printf("selftest quiesce_stuck: needs 2 CPUs\n");
        return;
    }
    nmi_init();
    exception_set_nmi_hook(stuck_hook);
    __atomic_store_n(&stuck_armed, true, __ATOMIC_RELEASE);
    lapic_send_ipi(percpu_table[1].apic_id, ICR_NMI);  /* into its handler */
    uint64_t t0 = rdtsc();
    uint32_t others = quiesce(v);
    endquiesce(v);
    printf("selftest quiesce_stuck: quiesce completed after %lu ms with %u CPUs stopped\n",
           (rdtsc() - t0) / tsc_per_ms, others);
    exception_set_nmi_hook(nmi_from_idt);
}
