/* Deterministic tests of the trace ring (hv/trace/ring.c): edge cases, and
 * "NMIs" injected at chosen instructions of the writer through the HOSTED
 * test hook (the randomised every-point run: test_ring_nmi_points.c).
 * Exit 0 on success; on failure prints what broke and exits 1. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/ring.h"
#include "ring_cases.h"

static _Alignas(64) uint8_t mem[1 << 16];
static uint8_t out[1 << 16];

static void test_init(void)
{
    struct trace_ring r;
    CHECK(!ring_init(&r, mem, 100, RING_DROP_NEWEST), "non power of two");
    CHECK(!ring_init(&r, mem, 32, RING_DROP_NEWEST), "too small");
    CHECK(!ring_init(&r, mem + 4, 256, RING_DROP_NEWEST), "misaligned");
    CHECK(!ring_write(&r, "x", 1), "write to a failed ring must fail");
    uint64_t seq;
    CHECK(ring_read(&r, out, sizeof(out), &seq) == 0, "read failed ring");
    CHECK(ring_init(&r, mem, 256, RING_DROP_NEWEST), "good init");
    CHECK(ring_max_len(&r) == 256 / 2 - 16, "max_len %u", ring_max_len(&r));
    CHECK(ring_empty(&r), "new ring empty");
}

static void test_lengths(void)
{
    struct trace_ring r;
    ring_init(&r, mem, 1024, RING_DROP_NEWEST);
    uint32_t max = ring_max_len(&r);
    CHECK(!ring_write(&r, out, 0), "len 0 accepted");
    CHECK(!ring_write(&r, out, max + 1), "oversize accepted");
    CHECK(!ring_reserve(&r, 0, NULL), "reserve 0 accepted");
    struct ring_stats s;
    ring_stats(&r, &s);
    CHECK(s.invalid == 3 && s.attempts == 0 && s.dropped == 0,
          "invalid %lu attempts %lu", (unsigned long)s.invalid,
          (unsigned long)s.attempts);
    /* Max-size and 1-byte records round-trip exactly. */
    uint8_t rec[1024];
    fill(rec, max, 77);
    CHECK(ring_write(&r, rec, max), "max-size write");
    fill(rec, 1, 78);
    CHECK(ring_write(&r, rec, 1), "1-byte write");
    uint64_t seq = 99;
    memset(out, 0, 2048);
    int n = ring_read(&r, out, max, &seq);
    CHECK(n == (int)max && seq == 0 && verify(out, max, 77), "max read n=%d", n);
    CHECK(out[max] == 0, "wrote past len");
    CHECK(ring_read(&r, out, 0, &seq) == RING_E2BIG, "cap too small");
    n = ring_read(&r, out, 1, &seq);
    CHECK(n == 1 && seq == 1 && verify(out, 1, 78), "1-byte read n=%d", n);
    CHECK(ring_read(&r, out, sizeof(out), &seq) == 0, "empty");
    CHECK(ring_empty(&r), "empty after drain");
    /* Big ring: max_len capped by the 16-bit header field. */
    static _Alignas(64) uint8_t big[1 << 18];
    ring_init(&r, big, sizeof(big), RING_DROP_NEWEST);
    CHECK(ring_max_len(&r) == RING_LEN_LIMIT, "cap %u", ring_max_len(&r));
}

static void test_exactly_full(enum ring_policy pol)
{
    struct trace_ring r;
    ring_init(&r, mem, 256, pol);
    uint8_t rec[64];
    /* 48-byte payload -> 64-byte footprint: 4 fill 256 bytes exactly. */
    for (int i = 0; i < 4; i++) {
        fill(rec, 48, (uint64_t)i);
        CHECK(ring_write(&r, rec, 48), "write %d of exactly-full", i);
    }
    struct ring_stats s;
    ring_stats(&r, &s);
    CHECK(s.pending_bytes == 256, "pending %lu", (unsigned long)s.pending_bytes);
    fill(rec, 48, 4);
    bool ok = ring_write(&r, rec, 48);
    ring_stats(&r, &s);
    if (pol == RING_DROP_NEWEST) {
        CHECK(!ok && s.dropped == 1 && s.attempts == 5, "5th not dropped");
        for (uint64_t i = 0; i < 4; i++) {
            uint64_t seq;
            int n = ring_read(&r, out, sizeof(out), &seq);
            CHECK(n == 48 && seq == i && verify(out, 48, i), "read %lu", (unsigned long)i);
        }
        fill(rec, 48, 5);
        CHECK(ring_write(&r, rec, 48), "write after drain");
        uint64_t seq;
        int n = ring_read(&r, out, sizeof(out), &seq);
        CHECK(n == 48 && seq == 5 && verify(out, 48, 5), "gap at seq 4 expected, got %lu",
              (unsigned long)seq);
    } else {
        CHECK(ok && s.overwritten == 1 && s.dropped == 0, "oldest not overwritten");
        for (uint64_t i = 1; i < 5; i++) {
            uint64_t seq;
            int n = ring_read(&r, out, sizeof(out), &seq);
            CHECK(n == 48 && seq == i && verify(out, 48, i), "read %lu got seq %lu",
                  (unsigned long)i, (unsigned long)seq);
        }
    }
    CHECK(ring_empty(&r), "empty at end");
}

