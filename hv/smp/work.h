#ifndef HV_SMP_WORK_H
#define HV_SMP_WORK_H
#include <stdint.h>

typedef void (*cpu_work_fn)(void *arg);

/* Runs fn(arg) on every online CPU at once (the caller included) and waits
 * for all of them, at most timeout_ms; CPUs that did not finish are named.
 * Returns how many did not finish. Normal context only. */
uint32_t smp_run_on_all(cpu_work_fn fn, void *arg, uint64_t timeout_ms);

/* Hands fn(arg) to every other online CPU and returns at once. */
void smp_start_on_others(cpu_work_fn fn, void *arg);

/* The idle loop of a CPU with nothing to run: drains the console, runs work
 * handed to it, and otherwise sleeps in hlt until an IPI or NMI. */
void cpu_idle(void) __attribute__((noreturn));
/* Called on every pass of the idle loop (the guest AP start, the
 * debugger's break-in); a few owners, in registration order. */
void cpu_idle_set_hook(void (*fn)(void));

#endif
