/* `monitor trace [N]`: the last N events the selected CPU's flight
 * recorder still holds (its event ring when flight=none), decoded by the
 * catalogue, without
 * taking them out: the ring is read to its end and its consumer position
 * put back. Safe only as it is used: the machine is stopped (the ring's
 * writer is parked) and this runs inside the line's service round, before
 * its drain (the ring's only other consumer). Putting tail back is safe for
 * the writers too: their fast_end (ring.h note 3) came from a tail no newer
 * than the one restored. */
#include <string.h>
#include <fmt.h>
#include "cpu/tsc.h"
#include "gdbstub/stub_internal.h"
#include "trace/catalog.h"
#include "trace/percpu_rings.h"
#include "trace/ring.h"
#include "trace/wire.h"

#define MAX_SHOWN 100

static struct { uint8_t rec[WIRE_RAW_MAX]; int len; uint64_t seq; } window[MAX_SHOWN];

static unsigned parse_count(const char *s)
{
    unsigned n = 0;
    bool any = false;
    while (*s == ' ')
        s++;
    for (; *s >= '0' && *s <= '9' && n < 100000; s++, any = true)
        n = n * 10 + (unsigned)(*s - '0');
    if (!any)
        return 20;
    return n < 1 ? 1 : n > MAX_SHOWN ? MAX_SHOWN : n;
}

static void show(struct rsp *r, uint64_t seq, const uint8_t *rec, int len, uint64_t tsc0)
{
    struct wire_raw w;
    char line[200];
    if (!wire_raw_decode(rec, (size_t)len, &w)) {
        rsp_monitor_output(r, "  (malformed record)\n", 20);
        return;
    }
    const char *name = catalog_event_name(w.id);
    int n = snprintf(line, sizeof(line), "  #%-8lu +%8lu us  %-20s", seq,
                     tsc_per_ms ? (w.tsc - tsc0) * 1000 / tsc_per_ms : 0, name ? name : "?");
    for (unsigned i = 0; i < w.nargs && n < (int)sizeof(line) - 24; i++)
        n += snprintf(line + n, sizeof(line) - n, " %#lx", w.args[i]);
    if (n < (int)sizeof(line) - 1)
        line[n++] = '\n';
    rsp_monitor_output(r, line, (size_t)n);
}

void gdb_monitor_trace(struct rsp *r, uint32_t cpu, const char *arg)
{
    unsigned want = parse_count(arg), held = 0, total = 0;
    struct trace_ring *ring = trace_ring_of(cpu, trace_settings.flight_classes ? RING_FLIGHT
                                                                               : RING_EVENTS);
    if (!ring) {
        rsp_monitor_output(r, "no event ring on that CPU\n", 26);
        return;
    }
    uint64_t tail = ring->tail, stuck_pos = ring->stuck_pos, skipped = ring->stale_skipped;
    uint32_t stuck_count = ring->stuck_count;
    for (;;) {
        unsigned slot = total % MAX_SHOWN;
        int len = ring_read(ring, window[slot].rec, sizeof(window[slot].rec), &window[slot].seq);
        if (len <= 0)
            break;
        window[slot].len = len;
        total++;
    }
    ring->tail = tail;          /* nothing was taken: see the top */
    ring->stuck_pos = stuck_pos;
    ring->stuck_count = stuck_count;
    ring->stale_skipped = skipped;
    held = total < want ? total : want;
    char head[120];
    int n = snprintf(head, sizeof(head), "cpu%u: the last %u of %u events held (oldest first):\n",
                     cpu, held, total);
    rsp_monitor_output(r, head, (size_t)n);
    uint64_t tsc0 = 0;
    for (unsigned i = total - held; i < total; i++) {
        unsigned slot = i % MAX_SHOWN;
        struct wire_raw w;
        if (i == total - held && wire_raw_decode(window[slot].rec, (size_t)window[slot].len, &w))
            tsc0 = w.tsc;
        show(r, window[slot].seq, window[slot].rec, window[slot].len, tsc0);
    }
}
