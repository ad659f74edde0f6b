/* The drain: the one stage that moves records from the per-CPU rings to
 * the UART as frames. One CPU at a time owns the line, chosen by a
 * try-lock (line_owner); nobody spins on it: a CPU that loses the race
 * leaves its records to the owner, who looks at every ring again after
 * letting go. serial.h says who may drain from where. */
#include <string.h>
#include <percpu.h>
#include <x86.h>
#include "config/config.h"
#include "console/console.h"
#include "cpu/exception.h"
#include "cpu/tsc.h"
#include "serial/line.h"
#include "serial/plain.h"
#include "serial/serial.h"
#include "serial/txq.h"
#include "serial/uart.h"
#include "trace/crc32.h"
#include "trace/frame.h"
#include "trace/percpu_rings.h"
#include "trace/wire.h"

#define FATAL_WAIT_MS 200

extern const uint8_t events_def_start[], events_def_end[];

static int line_owner = -1;
static bool started;
static uint16_t control_seq;
/* Drain state, touched only by the CPU that owns the line. */
static uint64_t next_seq[MAX_CPUS][RINGS_PER_CPU];
static uint16_t frame_seq[MAX_CPUS][FRAME_NTYPES];

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

/* trace_drain=block: an exit waits its turn rather than leave its records
 * to an owner that may not come back for them before the ring fills. NMIs
 * stay open (root mode), so a quiesce still reaches a CPU waiting here. */
static bool line_wait(int me)
{
    uint64_t deadline = rdtsc() + FATAL_WAIT_MS * tsc_per_ms;
    while (!line_try_acquire(me)) {
        if (rdtsc() > deadline)
            return false;
        cpu_relax();
    }
    return true;
}

/* Set while the owner must get everything out before it lets go: the
 * drain then waits for the line instead of leaving records in their rings.
 * blocking[TXQ_HI]: the console and the channels (console text in the
 * hypervisor's own context, a guest's own serial line); blocking[TXQ_LO]:
 * the trace and the flight recorder too (the fatal path, a stopped
 * machine, trace_drain=block). Outside those, trace never waits for the
 * line: what the queue cannot take stays in its ring, counted if lost. */
static bool blocking[TXQ_NCLASS];
/* A guest line was queued: its CPU flushes at its next kick (a guest's
 * serial output is paced by the line on real hardware too). */
static bool flush_wanted;

static enum txq_class txq_class_of(uint8_t frame_type)
{
    return frame_type == FRAME_TRACE || frame_type == FRAME_FLIGHT ? TXQ_LO : TXQ_HI;
}

static void emit_txq(void *ctx, uint8_t byte)
{
    txq_put(*(const enum txq_class *)ctx, byte);
}

/* Room for the frame being built and one more: below this the drain
 * stops and the records wait in their rings. */
static bool txq_has_room(enum txq_class c)
{
    if (txq_room(c) >= 2 * FRAME_MAX_ENCODED)
        return true;
    if (!blocking[c])
        return false;
    if (c == TXQ_HI)
        txq_flush_hi();     /* not behind the trace queue's backlog */
    else
        txq_flush();
    return true;
}

static void send_frame(uint8_t type, uint8_t cpu, const void *payload, size_t len)
{
    uint16_t *seq = type == FRAME_CONTROL ? &control_seq : &frame_seq[cpu][type];
    enum txq_class c = txq_class_of(type);
    frame_encode_stream(emit_txq, &c, type, cpu, (*seq)++, payload, len);
}

/* A frame cut off half-way (its owner stopped or died): a delimiter in
 * each queue ends it; where no frame was cut it is an empty frame, which
 * decoders skip as idle fill. */
static void txq_end_cut_frames(void)
{
    txq_put(TXQ_HI, FRAME_DELIM);
    txq_put(TXQ_LO, FRAME_DELIM);
}

/* gdb=raw: plain text until the stub takes the line (gdb skips text
 * before a packet; frames would be binary noise to it). */
static bool framed(void)
{
    return hv_config.serial_mode == SERIAL_FRAMED && !GDB_IS_RAW(hv_config.gdb) && !serial_raw();
}

/* Who reads host input: the framed line's decoder, or the raw owner. */
static bool reads_input(void)
{
    return framed() || serial_raw();
}

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

/* A channel record: [frame type][bytes], as one text record. A raw byte
 * stream cannot mark a loss, so it is said on the console. */
