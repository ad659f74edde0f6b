/* libFuzzer target: the byte-at-a-time frame decoder, and the wire batch
 * decoder on every frame it delivers and on the raw input. Checks: no crash,
 * no out-of-bounds access (ASan), delivered frames re-encode to a valid
 * frame, the in-memory decoder agrees with the streaming one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/cobs.h"
#include "trace/crc32.h"
#include "trace/frame.h"
#include "trace/wire.h"

static void drain_batch(const uint8_t *p, size_t n)
{
    struct wire_reader r;
    struct wire_record rec;
    int st, guard = 0;

    wire_reader_init(&r, p, n);
    while ((st = wire_reader_next(&r, &rec)) == 1) {
        if (rec.text && (rec.text < p || rec.text + rec.text_len > p + n))
            abort();
        if (++guard > 100000)
            abort();
    }
    if (st != 0 && st != WIRE_EBAD)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct frame_rx rx;
    static uint8_t enc[FRAME_MAX_ENCODED], body[FRAME_MAX_BODY];
    size_t i, start = 0;

    frame_rx_init(&rx);
    for (i = 0; i < size; i++) {
        struct frame f;
        int r = frame_rx_push(&rx, data[i], &f);
        if (data[i] == 0) {
            /* the buffer decoder must reach the same verdict */
            struct frame g;
            if (i > start) {
                int err = frame_decode(data + start, i - start, body,
                                       sizeof body, &g);
                if ((err == FRAME_ERR_NONE) != (r == FRAME_RX_FRAME))
                    abort();
                if (r == FRAME_RX_ERROR && err != rx.err)
                    abort();
            } else if (r != FRAME_RX_MORE) {
                abort();
            }
            start = i + 1;
        }
        if (r == FRAME_RX_FRAME) {
            size_t e;
            if (f.len > FRAME_MAX_PAYLOAD)
                abort();
            drain_batch(f.payload, f.len);
            e = frame_encode(enc, sizeof enc, f.type, f.cpu, f.seq, f.payload,
                             f.len);
            if (!e || enc[e - 1] != 0 || memchr(enc, 0, e - 1))
                abort();
        } else if (r == FRAME_RX_ERROR) {
            if (rx.err == FRAME_ERR_NONE || rx.err >= FRAME_NERR)
                abort();
        } else if (r != FRAME_RX_MORE) {
            abort();
        }
    }
    /* the whole input as a batch payload, and as COBS */
    drain_batch(data, size);
    {
        size_t n = 0;
        uint8_t *out = malloc(size + 1);
        if (cobs_decode(out, size, data, size, &n) && n > size)
            abort();
        free(out);
    }
    return 0;
}
