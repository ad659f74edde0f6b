/* Per-CPU, lock-free, NMI-safe trace ring of variable-length records.
 *
 * Portable core: the same ring.c (producer) and ring_read.c (consumer)
 * build freestanding into the hypervisor and hosted (-DHOSTED) into unit
 * tests and benchmarks. Records are opaque bytes.
 *
 * ---------------------------------------------------------------------------
 * Who touches a ring
 *
 *   Producers: only the owning CPU, but in any context. A writer may be
 *   interrupted at ANY instruction by an exception or NMI handler that also
 *   writes (normal -> #exception -> NMI, any depth). Interrupters run to
 *   completion before the interrupted writer resumes (strict LIFO nesting on
 *   one CPU). Producers never block and never wait for the consumer.
 *
 *   Consumer: one at a time (callers serialise consumers with a try-lock),
 *   on ANY CPU, concurrently with the producer.
 *
 * ---------------------------------------------------------------------------
 * Design, and why
 *
 * 1. Reservation is ONE compare-and-swap on ONE 64-bit word `resv` that packs
 *    the low 32 bits of the next sequence number with the write position (in
 *    8-byte units, modulo 2^32). Why one word: a record's seq and its place
 *    must be taken together. With two words an NMI landing between "take the
 *    space" and "take the seq" would get the same seq or an inverted order.
 *    With one word, an interrupter either runs entirely before our CAS (the
 *    word changed, our CAS fails, we recompute) or entirely after it (it sees
 *    our reservation). Every writer that runs ends with a successful CAS that
 *    bumps the seq (reserve or drop), so the word never repeats: no ABA.
 *    The full 64-bit values are rebuilt from the low halves: the position
 *    from `tail` (head - tail <= size < 2^31), the seq from `seq_hint`, a
 *    full seq a writer stored (every 2^16th seq: stale by less than 2^17,
 *    far inside the 2^31 the extension allows; one store saved per record).
 *    Only the owning CPU writes `resv` (the consumer only reads it), so the
 *    CAS is a CPU-local one: cmpxchg without the lock prefix, atomic against
 *    interrupts on this CPU because they land between instructions, and
 *    without the full barrier of a locked instruction (local_atomic.h).
 *    The writer's counters (dropped, overwritten, invalid) are CPU-local
 *    adds for the same reason. The one locked instruction a writer still
 *    needs is the tail CAS of a full RING_OVERWRITE ring (note 5), shared
 *    with the consumer.
 *
 * 2. Records never straddle the buffer end (a pad marker fills the tail
 *    end), so ring_reserve() can hand out one contiguous area and callers
 *    encode in place. Each record has a 16-byte header: word0 = position
 *    stamp | flags | length, word1 = full 64-bit seq. Records are 8-aligned.
 *
 * 3. Headers are published through a frontier `vis` (the consumer never
 *    looks at or past it). Why: between a writer's CAS and the store of its
 *    header, the bytes at that position are stale (an old lap's payload may
 *    look like anything). A nested writer must not publish past an ancestor
 *    whose header is not written yet, so only the OUTERMOST writer of this
 *    short window publishes (a per-ring nesting count, safe without locked
 *    ops because nesting is LIFO), and it loops until `vis` equals the head,
 *    which also publishes the records of writers that nested inside it.
 *    Its common case is one store: if resv still holds the word its own
 *    CAS wrote, nobody reserved after it and its record's end is the head.
 *    The window is a handful of instructions. ring_reserve's caller encodes
 *    outside it, so a nested writer that interrupts encoding publishes at
 *    once; ring_write copies its (short) payload inside it and writes the
 *    header committed, which saves the separate commit (note 4) per record.
 *    ring_write's common case (a payload of whole words that ends below
 *    `fast_end`) runs a leaner copy of the same steps (ring.c, ring_write).
 *    fast_end is the lower of the next block start and tail + size + 1,
 *    from the last record the general path reserved and the tail it read:
 *    tail only grows, and a record that ends below it ends in the block
 *    of that reservation, so every value any writer ever stored bounds
 *    every later record safely (no pad, no mark, room without reclaim).
 *
 * 4. A record is committed by a release store of its header (COMMIT flag).
 *    A visible but uncommitted record BLOCKS the consumer there: ring_read
 *    returns 0 ("not yet") instead of skipping, so records are delivered in
 *    seq order and nothing is silently reordered. In RING_OVERWRITE mode the
 *    writer likewise never overwrites an uncommitted record (its owner is an
 *    interrupted ancestor that will still write into it): the NEW record is
 *    dropped instead and counted as dropped. So overwrite mode can drop too.
 *
 * 5. The consumer copies the payload and then moves `tail` past it with a
 *    CAS. In overwrite mode the writer frees space by moving `tail` forward
 *    with a CAS too, before it reserves, in batches: from the tail up to the
 *    first record boundary at or past a block start (a block is 1/64 of the
 *    ring) at least a block and the room it needs away, in one CAS, so the
 *    locked CAS on the consumer's line is paid once per batch, not per
 *    record (the flight recorder gives up that much history for it). The
 *    batch's record count (note 6) comes from two marks, not from walking
 *    its headers (note 8). Exactly one of the
 *    two wins for each record: if the consumer's CAS succeeds the writer had
 *    not yet freed (so not yet written) that space and the copy is whole; if
 *    it fails the record was overwritten during the copy and is discarded
 *    (the writer counted it as overwritten). That CAS is the seqlock-style
 *    validation, and it makes the loss accounting exact.
 *
 * 6. Loss is never silent. Every attempt (written or dropped) consumes a seq
 *    in reservation order, which is also position order. A dropped, an
 *    overwritten or a stale-skipped record is a gap in the seqs that
 *    ring_read reports, and dropped + overwritten + stale_skipped counts
 *    exactly those gaps (see struct ring_stats).
 *
 * 7. A writer interrupted forever (CPU died or parked mid-record) must not
 *    wedge the consumer: ring_read_ex(..., stale_after) gives up on an
 *    uncommitted record after it has blocked `stale_after` consecutive calls
 *    at the same position, marks it skipped and counts it in stale_skipped.
 *    Use it only when the writer cannot resume (e.g. its CPU is parked in
 *    the fatal path): a writer that did resume after a full lap would write
 *    its late bytes into recycled space. If the writer died inside the tiny
 *    header window (header never written), the consumer cannot know record
 *    boundaries: it then jumps to the current head, counts 1 in
 *    stale_skipped, and the next seq it reads shows the true gap.
 *
 * 8. Marks. Walking a batch's ~100 headers (each load waits for the one
 *    before: the length gives the next position) cost a full ring ~4 ns per
 *    record. So the writer notes, for each block, the first record boundary
 *    at or past its start and how many records lie before it, at the moment
 *    a record it reserves ends in a new block (the record's own count is
 *    its seq minus the drops before it). A batch from one mark to another
 *    then frees exactly mark.recs - mark.recs records, checked and counted
 *    without reading them. Rules that keep this exact:
 *    - Only the outermost writer (nest 0) writes marks: no writer's window
 *      is open below it, so no drop is half done (a drop consumes its seq
 *      by CAS, then counts itself). It reads `dropped` after resv: a drop
 *      between those two loads, or after them, makes its CAS fail.
 *    - A mark is written pos = none, recs, pos: a nested writer that lands
 *      in between sees no mark. Only this CPU's writers read marks.
 *    - Marks are used only when no record is reserved and uncommitted
 *      (`open` == 0: then every published record is committed, note 4),
 *      only up to vis, and only when the tail is itself at a mark.
 *      Otherwise the batch walks its headers as before, to the same kind of
 *      boundary, so the next batch starts at a mark again.
 *    - 2 laps of marks (128) are kept, each with its full position: a mark
 *      from an older lap, or a block whose mark a nested writer or a
 *      record longer than a block left unwritten, is never taken for one.
 * ---------------------------------------------------------------------------
 */
