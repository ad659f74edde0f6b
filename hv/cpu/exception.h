#ifndef HV_CPU_EXCEPTION_H
#define HV_CPU_EXCEPTION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cpu/idt.h"

/* Returns true if it consumed the NMI (quiesce, guest NMI, selftest...). */
typedef bool (*nmi_hook_fn)(struct regs *r);

/* The serial stage registers how a fatal path flushes every ring. */
void cpu_set_fatal_flush(void (*fn)(void));
void exception_set_nmi_hook(nmi_hook_fn fn);
const char *exception_name(uint64_t vec);

/* The debugger (hv/gdbstub/) registers here; the CPU layer asks it first.
 *  nmi:   every root-mode NMI; true if it was the debugger's stop IPI
 *         (then it is not passed on as the guest's);
 *  trap:  #DB and #BP in root mode; true if it was the debugger's (its
 *         breakpoint, watchpoint or step): the CPU resumes from r;
 *  fatal: a fatal stop, after the dump: r is the faulting frame, or NULL
 *         when the fatal path is not an exception (an unhandled exit, a
 *         VM-entry failure, an assertion); returns only if the debugger
 *         is off, then the CPU parks. */
struct exception_debugger {
    bool (*nmi)(struct regs *r);
    bool (*trap)(struct regs *r);
    void (*fatal)(struct regs *r, const char *why);
};
void exception_set_debugger(const struct exception_debugger *d);

/* Copies n bytes; a #PF or #GP on the way ends the copy instead of
 * killing the hypervisor (the fault is fixed up, see checked_copy.S).
 * Returns the number of bytes NOT copied (0: all). For the debugger's
 * memory access; callers still check the range first. */
size_t checked_copy(void *dst, const void *src, size_t n);
/* Named state of an exception frame; fatal=false for reports (NMIs). */
void exception_dump(bool fatal, const char *why, const struct regs *r);
void cpu_park(void) __attribute__((noreturn));

#endif
