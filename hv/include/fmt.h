/* printf-style formatting into a caller's buffer; no allocation, no locks,
 * so it is safe in NMI and exception context. */
#ifndef HV_FMT_H
#define HV_FMT_H
#include <stdarg.h>
#include <stddef.h>

/* Supports %% %c %s %.*s %d %i %u %x %X %p with l/ll/z, width, and the
 * flags 0, - and # (0x prefix).
 * Always NUL-terminates (when n > 0); returns the length it wanted. */
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