#ifndef HV_TRACE_RING_H
#define HV_TRACE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ring_policy {
    RING_OVERWRITE = 0,   /* flight recorder: the oldest records make room */
    RING_DROP_NEWEST = 1, /* keep old records, drop the new one when full   */
};

#define RING_HDR_SIZE   16u           /* per-record header in the buffer     */
#define RING_MIN_SIZE   64u           /* smallest buffer accepted            */
#define RING_MAX_SIZE   (1u << 30)    /* largest buffer accepted             */
#define RING_LEN_LIMIT  0xfff8u       /* absolute payload cap (16-bit field) */

/* ring_read return values besides >0 (a record's length) and 0 (nothing). */
#define RING_E2BIG   (-1)   /* next record longer than cap; it stays queued */

#define RING_CACHELINE 64
#define RING_BLOCKS    64u            /* reclaim blocks per ring (note 5)    */
#define RING_MARKS     (2 * RING_BLOCKS) /* two laps of block marks (note 8)  */

struct trace_ring {
    /* Producer side (owning CPU); the consumer only reads these. */
    uint64_t resv;            /* seq_lo32 << 32 | head position in 8B units */
    uint64_t seq_hint;        /* a recent full seq, to extend seq_lo32      */
    uint64_t vis;             /* header-publication frontier (bytes)        */
    uint32_t nest;            /* writers inside the reserve window          */
    uint32_t policy;
    uint64_t dropped;         /* attempts dropped (full, or blocked)        */
    uint64_t overwritten;     /* committed records reclaimed by the writer  */
    uint64_t invalid;         /* rejected calls: len 0 or too long          */
    uint64_t open;            /* reserved and not yet committed (note 8)    */
    unsigned char *buf;
    uint64_t fast_end;        /* ring_write's fast path: records ending
                                 below it need no pad, mark or reclaim    */
    uint32_t mask;            /* size - 1                                   */
    uint32_t max_len;         /* largest payload accepted                   */
    uint32_t block_shift;     /* log2(size / 64): the reclaim block          */

