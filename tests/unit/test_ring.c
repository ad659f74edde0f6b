/* Concurrency stress of the trace ring (hv/trace/ring.c).
 *
 * NPROD producer threads each own one ring (a ring per "CPU"). An injector
 * thread fires SIGUSR1 and SIGUSR2 at them at a high rate; the handlers
 * write records into the SAME ring of the interrupted thread (standing in
 * for exceptions and NMIs landing inside a half-written record; USR1 and
 * USR2 can interrupt each other, so nesting reaches 3 levels). Two consumer
 * threads drain all rings concurrently, serialised per ring by a try-lock.
 *
 * Every record carries (ring, context, per-context counter, seq if known,
 * length) and a pattern derived from them, so a torn, mixed or misplaced
 * record is detected. At the end, per ring:
 *   - seqs delivered strictly increase (nothing delivered twice),
 *   - delivered + missing seqs == attempts,
 *   - missing seqs == dropped + overwritten + stale_skipped (exact),
 *   - dropped == writes that returned false,
 *   - per context, counters strictly increase (no reordering),
 *   - big ring: nothing missing at all.
 * Run for both policies, with a small ring (forces loss) and a big one.
 *
 * ThreadSanitizer build (make: build/host-tsan/test_ring): the same threads,
 * producers against two consumers, checked for data races, WITHOUT the
 * signal-handler writers (the injector thread, the handlers and the
 * self-sent signals in encode_slow are left out, and so are the checks that
 * handlers wrote and nested 3 deep). Why: TSan does not run an asynchronous
 * signal's handler where the signal lands; it defers it to the thread's next
 * interceptor call or synchronisation point, so a handler would never
 * interrupt a record at an arbitrary instruction (the thing those writers
 * exist to test), and TSan's own signal bookkeeping then reports the
 * handlers themselves ("signal handler spoils errno" around pthread_kill).
 * Nesting is covered by the ASan build of this file and, instruction by
 * instruction, by test_ring_cases.c and test_ring_nmi_points.c (also
 * built with TSan they would check nothing: they have one thread). Counts are smaller under TSan (5-15x slower). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trace/ring.h"

#if defined(__SANITIZE_THREAD__)          /* gcc -fsanitize=thread */
#define TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)       /* clang -fsanitize=thread */
#define TSAN_BUILD 1
#endif
#endif
#ifndef TSAN_BUILD
#define TSAN_BUILD 0
#endif
#define WITH_SIGNALS (!TSAN_BUILD)

#define NPROD 3
#define NCONS 2
#define NCTX 3          /* 0 normal, 1 SIGUSR1 ("exception"), 2 SIGUSR2 ("NMI") */
#define MINLEN 32
#define MAXLEN 300
#define NOSEQ 0xffffffffffffffffull

struct rec_head {
    uint64_t id;        /* ring << 56 | ctx << 48 | counter */
    uint64_t seq;       /* seq from ring_reserve, or NOSEQ for ring_write */
    uint32_t len;
    uint32_t check;     /* sum of the other fields, scrambled */
};

static uint8_t pat(uint64_t id, uint32_t i)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ull + i * 0x632be59bd9b4e019ull;
    return (uint8_t)(x >> 56);
}

static uint32_t head_check(const struct rec_head *h)
{
    uint64_t x = h->id ^ (h->seq * 31) ^ ((uint64_t)h->len << 17);
    return (uint32_t)(x ^ (x >> 32) ^ 0x5a5a1234u);
}

/* ---- per-producer state ---------------------------------------------- */

struct prod {
    struct trace_ring ring;
    uint8_t *mem;
    pthread_t tid;
    int idx;
    volatile int done;
    uint64_t ctr[NCTX];             /* next counter per context            */
    uint64_t ok, fail;              /* ring writes accepted / dropped      */
    /* consumer-side verification state (under lock) */
    pthread_mutex_t lock;
    uint64_t next_seq;              /* last delivered seq + 1              */
    uint64_t delivered, missing;
    uint64_t last_ctr[NCTX];        /* last counter + 1 seen per context   */
    int depth;                      /* emit() nesting right now            */
    uint64_t nested;                /* emits that interrupted an emit      */
    int max_depth;
};

static struct prod prods[NPROD];
static __thread struct prod *self;
static volatile int stop_cons, stop_inj;
static volatile int failed;
static enum ring_policy g_pol;

#define FAILF(...)                                                           \
    do {                                                                     \
        fprintf(stderr, "FAIL: " __VA_ARGS__);                               \
        fprintf(stderr, "\n");                                               \
        __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);                      \
    } while (0)

