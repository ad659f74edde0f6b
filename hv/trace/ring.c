/* Per-CPU lock-free, NMI-safe trace ring. The design and the reasons for it
 * are in ring.h; this file follows the numbered notes there.
 *
 * Freestanding: no libc. Atomics are GCC __atomic builtins only; every
 * access to the buffer that may race with the other side (consumer vs
 * writer) is atomic, so the host tests also run under ThreadSanitizer
 * (build/host-tsan/). Copies in and out of the buffer are word-sized relaxed
 * atomics (plain movs on x86-64). Positions (head, tail, vis) are 64-bit
 * byte counts that only grow; the buffer offset is position & mask. */
#include "trace/ring.h"
#include "trace/local_atomic.h"

#define RLX __ATOMIC_RELAXED
#define ACQ __ATOMIC_ACQUIRE
#define REL __ATOMIC_RELEASE
#define AR  __ATOMIC_ACQ_REL

#define LOAD(p, mo)      __atomic_load_n((p), (mo))
#define STORE(p, v, mo)  __atomic_store_n((p), (v), (mo))
#define CAS(p, exp, des) \
    __atomic_compare_exchange_n((p), &(exp), (des), false, AR, RLX)
#define ADD(p, v)        __atomic_fetch_add((p), (v), RLX)
#define COMPILER_FENCE() __atomic_signal_fence(__ATOMIC_SEQ_CST)


/* Header word0: [63:32] position stamp (pos >> 3, low 32 bits)
 *               [31:16] flags  [15:0] payload length.
 * Header word1: full 64-bit seq (not present for a pad marker). */
#define F_COMMIT  (1u << 16)   /* payload complete                          */
#define F_PAD     (1u << 17)   /* pad marker: skip to the buffer's end      */
#define F_SKIP    (1u << 18)   /* given up on by the consumer (stale)       */
#define LEN_MASK  0xffffu

#if defined(HOSTED) && !defined(RING_NO_TEST_HOOKS)
void (*ring_test_hook)(struct trace_ring *r, enum ring_hook_point pt);
#define HOOK(r, pt)                                                   \
    do {                                                              \
        if (__builtin_expect(ring_test_hook != 0, 0))                 \
            ring_test_hook((r), (pt));                                \
    } while (0)
#else
#define HOOK(r, pt) do { } while (0)
#endif

static inline uint32_t stamp_of(uint64_t pos) { return (uint32_t)(pos >> 3); }
static inline uint32_t w_stamp(uint64_t w)    { return (uint32_t)(w >> 32); }
static inline uint32_t w_len(uint64_t w)      { return (uint32_t)w & LEN_MASK; }

static inline uint64_t mk_hdr(uint64_t pos, uint32_t flags, uint32_t len)
{
    return ((uint64_t)stamp_of(pos) << 32) | flags | len;
}

/* Bytes a record of payload `len` occupies: header + 8-aligned payload. */
static inline uint64_t footprint(uint32_t len)
{
    return RING_HDR_SIZE + (((uint64_t)len + 7) & ~(uint64_t)7);
}

static inline uint64_t *slot(const struct trace_ring *r, uint64_t pos)
{
    return (uint64_t *)(void *)(r->buf + (pos & r->mask));
}

static inline uint64_t size_of(const struct trace_ring *r)
{
    return (uint64_t)r->mask + 1;
}

/* How much a full RING_OVERWRITE ring frees at once (see reclaim): 1/64 of
 * the ring, at most 4 KiB. The flight recorder so keeps at least 63/64 of
 * its size of newest records (less the record being written); a 256-byte
 * test ring still frees one record at a time. */
#define RING_RECLAIM_STEP(r) \
    (size_of(r) >> 6 < 4096 ? size_of(r) >> 6 : (uint64_t)4096)

/* End of the record or pad marker with header word w at position p. */
static uint64_t rec_end(const struct trace_ring *r, uint64_t p, uint64_t w)
{
    return (w & F_PAD) ? p + size_of(r) - (p & r->mask)
                       : p + footprint(w_len(w));
}

/* ---- the packed reservation word (note 1) ------------------------------ */

static inline uint64_t resv_pack(uint64_t seq, uint64_t pos)
{
    return (seq << 32) | stamp_of(pos);
}

/* Full head position from the packed low bits and a tail read after it:
 * tail <= head <= tail + size, and size < 2^31, so the 32-bit distance in
 * 8-byte units is exact. */
static inline uint64_t resv_head(uint64_t rv, uint64_t tail)
{
    uint32_t d = (uint32_t)rv - stamp_of(tail);
    return tail + ((uint64_t)d << 3);
}