    /* Consumer side: tail is also advanced by the writer in overwrite mode. */
    uint64_t tail __attribute__((aligned(RING_CACHELINE))); /* oldest, bytes */
    uint64_t stale_skipped;   /* records given up on by ring_read_ex         */
    uint64_t stuck_pos;       /* consumer-private: where it is blocked       */
    uint32_t stuck_count;     /* consumer-private: calls blocked there       */

    /* Writer-private (this CPU's writers only), note 8: by block number
     * modulo RING_MARKS, the first record boundary at or past the block's
     * start and how many records lie before it. */
    struct ring_mark {
        uint64_t pos;
        uint64_t recs;
    } marks[RING_MARKS] __attribute__((aligned(RING_CACHELINE)));
} __attribute__((aligned(RING_CACHELINE)));

struct ring_stats {
    uint64_t attempts;      /* seqs handed out = next seq (written + dropped) */
    uint64_t written;       /* records reserved in the ring (attempts-dropped)*/
    uint64_t dropped;       /* records refused (seq consumed, no data)        */
    uint64_t overwritten;   /* committed records destroyed unread (overwrite) */
    uint64_t stale_skipped; /* records the consumer gave up on                */
    uint64_t invalid;       /* calls rejected for a bad length (no seq used)  */
    uint64_t bytes;         /* ring bytes ever reserved: payload, 16-byte
                               headers, 8-byte alignment and wrap padding    */
    uint64_t pending_bytes; /* bytes between tail and head right now         */
};

/* Set up a ring over caller memory `buf` (8-byte aligned, `size` a power of
 * two in [RING_MIN_SIZE, RING_MAX_SIZE]). Returns false if the arguments are
 * unusable (the ring then refuses every write). Not concurrent with use. */
