/* A full RING_OVERWRITE ring frees its oldest records in batches (reclaim
 * in hv/trace/ring.c: at least the room needed, up to 1/64 of the ring, at
 * most 4 KiB, in one tail CAS). Checked here, with exact numbers:
 *   - how many records one overflowing write frees, and that the newest
 *     records survive with contiguous seqs (the gap is exactly the count);
 *   - a batch stops at an uncommitted record (an interrupted writer's):
 *     the records before it are freed, it and the ones after are not, and
 *     once nothing more may be freed the new record is dropped, counted;
 *   - a batch that meets a consumer moving tail under it (hook before the
 *     CAS) frees nothing twice: delivered + overwritten == written.
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
    /* Now the batch goes through the committed record and beyond. */
    CHECK(put(PER_RING + 3));
    ring_stats(&r, &s);
    CHECK(s.overwritten == 2 + 26 && s.dropped == 1);
    /* Survivors: 28..PER_RING+1 (seq PER_RING+2 dropped), PER_RING+3. */
    uint64_t n = drain_from(28);
    CHECK(n == PER_RING - 28 + 3 && gaps == 1);
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

int main(void)
{
    test_batch_size();
    test_batch_stops_at_uncommitted();
    test_batch_races_consumer();
    if (failures) {
        fprintf(stderr, "test_ring_reclaim: %d FAILURES\n", failures);
        return 1;
    }
    printf("test_ring_reclaim: all passed\n");
    return 0;
}
