/* printf and trace_emit: the producer side of the console. Both only append
 * a record to this CPU's ring; the drain (drain.c) moves rings to the UART.
 * Each CPU has two rings: console text and trace events. Keeping them apart
 * lets the flight recorder hold events back while text keeps flowing. */
#include <stdarg.h>
#include <string.h>
#include <config.h>
#include <console.h>
#include <fmt.h>
#include <percpu.h>
#include <pmm.h>
#include <trace.h>
#include <x86.h>
#include "console/console_rings.h"
#include "trace/wire.h"

#define CPU0_RING_BYTES  (64 * 1024)
#define AP_RING_BYTES    (64 * 1024)

struct cpu_rings cpu_rings[MAX_CPUS];
static uint8_t cpu0_mem[RINGS_PER_CPU][CPU0_RING_BYTES] __attribute__((aligned(64)));

/* Text printed before CPU 0's rings exist (command-line errors). */
static char early_buf[2048];
static uint32_t early_len;

void console_rings_prepare(uint32_t idx)
{
    struct cpu_rings *cr = &cpu_rings[idx];
    uint8_t *mem[RINGS_PER_CPU];
    uint32_t bytes = idx ? AP_RING_BYTES : CPU0_RING_BYTES;
    for (int i = 0; i < RINGS_PER_CPU; i++) {
        mem[i] = idx ? pmm_alloc_pages(AP_RING_BYTES / PAGE_SIZE) : cpu0_mem[i];
        if (!mem[i])
            return;     /* that CPU's output is dropped; ready stays false */
    }
    /* The flight recorder keeps the newest events: overwrite the oldest. */
    enum ring_policy trace_policy = hv_config.flight_recorder ? RING_OVERWRITE
                                                             : (enum ring_policy)hv_config.trace_policy;
    ring_init(&cr->ring[RING_TEXT], mem[0], bytes, (enum ring_policy)hv_config.trace_policy);
    ring_init(&cr->ring[RING_EVENTS], mem[1], bytes, trace_policy);
    ring_init(&cr->ring[RING_GUEST], mem[2], bytes, RING_DROP_NEWEST);
    __atomic_store_n(&cr->ready, true, __ATOMIC_RELEASE);
    if (idx == 0 && early_len) {
        uint32_t n = early_len;
        early_len = 0;
        console_write(early_buf, n);
    }
}

static struct cpu_rings *my_rings(void)
{
    struct cpu_rings *cr = &cpu_rings[this_cpu_index()];
    return __atomic_load_n(&cr->ready, __ATOMIC_ACQUIRE) ? cr : NULL;
}

void console_write(const char *s, size_t n)
{
    struct cpu_rings *cr = my_rings();
    if (!cr) {
        /* Only the BSP runs before its rings exist. */
        while (n && early_len < sizeof(early_buf)) {
            early_buf[early_len++] = *s++;
            n--;
        }
        return;
    }
    uint8_t rec[WIRE_RAW_MAX];
    while (n) {
        size_t chunk = n < WIRE_MAX_TEXT ? n : WIRE_MAX_TEXT;
        size_t len = wire_raw_encode_text(rec, sizeof(rec), rdtsc(), s, chunk);
        ring_write(&cr->ring[RING_TEXT], rec, len);
        s += chunk;
        n -= chunk;
    }
    console_kick();
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

void trace_emit(unsigned event, const uint64_t *args, unsigned nargs)
{
    if (!(hv_config.trace_classes & TEV_MASK(event)))
        return;
    struct cpu_rings *cr = my_rings();
    if (!cr)
        return;
    uint8_t rec[WIRE_RAW_HDR + 8 * WIRE_MAX_ARGS];
    size_t len = wire_raw_encode(rec, sizeof(rec), event, rdtsc(), args, nargs);
    if (len)
        ring_write(&cr->ring[RING_EVENTS], rec, len);
}