/* Many laps with pads: every record comes back whole, seqs contiguous. */
static void test_wrap(enum ring_policy pol)
{
    struct trace_ring r;
    ring_init(&r, mem, 512, pol);
    uint8_t rec[256];
    uint64_t want = 0, id = 0;
    uint32_t max = ring_max_len(&r);
    for (int round = 0; round < 20000; round++) {
        int k = 1 + (int)(rnd() % 3);
        for (int j = 0; j < k; j++) {
            uint32_t len = 1 + (uint32_t)(rnd() % max);
            fill(rec, len, id);
            struct ring_stats s;
            ring_stats(&r, &s);
            if (s.pending_bytes + 16 + ((len + 7) & ~7u) + 240 > 512)
                break;   /* keep it lossless: stop before any loss */
            CHECK(ring_write(&r, rec, len), "write");
            id++;
        }
        while (want < id && (rnd() & 3)) {
            uint64_t seq;
            int n = ring_read(&r, out, sizeof(out), &seq);
            CHECK(n > 0 && seq == want && verify(out, (uint32_t)n, want),
                  "wrap read n=%d seq=%lu want=%lu", n, (unsigned long)seq,
                  (unsigned long)want);
            want++;
        }
    }
    struct ring_stats s;
    ring_stats(&r, &s);
    CHECK(s.dropped == 0 && s.overwritten == 0, "loss in lossless wrap test");
    CHECK(s.bytes > 100 * 512, "did not wrap enough: %lu", (unsigned long)s.bytes);
}

/* Overwrite: the newest records survive, the loss count is exact. */
static void test_overwrite_counts(void)
{
    struct trace_ring r;
    ring_init(&r, mem, 256, RING_OVERWRITE);
    uint8_t rec[64];
    for (uint64_t i = 0; i < 10; i++) {
        fill(rec, 48, i);
        CHECK(ring_write(&r, rec, 48), "overwrite never refuses here");
    }
    struct ring_stats s;
    ring_stats(&r, &s);
    CHECK(s.overwritten == 6 && s.dropped == 0, "overwritten %lu",
          (unsigned long)s.overwritten);
    for (uint64_t i = 6; i < 10; i++) {
        uint64_t seq;
        int n = ring_read(&r, out, sizeof(out), &seq);
        CHECK(n == 48 && seq == i && verify(out, 48, i), "ow read");
    }
}

/* An uncommitted record blocks the consumer, and is never overwritten. */
static void test_uncommitted_blocks(enum ring_policy pol)
{
    struct trace_ring r;
    ring_init(&r, mem, 256, pol);
    uint64_t sa, seq;
    uint8_t *a = ring_reserve(&r, 40, &sa);
    CHECK(a && sa == 0, "reserve A");
    uint8_t rec[64];
    fill(rec, 24, 1);
    CHECK(ring_write(&r, rec, 24), "nested B");
    CHECK(ring_read(&r, out, sizeof(out), &seq) == 0, "A must block");
    /* Fill the ring with more "nested" writes: none may clobber A. */
    int ok = 0, dropped = 0;
    for (uint64_t i = 2; i < 12; i++) {
        fill(rec, 24, i);
        if (ring_write(&r, rec, 24))
            ok++;
        else
            dropped++;
    }
    CHECK(dropped > 0, "ring never filled");
    fill(a, 40, 0);
    ring_commit(&r, a);
    int n = ring_read(&r, out, sizeof(out), &seq);
    CHECK(n == 40 && seq == 0 && verify(out, 40, 0), "A whole after commit");
    n = ring_read(&r, out, sizeof(out), &seq);
    CHECK(n == 24 && seq == 1 && verify(out, 24, 1), "B next");
    struct ring_stats s;
    ring_stats(&r, &s);
    CHECK(s.dropped == (uint64_t)dropped && s.overwritten == 0,
          "dropped %lu overwritten %lu", (unsigned long)s.dropped,
          (unsigned long)s.overwritten);
    uint64_t last = 1;
    while ((n = ring_read(&r, out, sizeof(out), &seq)) > 0) {
        CHECK(seq > last && verify(out, 24, seq), "tail records");
        last = seq;
    }
}

