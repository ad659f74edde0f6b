/* The trace ring's layout and the helpers its producer (ring.c) and its
 * consumer (ring_read.c) share: header words, positions, the packed
 * reservation word. Internal to those two files; ring.h is the interface. */
#ifndef HV_TRACE_RING_LAYOUT_H
#define HV_TRACE_RING_LAYOUT_H
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

/* End of the record or pad marker with header word w at position p. */
static inline uint64_t rec_end(const struct trace_ring *r, uint64_t p, uint64_t w)
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

/* The word a reservation of `rec` bytes CASes in over rv: seq + 1 in the
 * high half, the position stamp + rec/8 (mod 2^32, no carry into the seq)
 * in the low half. */
static inline uint64_t resv_next(uint64_t rv, uint64_t rec)
{
    return ((rv >> 32) + 1) << 32 | (uint32_t)((uint32_t)rv + (uint32_t)(rec >> 3));
}

/* Full next seq from the packed low 32 bits and a recent full seq. */
static inline uint64_t resv_seq(uint64_t rv, uint64_t hint)
{
    int32_t d = (int32_t)((uint32_t)(rv >> 32) - (uint32_t)hint);
    return hint + (uint64_t)(int64_t)d;
}

#endif /* HV_TRACE_RING_LAYOUT_H */
