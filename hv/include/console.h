/* The hypervisor's output. printf() may be called from any CPU in any
 * context (NMI, exception, fatal path): it formats on the caller's stack,
 * appends a text record to this CPU's trace ring and returns; it never
 * waits for a lock. Whoever wins a try-lock drains all rings to the UART
 * (see console/drain.c). */
#ifndef HV_CONSOLE_H
#define HV_CONSOLE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum serial_mode { SERIAL_FRAMED, SERIAL_PLAIN };

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_write(const char *s, size_t n);

/* Drains rings to the UART if no other CPU is doing it right now. */
void console_kick(void);
/* Fatal path: waits a bounded time for the line, then takes it over,
 * drains every CPU's ring and keeps the line. */
void console_fatal_takeover(void);

#endif
