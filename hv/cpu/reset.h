#ifndef HV_CPU_RESET_H
#define HV_CPU_RESET_H

/* Resets the machine (every CPU, the chipset); never returns. */
void platform_reset(void) __attribute__((noreturn));

#endif
