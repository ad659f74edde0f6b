/* The trace ring (hv/trace/ring.c) with "NMIs" at every hook point of the
 * writer: nested writers (ring_reserve + ring_commit, and ring_write's own
 * fast path) and a consumer on "another CPU" interleaved there, with the
 * seqs delivered, dropped and overwritten checked to add up exactly.
 * Exit 0 on success; on failure prints what broke and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/ring.h"
#include "ring_cases.h"

static uint8_t out[1 << 16];

/* ---- NMIs at every instruction point of the writer ---------------------- */

static struct trace_ring hr;
/* Records come from ring_reserve + ring_commit (known seq) and from
 * ring_write (its own fast path, ring.c; the seq is learnt on delivery from
 * the write id at the payload's start). */
static int8_t fate[1 << 20];          /* by seq: 1 written, 2 dropped by reserve;
                                         3 a ring_write record, delivered */
static uint32_t flen[1 << 20];
static int8_t wfate[1 << 20];         /* by write id: 1 written, 2 dropped, 3 delivered */
static uint32_t wlen[1 << 20];
static uint64_t n_writes;
static uint64_t h_last;                /* last seq delivered + 1 */
static uint64_t h_delivered, h_missing;
static enum ring_hook_point h_point;
static int h_depth, h_budget, h_maxdepth;

static void h_consume_one(void)
{
    uint64_t seq;
    int n = ring_read(&hr, out, sizeof(out), &seq);
    if (n <= 0)
        return;
    CHECK(seq >= h_last, "seq went back: %lu < %lu", (unsigned long)seq,
          (unsigned long)h_last);
    if (fate[seq] == 0) {               /* a ring_write record */
        uint64_t id;
        memcpy(&id, out, sizeof(id));
        CHECK(n >= 8 && id < n_writes && wfate[id] == 1,
              "delivered seq %lu: write id %lu not written (or twice)",
              (unsigned long)seq, (unsigned long)id);
        CHECK(id < n_writes && (uint32_t)n == wlen[id] && verify(out + 8, (uint32_t)n - 8, id),
              "torn write record seq %lu len %d", (unsigned long)seq, n);
        if (id < n_writes)
            wfate[id] = 3;
        fate[seq] = 3;
    } else {
        CHECK(fate[seq] == 1, "delivered seq %lu that was not written (fate %d)",
              (unsigned long)seq, fate[seq]);
        CHECK((uint32_t)n == flen[seq] && verify(out, (uint32_t)n, seq),
              "torn record seq %lu len %d want %u", (unsigned long)seq, n, flen[seq]);
    }
    h_missing += seq - h_last;
    h_last = seq + 1;
    h_delivered++;
}

static void h_write(void)
{
    if (rnd() & 1) {                    /* ring_write: copied from our stack */
        uint8_t rec[8192];              /* >= ring_max_len of a 16 KiB ring */
        uint64_t id = n_writes++;
        /* Mostly short whole words, as trace events are: the fast path
         * (ring.c) when the record ends in its block; else any length. */
        uint32_t len = rnd() % 4 ? 8 * (2 + (uint32_t)(rnd() % 6))
                                 : 8 + (uint32_t)(rnd() % (ring_max_len(&hr) - 7));
        if (id >= sizeof(wfate) || len > sizeof(rec)) {
            CHECK(0, "too many writes, or a ring too large for this test");
            exit(1);
        }
        memcpy(rec, &id, sizeof(id));
        fill(rec + 8, len - 8, id);
        wlen[id] = len;
        wfate[id] = 1;                  /* before: a nested reader may see it */
        if (!ring_write(&hr, rec, len))
            wfate[id] = 2;
        return;
    }
    uint32_t len = 1 + (uint32_t)(rnd() % ring_max_len(&hr));
    uint64_t seq;
    uint8_t *p = ring_reserve(&hr, len, &seq);
    if (seq >= sizeof(fate)) {
        CHECK(0, "too many seqs");
        exit(1);
    }
    if (!p) {
        fate[seq] = 2;
        return;
    }
    fate[seq] = 1;
    flen[seq] = len;
    /* Encode slowly; an "NMI" at a hook point of a nested writer lands
     * while this record is half-written. */
    fill(p, len, seq);
    ring_commit(&hr, p);
}

/* White-box invariant (ring.h note 3): every header below vis is written,
 * i.e. walking stamped headers from tail lands exactly on vis. */
