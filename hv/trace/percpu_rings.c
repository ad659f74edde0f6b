/* The per-CPU rings and the trace producer (trace_emit). Not a portable
 * core: it finds its CPU through the GS base. Safe in any context (NMI
 * included): it never blocks, never takes a lock and never drains. */
#include <percpu.h>
#include <x86.h>
#include "trace/percpu_rings.h"
#include "trace/trace.h"
#include "trace/wire.h"

struct trace_settings trace_settings = {
    .classes = ~0ull, .policy = RING_DROP_NEWEST, .flight_classes = TRACE_FLIGHT_DEFAULT,
};

struct cpu_rings {
    struct trace_ring ring[RINGS_PER_CPU];
    bool ready;
};

static struct cpu_rings cpu_rings[MAX_CPUS];
static uint8_t cpu0_mem[TRACE_RINGS_MEM] __attribute__((aligned(64)));
static bool dump_requested;

void trace_rings_prepare(uint32_t idx, void *mem)
{
    struct cpu_rings *cr = &cpu_rings[idx];
    uint8_t *m = idx ? mem : cpu0_mem;
    if (!m)
        return;     /* that CPU's records are dropped; ready stays false */
    ring_init(&cr->ring[RING_TEXT], m, TRACE_RING_BYTES, (enum ring_policy)trace_settings.policy);
    ring_init(&cr->ring[RING_EVENTS], m + TRACE_RING_BYTES, TRACE_RING_BYTES,
              (enum ring_policy)trace_settings.policy);
    /* Channel bytes are never overwritten: a loss shows as a seq gap. */
    ring_init(&cr->ring[RING_CHANNEL], m + 2 * TRACE_RING_BYTES, TRACE_RING_BYTES,
              RING_DROP_NEWEST);
    /* The flight recorder keeps the newest events: it overwrites the oldest. */
    ring_init(&cr->ring[RING_FLIGHT], m + 3 * TRACE_RING_BYTES, TRACE_RING_BYTES,
              RING_OVERWRITE);
    __atomic_store_n(&cr->ready, true, __ATOMIC_RELEASE);
}

void trace_rings_apply_settings(void)
{
    cpu_rings[0].ring[RING_TEXT].policy = trace_settings.policy;
    cpu_rings[0].ring[RING_EVENTS].policy = trace_settings.policy;
}

struct trace_ring *trace_ring_of(uint32_t cpu, int which)
{
    struct cpu_rings *cr = &cpu_rings[cpu];
    return __atomic_load_n(&cr->ready, __ATOMIC_ACQUIRE) ? &cr->ring[which] : NULL;
}

bool trace_ring_append(int which, const void *rec, size_t len)
{
    struct trace_ring *r = trace_ring_of(this_cpu_index(), which);
    return r && ring_write(r, rec, len);
}

void trace_emit(unsigned event, const uint64_t *args, unsigned nargs)
{
    if (!(trace_settings.classes & TEV_MASK(event)))
        return;
    uint8_t rec[WIRE_RAW_HDR + 8 * WIRE_MAX_ARGS];
    size_t len = wire_raw_encode(rec, sizeof(rec), event, rdtsc(), args, nargs);
    if (len)
        trace_ring_append(trace_settings.flight_classes & TEV_MASK(event) ? RING_FLIGHT
                                                                          : RING_EVENTS,
                          rec, len);
}

void trace_set_classes(uint64_t mask)
{
    trace_settings.classes = mask | 1;  /* console text is never off */
}

void trace_request_dump(void)
{
    __atomic_store_n(&dump_requested, true, __ATOMIC_RELEASE);
}

bool trace_dump_requested(void)
{
    return __atomic_load_n(&dump_requested, __ATOMIC_ACQUIRE);
}

void trace_dump_done(void)
{
    __atomic_store_n(&dump_requested, false, __ATOMIC_RELEASE);
}