/* A writer that never commits: the consumer gives up after N calls. */
static void test_stale_skip(void)
{
    struct trace_ring r;
    ring_init(&r, mem, 1024, RING_DROP_NEWEST);
    uint64_t sa, seq;
    void *a = ring_reserve(&r, 30, &sa);
    CHECK(a != NULL, "reserve");
    uint8_t rec[32];
    fill(rec, 32, 1);
    ring_write(&r, rec, 32);
    CHECK(ring_read(&r, out, sizeof(out), &seq) == 0, "plain read blocks");
    CHECK(ring_read_ex(&r, out, sizeof(out), &seq, 3) == 0, "1st");
    CHECK(ring_read_ex(&r, out, sizeof(out), &seq, 3) == 0, "2nd");
    int n = ring_read_ex(&r, out, sizeof(out), &seq, 3);
    CHECK(n == 32 && seq == 1 && verify(out, 32, 1), "3rd skips: n=%d", n);
    struct ring_stats s;
    ring_stats(&r, &s);
    CHECK(s.stale_skipped == 1, "stale %lu", (unsigned long)s.stale_skipped);
    CHECK(ring_empty(&r), "empty after skip");
}

/* ---- writers that die inside the header window (longjmp out) --------- */

static jmp_buf die_jmp;
static enum ring_hook_point die_at;
static void die_hook(struct trace_ring *r, enum ring_hook_point pt)
{
    (void)r;
    if (pt == die_at) {
        ring_test_hook = NULL;
        longjmp(die_jmp, 1);
    }
}

static void test_die_in_window(enum ring_hook_point pt)
{
    struct trace_ring r;
    ring_init(&r, mem, 4096, RING_OVERWRITE);
    uint8_t rec[64];
    fill(rec, 24, 0);
    ring_write(&r, rec, 24);                   /* seq 0, readable */
    die_at = pt;
    ring_test_hook = die_hook;
    if (setjmp(die_jmp) == 0) {
        ring_reserve(&r, 40, 0);              /* seq 1 dies in the window, uncommitted */
        CHECK(0, "hook did not fire");
    }
    /* The CPU keeps running handlers that write (they look nested). */
    for (uint64_t i = 2; i < 6; i++) {
        fill(rec, 24, i);
        CHECK(ring_write(&r, rec, 24), "write after death");
    }
    uint64_t seq;
    int n = ring_read(&r, out, sizeof(out), &seq);
    CHECK(n == 24 && seq == 0, "record before the dead one");
    CHECK(ring_read(&r, out, sizeof(out), &seq) == 0, "wedged without stale");
    /* Died before its CAS: no seq consumed, later records shift down. */
    uint64_t shift = pt == RING_HOOK_BEFORE_CAS ? 1 : 0;
    uint64_t got[8];
    int k = 0;
    for (int tries = 0; tries < 100 && k < 8; tries++) {
        n = ring_read_ex(&r, out, sizeof(out), &seq, 5);
        if (n > 0) {
            CHECK(n == 24 && verify(out, 24, seq + shift), "after skip seq %lu", (unsigned long)seq);
            got[k++] = seq;
        }
    }
    struct ring_stats s;
    ring_stats(&r, &s);
    if (pt != RING_HOOK_BEFORE_CAS)
        CHECK(s.stale_skipped >= 1, "no stale skip");
    else
        CHECK(k == 4 && got[0] == 1 && got[3] == 4 && s.stale_skipped == 0,
              "died before CAS: nothing lost, k=%d", k);
    if (pt == RING_HOOK_HDR_WRITTEN) {
        /* Header known: exactly the dead record is lost. */
        CHECK(k == 4 && got[0] == 2 && got[3] == 5 && s.stale_skipped == 1,
              "k=%d", k);
    }
    /* Later writes still come through (if only via the stale path). */
    fill(rec, 24, 6);
    ring_write(&r, rec, 24);
    int seen6 = 0;
    for (int tries = 0; tries < 100; tries++)
        if (ring_read_ex(&r, out, sizeof(out), &seq, 5) > 0 && seq == 6 - shift &&
            verify(out, 24, 6))
            seen6 = 1;
    CHECK(seen6, "ring wedged after a dead writer (point %d)", pt);
}

