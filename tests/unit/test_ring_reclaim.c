/* A full RING_OVERWRITE ring frees its oldest records in batches (reclaim
 * in hv/trace/ring.c: up to the first record boundary at or past the block
 * start at least a block (1/64 of the ring) and the room needed away, in
 * one tail CAS; counted from the writer's block marks, ring.h note 8, or
 * by walking the headers). Checked here, with exact numbers:
 *   - how many records one overflowing write frees, and that the newest
 *     records survive with contiguous seqs (the gap is exactly the count);
 *   - a batch stops at an uncommitted record (an interrupted writer's):
 *     the records before it are freed, it and the ones after are not, and
 *     once nothing more may be freed the new record is dropped, counted;
 *   - a batch that meets a consumer moving tail under it (hook before the
 *     CAS) frees nothing twice: delivered + overwritten == written;
 *   - the marks are exact, and written in every block.
 * Exit 0 on success. */
#include <stdio.h>
#include <string.h>

#include "trace/ring.h"
#include "unit_check.h"

#define SIZE 65536u             /* step = SIZE / 64 = 1024 bytes           */
#define LEN 24u                 /* footprint 16 + 24 = 40 bytes            */
#define FOOT 40u
#define PER_RING (SIZE / FOOT)  /* 1638 records fit, 16 bytes left over    */

static _Alignas(64) unsigned char mem[SIZE];
static unsigned char out[SIZE];
static struct trace_ring r;

static void rec_of(unsigned char *b, uint64_t id)
{
    for (uint32_t i = 0; i < LEN; i++)
        b[i] = (unsigned char)(id * 7 + i);
}

static bool put(uint64_t id)
{
    unsigned char b[LEN];
    rec_of(b, id);
    return ring_write(&r, b, LEN);
}

/* Read everything; check records are whole and seqs increase from
 * `first`; count the gaps (lost records between two read ones). */
static uint64_t gaps;
static uint64_t drain_from(uint64_t first)
{
    uint64_t seq, want = first, n = 0;
    gaps = 0;
    unsigned char b[LEN];
    int len;
    while ((len = ring_read(&r, out, sizeof(out), &seq)) > 0) {
        rec_of(b, seq);
        CHECK(len == (int)LEN && seq >= want && !memcmp(out, b, LEN));
        CHECK(n > 0 || seq == first);
        gaps += seq - want;
        want = seq + 1;
        n++;
    }
    return n;
}

static void test_batch_size(void)
{
    ring_init(&r, mem, SIZE, RING_OVERWRITE);
    for (uint64_t i = 0; i < PER_RING; i++)
        CHECK(put(i));
    struct ring_stats s;
    ring_stats(&r, &s);
    CHECK(s.overwritten == 0);
    /* One more: 1024 bytes are freed at once, i.e. ceil(1024/40) = 26
     * records, though one (40 bytes) would have done. */
    CHECK(put(PER_RING));
    ring_stats(&r, &s);
    CHECK(s.overwritten == 26 && s.dropped == 0);
    /* The next 25 fit in what the batch freed: no more reclaiming. */
    for (uint64_t i = PER_RING + 1; i < PER_RING + 26; i++)
        CHECK(put(i));
    ring_stats(&r, &s);
    CHECK(s.overwritten == 26);
    CHECK(drain_from(26) == PER_RING && gaps == 0);
    ring_stats(&r, &s);
    CHECK(s.attempts == PER_RING + 26 &&
          s.attempts == PER_RING + s.overwritten + s.dropped);
}

static void test_batch_stops_at_uncommitted(void)
{
    ring_init(&r, mem, SIZE, RING_OVERWRITE);
    CHECK(put(0) && put(1));
    uint64_t held_seq;
    unsigned char *held = ring_reserve(&r, LEN, &held_seq);
    CHECK(held != NULL && held_seq == 2);
    for (uint64_t i = 3; i < PER_RING; i++)   /* the ring is now full */
        CHECK(put(i));
    /* Needs 40 bytes: frees seqs 0 and 1, stops at the held record. */
    CHECK(put(PER_RING));
    struct ring_stats s;
    ring_stats(&r, &s);
    CHECK(s.overwritten == 2 && s.dropped == 0);
    CHECK(put(PER_RING + 1));               /* fits in the 80 freed bytes */
    CHECK(!put(PER_RING + 2));              /* nothing may go: dropped    */
    ring_stats(&r, &s);
    CHECK(s.overwritten == 2 && s.dropped == 1);
    CHECK(ring_read(&r, out, sizeof(out), NULL) == 0);  /* blocked on it */
    rec_of(held, held_seq);
    ring_commit(&r, held);
    /* Now the batch goes through the committed record and beyond: from
     * the tail (80, not a block mark: walked) to the first boundary at or
     * past the block start a block away from it, 2048: 2080, 50 records. */
    CHECK(put(PER_RING + 3));
    ring_stats(&r, &s);
    CHECK(s.overwritten == 2 + 50 && s.dropped == 1);
    /* Survivors: 52..PER_RING+1 (seq PER_RING+2 dropped), PER_RING+3. */
    uint64_t n = drain_from(52);
    CHECK(n == PER_RING - 52 + 3 && gaps == 1);
}

