/* Batch reader: the receiving twin of wire_batch_* (wire.c); format in
 * wire.h. host-tools/hvtools/records.py decode_batch is its reference
 * twin and must accept and reject exactly the same payloads. */
#include "wire.h"
#include "wire_state.h"

/* ---- batch decoder -------------------------------------------------------- */

int wire_reader_init(struct wire_reader *r, const void *payload, size_t len)
{
    r->p = (const uint8_t *)payload;
    r->end = r->p + len;
    r->prev_seq = 0;
    r->prev_tsc = 0;
    state_reset(&r->ids, &r->hist);
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

static bool rd_byte(struct wire_reader *r, uint64_t *v)
{
    if (r->p == r->end)
        return false;
    *v = *r->p++;
    return true;
}

static int rd_fail(struct wire_reader *r)
{
    r->failed = true;
    return WIRE_EBAD;
}

/* Head byte to lost: fills rec id, seq, tsc, lost; *n = catalogue nargs. */
static bool rd_head(struct wire_reader *r, struct wire_record *rec, int *n)
{
    uint64_t head, x = 0, dt, skip = 0, lost = 0;
    unsigned idc;

    if (!rd_byte(r, &head))
        return false;
    idc = (unsigned)head >> H_IDC_SHIFT;
    if (idc == H_ESC) {
        if (!rd_varint(r, &x) || x >> X_SHIFT > 0xffff)
            return false;
        rec->id = (uint16_t)(x >> X_SHIFT);
        ids_note(&r->ids, rec->id);
    } else if (idc < r->ids.n) {
        rec->id = r->ids.id[idc];
    } else {
        return false;
    }
    if (!((head & H_LONG) ? rd_varint(r, &dt) : rd_byte(r, &dt)) ||
        dt >> (64 - H_DT_BITS))
        return false;
    dt = dt << H_DT_BITS | (head & H_DT_MASK);
    if (((x & X_SKIP) && !rd_varint(r, &skip)) ||
        ((x & X_LOST) && !rd_varint(r, &lost)))
        return false;
    if ((*n = catalog_nargs(rec->id)) < 0)
        return false;
    rec->seq = r->prev_seq + 1 + skip;
    rec->tsc = (x & X_NEG) ? r->prev_tsc - dt : r->prev_tsc + dt;
    rec->lost = lost;
    return true;
}

static bool rd_arg(struct wire_reader *r, unsigned m, uint64_t *v)
{
    uint64_t x;

    if (m == 2) {
        *v = hist_reg(&r->hist);
        return true;
    }
    if (m == 3) {
        if (!rd_byte(r, &x) || !hist_get(&r->hist, x, v))
            return false;
    } else {
        if (!rd_varint(r, &x))
            return false;
        *v = m == 1 ? hist_reg(&r->hist) + (uint64_t)zz_dec(x) : x;
    }
    if (m)
        hist_push(&r->hist, *v);
    return true;
}

static bool rd_body(struct wire_reader *r, struct wire_record *rec, int n)
{
    uint64_t len, modes = 0, byte;
    int i;

    rec->text = 0;
    rec->text_len = 0;
    rec->nargs = 0;
    if (rec->id == TEV_CONSOLE_TEXT) {
        if (!rd_varint(r, &len) || len > WIRE_MAX_TEXT ||
            len > (uint64_t)(r->end - r->p))
            return false;
        rec->text = r->p;
        rec->text_len = (uint32_t)len;
        r->p += len;
        return true;
    }
    for (i = 0; i < (n + 3) / 4; i++) {
        if (!rd_byte(r, &byte))
            return false;
        modes |= byte << (8 * i);
    }
    rec->nargs = (uint8_t)n;
    for (i = 0; i < n; i++)
        if (!rd_arg(r, (unsigned)(modes >> (2 * i)) & 3, &rec->args[i]))
            return false;
    return true;
}

int wire_reader_next(struct wire_reader *r, struct wire_record *rec)
{
    int n;

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
    if (!rd_head(r, rec, &n) || !rd_body(r, rec, n))
        return rd_fail(r);
    r->prev_seq = rec->seq;
    r->prev_tsc = rec->tsc;
    return 1;
}
