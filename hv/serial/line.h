/* Inside the serial stage: what the drain (drain.c), the host side (rx.c)
 * and the channels (channel.c) share. Not for use outside hv/serial/. */
#ifndef HV_SERIAL_LINE_H
#define HV_SERIAL_LINE_H
#include <stdbool.h>
#include "serial/serial.h"

/* Reads host->hv frames from the UART; only the line owner calls it.
 * Returns the number of frames handled. */
int serial_poll_input(void);
/* The built-in host commands (DUMP_EVENTS, TRACE_MASK). */
void serial_commands_init(void);
/* Every channel's flush hook, on this CPU. */
void serial_channels_flush(bool force);
/* The channel registered for a frame type, handed host bytes. */
void serial_channel_deliver(uint8_t frame_type, const uint8_t *bytes, uint32_t len);

/* The raw owner, when gdb=raw made the line plain RSP (else NULL). */
const struct serial_raw_owner *serial_raw(void);

#endif
