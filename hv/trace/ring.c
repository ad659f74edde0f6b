/* Per-CPU lock-free, NMI-safe trace ring. The design and the reasons for it
 * are in ring.h; this file follows the numbered notes there.
 *
 * Freestanding: no libc. Atomics are GCC __atomic builtins only; every
 * access to the buffer that may race with the other side (consumer vs
 * writer) is atomic, so the host tests also run under ThreadSanitizer
 * (build/host-tsan/). Copies in and out of the buffer are word-sized relaxed
 * atomics (plain movs on x86-64). Positions (head, tail, vis) are 64-bit
 * byte counts that only grow; the buffer offset is position & mask. */
#include "trace/ring_layout.h"

#if defined(HOSTED) && !defined(RING_NO_TEST_HOOKS)
void (*ring_test_hook)(struct trace_ring *r, enum ring_hook_point pt);
#endif

/* A full RING_OVERWRITE ring frees its oldest records up to a block start
 * (see reclaim): a block is 1/64 of the ring, so the flight recorder keeps
 * at least 62/64 of its size of newest records. */
#define MARK_NONE (~(uint64_t)0)     /* a mark being written (note 8) */

static inline struct ring_mark *mark_of(struct trace_ring *r, uint64_t block)
{
    return &r->marks[block & (RING_MARKS - 1)];
}

/* Note 8: `pos` is the first record boundary at or past the start of its
 * block, with `recs` records before it. Outermost writers only. */
static inline void put_mark(struct trace_ring *r, uint64_t pos, uint64_t recs)
{
    struct ring_mark *m = mark_of(r, pos >> r->block_shift);
    STORE(&m->pos, MARK_NONE, RLX);
    COMPILER_FENCE();
    STORE(&m->recs, recs, RLX);
    COMPILER_FENCE();
    STORE(&m->pos, pos, RLX);
}

/* ---- init ---------------------------------------------------------------- */

bool ring_init(struct trace_ring *r, void *buf, uint32_t size, enum ring_policy p)
{
    __builtin_memset(r, 0, sizeof(*r));
    r->policy = (uint32_t)p;
    if (!buf || ((uintptr_t)buf & 7) || size < RING_MIN_SIZE ||
        size > RING_MAX_SIZE || (size & (size - 1)) ||
        (p != RING_OVERWRITE && p != RING_DROP_NEWEST))
        return false;   /* mask 0, max_len 0: every write is "invalid" */
    r->buf = buf;
    r->mask = size - 1;
    r->max_len = size / 2 - RING_HDR_SIZE;
    if (r->max_len > RING_LEN_LIMIT)
        r->max_len = RING_LEN_LIMIT;
    /* size / RING_BLOCKS; marks[0] = {0, 0} (memset): position 0, no
     * record before it, is the first block's mark. */
    r->block_shift = (uint32_t)__builtin_ctz(size) - (uint32_t)__builtin_ctz(RING_BLOCKS);
    return true;
}

uint32_t ring_max_len(const struct trace_ring *r)
{
    return r->max_len;
}

/* ---- producer ------------------------------------------------------------ */

/* Note 3: make every header written so far visible to the consumer. Called
 * only with nest == 0 (outside every writer's header window), so every
 * reservation below the head we read has its header written already. A
 * writer interrupting us publishes its own record; if it slipped in between
 * our read of resv and our store, the re-check loops and we republish.
 * (Our store then briefly moved vis back to our older head: harmless, a
 * lower frontier only hides records for a moment.) What must never happen
 * is a frontier ABOVE the true head: the consumer would read unwritten
 * headers (stale bytes of an old lap) as records. Such a frontier would come
 * from a tail that passed our stale head: while the interrupter ran, a
 * consumer on another CPU may have read past our head (its records and
 * everything before were committed: possible when we hold no record, after
 * a drop). resv_head() needs tail <= head; if that does not hold, resv has
 * moved and we read it again instead of storing a wrapped value. The test
 * hook between the two loads is where tests/unit/test_ring_cases.c lands
 * its interrupter (test_publish_interleaving, test_publish_tail_passes). */