static void drain_channel_record(uint32_t cpu, const void *rec, int len, uint64_t lost)
{
    struct wire_raw w;
    if (!wire_raw_decode(rec, len, &w) || !w.text || w.text_len < 1)
        return;
    uint8_t type = (uint8_t)w.text_ptr[0];
    if (lost)
        printf("serial: %lu records of channel output lost on cpu%u (ring full)\n", lost, cpu);
    if (type >= FRAME_NTYPES || type <= FRAME_TRACE || type == FRAME_FLIGHT)
        return;
    if (serial_raw()) {
        if (type == FRAME_GUEST)
            serial_raw()->text(w.text_ptr + 1, w.text_len - 1);
    } else if (framed())
        send_frame(type, cpu, w.text_ptr + 1, w.text_len - 1);
    else if (type == FRAME_GUEST) {
        txq_flush();
        uart_write(w.text_ptr + 1, w.text_len - 1);
    }
}

static void drain_plain_record(uint32_t cpu, const void *rec, int len, uint64_t lost)
{
    struct wire_raw w;
    if (!wire_raw_decode(rec, len, &w))
        return;
    if (serial_raw()) {
        if (w.text)
            serial_raw()->text(w.text_ptr, w.text_len);
        return;
    }
    txq_flush();        /* plain text goes straight to the UART, after any frames */
    if (!w.text) {
        plain_event(cpu, &w, lost);
        return;
    }
    if (lost)
        plain_text(cpu, "(console text lost)\n", 20);
    plain_text(cpu, w.text_ptr, w.text_len);
}

/* Records of one ring to frames, while the queue has room, up to (not
 * beyond) seq `until`. True when the ring has nothing more up to it. */
static bool drain_ring(uint32_t cpu, int which, bool force, uint64_t until)
{
    static const uint8_t frame_type[RINGS_PER_CPU] = {
        FRAME_CONSOLE, FRAME_TRACE, 0, FRAME_FLIGHT };
    uint8_t rec[WIRE_RAW_MAX], payload[FRAME_MAX_PAYLOAD];
    struct trace_ring *r = trace_ring_of(cpu, which);
    uint64_t *next = &next_seq[cpu][which];
    struct wire_batch b;
    uint64_t seq;
    int len;

    wire_batch_init(&b, payload, sizeof(payload));
    while (*next < until && txq_has_room(txq_class_of(frame_type[which])) &&
           (len = read_one(r, rec, sizeof(rec), &seq, force)) > 0) {
        /* Flight: a gap is what the recorder overwrote before this dump. */
        uint64_t lost = seq > *next ? seq - *next : 0;
        *next = seq + 1;
        if (which == RING_CHANNEL) {
            drain_channel_record(cpu, rec, len, lost);
        } else if (!framed()) {
            drain_plain_record(cpu, rec, len, lost);
        } else if (wire_batch_add_raw(&b, seq, lost, rec, len) == WIRE_EFULL) {
            send_frame(frame_type[which], cpu, b.buf, b.len);
            wire_batch_reset(&b);
            wire_batch_add_raw(&b, seq, lost, rec, len);
        }
        /* WIRE_EINVAL: a record we cannot encode; the seq gap reports it. */
    }
    if (framed() && b.count)
        send_frame(frame_type[which], cpu, b.buf, b.len);
    return *next >= until || ring_empty(r);
}

/* raw RSP: the events stay in their rings for gdb (monitor trace). */
static bool events_wanted(void)
{
    return !serial_raw();
}

/* A flight dump: what each CPU's flight ring held when it was asked for
 * (a ring that keeps filling while it drains must not keep the dump, and
 * the line, forever). Only the line owner touches these. */
static bool dumping;
static uint64_t dump_until[MAX_CPUS];

static void dump_start(void)
{
    struct ring_stats st = { 0 };
    trace_dump_done();      /* a request from now on asks for another dump */
    for (uint32_t cpu = 0; cpu < MAX_CPUS; cpu++) {
        struct trace_ring *r = trace_ring_of(cpu, RING_FLIGHT);
        if (r)
            ring_stats(r, &st);
        dump_until[cpu] = r ? st.attempts : 0;
    }
    dumping = true;
}