/* The consumer takes the oldest record just before the writer's batch
 * CAS: the CAS fails, the writer walks again from the new tail. */
static int hook_reads;
static void read_in_reclaim(struct trace_ring *rr, enum ring_hook_point pt)
{
    if (pt != RING_HOOK_RECLAIM || hook_reads >= 3)
        return;
    uint64_t seq;
    if (ring_read(rr, out, sizeof(out), &seq) > 0)
        hook_reads++;
}

static void test_batch_races_consumer(void)
{
    ring_init(&r, mem, SIZE, RING_OVERWRITE);
    uint64_t id = 0;
    for (; id < PER_RING; id++)
        CHECK(put(id));
    hook_reads = 0;
    ring_test_hook = read_in_reclaim;
    for (int k = 0; k < 200; k++, id++)
        CHECK(put(id));
    ring_test_hook = NULL;
    CHECK(hook_reads == 3);
    struct ring_stats s;
    ring_stats(&r, &s);
    uint64_t first;
    CHECK(ring_read(&r, out, sizeof(out), &first) > 0);
    uint64_t rest = drain_from(first + 1);
    CHECK(gaps == 0);
    /* Exact: every seq was read, overwritten or (none here) dropped. */
    CHECK(s.dropped == 0);
    CHECK(hook_reads + 1 + rest + s.overwritten == s.attempts);
    CHECK(first == (uint64_t)hook_reads + s.overwritten);
}


/* Marks (ring.h note 8) must count the records before them exactly, also
 * when a drop and a write interleave on one CPU. Two cases, each with the
 * oldest record held uncommitted (a full ring cannot reclaim), the head at
 * 64480 (1056 bytes left), a 2000-byte record that does not fit (dropped)
 * and a 24-byte one that does and that ends past a block start (64480 + 40
 * > 63 * 1024), one of them written by an "NMI" inside the other:
 *   - in a drop: the big record is dropped and, between the drop's CAS
 *     (its seq taken) and its count of drops, the small one is written. A
 *     mark from it would count the drop as a record: only outermost
 *     writers write marks;
 *   - before a write's CAS: the small record's writer has read resv and
 *     `dropped` (hook LOADED) when the big one is dropped. Its CAS then
 *     fails and it reads both again; `dropped` read before resv would
 *     not be read again.
 * Then the held record is committed and two more laps are written: their
 * batches go from mark to mark, also through that block. Checked after
 * every write: the stats' overwritten count equals the records the tail
 * has passed (the test tracks where each record starts); a wrong mark
 * shows while the tail sits on it (errors of marks in between cancel out
 * in the final total). */
static uint64_t starts[2 * PER_RING + 4096], n_starts, n_passed;
static bool put_len(uint64_t id, uint32_t len)
{
    static unsigned char b[2000];
    rec_of(b, id);
    struct ring_stats s;
    ring_stats(&r, &s);
    uint64_t head = s.bytes;
    bool ok = ring_write(&r, b, len);
    ring_stats(&r, &s);
    if (ok)
        starts[n_starts++] = s.bytes - (16 + ((len + 7) & ~7u));  /* its end: the head */
    return ok && s.bytes > head;
}

/* Records the tail passed so far, from the tracked starts. */
static uint64_t passed_now(void)
{
    while (n_passed < n_starts && starts[n_passed] < r.tail)
        n_passed++;
    return n_passed;
}

static enum ring_hook_point nmi_at;
static uint32_t nmi_len;
static int nmi_done;
static void nmi_write(struct trace_ring *rr, enum ring_hook_point pt)
{
    if (pt != nmi_at || nmi_done)
        return;
    nmi_done = 1;
    bool ok = put_len(100000, nmi_len);
    CHECK(ok == (nmi_len == LEN));
}

