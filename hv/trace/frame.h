/* Serial framing: every byte the hypervisor puts on the UART (and every
 * byte the host sends back) belongs to a frame. This header is the one
 * description of the format; host-tools/hvtools/frame.py implements the
 * same thing and tests/host/test_wire_interop.py proves they agree.
 *
 * FRAME BODY (before stuffing), little endian:
 *
 *   off  size  field
 *   0    1     type     channel: FRAME_CONTROL .. FRAME_FLIGHT, 6..255 reserved
 *   1    1     cpu      CONSOLE: whose text; TRACE/FLIGHT: whose ring; else 0 or
 *                       a channel-defined sub-stream
 *   2    2     seq      per (type,cpu) stream frame counter, wraps at 2^16
 *   4    n     payload  0 <= n <= FRAME_MAX_PAYLOAD (512)
 *   4+n  4     crc      CRC-32/IEEE (== zlib.crc32) of bytes [0, 4+n)
 *
 * ON THE WIRE: COBS(body) (see cobs.h; never contains 0x00) then one 0x00.
 * A sender should emit a lone 0x00 once when it starts, so that whatever
 * preceded it on the line (firmware/GRUB text) ends as one bad frame.
 *
 * RECEIVER RULES (C frame_rx_* and Python FrameDecoder behave identically):
 *   - bytes are collected up to each 0x00; an empty collection (0x00 0x00)
 *     is idle fill and silently ignored;
 *   - otherwise exactly one of: a frame, or one error, classified in this
 *     order: LONG (decoded body > FRAME_MAX_BODY), COBS (a block runs past
 *     the 0x00), SHORT (body < 8 bytes), CRC (checksum mismatch);
 *   - an error carries the stream offset of the bad frame's first byte and
 *     its length (excluding the 0x00); its contents are never delivered to
 *     any channel; decoding restarts right after the 0x00 (resync);
 *   - frames of reserved types with a good CRC are delivered; callers
 *     ignore types they do not know.
 *
 * CHANNELS: CONTROL payload starts with an op byte (1 = HELLO, see wire.h;
 * 0x10..0xff free for host<->hv commands). CONSOLE, TRACE and FLIGHT
 * payloads are wire batches (wire.h). GUEST and GDB payloads are raw byte
 * streams. FLIGHT carries the flight recorder's records (the per-exit
 * classes, trace/percpu_rings.h), sent only when asked for (a dump): their
 * own ring, so their own record seqs, apart from TRACE's, whose every seq
 * gap stays a counted loss; a FLIGHT seq gap is records overwritten in
 * memory before the dump, not a loss of the streamed trace.
 */
#ifndef HV_TRACE_FRAME_H
#define HV_TRACE_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cobs.h"

enum frame_type {
    FRAME_CONTROL = 0,
    FRAME_CONSOLE = 1,
    FRAME_TRACE   = 2,
    FRAME_GUEST   = 3,
    FRAME_GDB     = 4,
    FRAME_FLIGHT  = 5,          /* flight recorder records (a dump) */
    FRAME_NTYPES  = 6,          /* 6..255 reserved */
};

#define FRAME_DELIM        0x00
#define FRAME_HDR_LEN      4
#define FRAME_CRC_LEN      4
#define FRAME_MAX_PAYLOAD  512
#define FRAME_MIN_BODY     (FRAME_HDR_LEN + FRAME_CRC_LEN)
#define FRAME_MAX_BODY     (FRAME_HDR_LEN + FRAME_MAX_PAYLOAD + FRAME_CRC_LEN)
/* Worst case bytes on the wire for one frame, delimiter included (524). */
#define FRAME_MAX_ENCODED  (COBS_MAX_ENCODED(FRAME_MAX_BODY) + 1)

/* A decoded frame. payload points into the decoder (or caller) buffer. */
struct frame {
    uint8_t type;
    uint8_t cpu;
    uint16_t seq;
    uint16_t len;
    const uint8_t *payload;
};

/* ---- encoding ----------------------------------------------------------- */

/* Encode one complete frame (stuffed body + 0x00) into out. Returns the
 * number of bytes written, or 0 if len > FRAME_MAX_PAYLOAD or cap is too
 * small (cap >= FRAME_MAX_ENCODED always suffices). */
size_t frame_encode(uint8_t *out, size_t cap, uint8_t type, uint8_t cpu,
                    uint16_t seq, const void *payload, size_t len);

/* Streaming variant: emits the same bytes one at a time through emit(),
 * without buffering the frame (two passes over payload: CRC, then COBS).
 * Returns the number of bytes emitted, or 0 if len > FRAME_MAX_PAYLOAD. */
typedef void (*frame_emit_fn)(void *ctx, uint8_t byte);
size_t frame_encode_stream(frame_emit_fn emit, void *ctx, uint8_t type,
                           uint8_t cpu, uint16_t seq, const void *payload,
                           size_t len);

/* ---- incremental decoding ---------------------------------------------- */

enum frame_err {
    FRAME_ERR_NONE  = 0,
    FRAME_ERR_LONG  = 1,        /* decoded body longer than FRAME_MAX_BODY */
    FRAME_ERR_COBS  = 2,        /* stuffing broken (frame cut short) */
    FRAME_ERR_SHORT = 3,        /* body shorter than header + CRC */
    FRAME_ERR_CRC   = 4,        /* checksum mismatch */
    FRAME_NERR      = 5,
};

enum frame_rx_result {
    FRAME_RX_MORE  = 0,         /* byte consumed, nothing complete yet */
    FRAME_RX_FRAME = 1,         /* *out holds a good frame */
    FRAME_RX_ERROR = 2,         /* rx->err, rx->err_offset, rx->err_len */
};

struct frame_rx {
    uint8_t buf[FRAME_MAX_BODY];
    uint16_t len;               /* decoded bytes so far (saturates) */
    uint8_t code_left;          /* bytes left in the current COBS block */
    bool zero_pending;          /* a 0x00 goes before the next block */
    bool overflow;              /* body exceeded FRAME_MAX_BODY */
    uint64_t pos;               /* stream offset of the next byte */
    uint64_t start;             /* stream offset of this frame's 1st byte */
    /* last error */
    uint8_t err;
    uint64_t err_offset;
    uint64_t err_len;
    /* counters */
    uint64_t frames;
    uint64_t errors[FRAME_NERR];/* indexed by enum frame_err */
    uint64_t bytes_discarded;   /* bytes of bad frames, delimiters excluded */
};

void frame_rx_init(struct frame_rx *rx);

/* Push one received byte. Returns an enum frame_rx_result; on
 * FRAME_RX_FRAME, *out is valid until the next call. */
int frame_rx_push(struct frame_rx *rx, uint8_t byte, struct frame *out);

/* Decode one stuffed frame held in memory (src excludes the 0x00) into
 * body[] (cap >= FRAME_MAX_BODY) and fill *out; returns an enum frame_err. */
int frame_decode(const uint8_t *src, size_t len, uint8_t *body, size_t cap,
                 struct frame *out);

const char *frame_err_name(int err);
const char *frame_type_name(int type);

#endif