/* force: the fatal path (everything, now). */
static void drain_all(bool force)
{
    bool events = events_wanted();
    /* A new request (or the fatal path) during a dump moves its end to
     * what is held now: the newest events are the ones wanted most. */
    if (events && (force || trace_dump_requested()))
        dump_start();
    bool dumped = true;
    for (uint32_t cpu = 0; cpu < MAX_CPUS; cpu++) {
        if (!trace_ring_of(cpu, RING_TEXT))
            continue;
        drain_ring(cpu, RING_TEXT, force, UINT64_MAX);
        drain_ring(cpu, RING_CHANNEL, force, UINT64_MAX);
        if (events)
            drain_ring(cpu, RING_EVENTS, force, UINT64_MAX);
        if (events && dumping)
            dumped &= drain_ring(cpu, RING_FLIGHT, force, dump_until[cpu]);
    }
    if (dumping && dumped)
        dumping = false;
}

static bool anything_pending(void)
{
    bool events = events_wanted();
    if (events && (dumping || trace_dump_requested()))
        return true;
    for (uint32_t cpu = 0; cpu < MAX_CPUS; cpu++) {
        if (!trace_ring_of(cpu, RING_TEXT))
            continue;
        if (!ring_empty(trace_ring_of(cpu, RING_TEXT)) ||
            !ring_empty(trace_ring_of(cpu, RING_CHANNEL)) ||
            (events && !ring_empty(trace_ring_of(cpu, RING_EVENTS))))
            return true;
    }
    return false;
}

/* wait: everything this kick drains leaves before it returns (console
 * text, the idle loop, start-up: the context is the hypervisor's own).
 * Otherwise (a VM exit: the guest is waiting) only what the UART's FIFO
 * takes now goes; the rest of the frames wait in the queue and the
 * records in their rings until the next kick (the next exit, the idle
 * loop, or the preemption timer, shortened while bytes wait:
 * serial_tx_pump_period), unless a guest line asked for a flush. */
static void kick(bool wait, bool wait_for_owner)
{
    /* The one rule: exception and NMI context never drains (their records
     * wait in the rings); everyone else tries the line once. */
    if (!__atomic_load_n(&started, __ATOMIC_ACQUIRE) || this_cpu()->exc_depth)
        return;
    int me = this_cpu_index();
    serial_channels_flush(false);
    /* Bounded: records that arrive faster than the line drains are left
     * for the next kick rather than pinning this CPU here. */
    for (int round = 0; round < 4; round++) {
        if (!line_try_acquire(me) && !(wait_for_owner && line_wait(me)))
            return;     /* the owner will see our records after it lets go */
        if (reads_input())
            serial_poll_input();
        txq_pump();
        blocking[TXQ_HI] = __atomic_exchange_n(&flush_wanted, false, __ATOMIC_ACQ_REL) || wait;
        blocking[TXQ_LO] = wait_for_owner;
        drain_all(false);
        if (blocking[TXQ_LO])
            txq_flush();
        else if (blocking[TXQ_HI])
            txq_flush_hi();
        blocking[TXQ_HI] = blocking[TXQ_LO] = false;
        txq_pump();
        line_release();
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!anything_pending() || (txq_room(TXQ_HI) < 2 * FRAME_MAX_ENCODED &&
                                    txq_room(TXQ_LO) < 2 * FRAME_MAX_ENCODED))
            return;
    }
}

void serial_kick(void)
{
    /* Console text waits for the line only in the hypervisor's own time:
     * inside a VM exit the guest would wait with it (a PAL loop's lines
     * once stalled a Linux guest that way); there it stays in its ring
     * and the queue, and leaves with the next kicks. */
    kick(!this_cpu()->in_exit, false);
}

void serial_kick_exit(void)
{
    /* trace_drain=block: lossless, and the guest runs at the line's speed
     * (the exit waits until everything recorded so far has left). */
    kick(hv_config.trace_drain_block, hv_config.trace_drain_block);
}

void serial_flush_soon(void)
{
    __atomic_store_n(&flush_wanted, true, __ATOMIC_RELEASE);
}

uint64_t serial_tx_pump_period(void)
{
    if (txq_empty() || !__atomic_load_n(&started, __ATOMIC_ACQUIRE))
        return 0;
    /* One FIFO's worth of characters at the line's rate (start, data,
     * parity and stop bits each). */
    uint64_t bits = 1 + hv_config.data_bits + (hv_config.parity != 'n') + hv_config.stop_bits;
    return tsc_per_ms * 1000 * bits * uart_tx_fifo_depth() / hv_config.baud + 1;
}

/* The owner a stopped machine took the line from: parked half-way through
 * its drain, it still believes it holds the line, and writes on once it
 * runs again. It gets the line back before it does (serial_line_return). */
static int cut_owner = -1;

