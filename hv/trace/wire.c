/* Raw ring records, the compact batch encoder and the HELLO control
 * payload; formats in wire.h. The batch reader is wire_read.c. */
#include "wire.h"
#include "wire_state.h"

/* ---- varints ---------------------------------------------------------------- */

size_t wire_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t wire_put_varint(uint8_t *p, size_t cap, uint64_t v)
{
    size_t n = 0;
    do {
        if (n >= cap)
            return 0;
        p[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

size_t wire_get_varint(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t r = 0;
    size_t i;

    for (i = 0; i < len && i < 10; i++) {
        uint8_t b = p[i];
        if (i == 9 && b > 1)
            return 0;               /* more than 64 bits */
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* ---- raw records -------------------------------------------------------------- */

static inline void st16(uint8_t *p, uint16_t v) { __builtin_memcpy(p, &v, 2); }
static inline void st32(uint8_t *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline void st64(uint8_t *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }
static inline uint16_t ld16(const uint8_t *p) { uint16_t v; __builtin_memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
static inline uint64_t ld64(const uint8_t *p) { uint64_t v; __builtin_memcpy(&v, p, 8); return v; }

size_t wire_raw_encode(void *buf, size_t cap, uint16_t event_id, uint64_t tsc,
                       const uint64_t *args, unsigned nargs)
{
    uint8_t *p = (uint8_t *)buf;
    size_t len = WIRE_RAW_HDR + 8 * (size_t)nargs;

    if (nargs > WIRE_MAX_ARGS || cap < len)
        return 0;
    st16(p, event_id);
    p[2] = (uint8_t)nargs;
    p[3] = 0;
    st32(p + 4, 0);
    st64(p + 8, tsc);
    if (nargs)
        __builtin_memcpy(p + WIRE_RAW_HDR, args, 8 * (size_t)nargs);
    return len;
}

size_t wire_raw_encode_text(void *buf, size_t cap, uint64_t tsc,
                            const char *s, size_t len)
{
    uint8_t *p = (uint8_t *)buf;

    if (len > WIRE_MAX_TEXT)
        len = WIRE_MAX_TEXT;
    if (cap < WIRE_RAW_HDR + len)
        return 0;
    st16(p, TEV_CONSOLE_TEXT);
    p[2] = 0;
    p[3] = WIRE_RAW_TEXT;
    st32(p + 4, (uint32_t)len);
    st64(p + 8, tsc);
    if (len)
        __builtin_memcpy(p + WIRE_RAW_HDR, s, len);
    return WIRE_RAW_HDR + len;
}

bool wire_raw_decode(const void *buf, size_t len, struct wire_raw *out)
{
    const uint8_t *p = (const uint8_t *)buf;
    unsigned i;

    if (len < WIRE_RAW_HDR)
        return false;
    out->id = ld16(p);
    out->nargs = p[2];
    out->text = (p[3] & WIRE_RAW_TEXT) != 0;
    out->text_len = ld32(p + 4);
    out->tsc = ld64(p + 8);
    out->text_ptr = 0;
    if (out->text) {
        if (out->nargs || out->text_len > WIRE_MAX_TEXT ||
            len < WIRE_RAW_HDR + (size_t)out->text_len)
            return false;
        out->text_ptr = (const char *)p + WIRE_RAW_HDR;
        return true;
    }
    if (out->nargs > WIRE_MAX_ARGS || out->text_len ||
        len < WIRE_RAW_HDR + 8 * (size_t)out->nargs)
        return false;
    for (i = 0; i < out->nargs; i++)
        out->args[i] = ld64(p + WIRE_RAW_HDR + 8 * i);
    return true;
}

int wire_raw_channel(const void *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    if (len < WIRE_RAW_HDR)
        return -1;
    return (p[3] & WIRE_RAW_TEXT) ? FRAME_CONSOLE : FRAME_TRACE;
}

/* ---- batch encoder -------------------------------------------------------- */

void wire_batch_init(struct wire_batch *b, void *buf, size_t cap)
{
    b->buf = (uint8_t *)buf;
    b->cap = cap;
    wire_batch_reset(b);
}

void wire_batch_reset(struct wire_batch *b)
{
    b->len = 0;
    b->count = 0;
    b->prev_seq = 0;
    b->prev_tsc = 0;
    state_reset(&b->ids, &b->hist);
}

/* Bounded writer: on overflow it sticks, and the caller rolls back. */
struct wr {
    uint8_t *p;
    size_t cap, n;
    bool full;
};

static inline void wr_varint(struct wr *w, uint64_t v)
{
    size_t k = wire_put_varint(w->p + w->n, w->full ? 0 : w->cap - w->n, v);
    if (!k)
        w->full = true;
    w->n += k;
}

static inline void wr_byte(struct wr *w, uint8_t v)
{
    if (w->full || w->n >= w->cap)
        w->full = true;
    else
        w->p[w->n++] = v;
}

static inline void wr_bytes(struct wr *w, const void *s, size_t len)
{
    if (w->full || len > w->cap - w->n) {
        w->full = true;
        return;
    }
    if (len)
        __builtin_memcpy(w->p + w->n, s, len);
    w->n += len;
}

/* Record head: batch header (first record), head byte, [x], dt, [skip],
 * [lost]. ids is the caller's working copy (the batch's on success). */
static void put_head(const struct wire_batch *b, struct wr *w,
                     struct wire_ids *ids, uint64_t seq, uint64_t lost,
                     uint16_t id, uint64_t tsc)
{
    uint64_t prev_seq = b->prev_seq, prev_tsc = b->prev_tsc, skip, dt;
    unsigned x = 0, idc;
    int slot;

    if (b->count == 0) {
        wr_varint(w, seq);
        wr_varint(w, tsc);
        prev_seq = seq - 1;
        prev_tsc = tsc;
    }
    skip = seq - prev_seq - 1;
    dt = tsc - prev_tsc;
    if (dt >> 63) {             /* backwards: the magnitude, flagged */
        dt = prev_tsc - tsc;
        x |= X_NEG;
    }
    x |= (skip ? X_SKIP : 0) | (lost ? X_LOST : 0);
    slot = ids_find(ids, id);
    idc = (x || slot < 0) ? H_ESC : (unsigned)slot;
    wr_byte(w, (uint8_t)(idc << H_IDC_SHIFT | (dt >= DT_SHORT ? H_LONG : 0) |
                         (dt & H_DT_MASK)));
    if (idc == H_ESC) {
        wr_varint(w, (uint64_t)id << X_SHIFT | x);
        ids_note(ids, id);
    }
    if (dt >= DT_SHORT)
        wr_varint(w, dt >> H_DT_BITS);
    else
        wr_byte(w, (uint8_t)(dt >> H_DT_BITS));
    if (skip)
        wr_varint(w, skip);
    if (lost)
        wr_varint(w, lost);
}

/* The record is in (unless the writer overflowed): take the working state.
 * h is NULL for text records, which push nothing. */
static int commit(struct wire_batch *b, const struct wr *w, uint64_t seq,
                  uint64_t tsc, const struct wire_ids *ids,
                  const struct wire_hist *h)
{
    if (w->full)
        return WIRE_EFULL;
    b->len = w->n;
    b->count++;
    b->prev_seq = seq;
    b->prev_tsc = tsc;
    b->ids = *ids;
    if (h)
        b->hist = *h;
    return WIRE_OK;
}

/* The shortest mode for v given the history (ties: reg, plain, history,
 * delta); *out is what follows on the wire. Pushes as the reader will. */
static unsigned plan_arg(struct wire_hist *h, uint64_t v, uint64_t *out)
{
    uint64_t reg = hist_reg(h), d = zz_enc((int64_t)(v - reg));
    size_t l0 = wire_varint_len(v);
    int k;

    *out = v;
    if (v == reg)
        return 2;
    k = hist_find(h, v);
    if (k > 0 && l0 > 1)
        *out = (uint64_t)k;
    else if (wire_varint_len(d) < l0)
        *out = d;
    else
        return 0;
    hist_push(h, v);
    return k > 0 && l0 > 1 ? 3 : 1;
}

/* Works on copies of the id table and history, so that a record that does
 * not fit (WIRE_EFULL) leaves the batch exactly as it was. */
int wire_batch_add_event(struct wire_batch *b, uint64_t seq, uint64_t lost,
                         uint16_t id, uint64_t tsc, const uint64_t *args,
                         unsigned nargs)
{
    struct wr w = { b->buf, b->cap, b->len, false };
    struct wire_ids ids = b->ids;
    struct wire_hist h = b->hist;
    uint64_t vals[WIRE_MAX_ARGS];
    uint8_t modes[2] = { 0, 0 };
    int n = catalog_nargs(id), i;

    if (n < 0 || id == TEV_CONSOLE_TEXT)
        return WIRE_EINVAL;
    for (i = 0; i < n; i++) {
        uint64_t v = (unsigned)i < nargs ? args[i] : 0;
        unsigned m = plan_arg(&h, v, &vals[i]);
        modes[i / 4] |= (uint8_t)(m << (2 * (i % 4)));
    }
    put_head(b, &w, &ids, seq, lost, id, tsc);
    for (i = 0; i < (n + 3) / 4; i++)
        wr_byte(&w, modes[i]);
    for (i = 0; i < n; i++) {
        unsigned m = (modes[i / 4] >> (2 * (i % 4))) & 3;
        if (m == 3)
            wr_byte(&w, (uint8_t)vals[i]);
        else if (m != 2)
            wr_varint(&w, vals[i]);
    }
    return commit(b, &w, seq, tsc, &ids, &h);
}

int wire_batch_add_text(struct wire_batch *b, uint64_t seq, uint64_t lost,
                        uint64_t tsc, const char *s, size_t len)
{
    struct wr w = { b->buf, b->cap, b->len, false };
    struct wire_ids ids = b->ids;

    if (len > WIRE_MAX_TEXT)
        len = WIRE_MAX_TEXT;
    put_head(b, &w, &ids, seq, lost, TEV_CONSOLE_TEXT, tsc);
    wr_varint(&w, len);
    wr_bytes(&w, s, len);
    return commit(b, &w, seq, tsc, &ids, 0);
}

int wire_batch_add_raw(struct wire_batch *b, uint64_t seq, uint64_t lost,
                       const void *raw, size_t rawlen)
{
    struct wire_raw r;

    if (!wire_raw_decode(raw, rawlen, &r))
        return WIRE_EINVAL;
    if (r.text)
        return wire_batch_add_text(b, seq, lost, r.tsc, r.text_ptr, r.text_len);
    return wire_batch_add_event(b, seq, lost, r.id, r.tsc, r.args, r.nargs);
}

/* ---- control ------------------------------------------------------------------ */

size_t wire_hello_encode(void *buf, size_t cap, uint32_t catalog_crc,
                         uint8_t ncpus, uint32_t tsc_khz)
{
    uint8_t *p = (uint8_t *)buf;

    if (cap < WIRE_HELLO_LEN)
        return 0;
    p[0] = WIRE_CTL_HELLO;
    p[1] = WIRE_VERSION;
    p[2] = ncpus;
    p[3] = 0;
    p[4] = (uint8_t)catalog_crc;
    p[5] = (uint8_t)(catalog_crc >> 8);
    p[6] = (uint8_t)(catalog_crc >> 16);
    p[7] = (uint8_t)(catalog_crc >> 24);
    p[8] = (uint8_t)tsc_khz;
    p[9] = (uint8_t)(tsc_khz >> 8);
    p[10] = (uint8_t)(tsc_khz >> 16);
    p[11] = (uint8_t)(tsc_khz >> 24);
    return WIRE_HELLO_LEN;
}