/* Room, checked against a model, record by record: ring_write's fast path
 * takes a record only below fast_end (ring.h note 3), a bound on room kept
 * from an older tail, and falls back to the general path otherwise. Random
 * lengths (mostly whole words: the fast path; some not: the general path)
 * and random reads, so that the tail sits anywhere and the pads fall
 * everywhere. RING_DROP_NEWEST: a record is taken iff it fits before the
 * tail the ring has when it is written (after a pad if it would cross the
 * end), exactly; a bound off by one word lets a record over the oldest
 * unread one. RING_OVERWRITE: every record read is whole, in seq order,
 * and read + overwritten == written. */
static void test_room_model(enum ring_policy pol)
{
    static _Alignas(64) uint8_t ring_mem[8192];     /* blocks of 128 bytes */
    struct trace_ring r;
    ring_init(&r, ring_mem, sizeof(ring_mem), pol);
    const uint64_t size = sizeof(ring_mem);
    uint8_t rec[128];
    uint64_t head = 0, written = 0, read = 0, next = 0;
    for (uint64_t id = 0; id < 200000; id++) {
        uint32_t len = rnd() % 5 ? 8 * (1 + (uint32_t)(rnd() % 12)) : 1 + (uint32_t)(rnd() % 96);
        uint64_t foot = 16 + ((len + 7) & ~7u), at = head;
        if ((at & (size - 1)) + foot > size)
            at += size - (at & (size - 1));     /* a pad first */
        bool fits = at + foot - r.tail <= size;
        fill(rec, len, id);
        bool ok = ring_write(&r, rec, len);
        if (pol == RING_DROP_NEWEST && ok != fits) {
            CHECK(0, "seq %lu: written %d, fits %d (head %lu, tail %lu, len %u)",
                  (unsigned long)id, ok, fits, (unsigned long)head, (unsigned long)r.tail, len);
            return;     /* the ring is corrupt now: reading it may not end */
        }
        if (ok) {
            written++;
            struct ring_stats st;
            ring_stats(&r, &st);
            head = st.bytes;
        }
        while (rnd() % 3 == 0) {
            uint64_t seq;
            int n = ring_read(&r, out, sizeof(out), &seq);
            if (n <= 0)
                break;
            CHECK(seq >= next && verify(out, (uint32_t)n, seq), "seq %lu read, next %lu",
                  (unsigned long)seq, (unsigned long)next);
            next = seq + 1;
            read++;
        }
    }
    struct ring_stats st;
    ring_stats(&r, &st);
    uint64_t pending = 0, seq;
    while (ring_read(&r, out, sizeof(out), &seq) > 0)
        pending++;
    CHECK(read + pending + st.overwritten == written, "read %lu + %lu, overwritten %lu, "
          "written %lu", (unsigned long)read, (unsigned long)pending,
          (unsigned long)st.overwritten, (unsigned long)written);
    CHECK(pol == RING_OVERWRITE || st.dropped > 1000, "the ring was rarely full: %lu drops",
          (unsigned long)st.dropped);
}

/* ---- the interleaving publish() is written for ------------------------- */

/* publish() (ring.c) reads resv, then tail, stores vis from them and
 * re-reads resv. Its comment: a writer interrupting us between our read of
 * resv and our store publishes its own record; our store then moves vis
 * back to our older head, and the re-check must loop and republish, or that
 * record stays invisible. The hook RING_HOOK_PUBLISH_LOADED sits between the
 * two loads; an "NMI" there writes a whole record (reserve, commit and its
 * own publish), re-entrantly. In overwrite mode it also reclaims the oldest
 * record, so the tail moves between the two loads as well.
 * Checked: the stale store really happened (vis below the nested record's
 * end right after it: the interleaving was reached), the outer publish
 * republished, every record is delivered whole in seq order, and the loss
 * is exactly the one overwritten record. Removing the re-check fails this. */
static struct trace_ring pr;
static int pi_phase, pi_nested, pi_republished;
static uint64_t pi_head_before, pi_head_after;

static uint64_t head_now(const struct trace_ring *r)
{
    struct ring_stats s;
    ring_stats(r, &s);
    return s.bytes;
}

