/* The trace ring's consumer: ring_read, the stale-writer skip (ring.h
 * note 7), ring_empty and ring_stats. Any CPU, one consumer at a time; the
 * design and its numbered notes are in ring.h. Freestanding, as ring.c. */
#include "trace/ring_layout.h"

/* Copy from an 8-aligned ring area with word-sized relaxed atomic loads
 * (the writer may be overwriting it; the tail CAS decides afterwards). */
static void copy_out(unsigned char *out, const unsigned char *src, uint32_t len)
{
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x = LOAD((const uint64_t *)(const void *)(src + i), RLX);
        __builtin_memcpy(out + i, &x, 8);
    }
    if (i < len) {
        uint64_t x = LOAD((const uint64_t *)(const void *)(src + i), RLX);
        unsigned char b[8];
        __builtin_memcpy(b, &x, 8);
        for (uint32_t k = 0; i + k < len; k++)
            out[i + k] = b[k];
    }
}

/* Count one more blocked call at position t; true once it reached limit. */
static bool stuck_at(struct trace_ring *r, uint64_t t, uint32_t limit)
{
    if (LOAD(&r->stuck_pos, RLX) != t) {
        STORE(&r->stuck_pos, t, RLX);
        STORE(&r->stuck_count, 0, RLX);
    }
    uint32_t c = LOAD(&r->stuck_count, RLX) + 1;
    STORE(&r->stuck_count, c, RLX);
    return c >= limit;
}

/* Note 7, rare case: vis is stuck at t == tail with head h beyond it: a
 * writer stopped inside its header window, so nest stays raised and the
 * writers after it (they look nested) never publish. If the header at t is
 * written, walk the stamped headers from t (the writers after the dead one
 * finished, so theirs are written) and make them visible; an uncommitted
 * one at t is the dead writer's and is skipped. If the header at t is not
 * written, record boundaries are unknown: jump to h and count 1 (the seq
 * of the next record read shows the true size of the gap). */
static bool hdr_ok(const struct trace_ring *r, uint64_t p, uint64_t w)
{
    return w_stamp(w) == stamp_of(p) &&
           ((w & F_PAD) || (w_len(w) >= 1 && w_len(w) <= r->max_len));
}


static void skip_window(struct trace_ring *r, uint64_t t, uint64_t h)
{
    uint64_t *hp = slot(r, t);
    uint64_t w = LOAD(hp, ACQ);
    if (hdr_ok(r, t, w) && rec_end(r, t, w) <= h) {
        uint64_t p = rec_end(r, t, w);
        while (p < h) {
            uint64_t pw = LOAD(slot(r, p), ACQ);
            if (!hdr_ok(r, p, pw) || rec_end(r, p, pw) > h)
                break;
            p = rec_end(r, p, pw);
        }
        uint64_t exp = t;
        CAS(&r->vis, exp, p);
        if (!(w & (F_COMMIT | F_PAD))) {
            __atomic_fetch_or(hp, (uint64_t)F_SKIP, RLX);
            exp = t;
            if (CAS(&r->tail, exp, rec_end(r, t, w)))
                ADD(&r->stale_skipped, 1);
        }
    } else {
        uint64_t exp = t;
        if (CAS(&r->tail, exp, h))
            ADD(&r->stale_skipped, 1);
        exp = t;
        CAS(&r->vis, exp, h);
    }
}

int ring_read_ex(struct trace_ring *r, void *out, uint32_t cap, uint64_t *seqp,
                 uint32_t stale_after)
{
    for (;;) {
        uint64_t t = LOAD(&r->tail, ACQ);
        uint64_t v = LOAD(&r->vis, ACQ);
        if ((int64_t)(v - t) <= 0) {
            if (stale_after && v == t) {
                uint64_t h = resv_head(LOAD(&r->resv, ACQ), t);
                if (h != t && (int64_t)(h - t) > 0 &&
                    stuck_at(r, t, stale_after)) {
                    skip_window(r, t, h);
                    continue;
                }
            }
            return 0;
        }
        uint64_t *hp = slot(r, t);
        uint64_t w = LOAD(hp, ACQ);
        if (w_stamp(w) != stamp_of(t)) {
            /* Only possible if the writer reclaimed t after we read tail. */
            if (LOAD(&r->tail, ACQ) == t)
                return 0;   /* would be a broken invariant; do not spin */
            continue;
        }
        if (w & F_PAD) {
            uint64_t exp = t;
            CAS(&r->tail, exp, t + size_of(r) - (t & r->mask));
            continue;
        }
        uint32_t len = w_len(w);
        if (len == 0 || len > r->max_len) {     /* overwritten under us */
            if (LOAD(&r->tail, ACQ) == t)
                return 0;
            continue;
        }
        if (!(w & F_COMMIT)) {
            /* Note 4: an unfinished record blocks; note 7: unless stale. */
            if (stale_after && stuck_at(r, t, stale_after)) {
                __atomic_fetch_or(hp, (uint64_t)F_SKIP, RLX);
                uint64_t exp = t;
                if (CAS(&r->tail, exp, t + footprint(len)))
                    ADD(&r->stale_skipped, 1);
                continue;
            }
            return 0;
        }
        if (len > cap) {
            if (LOAD(&r->tail, ACQ) != t)
                continue;
            return RING_E2BIG;
        }
        copy_out(out, (const unsigned char *)(hp + 2), len);
        uint64_t seq = LOAD(&hp[1], RLX);
        HOOK(r, RING_HOOK_READ_COPIED);
        /* Note 5: the validation. Success means the writer had not
         * reclaimed (so not rewritten) this record while we copied. */
        uint64_t exp = t;
        if (CAS(&r->tail, exp, t + footprint(len))) {
            if (seqp)
                *seqp = seq;
            return (int)len;
        }
    }
}

int ring_read(struct trace_ring *r, void *out, uint32_t cap, uint64_t *seq)
{
    return ring_read_ex(r, out, cap, seq, 0);
}

bool ring_empty(const struct trace_ring *r)
{
    uint64_t t = LOAD(&r->tail, ACQ);
    return resv_head(LOAD(&r->resv, ACQ), t) == t;
}

void ring_stats(const struct trace_ring *r, struct ring_stats *s)
{
    uint64_t t = LOAD(&r->tail, ACQ);
    uint64_t rv = LOAD(&r->resv, ACQ);
    uint64_t h = resv_head(rv, t);
    s->attempts = resv_seq(rv, LOAD(&r->seq_hint, RLX));
    s->dropped = LOAD(&r->dropped, RLX);
    s->written = s->attempts - s->dropped;
    s->overwritten = LOAD(&r->overwritten, RLX);
    s->stale_skipped = LOAD(&r->stale_skipped, RLX);
    s->invalid = LOAD(&r->invalid, RLX);
    s->bytes = h;
    s->pending_bytes = h - t;
}