static __attribute__((noinline)) void publish(struct trace_ring *r)
{
    for (;;) {
        uint64_t rv = LOAD(&r->resv, ACQ);
        HOOK(r, RING_HOOK_PUBLISH_LOADED);
        uint64_t t = LOAD(&r->tail, ACQ);
        if ((uint32_t)rv - stamp_of(t) > (uint32_t)(size_of(r) >> 3))
            continue;           /* tail passed the head we read: stale */
        STORE(&r->vis, resv_head(rv, t), REL);
        HOOK(r, RING_HOOK_PUBLISH);
        if (LOAD(&r->resv, ACQ) == rv)
            return;
    }
}

/* (Out of line: it is the rare case in both writers, and inlined its loop
 * took registers ring_write's fast path then saved on the stack.)
 *
 * Note 3, the common case: the outermost writer publishes its own record,
 * which ends at `end`, where its reservation CAS put resv = `des`. If resv
 * still holds des, nobody reserved after us (every writer that runs bumps
 * the seq in resv, so the word never comes back): `end` is the head, and
 * every header below it is written. Otherwise an interrupter reserved, and
 * publish() takes over. No tail check is needed: `end` is a reservation we
 * hold, and a tail past it (a consumer that read a record an interrupter
 * published after our record) only makes this store a moment's lower
 * frontier (the consumer sees vis <= tail as "nothing yet"), which the
 * re-check of resv then finds and publish() repairs. Saves publish()'s
 * reloads of resv and tail on every record. */
static inline void publish_own(struct trace_ring *r, uint64_t end, uint64_t des)
{
    HOOK(r, RING_HOOK_PUBLISH_LOADED);
    STORE(&r->vis, end, REL);
    HOOK(r, RING_HOOK_PUBLISH);
    if (LOAD(&r->resv, RLX) != des)
        publish(r);
}

/* Overwrite mode (note 5): free the oldest records from tail position t:
 * up to the first record boundary at or past the block start that is at
 * least a block and `need` bytes away, in one tail CAS (a locked
 * instruction, shared with the consumer), so that it pays for a batch of
 * records instead of one each write. From a mark to a mark the batch's
 * record count is the marks' difference (note 8); otherwise its headers are
 * walked and counted, and the walk stops early at the first record that may
 * not be reclaimed: not published yet (at vis) or not committed, i.e. it
 * belongs to a writer we interrupted (note 4). Exactness: the CAS from t
 * succeeds only if nobody (consumer or nested writer) moved tail since we
 * read t, so the records counted are exactly those freed, each counted
 * once; pads are not records. Returns true if the caller should retry its
 * reservation (tail moved, by us or by the consumer), false if not even the
 * oldest record may be reclaimed. */
static bool reclaim(struct trace_ring *r, uint64_t t, uint64_t need)
{
    uint64_t v = LOAD(&r->vis, ACQ);
    const uint32_t sh = r->block_shift;
    const uint64_t block = (uint64_t)1 << sh;
    const uint64_t kb = (t + (need > block ? need : block) + block - 1) >> sh;
    const uint64_t goal = kb << sh;
    uint64_t p = t, n = 0;
    struct ring_mark *from = mark_of(r, t >> sh), *to = mark_of(r, kb);
    uint64_t to_pos = LOAD(&to->pos, RLX);
    if (LOAD(&r->open, RLX) == 0 && LOAD(&from->pos, RLX) == t && to_pos >> sh == kb &&
        (int64_t)(v - to_pos) >= 0) {
        p = to_pos;     /* every record before vis is committed (open == 0) */
        n = LOAD(&to->recs, RLX) - LOAD(&from->recs, RLX);
    } else {
        while ((int64_t)(goal - p) > 0 && (int64_t)(v - p) > 0) {
            uint64_t w = LOAD(slot(r, p), ACQ);
            if (w_stamp(w) != stamp_of(p)) {    /* tail moved since we read it */
                if (p == t)
                    return LOAD(&r->tail, ACQ) != t;
                break;                          /* the CAS below will fail */
            }
            if (!(w & F_COMMIT))
                break;
            n += !(w & F_PAD);
            p = rec_end(r, p, w);
        }
        if (p == t)
            return false;
    }
    HOOK(r, RING_HOOK_RECLAIM);
    uint64_t exp = t;
    if (CAS(&r->tail, exp, p) && n)
        local_add64(&r->overwritten, n);
    return true;
}

