/* The consumer side: one CPU at a time owns the UART, chosen by a try-lock
 * (line_owner). Nobody ever spins on it: a CPU that loses the race leaves
 * its records to the owner, who looks at every ring again after letting go.
 * Draining is skipped in exception/NMI context so those paths stay short;
 * only the fatal path forces its way in, after a bounded wait. */
#include <string.h>
#include <config.h>
#include <console.h>
#include <percpu.h>
#include <tsc.h>
#include <x86.h>
#include "console/console_rings.h"
#include "console/uart.h"
#include "trace/crc32.h"
#include "trace/frame.h"
#include "trace/wire.h"
#include "vmx/guest_uart.h"
#include <fmt.h>

#define FATAL_WAIT_MS 200

extern const uint8_t events_def_start[], events_def_end[];

static int line_owner = -1;
static bool started;
static bool dump_events;        /* flight recorder: send held events now */
static uint16_t control_seq;

static bool line_try_acquire(int me)
{
    int expected = -1;
    return __atomic_compare_exchange_n(&line_owner, &expected, me, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void line_release(void)
{
    __atomic_store_n(&line_owner, -1, __ATOMIC_RELEASE);
}

static void emit_uart(void *ctx, uint8_t byte)
{
    (void)ctx;
    uart_putc(byte);
}

static void send_frame(uint8_t type, uint8_t cpu, uint16_t *seq,
                       const void *payload, size_t len)
{
    frame_encode_stream(emit_uart, NULL, type, cpu, (*seq)++, payload, len);
}

/* ---- plain mode: readable text for people without hvlog ----------------- */

static void plain_text(uint32_t cpu, struct cpu_rings *cr, const char *s, size_t n)
{
    char prefix[16];
    for (size_t i = 0; i < n; i++) {
        if (cr->at_line_start) {
            int len = snprintf(prefix, sizeof(prefix), "[cpu%u] ", cpu);
            uart_write(prefix, len);
            cr->at_line_start = false;
        }
        if (s[i] == '\n') {
            uart_putc('\r');
            cr->at_line_start = true;
        }
        uart_putc(s[i]);
    }
}

static const char *const *event_arg_specs(unsigned id)
{
    switch (id) {
#define TRACE_CLASS(bit, name, desc)
#define TRACE_EVENT(id, name, cls, ...) \
    case (id): { static const char *const a[] = { NULL, ##__VA_ARGS__ }; return a + 1; }
#include "trace/events.def"
#undef TRACE_CLASS
#undef TRACE_EVENT
    default: return NULL;
    }
}

static void plain_event(uint32_t cpu, struct cpu_rings *cr, const struct wire_raw *w,
                        uint64_t lost)
{
    char line[WIRE_MAX_TEXT];
    size_t n = 0;
    if (lost)
        n += snprintf(line + n, sizeof(line) - n, "(%lu events lost) ", lost);
    const char *name = catalog_event_name(w->id);
    n += snprintf(line + n, sizeof(line) - n, "trace %s", name ? name : "?");
    const char *const *specs = event_arg_specs(w->id);
    for (unsigned i = 0; specs && i < w->nargs && n < sizeof(line); i++) {
        const char *colon = strchr(specs[i], ':');
        int klen = colon ? colon - specs[i] : (int)strlen(specs[i]);
        bool decimal = colon && !strcmp(colon + 1, "d");
        n += snprintf(line + n, sizeof(line) - n, decimal ? " %.*s=%lu" : " %.*s=%#lx",
                      klen, specs[i], w->args[i]);
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (!cr->at_line_start)
        plain_text(cpu, cr, "\n", 1);     /* an event never joins a text line */
    plain_text(cpu, cr, line, n);
}

/* ---- the guest's serial output -------------------------------------------- */

/* Guest bytes are a raw stream on the GUEST channel (sub-stream = vCPU), or
 * plain text in plain mode. A loss can't be marked inside a raw stream, so
 * it is said on the console. */
static void drain_guest_record(uint32_t cpu, struct cpu_rings *cr, const void *rec, int len,
                               uint64_t lost, bool framed)
{
    struct wire_raw w;
    if (!wire_raw_decode(rec, len, &w) || !w.text)
        return;
    if (lost)
        printf("guest serial: %lu chunks of guest output lost on cpu%u (ring full)\n", lost, cpu);
    if (framed)
        send_frame(FRAME_GUEST, cpu, &cr->frame_seq[RING_GUEST], w.text_ptr, w.text_len);
    else
        uart_write(w.text_ptr, w.text_len);
}

/* ---- draining one ring -------------------------------------------------- */

/* On the fatal path a record whose writer died half-way (a CPU that faulted
 * or hangs mid-printf) must not hide everything after it: skip it after a
 * few tries; the seq gap reports the loss. */
static int read_one(struct trace_ring *r, void *out, uint32_t cap, uint64_t *seq,
                    bool force)
{
    if (!force)
        return ring_read(r, out, cap, seq);
    for (int i = 0; i < 4; i++) {
        int n = ring_read_ex(r, out, cap, seq, 3);
        if (n || ring_empty(r))
            return n;
    }
    return 0;
}

static void drain_ring(uint32_t cpu, struct cpu_rings *cr, int which, bool force)
{
    static const uint8_t frame_type[RINGS_PER_CPU] = { FRAME_CONSOLE, FRAME_TRACE, FRAME_GUEST };
    uint8_t rec[WIRE_RAW_MAX], payload[FRAME_MAX_PAYLOAD];
    struct wire_batch b;
    struct trace_ring *r = &cr->ring[which];
    bool framed = hv_config.serial_mode == SERIAL_FRAMED;
    uint64_t seq;
    int len;

    wire_batch_init(&b, payload, sizeof(payload));
    while ((len = read_one(r, rec, sizeof(rec), &seq, force)) > 0) {
        uint64_t lost = seq > cr->next_seq[which] ? seq - cr->next_seq[which] : 0;
        cr->next_seq[which] = seq + 1;
        if (which == RING_GUEST) {
            drain_guest_record(cpu, cr, rec, len, lost, framed);
            continue;
        }
        if (!framed) {
            struct wire_raw w;
            if (!wire_raw_decode(rec, len, &w))
                continue;
            if (w.text) {
                if (lost)
                    plain_text(cpu, cr, "(console text lost)\n", 20);
                plain_text(cpu, cr, w.text_ptr, w.text_len);
            } else {
                plain_event(cpu, cr, &w, lost);
            }
            continue;
        }
        int rc = wire_batch_add_raw(&b, seq, lost, rec, len);
        if (rc == WIRE_EFULL) {
            send_frame(frame_type[which], cpu, &cr->frame_seq[which], b.buf, b.len);
            wire_batch_reset(&b);
            rc = wire_batch_add_raw(&b, seq, lost, rec, len);
        }
        /* WIRE_EINVAL: a record we cannot encode; the seq gap reports it. */
    }
    if (framed && b.count)
        send_frame(frame_type[which], cpu, &cr->frame_seq[which], b.buf, b.len);
}

static void drain_all_rings_of(uint32_t cpu, struct cpu_rings *cr, bool events, bool force)
{
    drain_ring(cpu, cr, RING_TEXT, force);
    drain_ring(cpu, cr, RING_GUEST, force);
    if (events)
        drain_ring(cpu, cr, RING_EVENTS, force);
}

static bool drain_all(bool force)
{
    bool events = !hv_config.flight_recorder || dump_events || force;
    bool sent = false;
    for (uint32_t cpu = 0; cpu < MAX_CPUS; cpu++) {
        struct cpu_rings *cr = &cpu_rings[cpu];
        if (!__atomic_load_n(&cr->ready, __ATOMIC_ACQUIRE))
            continue;
        drain_all_rings_of(cpu, cr, events, force);
        sent = true;
    }
    dump_events = false;
    return sent;
}

static bool anything_pending(void)
{
    bool events = !hv_config.flight_recorder || dump_events;
    for (uint32_t cpu = 0; cpu < MAX_CPUS; cpu++) {
        struct cpu_rings *cr = &cpu_rings[cpu];
        if (!__atomic_load_n(&cr->ready, __ATOMIC_ACQUIRE))
            continue;
        if (!ring_empty(&cr->ring[RING_TEXT]) || !ring_empty(&cr->ring[RING_GUEST]) ||
            (events && !ring_empty(&cr->ring[RING_EVENTS])))
            return true;
    }
    return false;
}

void console_kick(void)
{
    if (!__atomic_load_n(&started, __ATOMIC_ACQUIRE) || this_cpu()->exc_depth)
        return;
    int me = this_cpu_index();
    guest_uart_flush(false);
    /* Bounded: records that arrive faster than the line drains are left
     * for the next kick rather than pinning this CPU here. */
    for (int round = 0; round < 4; round++) {
        if (!line_try_acquire(me))
            return;     /* the owner will see our records after it lets go */
        if (hv_config.serial_mode == SERIAL_FRAMED)
            console_poll_input();
        drain_all(false);
        line_release();
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!anything_pending())
            return;
    }
}

void console_fatal_takeover(void)
{
    int me = this_cpu_index();
    uint64_t deadline = rdtsc() + FATAL_WAIT_MS * tsc_per_ms;
    while (!line_try_acquire(me)) {
        if (rdtsc() > deadline) {
            /* The owner is stuck (or is us, interrupted): take the line.
             * Its half-sent frame is cut; the delimiter below ends it. */
            __atomic_store_n(&line_owner, me, __ATOMIC_RELEASE);
            break;
        }
        cpu_relax();
    }
    if (!started) {
        /* Failing before console_start: default UART settings. */
        uart_init(0x3f8, 115200, 8, 'n', 1);
        __atomic_store_n(&started, true, __ATOMIC_RELEASE);
    }
    if (hv_config.serial_mode == SERIAL_FRAMED)
        uart_putc(FRAME_DELIM);
    guest_uart_flush(true);
    drain_all(true);
    line_release();
}

void console_announce(void)
{
    uint8_t hello[WIRE_HELLO_LEN];
    uint32_t crc = crc32_compute(events_def_start, events_def_end - events_def_start);
    size_t n = wire_hello_encode(hello, sizeof(hello), crc, cpu_count, tsc_per_ms);
    if (hv_config.serial_mode != SERIAL_FRAMED)
        return;
    int me = this_cpu_index();
    while (!line_try_acquire(me))
        cpu_relax();    /* start-up only: no NMI path calls this */
    send_frame(FRAME_CONTROL, 0, &control_seq, hello, n);
    line_release();
}

void console_start(void)
{
    uart_init(hv_config.uart_port, hv_config.baud, hv_config.data_bits,
              hv_config.parity, hv_config.stop_bits);
    for (uint32_t i = 0; i < MAX_CPUS; i++)
        cpu_rings[i].at_line_start = true;
    if (hv_config.serial_mode == SERIAL_FRAMED)
        uart_putc(FRAME_DELIM);     /* ends whatever GRUB printed */
    __atomic_store_n(&started, true, __ATOMIC_RELEASE);
    console_announce();
    console_kick();
}

void console_request_event_dump(void)
{
    __atomic_store_n(&dump_events, true, __ATOMIC_RELEASE);
}