static uint32_t rnd32(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)*s;
}

/* Encode byte by byte so asynchronous signals land mid-record. The stores
 * are relaxed atomics (one byte each, never merged by the compiler): in
 * overwrite mode a consumer may still be copying the older record that was
 * here (ring.h, ring_reserve). Sometimes also send ourselves a signal at a
 * random byte: it is delivered on the syscall's return, so a handler surely
 * writes while this record is reserved and half-written (async delivery
 * alone is rare on a loaded 2-core machine, where the kernel mostly
 * delivers at syscall exits). */
static void encode_slow(uint8_t *p, const struct rec_head *h,
                        uint64_t *rs, int ctx)
{
    uint32_t r = rnd32(rs);
    uint32_t kick = WITH_SIGNALS && (r & 7) == 0 && ctx < 2 ? (r >> 8) % h->len
                                                           : ~0u;
    const uint8_t *hb = (const uint8_t *)h;
    for (uint32_t i = 0; i < h->len; i++) {
        if (i == kick)
            pthread_kill(pthread_self(), ctx == 0 ? SIGUSR1 : SIGUSR2);
        __atomic_store_n(&p[i], i < sizeof(*h) ? hb[i] : pat(h->id, i),
                         __ATOMIC_RELAXED);
    }
}

/* One record from context ctx into this thread's ring. Signal-safe. */
static void emit(int ctx, uint64_t *rs)
{
    struct prod *p = self;
    if (p->depth > 0)
        p->nested++;
    p->depth++;
    if (p->depth > p->max_depth)
        p->max_depth = p->depth;
    uint32_t len = MINLEN + rnd32(rs) % (MAXLEN - MINLEN + 1);
    uint64_t c = p->ctr[ctx]++;   /* handlers nest LIFO: no lost update */
    struct rec_head h = {
        .id = ((uint64_t)p->idx << 56) | ((uint64_t)ctx << 48) | c,
        .seq = NOSEQ, .len = len,
    };
    bool ok;
    if (rnd32(rs) & 1) {
        uint64_t seq;
        uint8_t *dst = ring_reserve(&p->ring, len, &seq);
        ok = dst != NULL;
        if (ok) {
            h.seq = seq;
            h.check = head_check(&h);
            encode_slow(dst, &h, rs, ctx);
            ring_commit(&p->ring, dst);
        }
    } else {
        uint8_t buf[MAXLEN];
        h.check = head_check(&h);
        memcpy(buf, &h, sizeof(h));
        for (uint32_t i = sizeof(h); i < len; i++)
            buf[i] = pat(h.id, i);
        ok = ring_write(&p->ring, buf, len);
    }
    if (ok)
        __atomic_fetch_add(&p->ok, 1, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&p->fail, 1, __ATOMIC_RELAXED);
    p->depth--;
}

static __thread uint64_t sig_rng;
static void on_usr1(int sig)
{
    (void)sig;
    if (self)
        emit(1, &sig_rng);
}
static void on_usr2(int sig)
{
    (void)sig;
    if (self) {
        emit(2, &sig_rng);
        if (sig_rng & 1)
            emit(2, &sig_rng);
    }
}

static uint64_t g_nrec;

static void *producer(void *arg)
{
    struct prod *p = arg;
    uint64_t rs = 0x1234567ull + (uint64_t)p->idx * 7919;
    sig_rng = 0xabcdefull + (uint64_t)p->idx;
    self = p;
    for (uint64_t i = 0; i < g_nrec; i++) {
        emit(0, &rs);
        if ((i & 255) == 255)
            sched_yield();   /* 2-core machines: let the injector run */
    }
    /* Block the signals before clearing self, then report done. */
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &m, NULL);
    self = NULL;
    __atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static uint64_t g_signals;
static void *injector(void *arg)
{
    (void)arg;
    uint64_t n = 0;
    while (!__atomic_load_n(&stop_inj, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < NPROD; i++) {
            if (__atomic_load_n(&prods[i].done, __ATOMIC_ACQUIRE))
                continue;
            /* Back to back, so the second often lands in the first's
             * handler: normal -> USR1 -> USR2 (or the reverse). */
            pthread_kill(prods[i].tid, (n & 1) ? SIGUSR2 : SIGUSR1);
            pthread_kill(prods[i].tid, (n & 1) ? SIGUSR1 : SIGUSR2);
            n += 2;
        }
        sched_yield();
    }
    g_signals = n;
    return NULL;
}

