/* Stream decoder (frames -> records with per-stream bookkeeping); the
 * rules are in decode.h. */
#include "decode.h"

_Static_assert(sizeof(struct tdec_item) == 120, "tdec_item layout is read by the host tools");

/* Room one frame can need: its item, a link loss, a bad batch, and at most
 * one record per two payload bytes (id and t are one byte each at least). */
#define ITEMS_PER_FRAME  (3 + FRAME_MAX_PAYLOAD / 2)
#define ARENA_PER_FRAME  (2 * FRAME_MAX_PAYLOAD + TDEC_KEEP_DATA)

void trace_dec_init(struct trace_dec *d)
{
    __builtin_memset(d, 0, sizeof(*d));
    frame_rx_init(&d->rx);
}

static struct tdec_item *new_item(struct tdec_item *it, uint8_t kind)
{
    __builtin_memset(it, 0, sizeof(*it));
    it->kind = kind;
    return it;
}

static void put_data(struct tdec_item *it, uint8_t *arena, size_t *used,
                     const uint8_t *p, size_t n)
{
    it->data_off = (uint32_t)*used;
    it->data_len = (uint32_t)n;
    if (n)
        __builtin_memcpy(arena + *used, p, n);
    *used += n;
}

static void forget_all(struct trace_dec *d)
{
    __builtin_memset(d->seen, 0, sizeof(d->seen));
    __builtin_memset(d->rec_seen, 0, sizeof(d->rec_seen));
    d->nstreams = 0;
}

/* Sequence bookkeeping of one good frame: restart, gap. */
static uint32_t track(struct trace_dec *d, const struct frame *f, uint32_t *flags)
{
    uint32_t gap = TDEC_NO_GAP;

    if (f->type == FRAME_CONTROL && f->seq == 0) {
        if (d->nstreams) {
            forget_all(d);
            *flags |= TDEC_F_RESTART;
            d->restarts++;
        }
        d->session = 1;
    }
    if (d->seen[f->type][f->cpu])
        gap = (uint16_t)(f->seq - d->last[f->type][f->cpu] - 1);
    else if (d->session)
        gap = f->seq;
    if (!d->seen[f->type][f->cpu]) {
        d->seen[f->type][f->cpu] = 1;
        d->nstreams++;
    }
    d->last[f->type][f->cpu] = f->seq;
    if (gap != TDEC_NO_GAP)
        d->frames_lost += gap;
    return gap;
}

static void fill_record(struct tdec_item *it, const struct frame *f,
                        const struct wire_record *r, uint8_t *arena, size_t *used)
{
    new_item(it, TDEC_RECORD);
    it->type = f->type;
    it->cpu = f->cpu;
    it->fseq = f->seq;
    it->id = r->id;
    it->nargs = r->nargs;
    it->seq = r->seq;
    it->tsc = r->tsc;
    it->lost = r->lost;
    for (unsigned i = 0; i < r->nargs; i++)
        it->args[i] = r->args[i];
    if (r->text)
        put_data(it, arena, used, r->text, r->text_len);
}

/* The batch streams' index in rec_last: CONSOLE, TRACE, FLIGHT; -1 if the
 * type carries no batch. */
static int batch_stream(uint8_t type)
{
    return type == FRAME_CONSOLE ? 0 : type == FRAME_TRACE ? 1 : type == FRAME_FLIGHT ? 2 : -1;
}

/* The records of one batch frame (after its FRAME item). */
static size_t batch(struct trace_dec *d, const struct frame *f, uint32_t gap,
                    struct tdec_item *items, uint8_t *arena, size_t *used)
{
    struct wire_reader rd;
    struct wire_record rec;
    size_t n = 0;
    int k = batch_stream(f->type), got;
    uint64_t last = 0;
    bool any = false;