/* Copy a record in with word-sized relaxed atomic stores. In overwrite mode
 * the consumer (another CPU) may still be copying an older record out of
 * this space; its tail CAS then fails and it discards the copy (note 5).
 * That seqlock-style race is defined only if both sides are atomic: a plain
 * store racing with the consumer's atomic loads is a data race in C11 (and
 * ThreadSanitizer reports it). On x86-64 a relaxed store is a plain mov.
 * Payloads start 8-aligned and the footprint is rounded up to 8, so the
 * last word may be stored whole (the bytes past len are padding). */
static inline void copy_in(unsigned char *dst, const unsigned char *src, uint32_t len)
{
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        __builtin_memcpy(&x, src + i, 8);
        STORE((uint64_t *)(void *)(dst + i), x, RLX);
    }
    if (i < len) {      /* the last bytes, little-endian, into one word */
        uint64_t x = 0;
        for (uint32_t k = 0; i + k < len; k++)
            x |= (uint64_t)src[i + k] << (8 * k);
        STORE((uint64_t *)(void *)(dst + i), x, RLX);
    }
}

/* The writer's seq_hint falls behind by this many seqs at most; the 32-bit
 * packed seq extends from it while it lags less than 2^31 (note 1). One
 * store in 2^16 records instead of one per record. */
#define SEQ_HINT_EVERY 0xffffu

/* The reserved record's header at h, with seq s; with `src` (ring_write)
 * the payload is copied and the header written committed here, inside the
 * header window, so the record needs no separate commit (a nested writer's
 * record then waits for this one's publish, a few stores later). */
static inline void *fill_header(struct trace_ring *r, uint64_t h, uint64_t s,
                                uint32_t len, const void *src)
{
    uint64_t *hdr = slot(r, h);
    STORE(&hdr[1], s, RLX);
    if (src) {
        copy_in((unsigned char *)(hdr + 2), src, len);
        STORE(&hdr[0], mk_hdr(h, F_COMMIT, len), REL);
    } else {
        STORE(&hdr[0], mk_hdr(h, 0, len), RLX);
    }
    if (!(s & SEQ_HINT_EVERY))
        STORE(&r->seq_hint, s, RLX);
    HOOK(r, RING_HOOK_HDR_WRITTEN);
    return hdr + 2;
}

/* Note 3: after reserving a record that ends at e, with tail t read
 * before the CAS: ring_write's fast path may take any record that ends
 * below the next block start (no pad: blocks divide the buffer; no mark:
 * it ends in the block it starts in) and below t + size + 1 (room: tail
 * only grows). */
static inline void set_fast_end(struct trace_ring *r, uint64_t e, uint64_t t)
{
    const uint64_t blk = ((e >> r->block_shift) + 1) << r->block_shift;
    const uint64_t room = t + size_of(r) + 1;
    STORE(&r->fast_end, blk < room ? blk : room, RLX);
}

/* The rare cases of a reservation, out of line so that the common one in
 * reserve() runs with few registers: the record needs a pad marker first,
 * or the ring is full (reclaim, else drop). rv, t, h, s as reserve() read
 * them; recs_before: the records before seq s (note 8), MARK_NONE if this
 * writer may not write marks. Returns 1 with *payload set (NULL: dropped),
 * or 0 to start over (resv or tail moved). */