static void check_record(struct prod *p, const uint8_t *b, int n, uint64_t seq)
{
    struct rec_head h;
    if (n < (int)sizeof(h)) {
        FAILF("ring %d: short record %d", p->idx, n);
        return;
    }
    memcpy(&h, b, sizeof(h));
    if (h.len != (uint32_t)n || h.check != head_check(&h)) {
        FAILF("ring %d: torn header seq %lu len %d hdr.len %u", p->idx,
              (unsigned long)seq, n, h.len);
        return;
    }
    for (int i = sizeof(h); i < n; i++)
        if (b[i] != pat(h.id, (uint32_t)i)) {
            FAILF("ring %d: torn payload seq %lu at byte %d", p->idx,
                  (unsigned long)seq, i);
            return;
        }
    int ring = (int)(h.id >> 56), ctx = (int)((h.id >> 48) & 0xff);
    uint64_t c = h.id & 0xffffffffffffull;
    if (ring != p->idx || ctx >= NCTX) {
        FAILF("ring %d: record of ring %d ctx %d", p->idx, ring, ctx);
        return;
    }
    if (h.seq != NOSEQ && h.seq != seq)
        FAILF("ring %d: ring_read seq %lu but record reserved seq %lu", p->idx,
              (unsigned long)seq, (unsigned long)h.seq);
    if (seq < p->next_seq)
        FAILF("ring %d: seq %lu after %lu (duplicate/reorder)", p->idx,
              (unsigned long)seq, (unsigned long)p->next_seq - 1);
    if (c < p->last_ctr[ctx])
        FAILF("ring %d ctx %d: counter %lu after %lu", p->idx, ctx,
              (unsigned long)c, (unsigned long)p->last_ctr[ctx] - 1);
    p->last_ctr[ctx] = c + 1;
    p->missing += seq - p->next_seq;
    p->next_seq = seq + 1;
    p->delivered++;
}

static int drain(struct prod *p, int max)
{
    static __thread uint8_t buf[1 << 16];
    int got = 0;
    if (pthread_mutex_trylock(&p->lock) != 0)
        return 0;
    for (; got < max; got++) {
        uint64_t seq;
        int n = ring_read(&p->ring, buf, sizeof(buf), &seq);
        if (n == 0)
            break;
        if (n < 0) {
            FAILF("ring %d: read error %d", p->idx, n);
            break;
        }
        check_record(p, buf, n, seq);
    }
    pthread_mutex_unlock(&p->lock);
    return got;
}

