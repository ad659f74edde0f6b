/* The stub's bytes on the line. Framed (gdb=on|wait): the GDB channel of
 * the framed line (hvlog --gdb-port bridges it to gdb's TCP socket), so
 * consoles and trace keep flowing while gdb is attached. Raw (gdb=raw):
 * the line is plain RSP for `target remote /dev/ttyS0`; console text and
 * the guest's output reach gdb as O packets while it waits for a stop
 * (as kgdb does); at other times they are not sent (the trace keeps its
 * events in the flight recorder, `monitor trace` shows them). */
#include <x86.h>
#include "console/console.h"
#include "gdbstub/stub_internal.h"
#include "serial/serial.h"
#include "trace/frame.h"
#include "trace/wire.h"

static uint64_t dropped;

static void receive(const uint8_t *bytes, uint32_t len)
{
    rsp_input(&gdb.rsp, bytes, len);
}

static const struct serial_channel channel = {
    .frame_type = FRAME_GDB, .name = "gdb", .receive = receive, .flush = NULL,
};

/* Raw: which CPU is inside a packet now. A CPU parked half-way through
 * one (an O packet of console text) leaves gdb inside a packet; gdb then
 * takes the stop reply's '$' for a broken start and skips the reply. So
 * the reporter ends the cut packet first (gdb_raw_resync) and counts the
 * cut; the cut writer, once it runs again, drops the rest of its packet
 * (junk to gdb now) and sends it again whole. */
static volatile int raw_writer = -1;
static volatile uint64_t raw_cuts;
struct open_packet {
    bool open;
    uint32_t depth;     /* exc_depth it was begun at: a nested stop's replies are not it */
    uint64_t cuts;      /* raw_cuts when it was begun */
};
static struct open_packet open_packet[MAX_CPUS];

void gdb_raw_resync(void)
{
    if (!gdb.raw || __atomic_load_n(&raw_writer, __ATOMIC_ACQUIRE) < 0)
        return;
    serial_raw_write("#00", 3);     /* ends the cut packet (a bad checksum: dropped) */
    __atomic_add_fetch(&raw_cuts, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&raw_writer, -1, __ATOMIC_RELEASE);
}

static void raw_writer_done(int me)
{
    int expected = me;      /* not if a stop's resync took it back already */
    __atomic_compare_exchange_n(&raw_writer, &expected, -1, false,
                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Console text while gdb waits for a stop: one O packet per chunk, each
 * sent again if a stop cut it (at most twice: then it is given up). */
static void console_text(const char *text, size_t len)
{
    int me = (int)this_cpu_index();
    struct open_packet *p = &open_packet[me];
    int tries = 0;
    while (len) {
        size_t n = len < RSP_O_CHUNK ? len : RSP_O_CHUNK;
        p->depth = this_cpu()->exc_depth;
        p->cuts = __atomic_load_n(&raw_cuts, __ATOMIC_ACQUIRE);
        p->open = true;
        __atomic_store_n(&raw_writer, me, __ATOMIC_RELEASE);
        rsp_console_output(&gdb.rsp, text, n);
        p->open = false;
        raw_writer_done(me);
        if (__atomic_load_n(&raw_cuts, __ATOMIC_ACQUIRE) != p->cuts && ++tries < 3)
            continue;
        tries = 0;
        text += n;
        len -= n;
    }
}

static const struct serial_raw_owner raw_owner = { .receive = receive, .text = console_text };

static void raw_put(const uint8_t *bytes, size_t len)
{
    int me = (int)this_cpu_index();
    struct open_packet *p = &open_packet[me];
    if (p->open && p->depth == this_cpu()->exc_depth) {
        if (__atomic_load_n(&raw_cuts, __ATOMIC_ACQUIRE) == p->cuts)
            serial_raw_write(bytes, len);
        return;     /* cut: console_text sends the packet again */
    }
    __atomic_store_n(&raw_writer, me, __ATOMIC_RELEASE);
    serial_raw_write(bytes, len);
    raw_writer_done(me);
}

void gdb_put(void *ctx, const uint8_t *bytes, size_t len)
{
    if (gdb.raw) {
        raw_put(bytes, len);
        return;
    }
    while (len) {
        size_t n = len < WIRE_MAX_TEXT - 1 ? len : WIRE_MAX_TEXT - 1;
        int tries = 0;
        while (!serial_channel_send(FRAME_GDB, rdtsc(), bytes, n)) {
            if (++tries > 8) {      /* the line is stuck: count, do not hang */
                dropped += n;
                break;
            }
            serial_drain_now();
        }
        bytes += n;
        len -= n;
    }
}

void gdb_service_line(void)
{
    serial_service_stopped();
}


static struct rsp_target_ops ops = {
    .thread_alive = gdb_thread_alive,
    .thread_extra = gdb_thread_extra,
    .read_reg = gdb_read_reg,
    .write_reg = gdb_write_reg,
    .read_mem = gdb_read_mem,
    .write_mem = gdb_write_mem,
    .breakpoint = gdb_set_breakpoint,
    .resume = gdb_resume,
    .interrupt = gdb_interrupt,
    .monitor = gdb_monitor,
    .detach = gdb_detach,
    .kill = gdb_detach,     /* a hypervisor is not killed: k detaches */
};

void gdb_transport_init(void)
{
    ops.nthreads = (int)cpu_count;
    rsp_init(&gdb.rsp, &ops, NULL, gdb_put);
    if (gdb.raw)
        serial_set_raw_owner(&raw_owner);
    else if (!serial_channel_register(&channel))
        printf("gdb: the GDB channel is taken; the stub cannot be reached\n");
}
