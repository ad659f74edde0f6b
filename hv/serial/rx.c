/* Host -> hypervisor: frames arriving on the UART. Only the CPU that owns
 * the line reads the UART, so the decoder state needs no lock. Bad frames
 * are counted and reported, never acted on. CONTROL frames go to the
 * command their owner registered; other frames to their channel. */
#include <string.h>
#include "console/console.h"
#include "serial/line.h"
#include "serial/serial.h"
#include "serial/uart.h"
#include "trace/frame.h"
#include "trace/percpu_rings.h"
#include "trace/trace.h"
#include "trace/wire.h"

#define MAX_COMMANDS 16

static struct frame_rx rx;
static bool rx_ready;
static struct { uint8_t op; const char *name; host_command_fn fn; } commands[MAX_COMMANDS];
static unsigned ncommands;

bool serial_command_register(uint8_t op, const char *name, host_command_fn fn)
{
    for (unsigned i = 0; i < ncommands; i++)
        if (commands[i].op == op) {
            printf("serial: host command %s (%#x) refused: %s has it\n", name, op,
                   commands[i].name);
            return false;
        }
    if (ncommands == MAX_COMMANDS) {
        printf("serial: host command %s refused: table full\n", name);
        return false;
    }
    commands[ncommands++] = (typeof(commands[0])){ op, name, fn };
    return true;
}

static void dump_events(const uint8_t *args, uint32_t len)
{
    trace_request_dump();
}

static void trace_mask(const uint8_t *args, uint32_t len)
{
    uint64_t mask;
    if (len < 8) {
        printf("rx: TRACE_MASK command too short (%u bytes); ignored\n", len + 1);
        return;
    }
    memcpy(&mask, args, 8);
    trace_set_classes(mask);
    printf("trace classes set to %#lx by the host\n", trace_settings.classes);
}

void serial_commands_init(void)
{
    serial_command_register(WIRE_CTL_DUMP_EVENTS, "DUMP_EVENTS", dump_events);
    serial_command_register(WIRE_CTL_TRACE_MASK, "TRACE_MASK", trace_mask);
}

static void control(const struct frame *f)
{
    if (!f->len)
        return;
    for (unsigned i = 0; i < ncommands; i++)
        if (commands[i].op == f->payload[0]) {
            commands[i].fn(f->payload + 1, f->len - 1);
            return;
        }
    printf("rx: unknown control op %#x from the host; ignored\n", f->payload[0]);
}

static int poll_raw(const struct serial_raw_owner *o)
{
    uint8_t buf[64];
    uint32_t n = 0;
    int total = 0;
    for (int budget = 0; budget < 4096; budget++) {
        int c = uart_getc();
        if (c >= 0)
            buf[n++] = (uint8_t)c;
        if (n && (c < 0 || n == sizeof(buf))) {
            o->receive(buf, n);
            total += n;
            n = 0;
        }
        if (c < 0)
            break;
    }
    return total;
}

int serial_poll_input(void)
{
    struct frame f;
    int handled = 0;
    if (serial_raw())
        return poll_raw(serial_raw());
    if (!rx_ready) {
        frame_rx_init(&rx);
        rx_ready = true;
    }
    for (int budget = 0; budget < 4096; budget++) {
        int c = uart_getc();
        if (c < 0)
            break;
        switch (frame_rx_push(&rx, (uint8_t)c, &f)) {
        case FRAME_RX_FRAME:
            handled++;
            if (f.type == FRAME_CONTROL)
                control(&f);
            else
                serial_channel_deliver(f.type, f.payload, f.len);
            break;
        case FRAME_RX_ERROR:
            printf("rx: bad frame from the host (%s, %lu bytes at offset %lu); dropped\n",
                   frame_err_name(rx.err), rx.err_len, rx.err_offset);
            break;
        }
    }
    return handled;
}