static void *consumer(void *arg)
{
    int me = (int)(intptr_t)arg;
    while (!__atomic_load_n(&stop_cons, __ATOMIC_ACQUIRE)) {
        int got = 0;
        for (int k = 0; k < NPROD; k++)
            got += drain(&prods[(k + me) % NPROD], 64);
        if (!got)
            sched_yield();
    }
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run(enum ring_policy pol, uint32_t size, uint64_t nrec, bool expect_lossless)
{
    double t0 = now();
    g_pol = pol;
    g_nrec = nrec;
    stop_cons = stop_inj = 0;
    for (int i = 0; i < NPROD; i++) {
        struct prod *p = &prods[i];
        memset(p, 0, sizeof(*p));
        p->idx = i;
        p->mem = aligned_alloc(64, size);
        memset(p->mem, 0xa5, size);  /* stale garbage to be ignored */
        if (!ring_init(&p->ring, p->mem, size, pol)) {
            FAILF("ring_init");
            return;
        }
        pthread_mutex_init(&p->lock, NULL);
    }
    pthread_t cons[NCONS], inj;
    for (int i = 0; i < NCONS; i++)
        pthread_create(&cons[i], NULL, consumer, (void *)(intptr_t)i);
    for (int i = 0; i < NPROD; i++)
        pthread_create(&prods[i].tid, NULL, producer, &prods[i]);
    if (WITH_SIGNALS)
        pthread_create(&inj, NULL, injector, NULL);
    for (int i = 0; i < NPROD; i++)
        while (!__atomic_load_n(&prods[i].done, __ATOMIC_ACQUIRE))
            usleep(1000);
    __atomic_store_n(&stop_inj, 1, __ATOMIC_RELEASE);
    if (WITH_SIGNALS)
        pthread_join(inj, NULL);
    for (int i = 0; i < NPROD; i++)
        pthread_join(prods[i].tid, NULL);
    __atomic_store_n(&stop_cons, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < NCONS; i++)
        pthread_join(cons[i], NULL);

    uint64_t tot_del = 0, tot_att = 0, tot_lost = 0, tot_nested = 0;
    int maxd = 0;
    for (int i = 0; i < NPROD; i++) {
        struct prod *p = &prods[i];
        while (drain(p, 1 << 30) > 0)
            ;
        if (!ring_empty(&p->ring))
            FAILF("ring %d: not empty after final drain", i);
        struct ring_stats s;
        ring_stats(&p->ring, &s);
        p->missing += s.attempts - p->next_seq;   /* gap after the last */
        uint64_t lost = s.dropped + s.overwritten + s.stale_skipped;
        if (s.attempts != p->ok + p->fail)
            FAILF("ring %d: attempts %lu != ok %lu + fail %lu", i,
                  (unsigned long)s.attempts, (unsigned long)p->ok,
                  (unsigned long)p->fail);
        if (s.dropped != p->fail)
            FAILF("ring %d: dropped %lu != failed writes %lu", i,
                  (unsigned long)s.dropped, (unsigned long)p->fail);
        if (p->delivered + p->missing != s.attempts)
            FAILF("ring %d: delivered %lu + missing %lu != attempts %lu", i,
                  (unsigned long)p->delivered, (unsigned long)p->missing,
                  (unsigned long)s.attempts);
        if (p->missing != lost)
            FAILF("ring %d: missing seqs %lu != counted loss %lu "
                  "(dropped %lu overwritten %lu stale %lu)", i,
                  (unsigned long)p->missing, (unsigned long)lost,
                  (unsigned long)s.dropped, (unsigned long)s.overwritten,
                  (unsigned long)s.stale_skipped);
        if (p->delivered != p->ok - s.overwritten - s.stale_skipped)
            FAILF("ring %d: delivered %lu != ok %lu - overwritten %lu", i,
                  (unsigned long)p->delivered, (unsigned long)p->ok,
                  (unsigned long)s.overwritten);
        if (WITH_SIGNALS && p->ctr[1] + p->ctr[2] == 0)
            FAILF("ring %d: no signal handler ever wrote", i);
        if (expect_lossless && lost)
            FAILF("ring %d: big ring lost %lu records", i, (unsigned long)lost);
        tot_nested += p->nested;
        if (p->max_depth > maxd)
            maxd = p->max_depth;
        tot_del += p->delivered;
        tot_att += s.attempts;
        tot_lost += lost;
        free(p->mem);
        pthread_mutex_destroy(&p->lock);
    }
    printf("  %-10s ring %8u B: %8lu attempts (%lu from handlers), "
           "%8lu delivered, %7lu lost, %lu signals, %lu nested writes, "
           "depth %d, %.2fs\n",
           pol == RING_OVERWRITE ? "overwrite" : "drop-new", size,
           (unsigned long)tot_att,
           (unsigned long)(tot_att - (uint64_t)NPROD * nrec),
           (unsigned long)tot_del, (unsigned long)tot_lost,
           (unsigned long)g_signals, (unsigned long)tot_nested, maxd,
           now() - t0);
    if (WITH_SIGNALS && (tot_nested == 0 || maxd < 3))
        FAILF("signals never nested 3 deep into a record being written");
    if (!expect_lossless && tot_lost == 0)
        FAILF("small ring never lost anything: the test did not stress loss");
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);          /* USR1 and USR2 nest into each other */
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);

#if WITH_SIGNALS
    printf("test_ring: %d producer rings, %d consumers, signal-handler writers\n",
           NPROD, NCONS);
    run(RING_DROP_NEWEST, 2048, 600000, false);
    run(RING_OVERWRITE, 2048, 600000, false);
    run(RING_DROP_NEWEST, 64u << 20, 150000, true);
    run(RING_OVERWRITE, 64u << 20, 150000, true);
#else
    printf("test_ring (ThreadSanitizer): %d producer rings, %d consumers, "
           "no signal-handler writers (see the top of this file)\n",
           NPROD, NCONS);
    run(RING_DROP_NEWEST, 2048, 150000, false);
    run(RING_OVERWRITE, 2048, 150000, false);
    run(RING_DROP_NEWEST, 16u << 20, 40000, true);
    run(RING_OVERWRITE, 16u << 20, 40000, true);
#endif
    if (failed) {
        fprintf(stderr, "test_ring: FAILED\n");
        return 1;
    }
    printf("test_ring: all passed\n");
    return 0;
}
