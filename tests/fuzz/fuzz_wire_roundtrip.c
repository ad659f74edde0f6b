/* libFuzzer target: records derived from the input are encoded with the
 * batch encoder and must decode back exactly; the framed batch must survive
 * COBS + CRC; the encoder never writes past its buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/catalog.h"
#include "trace/frame.h"
#include "trace/wire.h"

static const uint16_t ids[] = {
#define TRACE_CLASS(bit, name, desc)
#define TRACE_EVENT(id, name, cls, ...) (id),
#include "trace/events.def"
#undef TRACE_CLASS
#undef TRACE_EVENT
};

struct in {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
    uint64_t v = 0;
    unsigned k;
    for (k = 0; k < bytes && in->n; k++, in->n--, in->p++)
        v |= (uint64_t)*in->p << (8 * k);
    return v;
}

struct rec {
    uint16_t id;
    uint64_t seq, tsc, lost, args[WIRE_MAX_ARGS];
    uint8_t nargs;
    char text[WIRE_MAX_TEXT];
    size_t text_len;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rec recs[512];
    static uint8_t buf[FRAME_MAX_PAYLOAD + 64];
    static uint8_t enc[FRAME_MAX_ENCODED];
    struct in in = { data, size };
    struct wire_batch b;
    struct wire_reader r;
    struct wire_record w;
    size_t cap = 1 + take(&in, 2) % FRAME_MAX_PAYLOAD, n = 0, i, e;
    uint64_t seq = take(&in, 8), tsc = take(&in, 8);

    memset(buf, 0xa5, sizeof buf);
    wire_batch_init(&b, buf, cap);
    while (in.n && n < 512) {
        struct rec *x = &recs[n];
        uint8_t sel = (uint8_t)take(&in, 1);
        unsigned k;
        int st;
        x->lost = sel & 0x80 ? take(&in, 2) : 0;
        seq += 1 + (sel & 0x40 ? take(&in, 8) : 0);
        x->seq = seq;
        tsc += sel & 0x20 ? take(&in, 8) : take(&in, 2);
        x->tsc = tsc;
        if ((sel & 0x1f) == 0) {
            x->id = TEV_CONSOLE_TEXT;
            x->text_len = take(&in, 1);
            for (k = 0; k < x->text_len; k++)
                x->text[k] = (char)take(&in, 1);
            st = wire_batch_add_text(&b, x->seq, x->lost, x->tsc, x->text,
                                     x->text_len);
        } else {
            x->id = ids[(sel & 0x1f) % (sizeof ids / sizeof ids[0])];
            if (x->id == TEV_CONSOLE_TEXT)
                x->id = TEV_VMEXIT;
            x->nargs = (uint8_t)catalog_nargs(x->id);
            for (k = 0; k < x->nargs; k++)
                x->args[k] = take(&in, (unsigned)(take(&in, 1) % 9));
            st = wire_batch_add_event(&b, x->seq, x->lost, x->id, x->tsc,
                                      x->args, x->nargs);
        }
        if (st == WIRE_EFULL)
            break;
        if (st != WIRE_OK)
            abort();
        n++;
    }
    for (i = cap; i < sizeof buf; i++)
        if (buf[i] != 0xa5)
            abort();            /* wrote past cap */
    if (b.count != n || b.len > cap)
        abort();
    wire_reader_init(&r, buf, b.len);
    for (i = 0; i < n; i++) {
        const struct rec *x = &recs[i];
        if (wire_reader_next(&r, &w) != 1 || w.id != x->id ||
            w.seq != x->seq || w.tsc != x->tsc || w.lost != x->lost)
            abort();
        if (x->id == TEV_CONSOLE_TEXT) {
            if (w.text_len != x->text_len ||
                memcmp(w.text, x->text, x->text_len))
                abort();
        } else if (w.nargs != x->nargs ||
                   memcmp(w.args, x->args, 8u * x->nargs)) {
            abort();
        }
    }
    if (wire_reader_next(&r, &w) != 0)
        abort();
    if (b.len <= FRAME_MAX_PAYLOAD) {
        struct frame_rx rx;
        struct frame f;
        int got = 0;
        e = frame_encode(enc, sizeof enc, FRAME_TRACE, 1, 7, buf, b.len);
        frame_rx_init(&rx);
        for (i = 0; i < e; i++)
            if (frame_rx_push(&rx, enc[i], &f) == FRAME_RX_FRAME)
                got = f.len == b.len && memcmp(f.payload, buf, b.len) == 0;
        if (!got)
            abort();
    }
    return 0;
}
