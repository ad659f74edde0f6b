#ifndef HV_CONSOLE_CONSOLE_RINGS_H
#define HV_CONSOLE_CONSOLE_RINGS_H
#include <stdint.h>
#include <stdbool.h>
#include "trace/ring.h"

/* Per CPU: console text, trace events, and the guest's serial output when
 * the guest ran on this CPU (sent as GUEST frames). */
enum { RING_TEXT, RING_EVENTS, RING_GUEST, RINGS_PER_CPU };

struct cpu_rings {
    struct trace_ring ring[RINGS_PER_CPU];
    bool ready;
    /* drain state, touched only by the CPU that owns the line */
    uint64_t next_seq[RINGS_PER_CPU];
    uint16_t frame_seq[RINGS_PER_CPU];
    bool at_line_start;
};

extern struct cpu_rings cpu_rings[];

/* Sets up CPU idx's ring (CPU 0's is static; others come from the page
 * pool). Must run before that CPU prints. */
void console_rings_prepare(uint32_t idx);
/* The UART as configured on the command line; sends the catalogue identity
 * and lets output flow. Before this, output only accumulates. */
void console_start(void);
/* (Re)sends the HELLO control frame: catalogue CRC, CPU count, TSC rate. */
void console_announce(void);
/* Flight recorder: send the held trace events at the next drain. */
void console_request_event_dump(void);
/* Reads host->hv frames from the UART; only the line owner calls it. */
int console_poll_input(void);

#endif
