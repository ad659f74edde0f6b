/* The hypervisor's text output. printf() may be called from any CPU in any
 * context (NMI, exception, fatal path): it formats on the caller's stack,
 * appends a text record to this CPU's console ring and returns; it never
 * waits for a lock. The serial drain (hv/serial/) moves the rings to the
 * UART. */
#ifndef HV_CONSOLE_H
#define HV_CONSOLE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_write(const char *s, size_t n);

/* The drain registers how to be asked to run after a write (it checks
 * itself whether the caller's context may drain). */
void console_set_kick(void (*fn)(void));
/* Until stopped, what CPU cpu prints goes to buf (cut at cap) instead of
 * its ring: the debugger's monitor commands send it to gdb. One capture at
 * a time. Returns the length captured. */
void console_capture_start(uint32_t cpu, char *buf, size_t cap);
size_t console_capture_stop(void);
/* Text printed before CPU 0's rings existed goes to its ring now. */
void console_flush_early(void);

#endif