/* The owner it took the line from, if that one did not let go; else -1. */
static int take_line_after_wait(int me)
{
    uint64_t deadline = rdtsc() + FATAL_WAIT_MS * tsc_per_ms;
    while (!line_try_acquire(me)) {
        if (rdtsc() > deadline) {
            /* The owner is stuck, parked, or is us, interrupted: take the
             * line. Its half-sent frame is cut; a delimiter ends it. */
            return __atomic_exchange_n(&line_owner, me, __ATOMIC_ACQ_REL);
        }
        cpu_relax();
    }
    return -1;
}

/* A stopped machine's owner took the line: end the cut frame first, or
 * the next frame (a gdb reply) is lost with it. */
static void take_line_stopped(int me)
{
    int cut = take_line_after_wait(me);
    if (cut < 0 || cut == me)
        return;
    int none = -1;
    __atomic_compare_exchange_n(&cut_owner, &none, cut, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_RELAXED);
    if (framed())
        txq_end_cut_frames();
}

void serial_line_return(void)
{
    int owner = __atomic_exchange_n(&cut_owner, -1, __ATOMIC_ACQ_REL);
    if (owner < 0 || !__atomic_load_n(&started, __ATOMIC_ACQUIRE))
        return;
    /* Free now, or held a moment by a CPU that did not stop. Ours queued
     * bytes go before the cut owner's rest; then two writers never share
     * the UART (their bytes would interleave: gdb=raw's O packets arrived
     * as junk). */
    take_line_after_wait(this_cpu_index());
    txq_flush();
    __atomic_store_n(&line_owner, owner, __ATOMIC_RELEASE);
}

/* Everything pending out before the owner lets go (callers own the line). */
static void drain_all_blocking(bool force)
{
    blocking[TXQ_HI] = blocking[TXQ_LO] = true;
    drain_all(force);
    txq_flush();
    blocking[TXQ_HI] = blocking[TXQ_LO] = false;
}

void serial_fatal_takeover(void)
{
    take_line_after_wait(this_cpu_index());
    if (!started) {
        /* Failing before serial_start: default UART settings. */
        uart_init(0x3f8, 115200, 8, 'n', 1);
        __atomic_store_n(&started, true, __ATOMIC_RELEASE);
    }
    if (framed())
        txq_end_cut_frames();
    serial_channels_flush(true);
    drain_all_blocking(true);
    line_release();
}

void serial_service_stopped(void)
{
    if (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
        return;
    int me = this_cpu_index();
    /* This CPU stopped inside its own drain (a breakpoint there): the line
     * is already ours, and stays the interrupted drain's afterwards. */
    bool nested = __atomic_load_n(&line_owner, __ATOMIC_ACQUIRE) == me;
    if (!nested)
        take_line_stopped(me);
    serial_channels_flush(false);
    if (reads_input())
        serial_poll_input();
    drain_all_blocking(false);
    if (!nested)
        line_release();
}

void serial_service_stuck(void)
{
    if (!serial_raw())
        serial_service_stopped();
}

void serial_drain_now(void)
{
    int me = this_cpu_index();
    if (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
        return;
    bool owner = __atomic_load_n(&line_owner, __ATOMIC_ACQUIRE) == me;
    if (!owner)
        take_line_stopped(me);
    serial_channels_flush(false);
    drain_all_blocking(false);
    if (!owner)
        line_release();
}

void serial_announce(void)
{
    uint8_t hello[WIRE_HELLO_LEN];
    uint32_t crc = crc32_compute(events_def_start, events_def_end - events_def_start);
    size_t n = wire_hello_encode(hello, sizeof(hello), crc, cpu_count, tsc_per_ms);
    if (!framed())
        return;
    int me = this_cpu_index();
    while (!line_try_acquire(me))
        cpu_relax();    /* start-up only: no NMI path calls this */
    send_frame(FRAME_CONTROL, 0, hello, n);
    txq_flush();
    line_release();
}

void serial_start(void)
{
    uart_init(hv_config.uart_port, hv_config.baud, hv_config.data_bits,
              hv_config.parity, hv_config.stop_bits);
    plain_reset();
    if (framed())
        uart_putc(FRAME_DELIM);     /* ends whatever GRUB printed */
    serial_commands_init();
    __atomic_store_n(&started, true, __ATOMIC_RELEASE);
    console_set_kick(serial_kick);
    cpu_set_fatal_flush(serial_fatal_takeover);
    serial_announce();
    serial_kick();
}