static __attribute__((noinline)) int reserve_rare(struct trace_ring *r, uint64_t rv,
                                                  uint64_t t, uint64_t h, uint64_t s,
                                                  uint32_t len, const void *src,
                                                  uint64_t recs_before, void **payload)
{
    const uint64_t size = size_of(r), rec = footprint(len);
    uint64_t to_end = size - (h & r->mask);
    uint64_t pad = to_end < rec ? to_end : 0;
    uint64_t exp = rv;
    if (h + pad + rec - t > size) {
        if (r->policy == RING_OVERWRITE && reclaim(r, t, h + pad + rec - t - size))
            return 0;
        /* Drop the new record: it still consumes its seq (note 6). */
        if (!local_cas64(&r->resv, &exp, resv_pack(s + 1, h)))
            return 0;
        HOOK(r, RING_HOOK_DROPPED);
        if (!(s & SEQ_HINT_EVERY))
            STORE(&r->seq_hint, s, RLX);
        local_add64(&r->dropped, 1);
        *payload = 0;
        return 1;
    }
    HOOK(r, RING_HOOK_BEFORE_CAS);
    if (!local_cas64(&r->resv, &exp, resv_pack(s + 1, h + pad + rec)))
        return 0;
    HOOK(r, RING_HOOK_AFTER_CAS);
    STORE(slot(r, h), mk_hdr(h, F_PAD | F_COMMIT, 0), RLX);
    *payload = fill_header(r, h + pad, s, len, src);
    set_fast_end(r, h + pad + rec, t);
    if (recs_before != MARK_NONE)   /* the buffer's start is a block start */
        put_mark(r, h + pad, recs_before);
    return 1;
}

/* ring_reserve, and ring_write's one-pass variant (src, in write_any).
 * Inlined into each: with src known, each gets its own code and keeps more
 * in registers (~0.3 ns a record in bench_ring, before ring_write's own
 * common path). */
static inline __attribute__((always_inline)) void *reserve(struct trace_ring *r,
                                                           uint32_t len, uint64_t *seqp,
                                                           const void *src)
{
    if (len == 0 || len > r->max_len) {
        local_add64(&r->invalid, 1);
        return 0;
    }
    const uint64_t size = size_of(r), rec = footprint(len);
    void *payload;
    uint64_t s, des = 0, end = 0;

    /* Enter the header window (note 3). A plain load/store is enough: any
     * interrupter restores nest before we resume (LIFO). */
    uint32_t n = LOAD(&r->nest, RLX);
    STORE(&r->nest, n + 1, RLX);
    COMPILER_FENCE();

    for (;;) {
        uint64_t rv = LOAD(&r->resv, ACQ);
        uint64_t t = LOAD(&r->tail, ACQ);
        uint64_t drops = LOAD(&r->dropped, RLX);    /* after resv: note 8 */
        HOOK(r, RING_HOOK_LOADED);
        uint64_t h = resv_head(rv, t);
        des = resv_next(rv, rec);       /* straight from rv, not through h and s */
        if (__builtin_expect((h & r->mask) + rec > size || h + rec - t > size, 0)) {
            s = resv_seq(rv, LOAD(&r->seq_hint, RLX));
            if (reserve_rare(r, rv, t, h, s, len, src, n == 0 ? s - drops : MARK_NONE,
                             &payload))
                break;
            continue;
        }
        HOOK(r, RING_HOOK_BEFORE_CAS);
        uint64_t exp = rv;
        if (!local_cas64(&r->resv, &exp, des))
            continue;
        HOOK(r, RING_HOOK_AFTER_CAS);
        s = resv_seq(rv, LOAD(&r->seq_hint, RLX));
        /* The space is ours. Nothing below is visible to the consumer
         * until vis passes it. */
        payload = fill_header(r, h, s, len, src);
        end = h + rec;
        set_fast_end(r, end, t);
        if (n == 0 && ((h ^ end) >> r->block_shift))    /* ends in a new block */
            put_mark(r, end, s + 1 - drops);
        break;
    }
    if (!src && payload)
        local_add64(&r->open, 1);   /* inside the window: note 8 */

    /* Leave the window; the outermost writer publishes (also after a drop
     * or a padded reservation, in full: writers nested in our window may
     * have reserved). */
    COMPILER_FENCE();
    STORE(&r->nest, n, RLX);
    COMPILER_FENCE();
    if (n == 0) {
        if (end)
            publish_own(r, end, des);
        else
            publish(r);
    }
    if (seqp)
        *seqp = s;
    return payload;
}

void *ring_reserve(struct trace_ring *r, uint32_t len, uint64_t *seqp)
{
    return reserve(r, len, seqp, 0);
}

