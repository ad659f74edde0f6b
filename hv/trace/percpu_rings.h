/* The per-CPU rings, owned by trace: every record the hypervisor produces
 * (console text, trace events, bytes for a channel such as GUEST) is
 * appended to a ring of the CPU that produced it, without a lock, from any
 * context. The serial drain (hv/serial/) is their one consumer.
 *
 * Four rings per CPU, so that one kind of record never crowds out
 * another: the flight recorder holds the per-exit events back while text
 * and the other events keep flowing, and a chatty guest cannot push the
 * hypervisor's console out.
 *
 * RING_FLIGHT (the flight recorder): the events of the classes in
 * trace_settings.flight_classes (default: vmx, the classes recorded once
 * or more per VM exit). Always recorded, overwritten when full, sent only
 * on a dump (DUMP_EVENTS, a hang report, a gdb stop, the fatal path) as
 * FLIGHT frames: at a line's 115200 baud, streaming every exit held the
 * guest to the line's pace. Its own ring gives it its own seq space, so
 * the streamed TRACE seqs stay exact (every gap a counted loss). */
#ifndef HV_TRACE_PERCPU_RINGS_H
#define HV_TRACE_PERCPU_RINGS_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "trace/ring.h"

enum { RING_TEXT, RING_EVENTS, RING_CHANNEL, RING_FLIGHT, RINGS_PER_CPU };

#define TRACE_RING_BYTES    (64 * 1024)
/* Memory an AP's rings need (CPU 0's are static: it prints first). */
#define TRACE_RINGS_MEM     (RINGS_PER_CPU * TRACE_RING_BYTES)

/* What the command line chooses (config/cmdline.c writes it before the
 * first AP starts). */
struct trace_settings {
    uint64_t classes;           /* bit per TRACE_CLASS; bit 0 (text) always on */
    int policy;                 /* enum ring_policy for full rings */
    uint64_t flight_classes;    /* bit per class: recorded in RING_FLIGHT */
};
/* flight= default: the per-exit class (TRACE_CLASS vmx). */
#define TRACE_FLIGHT_DEFAULT (1ull << 1)
extern struct trace_settings trace_settings;

/* CPU idx's rings in mem (TRACE_RINGS_MEM bytes; NULL for CPU 0, whose
 * rings are static). Must run before that CPU produces a record. */
void trace_rings_prepare(uint32_t idx, void *mem);
/* After the command line: CPU 0's rings take the chosen policies. */
void trace_rings_apply_settings(void);
/* A CPU's ring, or NULL while that CPU has none. */
struct trace_ring *trace_ring_of(uint32_t cpu, int which);
/* Appends a record to this CPU's ring; false if it has none or it is full. */
bool trace_ring_append(int which, const void *rec, size_t len);

/* Flight recorder: ask for the held events (host command, a hang report);
 * the drain takes the request and sends what the flight rings held at that
 * moment. */
void trace_request_dump(void);
bool trace_dump_requested(void);
void trace_dump_done(void);

#endif
