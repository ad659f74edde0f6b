#include <stdint.h>
#include "config/config.h"
#include "console/console.h"
#include "cpu/lapic.h"
#include <percpu.h>
#include "cpu/tsc.h"
#include <x86.h>
#include "trace/trace.h"
#include "smp/work.h"
#include "selftest/selftest.h"

/* Far beyond the 4 GiB identity map, so it is not present. */
#define UNMAPPED_ADDR   0x00007f0000000000ull
#define NONCANONICAL    0x8000000000000000ull

__attribute__((noinline)) void selftest_ud(void)
{
    __asm__ volatile("ud2");
}

__attribute__((noinline)) void selftest_pf(void)
{
    (void)*(volatile uint64_t *)UNMAPPED_ADDR;
}

__attribute__((noinline)) void selftest_gp(void)
{
    (void)*(volatile uint64_t *)NONCANONICAL;
}

/* A #UD whose frame cannot be pushed (the stack is unmapped) becomes #PF,
 * which cannot be pushed either: #DF, which only works on its IST stack. */
__attribute__((noinline)) void selftest_df(void)
{
    __asm__ volatile("mov %0, %%rsp\n\tud2" :: "r"(UNMAPPED_ADDR + 0x1000));
}

/* A real NMI through the local APIC to ourselves; the NMI path reports it
 * and must return here. */
__attribute__((noinline)) void selftest_nmi(void)
{
    struct percpu *p = this_cpu();
    uint64_t before = __atomic_load_n(&p->nmi_count, __ATOMIC_ACQUIRE);
    lapic_send_ipi(p->apic_id, ICR_NMI);
    uint64_t deadline = rdtsc() + 1000 * tsc_per_ms;
    while (__atomic_load_n(&p->nmi_count, __ATOMIC_ACQUIRE) == before && rdtsc() < deadline)
        cpu_relax();
    if (__atomic_load_n(&p->nmi_count, __ATOMIC_ACQUIRE) == before)
        printf("selftest nmi: FAILED, no NMI arrived within 1 s\n");
    else
        printf("selftest nmi: NMI handled, back in selftest_nmi\n");
}

/* Every CPU prints and traces at once: the console and the trace must come
 * out separated, complete and in order on the host side. */
#define STORM_LINES 300

static void storm_on_cpu(void *arg)
{
    (void)arg;
    uint32_t me = this_cpu_index();
    for (uint32_t i = 0; i < STORM_LINES; i++) {
        printf("storm cpu%u line %u of %u\n", me, i, STORM_LINES);
        trace_event(TEV_TRACE_MARK, ((uint64_t)me << 32) | i);
    }
    printf("storm cpu%u done\n", me);
}

__attribute__((noinline)) void selftest_storm(void)
{
    uint32_t missing = smp_run_on_all(storm_on_cpu, NULL, 60000);
    printf("selftest storm: %u CPUs x %u lines, %u CPUs missing\n",
           cpu_count, STORM_LINES, missing);
}

/* selftest=storm_guest: the other CPUs storm while this one runs the
 * guest, so hypervisor consoles, traces and the guest's serial output all
 * share the line at once. */
void selftest_start_background(int kind)
{
    if (kind != SELFTEST_STORM_GUEST)
        return;
    printf("selftest storm_guest: the other CPUs storm while cpu%u runs the guest\n",
           this_cpu_index());
    smp_start_on_others(storm_on_cpu, NULL);
}

void selftest_run(int kind)
{
    static const struct { const char *name; void (*fn)(void); } tests[SELFTEST_COUNT] = {
        [SELFTEST_UD] = { "ud", selftest_ud },
        [SELFTEST_PF] = { "pf", selftest_pf },
        [SELFTEST_GP] = { "gp", selftest_gp },
        [SELFTEST_NMI] = { "nmi", selftest_nmi },
        [SELFTEST_DF] = { "df", selftest_df },
        [SELFTEST_STORM] = { "storm", selftest_storm },
        [SELFTEST_QUIESCE] = { "quiesce", selftest_quiesce },
        [SELFTEST_QUIESCE_STUCK] = { "quiesce_stuck", selftest_quiesce_stuck },
        [SELFTEST_CRYPTO] = { "crypto", selftest_crypto },
    };
    if (kind <= SELFTEST_NONE || kind >= SELFTEST_COUNT || !tests[kind].fn)
        return;
    printf("selftest %s: starting on cpu%u\n", tests[kind].name, this_cpu_index());
    tests[kind].fn();
}
