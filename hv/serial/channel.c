/* Channels (GUEST, later GDB): their owners register here and send through
 * this CPU's channel ring; the drain frames the records by type. */
#include <stdint.h>
#include "console/console.h"
#include "serial/line.h"
#include "serial/serial.h"
#include "trace/frame.h"
#include "trace/percpu_rings.h"
#include "trace/wire.h"

static const struct serial_channel *channels[FRAME_NTYPES];

bool serial_channel_register(const struct serial_channel *ch)
{
    if (ch->frame_type <= FRAME_TRACE || ch->frame_type >= FRAME_NTYPES ||
        ch->frame_type == FRAME_FLIGHT || channels[ch->frame_type]) {
        printf("serial: channel %s (frame type %u) refused: reserved or taken\n",
               ch->name, ch->frame_type);
        return false;
    }
    channels[ch->frame_type] = ch;
    return true;
}

bool serial_channel_send(uint8_t frame_type, uint64_t tsc, const void *bytes, size_t len)
{
    uint8_t body[WIRE_MAX_TEXT], rec[WIRE_RAW_MAX];
    if (len + 1 > sizeof(body))
        return false;
    body[0] = frame_type;
    for (size_t i = 0; i < len; i++)
        body[i + 1] = ((const uint8_t *)bytes)[i];
    size_t n = wire_raw_encode_text(rec, sizeof(rec), tsc, (const char *)body, len + 1);
    return n && trace_ring_append(RING_CHANNEL, rec, n);
}

void serial_channels_flush(bool force)
{
    for (unsigned t = 0; t < FRAME_NTYPES; t++)
        if (channels[t] && channels[t]->flush)
            channels[t]->flush(force);
}

void serial_channel_deliver(uint8_t frame_type, const uint8_t *bytes, uint32_t len)
{
    if (frame_type < FRAME_NTYPES && channels[frame_type] && channels[frame_type]->receive)
        channels[frame_type]->receive(bytes, len);
    /* No owner (the GDB channel before its stub): dropped. */
}