/* Full next seq from the packed low 32 bits and a recent full seq. */
static inline uint64_t resv_seq(uint64_t rv, uint64_t hint)
{
    int32_t d = (int32_t)((uint32_t)(rv >> 32) - (uint32_t)hint);
    return hint + (uint64_t)(int64_t)d;
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
static void publish(struct trace_ring *r)
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

/* Overwrite mode (note 5): free the oldest records from tail position t,
 * at least `need` bytes and, while they allow, RING_RECLAIM_STEP(r): one
 * tail CAS (a locked instruction, shared with the consumer) then pays for
 * a batch of records instead of one each write. The walk stops at the
 * first record that may not be reclaimed: not published yet (at vis) or
 * not committed, i.e. it belongs to a writer we interrupted (note 4).
 * Exactness: the CAS from t succeeds only if nobody (consumer or nested
 * writer) moved tail since we read t, so the records walked are exactly
 * those freed, each counted once; pads are not records. Returns true if
 * the caller should retry its reservation (tail moved, by us or by the
 * consumer), false if not even the oldest record may be reclaimed. */
static bool reclaim(struct trace_ring *r, uint64_t t, uint64_t need)
{
    uint64_t v = LOAD(&r->vis, ACQ);
    uint64_t step = RING_RECLAIM_STEP(r);
    uint64_t goal = t + (need > step ? need : step);
    uint64_t p = t, n = 0;
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
    HOOK(r, RING_HOOK_RECLAIM);
    uint64_t exp = t;
    if (CAS(&r->tail, exp, p) && n)
        local_add64(&r->overwritten, n);
    return true;
}

void *ring_reserve(struct trace_ring *r, uint32_t len, uint64_t *seqp)
{
    if (len == 0 || len > r->max_len) {
        local_add64(&r->invalid, 1);
        return 0;
    }
    const uint64_t size = size_of(r);
    const uint64_t rec = footprint(len);
    void *payload = 0;
    uint64_t s;

    /* Enter the header window (note 3). A plain load/store is enough: any
     * interrupter restores nest before we resume (LIFO). */
    uint32_t n = LOAD(&r->nest, RLX);
    STORE(&r->nest, n + 1, RLX);
    COMPILER_FENCE();

    for (;;) {
        uint64_t rv = LOAD(&r->resv, ACQ);
        uint64_t t = LOAD(&r->tail, ACQ);
        HOOK(r, RING_HOOK_LOADED);
        uint64_t h = resv_head(rv, t);
        s = resv_seq(rv, LOAD(&r->seq_hint, RLX));
        uint64_t to_end = size - (h & r->mask);
        uint64_t pad = to_end < rec ? to_end : 0;

        if (h + pad + rec - t > size) {
            if (r->policy == RING_OVERWRITE &&
                reclaim(r, t, h + pad + rec - t - size))
                continue;
            /* Drop the new record: it still consumes its seq (note 6). */
            uint64_t exp = rv;
            if (!local_cas64(&r->resv, &exp, resv_pack(s + 1, h)))
                continue;
            STORE(&r->seq_hint, s, RLX);
            local_add64(&r->dropped, 1);
            break;
        }
        HOOK(r, RING_HOOK_BEFORE_CAS);
        uint64_t exp = rv;
        if (!local_cas64(&r->resv, &exp, resv_pack(s + 1, h + pad + rec)))
            continue;
        HOOK(r, RING_HOOK_AFTER_CAS);
        /* The space is ours. Nothing below is visible to the consumer
         * until vis passes it. */
        if (pad) {
            STORE(slot(r, h), mk_hdr(h, F_PAD | F_COMMIT, 0), RLX);
            h += pad;
        }
        uint64_t *hdr = slot(r, h);
        STORE(&hdr[1], s, RLX);
        STORE(&hdr[0], mk_hdr(h, 0, len), RLX);
        STORE(&r->seq_hint, s, RLX);
        HOOK(r, RING_HOOK_HDR_WRITTEN);
        payload = hdr + 2;
        break;
    }

    /* Leave the window; the outermost writer publishes (also after a drop:
     * writers nested in our window may have reserved). */
    COMPILER_FENCE();
    STORE(&r->nest, n, RLX);
    COMPILER_FENCE();
    if (n == 0)
        publish(r);
    if (seqp)
        *seqp = s;
    return payload;
}

void ring_commit(struct trace_ring *r, void *payload)
{
    (void)r;
    uint64_t *hdr = (uint64_t *)payload - 2;
    uint64_t w = LOAD(&hdr[0], RLX);
    STORE(&hdr[0], w | F_COMMIT, REL);   /* payload stores happen before */
}

/* Copy a record in with word-sized relaxed atomic stores. In overwrite mode
 * the consumer (another CPU) may still be copying an older record out of
 * this space; its tail CAS then fails and it discards the copy (note 5).
 * That seqlock-style race is defined only if both sides are atomic: a plain
 * store racing with the consumer's atomic loads is a data race in C11 (and
 * ThreadSanitizer reports it). On x86-64 a relaxed store is a plain mov.
 * Payloads start 8-aligned and the footprint is rounded up to 8, so the
 * last word may be stored whole (the bytes past len are padding). */
static void copy_in(unsigned char *dst, const unsigned char *src, uint32_t len)
{
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        __builtin_memcpy(&x, src + i, 8);
        STORE((uint64_t *)(void *)(dst + i), x, RLX);
    }
    if (i < len) {
        unsigned char b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (uint32_t k = 0; i + k < len; k++)
            b[k] = src[i + k];
        uint64_t x;
        __builtin_memcpy(&x, b, 8);
        STORE((uint64_t *)(void *)(dst + i), x, RLX);
    }
}

bool ring_write(struct trace_ring *r, const void *rec, uint32_t len)
{
    void *p = ring_reserve(r, len, 0);
    if (!p)
        return false;
    copy_in(p, rec, len);
    ring_commit(r, p);
    return true;
}

/* ---- consumer ------------------------------------------------------------ */

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