void ring_commit(struct trace_ring *r, void *payload)
{
    uint64_t *hdr = (uint64_t *)payload - 2;
    uint64_t w = LOAD(&hdr[0], RLX);
    STORE(&hdr[0], w | F_COMMIT, REL);   /* payload stores happen before */
    local_add64(&r->open, ~(uint64_t)0);
}

/* Every case of ring_write, out of line: reserve() with the copy in. */
static __attribute__((noinline)) bool write_any(struct trace_ring *r, const void *src,
                                                uint32_t len)
{
    return reserve(r, len, 0, src) != 0;
}

/* ring_write's common case, reserve()'s common path step for step (same
 * window, CAS, header and publication, same test hooks, so the host tests'
 * interrupters land in it), for a payload of whole words (trace events are:
 * wire_raw_encode) that ends below fast_end (note 3: then it needs no pad,
 * no mark, no reclaim). Anything else, and a failed CAS (an interrupter
 * reserved), restores nest and starts over in write_any. Leaving the
 * window that way is safe: a writer that nested in it reserved without
 * publishing (nest > 0), and write_any, outermost again, publishes on its
 * way out. Why a second path: one bound test instead of reserve()'s three,
 * no `dropped` or marks, the header word from rv (its low half is the
 * position stamp) and the first words copied straight: ~60 instructions
 * where reserve() takes ~95, and bench_ring measured 5.8-6.1 against
 * 7.4 ns a record (8.1-8.4 ns through reserve()). The header word is still
 * stored last: a writer that never resumes (its CPU parked by the fatal
 * path) leaves no committed header over a half-written payload (note 7). */
bool ring_write(struct trace_ring *r, const void *src, uint32_t len)
{
    if ((len & 7) || len - 1 >= r->max_len)     /* len 0 wraps */
        return write_any(r, src, len);
    const uint32_t n = LOAD(&r->nest, RLX);
    STORE(&r->nest, n + 1, RLX);
    COMPILER_FENCE();
    const uint64_t rv = LOAD(&r->resv, ACQ);
    const uint64_t t = LOAD(&r->tail, ACQ);
    HOOK(r, RING_HOOK_LOADED);
    const uint64_t h = resv_head(rv, t);
    const uint64_t end = h + RING_HDR_SIZE + len;
    const uint64_t des = resv_next(rv, RING_HDR_SIZE + len);
    if (__builtin_expect(end >= LOAD(&r->fast_end, RLX), 0))
        goto general;
    HOOK(r, RING_HOOK_BEFORE_CAS);
    if (__builtin_expect(local_cmpxchg64(&r->resv, rv, des) != rv, 0)) {
general:
        COMPILER_FENCE();
        STORE(&r->nest, n, RLX);
        COMPILER_FENCE();
        return write_any(r, src, len);
    }
    HOOK(r, RING_HOOK_AFTER_CAS);
    uint64_t *hdr = slot(r, h);
    const uint64_t s = resv_seq(rv, LOAD(&r->seq_hint, RLX));
    STORE(&hdr[1], s, RLX);
    if (__builtin_expect(!(s & SEQ_HINT_EVERY), 0))
        STORE(&r->seq_hint, s, RLX);
    /* Word by word; the first two outside the loop (events have 2-5). */
    const unsigned char *p = src;
    uint64_t x;
    __builtin_memcpy(&x, p, 8);
    STORE(&hdr[2], x, RLX);
    if (len > 8) {
        __builtin_memcpy(&x, p + 8, 8);
        STORE(&hdr[3], x, RLX);
        for (uint32_t i = 2; i < len / 8; i++) {
            __builtin_memcpy(&x, p + 8 * i, 8);
            STORE(&hdr[2 + i], x, RLX);
        }
    }
    STORE(&hdr[0], rv << 32 | F_COMMIT | len, REL);     /* = mk_hdr(h, ...) */
    HOOK(r, RING_HOOK_HDR_WRITTEN);
    COMPILER_FENCE();
    STORE(&r->nest, n, RLX);
    COMPILER_FENCE();
    if (n == 0)
        publish_own(r, end, des);
    return true;
}
