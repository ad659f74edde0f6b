/* The AP start-up trampoline (trampoline.S), shared by its assembly and
 * smp.c. */
#ifndef HV_SMP_TRAMPOLINE_H
#define HV_SMP_TRAMPOLINE_H

/* The trampoline runs from this real-mode page (SIPI vector 0x08). */
#define TRAMPOLINE_ADDR     0x8000

#ifndef __ASSEMBLY__
#include <stdint.h>
extern uint8_t trampoline_start[], trampoline_end[];
extern uint64_t tramp_cr3, tramp_stack, tramp_percpu, tramp_entry;
#endif
#endif