static void check_vis(struct trace_ring *r)
{
    uint64_t p = r->tail, v = r->vis, size = (uint64_t)r->mask + 1;
    while ((int64_t)(v - p) > 0) {
        uint64_t w = *(uint64_t *)(void *)(r->buf + (p & r->mask));
        if ((uint32_t)(w >> 32) != (uint32_t)(p >> 3)) {
            CHECK(0, "header at %lu below vis %lu not written (point %d)",
                  (unsigned long)p, (unsigned long)v, h_point);
            return;
        }
        p += (w & (1u << 17)) ? size - (p & r->mask)
                              : 16 + ((((uint32_t)w & 0xffff) + 7) & ~7u);
    }
    CHECK(p == v, "walk overshot vis");
}

static void nmi_hook(struct trace_ring *r, enum ring_hook_point pt)
{
    if (pt != h_point || h_budget <= 0 || h_depth >= h_maxdepth)
        return;
    h_budget--;
    if (pt == RING_HOOK_READ_COPIED) {
        /* The producer CPU writes while the consumer is mid-copy. */
        h_depth = h_maxdepth;
        int k = 1 + (int)(rnd() % 8);
        for (int i = 0; i < k; i++)
            h_write();
        h_depth = 0;
        return;
    }
    if (rnd() & 1)
        h_consume_one();               /* another CPU reads right now */
    h_depth++;
    int k = 1 + (int)(rnd() % 2);
    for (int i = 0; i < k; i++)
        h_write();
    h_depth--;
    check_vis(r);
    if (rnd() & 1)
        h_consume_one();
}

static void test_nmi_points(enum ring_policy pol, uint32_t size)
{
    static _Alignas(64) uint8_t hmem[1 << 14];
    const enum ring_hook_point pts[] = {
        RING_HOOK_LOADED, RING_HOOK_BEFORE_CAS, RING_HOOK_AFTER_CAS,
        RING_HOOK_HDR_WRITTEN, RING_HOOK_PUBLISH, RING_HOOK_RECLAIM,
        RING_HOOK_READ_COPIED, RING_HOOK_PUBLISH_LOADED, RING_HOOK_DROPPED,
    };
    for (unsigned pi = 0; pi < sizeof(pts) / sizeof(pts[0]); pi++) {
        ring_init(&hr, hmem, size, pol);
        memset(fate, 0, sizeof(fate));
        memset(wfate, 0, sizeof(wfate));
        h_last = h_delivered = h_missing = n_writes = 0;
        h_point = pts[pi];
        h_maxdepth = 3;
        h_depth = 0;
        ring_test_hook = nmi_hook;
        for (int it = 0; it < 20000; it++) {
            h_budget = 1 + (int)(rnd() % 4);
            h_write();
            int reads = (int)(rnd() % 4);
            for (int j = 0; j < reads; j++)
                h_consume_one();
        }
        ring_test_hook = NULL;
        for (int j = 0; j < 1000000 && !ring_empty(&hr); j++)
            h_consume_one();
        CHECK(ring_empty(&hr), "not drained (point %d)", h_point);
        struct ring_stats s;
        ring_stats(&hr, &s);
        h_missing += s.attempts - h_last;
        uint64_t dropped = 0, written = 0, unseen = 0, w_undelivered = 0;
        for (uint64_t q = 0; q < s.attempts; q++) {
            unseen += fate[q] == 0;     /* a ring_write record not delivered */
            dropped += fate[q] == 2;
            written += fate[q] == 1 || fate[q] == 3;
        }
        for (uint64_t id = 0; id < n_writes; id++) {
            dropped += wfate[id] == 2;
            written += wfate[id] == 1;  /* written, never delivered */
            w_undelivered += wfate[id] != 3;
        }
        CHECK(unseen == w_undelivered, "point %d: %lu seqs unaccounted for, %lu "
              "ring_write records undelivered", h_point, (unsigned long)unseen,
              (unsigned long)w_undelivered);
        CHECK(dropped == s.dropped, "dropped %lu counted %lu",
              (unsigned long)dropped, (unsigned long)s.dropped);
        CHECK(h_delivered + h_missing == s.attempts, "delivered+missing");
        CHECK(h_missing == s.dropped + s.overwritten + s.stale_skipped,
              "point %d pol %d: missing %lu != dropped %lu + overwritten %lu",
              h_point, pol, (unsigned long)h_missing, (unsigned long)s.dropped,
              (unsigned long)s.overwritten);
        CHECK(h_delivered == written - s.overwritten, "delivered count");
    }
}

int main(void)
{
    test_nmi_points(RING_DROP_NEWEST, 1024);
    test_nmi_points(RING_OVERWRITE, 1024);
    test_nmi_points(RING_DROP_NEWEST, 16384);
    test_nmi_points(RING_OVERWRITE, 16384);
    if (failures) {
        fprintf(stderr, "test_ring_nmi_points: %d FAILURES\n", failures);
        return 1;
    }
    printf("test_ring_nmi_points: all passed\n");
    return 0;
}
