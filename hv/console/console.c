/* printf: text formatted on the caller's stack and appended as a record to
 * this CPU's console ring (hv/trace/percpu_rings.h). It never waits for a
 * lock. Moving rings to the UART is the serial drain's job; the drain
 * registers itself here (console_set_kick) and is asked to run after each
 * write, and decides itself whether this context may drain. */
#include <stdarg.h>
#include <string.h>
#include <fmt.h>
#include <percpu.h>
#include <x86.h>
#include "console/console.h"
#include "trace/percpu_rings.h"
#include "trace/wire.h"

/* Text printed before CPU 0's rings exist (command-line errors). */
static char early_buf[2048];
static uint32_t early_len;
static void (*kick)(void);

void console_set_kick(void (*fn)(void))
{
    kick = fn;
}

void console_flush_early(void)
{
    uint32_t n = early_len;
    early_len = 0;
    if (n)
        console_write(early_buf, n);
}

static void early_append(const char *s, size_t n)
{
    /* Only the BSP runs before its rings exist. */
    while (n && early_len < sizeof(early_buf)) {
        early_buf[early_len++] = *s++;
        n--;
    }
}

/* One capture at a time (the debugger's monitor commands): the text of
 * one CPU goes to a buffer instead of its ring. */
static struct { volatile int cpu; char *buf; size_t cap, len; } capture = { .cpu = -1 };

void console_capture_start(uint32_t cpu, char *buf, size_t cap)
{
    capture.buf = buf;
    capture.cap = cap;
    capture.len = 0;
    __atomic_store_n(&capture.cpu, (int)cpu, __ATOMIC_RELEASE);
}

size_t console_capture_stop(void)
{
    __atomic_store_n(&capture.cpu, -1, __ATOMIC_RELEASE);
    return capture.len;
}

static bool captured(const char *s, size_t n)
{
    if (__atomic_load_n(&capture.cpu, __ATOMIC_ACQUIRE) != (int)this_cpu_index())
        return false;
    while (n-- && capture.len < capture.cap)
        capture.buf[capture.len++] = *s++;
    return true;
}

void console_write(const char *s, size_t n)
{
    if (captured(s, n))
        return;
    if (!trace_ring_of(this_cpu_index(), RING_TEXT)) {
        early_append(s, n);
        return;
    }
    uint8_t rec[WIRE_RAW_MAX];
    while (n) {
        size_t chunk = n < WIRE_MAX_TEXT ? n : WIRE_MAX_TEXT;
        size_t len = wire_raw_encode_text(rec, sizeof(rec), rdtsc(), s, chunk);
        trace_ring_append(RING_TEXT, rec, len);
        s += chunk;
        n -= chunk;
    }
    if (kick)
        kick();
}

int printf(const char *fmt, ...)
{
    char buf[WIRE_MAX_TEXT];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(buf)) {
        /* Long lines are rare (dumps are line by line); mark the cut. */
        n = sizeof(buf) - 1;
        buf[n - 1] = '\n';
        buf[n - 2] = '~';
    }
    console_write(buf, n);
    return n;
}
