/* Host -> hypervisor: frames arriving on the UART. Only the CPU that owns
 * the line reads the UART, so the decoder state needs no lock. Bad frames
 * are counted and reported, never acted on. */
#include <string.h>
#include <config.h>
#include <console.h>
#include "console/console_rings.h"
#include "console/uart.h"
#include "trace/frame.h"
#include "trace/wire.h"
#include "vmx/guest_uart.h"
#include "vmx/vmx.h"

static struct frame_rx rx;
static bool rx_ready;

static void control(const struct frame *f)
{
    if (!f->len)
        return;
    switch (f->payload[0]) {
    case WIRE_CTL_DUMP_EVENTS:
        console_request_event_dump();
        break;
    case WIRE_CTL_TRACE_MASK:
        if (f->len >= 9) {
            uint64_t mask;
            memcpy(&mask, f->payload + 1, 8);
            hv_config.trace_classes = mask | 1;   /* console text stays on */
            printf("trace classes set to %#lx by the host\n", hv_config.trace_classes);
        } else {
            printf("rx: TRACE_MASK command too short (%u bytes); ignored\n", f->len);
        }
        break;
    case WIRE_CTL_EXIT_STATS:
        vmx_print_exit_stats();
        break;
    default:
        printf("rx: unknown control op %#x from the host; ignored\n", f->payload[0]);
    }
}

/* Called by the line owner. Returns the number of frames handled. */
int console_poll_input(void)
{
    struct frame f;
    int handled = 0;
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
            else if (f.type == FRAME_GUEST)
                guest_uart_receive(f.payload, f.len);
            /* GDB frames get their consumer with the GDB stub; until then
             * they are dropped. */
            break;
        case FRAME_RX_ERROR:
            printf("rx: bad frame from the host (%s, %lu bytes at offset %lu); dropped\n",
                   frame_err_name(rx.err), rx.err_len, rx.err_offset);
            break;
        }
    }
    return handled;
}
