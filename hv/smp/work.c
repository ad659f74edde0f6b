#include "console/console.h"
#include "serial/serial.h"
#include "cpu/lapic.h"
#include <percpu.h>
#include "cpu/tsc.h"
#include <x86.h>
#include "smp/work.h"

static struct {
    cpu_work_fn fn;
    void *arg;
    volatile uint64_t generation;
    volatile uint32_t done;
} work;

static uint64_t seen_generation[MAX_CPUS];
#define MAX_IDLE_HOOKS 4
static void (*idle_hooks[MAX_IDLE_HOOKS])(void);
static unsigned nidle_hooks;

void cpu_idle_set_hook(void (*fn)(void))
{
    if (nidle_hooks == MAX_IDLE_HOOKS) {
        printf("smp: idle hook table full; a hook was not registered\n");
        return;
    }
    idle_hooks[nidle_hooks++] = fn;
}

static void run_pending(struct percpu *p)
{
    uint64_t gen = __atomic_load_n(&work.generation, __ATOMIC_ACQUIRE);
    if (gen == seen_generation[p->index])
        return;
    seen_generation[p->index] = gen;
    work.fn(work.arg);
    __atomic_fetch_add(&work.done, 1, __ATOMIC_RELEASE);
}

void cpu_idle(void)
{
    struct percpu *p = this_cpu();
    for (;;) {
        irq_disable();
        serial_kick();
        run_pending(p);
        for (unsigned i = 0; i < nidle_hooks; i++)
            idle_hooks[i]();
        if (p->index == 0) {
            /* The BSP watches the UART for host commands, so it polls
             * instead of sleeping (nothing else would wake it). */
            cpu_relax();
            continue;
        }
        /* sti;hlt: an IPI arriving after the check above still wakes us,
         * because sti only opens interrupts after the next instruction. */
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
}

static void post_work(cpu_work_fn fn, void *arg, struct percpu *self)
{
    work.fn = fn;
    work.arg = arg;
    __atomic_store_n(&work.done, 0, __ATOMIC_RELEASE);
    __atomic_fetch_add(&work.generation, 1, __ATOMIC_ACQ_REL);
    seen_generation[self->index] = work.generation;    /* not for the caller */
    for (uint32_t i = 0; i < cpu_count; i++)
        if (i != self->index && percpu_table[i].online)
            lapic_send_ipi(percpu_table[i].apic_id, VEC_WAKEUP);
}

void smp_start_on_others(cpu_work_fn fn, void *arg)
{
    post_work(fn, arg, this_cpu());
}

uint32_t smp_run_on_all(cpu_work_fn fn, void *arg, uint64_t timeout_ms)
{
    struct percpu *self = this_cpu();
    post_work(fn, arg, self);
    fn(arg);
    __atomic_fetch_add(&work.done, 1, __ATOMIC_RELEASE);
    uint32_t want = 0;
    for (uint32_t i = 0; i < cpu_count; i++)
        want += percpu_table[i].online;
    uint64_t deadline = rdtsc() + timeout_ms * tsc_per_ms;
    while (__atomic_load_n(&work.done, __ATOMIC_ACQUIRE) < want && rdtsc() < deadline) {
        serial_kick();
        cpu_relax();
    }
    uint64_t gen = work.generation;
    uint32_t missing = 0;
    for (uint32_t i = 0; i < cpu_count; i++)
        if (percpu_table[i].online && seen_generation[i] != gen) {
            printf("smp: cpu%u (apic %u) did not take the work within %lu ms\n",
                   i, percpu_table[i].apic_id, timeout_ms);
            missing++;
        }
    return missing;
}
