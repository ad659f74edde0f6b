/* Private to wire.c (encoder) and wire_read.c (reader): the batch head
 * bits and the per-batch id table and value history, kept in one place
 * so that both sides update them by the same rules (format: wire.h). */
#ifndef HV_TRACE_WIRE_STATE_H
#define HV_TRACE_WIRE_STATE_H
#include "wire.h"

/* Head byte fields and escape flags (wire.h, BATCH payloads). */
#define H_IDC_SHIFT 5
#define H_ESC       7u
#define H_LONG      0x10u
#define H_DT_BITS   4
#define H_DT_MASK   0x0fu
#define DT_SHORT    (1ull << (H_DT_BITS + 8))   /* dt below: head + 1 byte */
#define X_SKIP      1u
#define X_LOST      2u
#define X_NEG       4u
#define X_SHIFT     3

static inline uint64_t zz_enc(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zz_dec(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- per-batch state: id table and value history ---------------------------- */

static inline int ids_find(const struct wire_ids *t, uint16_t id)
{
    for (int i = 0; i < t->n; i++)
        if (t->id[i] == id)
            return i;
    return -1;
}

/* An escape record's id joins the table while there is room. */
static inline void ids_note(struct wire_ids *t, uint16_t id)
{
    if (t->n < WIRE_IDS && ids_find(t, id) < 0)
        t->id[t->n++] = id;
}

static inline uint64_t hist_reg(const struct wire_hist *h)
{
    return h->n ? h->v[(h->n - 1) % WIRE_HIST] : 0;
}

static inline void hist_push(struct wire_hist *h, uint64_t v)
{
    h->v[h->n % WIRE_HIST] = v;
    h->n++;
}

/* hist[k], k = 0 the newest; false if k is not a held value. */
static inline bool hist_get(const struct wire_hist *h, uint64_t k, uint64_t *v)
{
    if (k >= h->n || k >= WIRE_HIST)
        return false;
    *v = h->v[(h->n - 1 - (uint32_t)k) % WIRE_HIST];
    return true;
}

/* The smallest k >= 1 with hist[k] == v (k 0 is reg: mode 2), or -1. */
static inline int hist_find(const struct wire_hist *h, uint64_t v)
{
    uint64_t x;
    for (int k = 1; hist_get(h, (uint64_t)k, &x); k++)
        if (x == v)
            return k;
    return -1;
}

static inline void state_reset(struct wire_ids *ids, struct wire_hist *h)
{
    ids->n = 0;
    h->n = 0;
}

#endif
