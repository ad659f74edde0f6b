/* Raw ring records, compact batch payloads and the HELLO control payload;
 * formats in wire.h. */
#include "wire.h"

#define T_MODES 1u
#define T_SKIP  2u
#define T_LOST  4u
#define T_SHIFT 3
#define TSC_ZZ_LIMIT (1ull << 61)

static inline uint64_t zz_enc(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zz_dec(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

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
    b->reg = 0;
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

/* Common record head: header (first record), id, t, skip, lost.
 * Returns false if the tsc delta cannot be expressed in this batch. */
static bool put_head(struct wire_batch *b, struct wr *w, uint64_t seq,
                     uint64_t lost, uint16_t id, uint64_t tsc,
                     unsigned modes_flag)
{
    uint64_t prev_seq = b->prev_seq, prev_tsc = b->prev_tsc, skip, zz;
    unsigned flags = modes_flag;

    if (b->count == 0) {
        wr_varint(w, seq);
        wr_varint(w, tsc);
        prev_seq = seq - 1;
        prev_tsc = tsc;
    }
    skip = seq - prev_seq - 1;
    zz = zz_enc((int64_t)(tsc - prev_tsc));
    if (zz >= TSC_ZZ_LIMIT)
        return false;
    if (skip)
        flags |= T_SKIP;
    if (lost)
        flags |= T_LOST;
    wr_varint(w, id);
    wr_varint(w, zz << T_SHIFT | flags);
    if (skip)
        wr_varint(w, skip);
    if (lost)
        wr_varint(w, lost);
    return true;
}

static int commit(struct wire_batch *b, struct wr *w, uint64_t seq,
                  uint64_t tsc, uint64_t reg)
{
    if (w->full)
        return WIRE_EFULL;
    b->len = w->n;
    b->count++;
    b->prev_seq = seq;
    b->prev_tsc = tsc;
    b->reg = reg;
    return WIRE_OK;
}

int wire_batch_add_event(struct wire_batch *b, uint64_t seq, uint64_t lost,
                         uint16_t id, uint64_t tsc, const uint64_t *args,
                         unsigned nargs)
{
    struct wr w = { b->buf, b->cap, b->len, false };
    int n = catalog_nargs(id);
    uint64_t vals[WIRE_MAX_ARGS], raw[WIRE_MAX_ARGS];
    size_t len_a = 0, len_b = 0;
    uint8_t modes[2] = { 0, 0 };
    uint64_t reg = b->count ? b->reg : 0;
    int i;

    if (n < 0 || id == TEV_CONSOLE_TEXT)
        return WIRE_EINVAL;
    /* Plan A: the shortest mode for each arg (ties: lowest mode); plan B:
     * all mode 0 (no mode byte, reg untouched). Take B unless A is shorter
     * including its mode bytes. */
    for (i = 0; i < n; i++) {
        uint64_t v = (unsigned)i < nargs ? args[i] : 0;
        size_t l0 = wire_varint_len(v);
        size_t l1 = wire_varint_len(zz_enc((int64_t)v));
        size_t l2 = wire_varint_len(zz_enc((int64_t)(v - reg)));
        unsigned m = 0;
        size_t best = l0;

        raw[i] = v;
        len_b += l0;
        if (v == reg) {
            m = 3;
            best = 0;
        } else if (l1 < best && l1 <= l2) {
            m = 1;
            best = l1;
        } else if (l2 < best) {
            m = 2;
            best = l2;
        }
        if (m) {
            vals[i] = m == 1 ? zz_enc((int64_t)v) :
                      m == 2 ? zz_enc((int64_t)(v - reg)) : 0;
            reg = v;
        } else {
            vals[i] = v;
        }
        len_a += best;
        modes[i / 4] |= (uint8_t)(m << (2 * (i % 4)));
    }
    if ((modes[0] | modes[1]) && len_b <= len_a + (n > 4 ? 2 : 1)) {
        modes[0] = modes[1] = 0;
        reg = b->count ? b->reg : 0;
        for (i = 0; i < n; i++)
            vals[i] = raw[i];
    }
    if (!put_head(b, &w, seq, lost, id, tsc, (modes[0] | modes[1]) ? T_MODES : 0))
        return WIRE_EFULL;
    if (modes[0] | modes[1]) {
        wr_byte(&w, modes[0]);
        if (n > 4)
            wr_byte(&w, modes[1]);
    }
    for (i = 0; i < n; i++) {
        unsigned m = (modes[i / 4] >> (2 * (i % 4))) & 3;
        if (m != 3)
            wr_varint(&w, vals[i]);
    }
    return commit(b, &w, seq, tsc, reg);
}

int wire_batch_add_text(struct wire_batch *b, uint64_t seq, uint64_t lost,
                        uint64_t tsc, const char *s, size_t len)
{
    struct wr w = { b->buf, b->cap, b->len, false };

    if (len > WIRE_MAX_TEXT)
        len = WIRE_MAX_TEXT;
    if (!put_head(b, &w, seq, lost, TEV_CONSOLE_TEXT, tsc, 0))
        return WIRE_EFULL;
    wr_varint(&w, len);
    wr_bytes(&w, s, len);
    return commit(b, &w, seq, tsc, b->count ? b->reg : 0);
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

/* ---- batch decoder -------------------------------------------------------- */

int wire_reader_init(struct wire_reader *r, const void *payload, size_t len)
{
    r->p = (const uint8_t *)payload;
    r->end = r->p + len;
    r->prev_seq = 0;
    r->prev_tsc = 0;
    r->reg = 0;
    r->started = false;
    r->failed = false;
    return WIRE_OK;
}

static bool rd_varint(struct wire_reader *r, uint64_t *v)
{
    size_t k = wire_get_varint(r->p, (size_t)(r->end - r->p), v);
    if (!k)
        return false;
    r->p += k;
    return true;
}

static int rd_fail(struct wire_reader *r)
{
    r->failed = true;
    return WIRE_EBAD;
}

int wire_reader_next(struct wire_reader *r, struct wire_record *rec)
{
    uint64_t id, t, skip = 0, lost = 0, zz, v;
    uint8_t modes[2] = { 0, 0 };
    int n, i;

    if (r->failed)
        return WIRE_EBAD;
    if (r->p == r->end)
        return 0;
    if (!r->started) {
        uint64_t s0, t0;
        if (!rd_varint(r, &s0) || !rd_varint(r, &t0))
            return rd_fail(r);
        r->prev_seq = s0 - 1;
        r->prev_tsc = t0;
        r->started = true;
        if (r->p == r->end)
            return 0;       /* "record*": a header alone is an empty batch */
    }
    if (!rd_varint(r, &id) || !rd_varint(r, &t))
        return rd_fail(r);
    if (id > 0xffff || (n = catalog_nargs((unsigned)id)) < 0)
        return rd_fail(r);
    if ((t & T_SKIP) && !rd_varint(r, &skip))
        return rd_fail(r);
    if ((t & T_LOST) && !rd_varint(r, &lost))
        return rd_fail(r);
    zz = t >> T_SHIFT;
    rec->id = (uint16_t)id;
    rec->seq = r->prev_seq + 1 + skip;
    rec->tsc = r->prev_tsc + (uint64_t)zz_dec(zz);
    rec->lost = lost;
    rec->text = 0;
    rec->text_len = 0;

    if (id == TEV_CONSOLE_TEXT) {
        if ((t & T_MODES) || !rd_varint(r, &v) || v > WIRE_MAX_TEXT ||
            v > (uint64_t)(r->end - r->p))
            return rd_fail(r);
        rec->nargs = 0;
        rec->text = r->p;
        rec->text_len = (uint32_t)v;
        r->p += v;
    } else {
        rec->nargs = (uint8_t)n;
        if (t & T_MODES) {
            int nb = n > 4 ? 2 : 1;
            if (n == 0 || r->end - r->p < nb)
                return rd_fail(r);
            for (i = 0; i < nb; i++)
                modes[i] = *r->p++;
        }
        for (i = 0; i < n; i++) {
            unsigned m = (modes[i / 4] >> (2 * (i % 4))) & 3;
            if (m == 3) {
                v = r->reg;
            } else {
                if (!rd_varint(r, &v))
                    return rd_fail(r);
                if (m == 1)
                    v = (uint64_t)zz_dec(v);
                else if (m == 2)
                    v = r->reg + (uint64_t)zz_dec(v);
            }
            if (m)
                r->reg = v;
            rec->args[i] = v;
        }
    }
    r->prev_seq = rec->seq;
    r->prev_tsc = rec->tsc;
    return 1;
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
