/* Tracing hypervisor events into this CPU's ring. trace_event() is safe in
 * any context (NMI included): it never blocks and never takes a lock. The
 * events, their classes and argument names live in trace/events.def, the
 * one catalogue that the host decoder reads too. */
#ifndef HV_TRACE_H
#define HV_TRACE_H
#include <stdint.h>
#include "trace/catalog.h"

/* Where an exception/NMI was taken (the "origin" argument). */
#define TRACE_ORIGIN_ROOT    0
#define TRACE_ORIGIN_GUEST   1
#define TRACE_ORIGIN_NESTED  2

void trace_emit(unsigned event, const uint64_t *args, unsigned nargs);

#define trace_event(ev, ...)                                                 \
    do {                                                                     \
        const uint64_t trace_args_[] = { __VA_ARGS__ };                      \
        trace_emit((ev), trace_args_, sizeof(trace_args_) / sizeof(uint64_t)); \
    } while (0)

#endif