    wire_reader_init(&rd, f->payload, f->len);
    while ((got = wire_reader_next(&rd, &rec)) == 1) {
        if (n == 0 && gap != TDEC_NO_GAP && gap) {
            struct tdec_item *l = new_item(&items[n++], TDEC_LINK_LOSS);
            l->type = f->type;
            l->cpu = f->cpu;
            l->fseq = f->seq;
            l->gap = gap;
            l->has_after = d->rec_seen[k][f->cpu];
            l->seq = d->rec_last[k][f->cpu];
            l->tsc = rec.seq;
        }
        fill_record(&items[n++], f, &rec, arena, used);
        last = rec.seq;
        any = true;
        d->records++;
    }
    if (any) {
        d->rec_last[k][f->cpu] = last;
        d->rec_seen[k][f->cpu] = 1;
    }
    if (got != 0) {
        struct tdec_item *b = new_item(&items[n++], TDEC_BAD_BATCH);
        b->type = f->type;
        b->cpu = f->cpu;
        b->fseq = f->seq;
        b->aux = (uint32_t)(rd.p - f->payload);
        d->bad_batches++;
    }
    return n;
}

/* One delimiter's worth of output: a frame (+ records) or an error. */
static size_t on_delim(struct trace_dec *d, int res, const struct frame *f,
                       uint64_t start, struct tdec_item *items, uint8_t *arena,
                       size_t *used)
{
    struct tdec_item *it = new_item(&items[0], res == FRAME_RX_FRAME ? TDEC_FRAME : TDEC_ERROR);
    uint32_t flags = 0, gap;

    if (res == FRAME_RX_ERROR) {
        it->aux = d->rx.err;
        it->offset = d->rx.err_offset;
        it->length = d->rx.err_len;
        put_data(it, arena, used, d->head, d->head_len);
        return 1;
    }
    d->frames++;
    gap = track(d, f, &flags);
    it->type = f->type;
    it->cpu = f->cpu;
    it->fseq = f->seq;
    it->gap = gap;
    it->offset = start;
    it->length = f->len;
    put_data(it, arena, used, f->payload, f->len);
    if (batch_stream(f->type) >= 0) {
        it->aux = flags | TDEC_F_BATCH;
        return 1 + batch(d, f, gap, items + 1, arena, used);
    }
    it->aux = flags;
    return 1;
}

size_t trace_dec_feed(struct trace_dec *d, const uint8_t *data, size_t len,
                      size_t *consumed, struct tdec_item *items, size_t max,
                      uint8_t *arena, size_t arena_cap, size_t *arena_used)
{
    size_t i, n = 0, used = 0;
    struct frame f;

    for (i = 0; i < len; i++) {
        uint8_t b = data[i];
        uint64_t start;
        int res;

        if (b != FRAME_DELIM) {
            if (d->head_len < TDEC_KEEP_DATA)
                d->head[d->head_len++] = b;
            frame_rx_push(&d->rx, b, &f);
            continue;
        }
        if (max - n < ITEMS_PER_FRAME || arena_cap - used < ARENA_PER_FRAME)
            break;
        start = d->rx.start;
        res = frame_rx_push(&d->rx, b, &f);
        if (res != FRAME_RX_MORE) {
            n += on_delim(d, res, &f, start, items + n, arena, &used);
        }
        d->head_len = 0;
    }
    *consumed = i;
    *arena_used = used;
    return n;
}

size_t trace_dec_finish(struct trace_dec *d, struct tdec_item *items, size_t max,
                        uint8_t *arena, size_t arena_cap, size_t *arena_used)
{
    uint64_t flen = d->rx.pos - d->rx.start;
    size_t used = 0;
    struct tdec_item *it;

    *arena_used = 0;
    if (!flen || max < 1 || arena_cap < TDEC_KEEP_DATA)
        return 0;
    it = new_item(&items[0], TDEC_ERROR);
    it->aux = TDEC_ERR_TRUNCATED;
    it->offset = d->rx.start;
    it->length = flen;
    put_data(it, arena, &used, d->head, d->head_len);
    *arena_used = used;
    d->rx.start = d->rx.pos;        /* the tail is consumed */
    d->rx.len = 0;
    d->rx.code_left = 0;
    d->rx.zero_pending = false;
    d->rx.overflow = false;
    d->head_len = 0;
    return 1;
}
