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

/* TEV_<NAME>_NARGS_CHECK: the same count as catalog.h's TEV_NARGS_<NAME>,
 * spelled so that trace_event() can paste it onto its first argument. */
enum trace_event_nargs_check {
#define TRACE_CLASS(bit, name, desc)
#define TRACE_EVENT(id, name, cls, ...) TEV_##name##_NARGS_CHECK = CATALOG_NARGS(__VA_ARGS__),
#include "trace/events.def"
#undef TRACE_CLASS
#undef TRACE_EVENT
};

void trace_emit(unsigned event, const uint64_t *args, unsigned nargs);
/* The host command TRACE_MASK and trace=: console text (bit 0) stays on. */
void trace_set_classes(uint64_t mask);

/* trace_event(TEV_NAME, args...): the argument count is checked at compile
 * time against the event's entry in events.def (TEV_NARGS_NAME), so a
 * record can never carry more or fewer values than the decoder expects. */
#define trace_event(ev, ...)                                                 \
    do {                                                                     \
        _Static_assert(CATALOG_NARGS(__VA_ARGS__) == ev##_NARGS_CHECK,       \
                       #ev ": argument count differs from events.def");      \
        const uint64_t trace_args_[] = { __VA_ARGS__ };                      \
        trace_emit((ev), trace_args_, sizeof(trace_args_) / sizeof(uint64_t)); \
    } while (0)

#endif