static void pi_hook(struct trace_ring *r, enum ring_hook_point pt)
{
    if (r != &pr || pi_nested)
        return;                        /* the nested writer's own publish */
    if (pt == RING_HOOK_PUBLISH_LOADED && pi_phase == 0) {
        pi_head_before = head_now(r);  /* the head the outer just read */
        uint8_t rec[48];
        fill(rec, 48, 1000);
        pi_nested = 1;
        CHECK(ring_write(r, rec, 48), "nested write refused");
        pi_nested = 0;
        pi_head_after = head_now(r);
        CHECK(__atomic_load_n(&r->vis, __ATOMIC_RELAXED) == pi_head_after,
              "nested writer did not publish its record");
        pi_phase = 1;
    } else if (pt == RING_HOOK_PUBLISH && pi_phase == 1) {
        /* The outer's store from its stale read: vis went back. */
        CHECK(__atomic_load_n(&r->vis, __ATOMIC_RELAXED) == pi_head_before &&
              pi_head_before < pi_head_after,
              "interleaving not reached: vis %lu, heads %lu -> %lu",
              (unsigned long)r->vis, (unsigned long)pi_head_before,
              (unsigned long)pi_head_after);
        pi_phase = 2;
    } else if (pt == RING_HOOK_PUBLISH && pi_phase == 2) {
        pi_republished++;              /* the re-check looped */
    }
}

static void test_publish_interleaving(enum ring_policy pol)
{
    ring_init(&pr, mem, 256, pol);
    uint8_t rec[48];
    /* 48-byte payloads, 64-byte footprints: 4 fill the ring. Overwrite:
     * fill 3 so the nested record has to reclaim seq 0; drop-newest: fill
     * 2 so both the outer and the nested record fit. */
    uint64_t pre = pol == RING_OVERWRITE ? 3 : 2;
    for (uint64_t i = 0; i < pre; i++) {
        fill(rec, 48, i);
        CHECK(ring_write(&pr, rec, 48), "prefill %lu", (unsigned long)i);
    }
    pi_phase = pi_nested = pi_republished = 0;
    ring_test_hook = pi_hook;
    uint64_t sa = 0;
    uint8_t *a = ring_reserve(&pr, 48, &sa);
    ring_test_hook = NULL;
    CHECK(a != NULL && sa == pre, "outer reserve: seq %lu", (unsigned long)sa);
    CHECK(pi_phase == 2, "hook phases reached: %d", pi_phase);
    CHECK(pi_republished == 1, "outer publish did not republish (%d)",
          pi_republished);
    CHECK(pr.vis == pi_head_after, "vis %lu != head %lu after publish",
          (unsigned long)pr.vis, (unsigned long)pi_head_after);
    if (!a)
        return;
    fill(a, 48, sa);
    ring_commit(&pr, a);

    /* Delivered: the survivors of the prefill, the outer record, then the
     * nested one (reserved after it: next seq, next place). */
    uint64_t first = pol == RING_OVERWRITE ? 1 : 0, seq;
    for (uint64_t q = first; q <= pre + 1; q++) {
        int n = ring_read(&pr, out, sizeof(out), &seq);
        uint64_t id = q == pre + 1 ? 1000 : q;
        CHECK(n == 48 && seq == q && verify(out, 48, id),
              "pol %d: want seq %lu, got n=%d seq=%lu", pol, (unsigned long)q, n,
              (unsigned long)seq);
    }
    CHECK(ring_read(&pr, out, sizeof(out), &seq) == 0, "extra record");
    CHECK(ring_empty(&pr), "pol %d: records left unread (not published)", pol);
    struct ring_stats s;
    ring_stats(&pr, &s);
    CHECK(s.attempts == pre + 2 && s.dropped == 0 &&
              s.overwritten == first && s.stale_skipped == 0,
          "pol %d: attempts %lu dropped %lu overwritten %lu", pol,
          (unsigned long)s.attempts, (unsigned long)s.dropped,
          (unsigned long)s.overwritten);
}

/* The same window when the outer writer holds no record (its write was
 * dropped): while the "NMI" runs, a consumer on another CPU drains the ring
 * and the nested record too, so the tail passes the head the outer read.
 * The frontier must never go above the true head: the consumer would take
 * the stale bytes there for a header. Here those bytes are made to look
 * like a committed record (they are free space, whatever an older lap
 * left); a stale frontier would deliver it. */
static int pd_phase, pd_nested, pd_checked;
static uint64_t pd_head_before;