bool ring_init(struct trace_ring *r, void *buf, uint32_t size, enum ring_policy p);

/* Largest payload this ring accepts: min(RING_LEN_LIMIT, size/2 - 16). */
uint32_t ring_max_len(const struct trace_ring *r);

/* Copy a record in. Any context, owning CPU only. Returns false if the
 * record was dropped (seq consumed, counted) or rejected (len 0 or above
 * ring_max_len: no seq consumed, counted in `invalid`). */
bool ring_write(struct trace_ring *r, const void *rec, uint32_t len);

/* Two-phase write: reserve `len` bytes, encode them in place, commit.
 * Returns the 8-byte-aligned payload area, or NULL exactly when ring_write
 * would return false. *seq (if non-NULL) receives the record's seq, also on
 * a drop (the seq the dropped record consumed). Between reserve and commit
 * the record blocks the consumer; keep it short. Nesting is allowed: a
 * handler may reserve/commit while an interrupted context holds a
 * reservation. Commit exactly once per non-NULL reserve.
 * In RING_OVERWRITE mode a consumer on another CPU may still be copying the
 * older record that occupied this space (it discards that copy, note 5):
 * code held to the C memory model (the ThreadSanitizer host tests) encodes
 * with relaxed __atomic stores, as ring_write does; on x86-64 these are the
 * same instructions as plain stores. */
void *ring_reserve(struct trace_ring *r, uint32_t len, uint64_t *seq);
void ring_commit(struct trace_ring *r, void *payload);

/* Take the oldest record. One consumer at a time, any CPU. Returns its
 * length (>0) with the bytes in out[0..len) and its seq in *seq; 0 when the
 * ring is empty or the oldest record is not committed yet; RING_E2BIG when
 * the oldest record is longer than cap (pass cap >= ring_max_len()).
 * Gaps in the seqs returned are exactly the lost records. */
int ring_read(struct trace_ring *r, void *out, uint32_t cap, uint64_t *seq);

/* As ring_read, but if the oldest record stays uncommitted for
 * `stale_after` consecutive calls (0 = never), skip it and count it in
 * stale_skipped (see design note 7 in this header for when that is safe). */
int ring_read_ex(struct trace_ring *r, void *out, uint32_t cap, uint64_t *seq,
                 uint32_t stale_after);

/* True when nothing is reserved and unread (committed or not). */
bool ring_empty(const struct trace_ring *r);

/* Snapshot of the counters; any CPU, any time (fields read one by one). */
void ring_stats(const struct trace_ring *r, struct ring_stats *s);

#if defined(HOSTED) && !defined(RING_NO_TEST_HOOKS)
/* Test hook: called at named points inside the writer, so host tests can
 * play an "NMI" that writes at exactly that instruction. NULL normally.
 * Benchmarks build without it (-DRING_NO_TEST_HOOKS), as the hypervisor. */
enum ring_hook_point {
    RING_HOOK_LOADED = 1,    /* after reading resv, before the space check  */
    RING_HOOK_BEFORE_CAS,    /* space checked, reservation CAS not done yet */
    RING_HOOK_AFTER_CAS,     /* reserved, header not written yet            */
    RING_HOOK_HDR_WRITTEN,   /* header written, still inside the window     */
    RING_HOOK_PUBLISH,       /* header written, inside the publish loop     */
    RING_HOOK_RECLAIM,       /* overwrite: about to move tail past a record */
    RING_HOOK_READ_COPIED,   /* consumer: payload copied, not validated yet */
    RING_HOOK_PUBLISH_LOADED,/* publish: resv read, tail not read yet       */
    RING_HOOK_DROPPED,       /* a drop's seq taken, not counted yet         */
};
extern void (*ring_test_hook)(struct trace_ring *r, enum ring_hook_point pt);
#endif

#endif /* HV_TRACE_RING_H */
