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

static void console_text(const char *text, size_t len)
{
    rsp_console_output(&gdb.rsp, text, len);
}

static const struct serial_raw_owner raw_owner = { .receive = receive, .text = console_text };

/* Raw: which CPU is writing a packet now. A CPU parked half-way through
 * one (an O packet of console text) leaves gdb inside a packet; gdb then
 * takes the stop reply's '$' for a broken start and skips the reply. */
static volatile int raw_writer = -1;

void gdb_raw_resync(void)
{
    int w = __atomic_load_n(&raw_writer, __ATOMIC_ACQUIRE);
    if (!gdb.raw || w < 0 || w == (int)this_cpu_index())
        return;
    serial_raw_write("#00", 3);     /* ends the cut packet (a bad checksum: dropped) */
    __atomic_store_n(&raw_writer, -1, __ATOMIC_RELEASE);
}

void gdb_put(void *ctx, const uint8_t *bytes, size_t len)
{
    if (gdb.raw) {
        __atomic_store_n(&raw_writer, (int)this_cpu_index(), __ATOMIC_RELEASE);
        serial_raw_write(bytes, len);
        __atomic_store_n(&raw_writer, -1, __ATOMIC_RELEASE);
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
