/* AP start-up with INIT-SIPI-SIPI through the real-mode trampoline. APs are
 * started one at a time so they can share the one trampoline page. */
#include <string.h>
#include "console/console.h"
#include <percpu.h>
#include "cpu/lapic.h"
#include "mem/pmm.h"
#include "cpu/tsc.h"
#include "trace/trace.h"
#include <x86.h>
#include "smp/trampoline.h"
#include "smp/smp.h"
#include "smp/work.h"
#include "trace/percpu_rings.h"

void ap_main(struct percpu *p) __attribute__((noreturn));

static uint64_t *tramp_slot(uint64_t *sym)
{
    return phys_ptr(TRAMPOLINE_ADDR + ((uint8_t *)sym - trampoline_start));
}

void cpu_init_self(struct percpu *p)
{
    percpu_bind(p);
    cpu_tables_init(p);
    lapic_enable();
    p->apic_id = lapic_id();
}

static int alloc_stacks(struct percpu *p)
{
    p->stack_base = pmm_alloc_pages(STACK_SIZE / PAGE_SIZE);
    for (int i = 1; i < 4; i++)
        p->ist_base[i] = pmm_alloc_pages(IST_STACK_SIZE / PAGE_SIZE);
    return p->stack_base && p->ist_base[1] && p->ist_base[2] && p->ist_base[3] ? 0 : -1;
}

void ap_main(struct percpu *p)
{
    cpu_init_self(p);
    __atomic_store_n(&p->online, true, __ATOMIC_RELEASE);
    trace_event(TEV_CPU_ONLINE, p->apic_id);
    printf("cpu%u online: apic id %u (%s)\n", p->index, p->apic_id,
           lapic_x2apic_mode() ? "x2apic" : "xapic");
    cpu_idle();
}

static int start_one(struct percpu *p)
{
    *tramp_slot(&tramp_cr3) = read_cr3();
    *tramp_slot(&tramp_stack) = (uint64_t)p->stack_base + STACK_SIZE;
    *tramp_slot(&tramp_percpu) = (uint64_t)p;
    *tramp_slot(&tramp_entry) = (uint64_t)ap_main;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    lapic_send_ipi(p->apic_id, ICR_INIT);
    udelay(10000);
    for (int sipi = 0; sipi < 2; sipi++) {
        lapic_send_ipi(p->apic_id, ICR_STARTUP | (TRAMPOLINE_ADDR >> 12));
        uint64_t deadline = rdtsc() + 200 * tsc_per_ms;
        /* the second SIPI is only sent if the first did not take */
        uint64_t first_wait = rdtsc() + tsc_per_ms / 5;
        while (!__atomic_load_n(&p->online, __ATOMIC_ACQUIRE)) {
            uint64_t now = rdtsc();
            if (sipi == 0 && now > first_wait)
                break;
            if (now > deadline)
                return -1;
            cpu_relax();
        }
        if (__atomic_load_n(&p->online, __ATOMIC_ACQUIRE))
            return 0;
    }
    return -1;
}

uint32_t smp_start_aps(const struct acpi_cpus *cpus)
{
    uint32_t self = lapic_id(), online = 1;
    memcpy(phys_ptr(TRAMPOLINE_ADDR), trampoline_start, trampoline_end - trampoline_start);
    for (uint32_t i = 0; i < cpus->count; i++) {
        if (cpus->apic_id[i] == self)
            continue;
        if (online == MAX_CPUS)
            break;
        struct percpu *p = &percpu_table[online];
        p->index = online;
        p->apic_id = cpus->apic_id[i];
        trace_rings_prepare(online, pmm_alloc_pages(TRACE_RINGS_MEM / PAGE_SIZE));
        if (alloc_stacks(p)) {
            printf("hv: out of pages for cpu%u's stacks\n", online);
            break;
        }
        if (start_one(p)) {
            printf("hv: cpu with apic id %u did not start (no answer to INIT-SIPI-SIPI)\n",
                   p->apic_id);
            continue;
        }
        online++;
        cpu_count = online;
    }
    return online;
}