static void pd_hook(struct trace_ring *r, enum ring_hook_point pt)
{
    if (r != &pr || pd_nested)
        return;
    uint64_t seq;
    if (pt == RING_HOOK_PUBLISH_LOADED && pd_phase == 0) {
        pd_head_before = head_now(r);
        for (uint64_t q = 0; q < 4; q++) {          /* the other CPU reads */
            int n = ring_read(r, out, sizeof(out), &seq);
            CHECK(n == 48 && seq == q && verify(out, 48, q), "drain %lu",
                  (unsigned long)q);
        }
        uint8_t rec[48];
        fill(rec, 48, 1000);
        pd_nested = 1;
        CHECK(ring_write(r, rec, 48), "nested write refused");
        pd_nested = 0;
        int n = ring_read(r, out, sizeof(out), &seq);
        CHECK(n == 48 && seq == 5 && verify(out, 48, 1000), "nested read");
        uint64_t t = head_now(r);
        CHECK(r->tail == t && t > pd_head_before, "tail %lu head %lu before %lu",
              (unsigned long)r->tail, (unsigned long)t,
              (unsigned long)pd_head_before);
        uint64_t *fake = (uint64_t *)(void *)(r->buf + (t & r->mask));
        fake[0] = ((uint64_t)(uint32_t)(t >> 3) << 32) | (1u << 16) | 8;
        fake[1] = 999;                 /* a plausible committed header */
        pd_phase = 1;
    } else if (pt == RING_HOOK_PUBLISH && pd_phase == 1) {
        uint64_t v = __atomic_load_n(&r->vis, __ATOMIC_RELAXED);
        CHECK((int64_t)(head_now(r) - v) >= 0,
              "vis %lu above head %lu (tail passed the stale head %lu)",
              (unsigned long)v, (unsigned long)head_now(r),
              (unsigned long)pd_head_before);
        int n = ring_read(r, out, sizeof(out), &seq);
        CHECK(n == 0, "read stale bytes as a record: n=%d seq=%lu", n,
              (unsigned long)seq);
        pd_checked++;
        pd_phase = 2;
    }
}

static void test_publish_tail_passes(void)
{
    ring_init(&pr, mem, 256, RING_DROP_NEWEST);
    uint8_t rec[48];
    for (uint64_t i = 0; i < 4; i++) {
        fill(rec, 48, i);
        CHECK(ring_write(&pr, rec, 48), "prefill %lu", (unsigned long)i);
    }
    pd_phase = pd_nested = pd_checked = 0;
    ring_test_hook = pd_hook;
    uint64_t sa = 0;
    CHECK(ring_reserve(&pr, 48, &sa) == NULL && sa == 4, "outer not dropped");
    ring_test_hook = NULL;
    CHECK(pd_phase == 2 && pd_checked == 1, "phases %d", pd_phase);
    fill(rec, 48, 6);
    CHECK(ring_write(&pr, rec, 48), "write after");
    uint64_t seq;
    int n = ring_read(&pr, out, sizeof(out), &seq);
    CHECK(n == 48 && seq == 6 && verify(out, 48, 6), "after: n=%d seq=%lu", n,
          (unsigned long)seq);
    CHECK(ring_empty(&pr), "not empty");
    struct ring_stats s;
    ring_stats(&pr, &s);
    /* Delivered 0-3, 5, 6: the one gap (4) is the one drop. */
    CHECK(s.attempts == 7 && s.dropped == 1 && s.overwritten == 0 &&
              s.stale_skipped == 0,
          "attempts %lu dropped %lu", (unsigned long)s.attempts,
          (unsigned long)s.dropped);
}

int main(void)
{
    test_init();
    test_lengths();
    test_exactly_full(RING_DROP_NEWEST);
    test_exactly_full(RING_OVERWRITE);
    test_wrap(RING_DROP_NEWEST);
    test_wrap(RING_OVERWRITE);
    test_room_model(RING_DROP_NEWEST);
    test_room_model(RING_OVERWRITE);
    test_overwrite_counts();
    test_uncommitted_blocks(RING_DROP_NEWEST);
    test_uncommitted_blocks(RING_OVERWRITE);
    test_stale_skip();
    test_die_in_window(RING_HOOK_AFTER_CAS);
    test_die_in_window(RING_HOOK_HDR_WRITTEN);
    test_die_in_window(RING_HOOK_BEFORE_CAS);
    test_publish_interleaving(RING_DROP_NEWEST);
    test_publish_interleaving(RING_OVERWRITE);
    test_publish_tail_passes();
    if (failures) {
        fprintf(stderr, "test_ring_cases: %d FAILURES\n", failures);
        return 1;
    }
    printf("test_ring_cases: all passed\n");
    return 0;
}
