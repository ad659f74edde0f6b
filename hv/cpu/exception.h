#ifndef HV_CPU_EXCEPTION_H
#define HV_CPU_EXCEPTION_H
#include <stdbool.h>
#include <stdint.h>
#include "cpu/idt.h"

/* Returns true if it consumed the NMI (quiesce, guest NMI, selftest...). */
typedef bool (*nmi_hook_fn)(struct regs *r);

/* The serial stage registers how a fatal path flushes every ring. */
void cpu_set_fatal_flush(void (*fn)(void));
void exception_set_nmi_hook(nmi_hook_fn fn);
const char *exception_name(uint64_t vec);
/* Named state of an exception frame; fatal=false for reports (NMIs). */
void exception_dump(bool fatal, const char *why, const struct regs *r);
void cpu_park(void) __attribute__((noreturn));

#endif