static void test_marks_exact(enum ring_hook_point at, uint32_t outer_len, uint32_t inner_len)
{
    ring_init(&r, mem, SIZE, RING_OVERWRITE);
    n_starts = n_passed = 0;
    uint64_t held_seq;
    unsigned char *held = ring_reserve(&r, LEN, &held_seq);
    CHECK(held != NULL && held_seq == 0);
    starts[n_starts++] = 0;
    for (uint64_t i = 1; i <= 1611; i++)     /* head at 40 + 1611 * 40 = 64480 */
        CHECK(put_len(i, LEN));
    nmi_at = at;
    nmi_len = inner_len;
    nmi_done = 0;
    ring_test_hook = nmi_write;
    bool ok = put_len(1612, outer_len);
    ring_test_hook = NULL;
    CHECK(ok == (outer_len == LEN) && nmi_done == 1);
    CHECK(starts[n_starts - 1] == 64480);
    rec_of(held, held_seq);
    ring_commit(&r, held);
    uint64_t id = 1614;                      /* 1612, 1613: the two above */
    int wrong = 0;
    struct ring_stats s;
    for (; id < 1614 + 2 * PER_RING; id++) {
        CHECK(put_len(id, LEN));
        ring_stats(&r, &s);
        if (s.overwritten != passed_now() && !wrong++)
            fprintf(stderr, "hook %d: after seq %lu: overwritten %lu, the tail passed "
                    "%lu records\n", at, (unsigned long)id, (unsigned long)s.overwritten,
                    (unsigned long)passed_now());
    }
    CHECK(wrong == 0);
    uint64_t seq, first = 0, n = 0, last = 0;
    while (ring_read(&r, out, sizeof(out), &seq) > 0) {
        if (!n)
            first = seq;
        CHECK(n == 0 || seq == last + 1);
        last = seq;
        n++;
    }
    CHECK(s.dropped == 1 && s.attempts == id);
    CHECK(first == s.overwritten + s.dropped);   /* all before it are lost */
    CHECK(n + s.overwritten + s.dropped == s.attempts);
}

/* Every block's mark is written, also while ring_write's fast path takes
 * most records: it may take only a record that ends in the block it starts
 * in (fast_end, ring.h note 3), so the record that ends in a new block goes
 * through reserve(), which writes that block's mark. Without it the marks
 * go stale and reclaim falls back to walking headers, correct but slower,
 * which no count above would show. Checked white-box over three laps of
 * records of 1 to 9 words (the fast path) and odd lengths (the general
 * path), no drops and no nesting, so every block of the last two laps (the
 * marks kept) has its mark: the first record boundary at or past the
 * block's start, and the records before it. */
static void test_marks_every_block(void)
{
    static const uint32_t lens[] = {8, 24, 72, 16, 13, 40, 64, 5, 32, 48, 56};
    ring_init(&r, mem, SIZE, RING_OVERWRITE);
    n_starts = n_passed = 0;
    struct ring_stats s;
    for (uint64_t id = 0; id < 3 * SIZE / 16; id++) {   /* ends with 3 laps */
        if (!put_len(id, lens[id % (sizeof(lens) / sizeof(lens[0]))])) {
            CHECK(0);
            return;
        }
        ring_stats(&r, &s);
        if (s.bytes >= 3 * SIZE)
            break;
    }
    const uint64_t head = s.bytes, sh = r.block_shift;
    CHECK(s.attempts == n_starts && s.dropped == 0);
    uint64_t i = 0, checked = 0, wrong = 0;
    for (uint64_t b = (head >> sh) - (RING_MARKS - 1); b << sh <= head; b++) {
        while (i < n_starts && starts[i] < b << sh)
            i++;
        uint64_t pos = i < n_starts ? starts[i] : head;   /* the boundary, */
        const struct ring_mark *m = &r.marks[b & (RING_MARKS - 1)];  /* i before it */
        if ((m->pos != pos || m->recs != i) && !wrong++)
            fprintf(stderr, "block %lu: mark {%lu, %lu}, want {%lu, %lu}\n",
                    (unsigned long)b, (unsigned long)m->pos, (unsigned long)m->recs,
                    (unsigned long)pos, (unsigned long)i);
        checked++;
    }
    CHECK(wrong == 0 && checked >= RING_MARKS - 1);
}

int main(void)
{
    test_batch_size();
    test_batch_stops_at_uncommitted();
    test_batch_races_consumer();
    test_marks_exact(RING_HOOK_DROPPED, 2000, LEN);
    test_marks_exact(RING_HOOK_LOADED, LEN, 2000);
    test_marks_every_block();
    if (failures) {
        fprintf(stderr, "test_ring_reclaim: %d FAILURES\n", failures);
        return 1;
    }
    printf("test_ring_reclaim: all passed\n");
    return 0;
}
