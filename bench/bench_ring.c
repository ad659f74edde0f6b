/* ns per trace record: the per-CPU ring vs the seed project's spinlock +
 * snprintf text logger vs three references (below), with 1 and 2 threads.
 * Each thread stands for one CPU: it owns its ring, its minimal ring and
 * its floor array; the text logger is global, as in the seed design.
 *
 * How it is timed, and why: each thread times every chunk of CHUNK records
 * on its own; a writer's figure is the median chunk over all threads and
 * ROUNDS rounds, and the rounds run the writers in turn (ring, floor, ...,
 * ring, floor, ...). On a shared, loaded host a whole-run "best of 3" timed
 * each writer in a different moment of the load (ratios swung 2x between
 * runs); a chunk is ~25 us, shorter than a scheduler slice, so the median
 * chunk is one that ran undisturbed, for floor and ring alike.
 * The rounds are spread over ~ROUNDS * PAUSE_MS of wall time: this host
 * has spells of seconds in which code bound by instruction throughput runs
 * 1.3-1.8x slower (plain stores 1.8 -> 2.9 ns, the ring 7.4 -> 13 ns) and
 * the struct copy, bound by one stall's latency, 1.1x (6.8 -> 7.6 ns): a
 * busy neighbour on the core's other hyperthread, by that signature. A run
 * of 4 s could fall inside one spell; spread over ~25 s, the median is a
 * chunk from outside it unless the spells cover half the run. The share of
 * slow chunks is printed (the plain stores' chunks against their own
 * fastest), so a verdict taken on a shared core says so.
 *
 * The references. "struct copy" is the floor issue 12 measured (13.3-13.7
 * ns then) and set its goals against: a struct assignment, which gcc copies
 * with a 16-byte load that spans the 8-byte field just stored; the store
 * cannot be forwarded and each record waits ~5 ns. "plain stores" copies
 * the same words with 8-byte movs, as the ring does, and does not stall:
 * five stores a record (two fields, three words). "minimal ring" is the
 * least a ring can do (a head and a seq kept in memory, a header, the
 * payload) without NMI safety or loss counts; it already costs about twice
 * plain stores, so no ring can meet the goals against them, and the ring's
 * ratio to it is what the NMI-safe protocol costs. The goals are judged
 * against the struct copy; the other ratios are printed with no goal.
 * The ring is built without the host tests' hook calls (RING_NO_TEST_HOOKS
 * from the Makefile), as in the hypervisor.
 * Build: make build/bench/bench_ring. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace/ring.h"

#define MAXT 2
#define RING_BYTES (1u << 20)

struct rec24 {              /* a typical trace record: 24 bytes */
    uint32_t event;
    uint16_t cpu;
    uint16_t flags;
    uint64_t tsc;
    uint64_t arg;
};

/* The least any ring can cost, for reference: a head and a seq in memory,
 * a 16-byte header (stamp | length, seq) and the payload in words, a pad to
 * the buffer's end, nothing else. Not NMI-safe (an interrupt between the
 * head's load and its store loses a record), no publication frontier, no
 * loss counting, never full (it overwrites blindly). */
struct minimal_ring {
    uint64_t head;
    uint64_t seq;
    uint8_t *buf;
    uint64_t mask;
};

static __attribute__((noinline)) void minimal_write(struct minimal_ring *m, const void *src,
                                                    uint32_t len)
{
    uint64_t h = m->head, rec = 16 + (((uint64_t)len + 7) & ~(uint64_t)7);
    if ((h & m->mask) + rec > m->mask + 1)
        h += m->mask + 1 - (h & m->mask);
    uint64_t *p = (uint64_t *)(void *)(m->buf + (h & m->mask));
    p[0] = (h >> 3) << 32 | len;
    p[1] = m->seq++;
    for (uint32_t w = 0; w < len / 8; w++) {
        uint64_t x;
        memcpy(&x, (const uint8_t *)src + 8 * w, 8);
        p[2 + w] = x;
    }
    m->head = h + rec;
}

struct percpu {
    struct trace_ring ring;
    struct minimal_ring minimal;
    uint8_t *ring_mem;
    struct rec24 *floor;    /* 64 Ki records */
} __attribute__((aligned(64)));

static struct percpu cpus[MAXT];

/* The seed's logger: one global spinlock, snprintf into a shared buffer. */
static volatile int log_lock;
static char log_buf[1 << 20];
static size_t log_pos;

static void spin_lock(void)
{
    while (__atomic_exchange_n(&log_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&log_lock, __ATOMIC_RELAXED))
            __builtin_ia32_pause();
}
static void spin_unlock(void)
{
    __atomic_store_n(&log_lock, 0, __ATOMIC_RELEASE);
}

#define CHUNK 4096
#define ROUNDS 40
#define PAUSE_MS 500

enum kind { K_RING, K_SPIN, K_FLOOR, K_RING_FREE, K_FLOOR_STRUCT, K_MINIMAL, NKIND };
static const char *kind_name[] = {"ring (overwriting)", "spinlock+snprintf",
                                  "plain stores", "ring (has room)",
                                  "struct copy", "minimal ring"};

struct job {
    enum kind k;
    int cpu;
    uint64_t n;             /* records, a multiple of CHUNK */
    pthread_barrier_t *bar;
    double *chunk_ns;       /* out: ns per record, one per chunk */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One chunk of records [i0, i0 + CHUNK) of kind k on this thread's CPU. */
static void run_chunk(enum kind k, int cpu, struct percpu *c, uint64_t i0,
                      struct rec24 *rec)
{
    switch (k) {
    case K_RING:
        for (uint64_t i = i0; i < i0 + CHUNK; i++) {
            rec->tsc = i;
            rec->arg = i ^ 0x55;
            ring_write(&c->ring, rec, sizeof(*rec));
        }
        break;
    case K_SPIN:
        for (uint64_t i = i0; i < i0 + CHUNK; i++) {
            spin_lock();
            if (log_pos > sizeof(log_buf) - 64)
                log_pos = 0;
            log_pos += (size_t)snprintf(log_buf + log_pos, 64, "{%d,%lu,%u}\n",
                                        cpu, (unsigned long)i, 7u);
            spin_unlock();
        }
        break;
    case K_RING_FREE:   /* drop-newest ring that never fills: no reclaim */
        if ((i0 & 16383) == 0)
            ring_init(&c->ring, c->ring_mem, RING_BYTES, RING_DROP_NEWEST);
        for (uint64_t i = i0; i < i0 + CHUNK; i++) {
            rec->tsc = i;
            rec->arg = i ^ 0x55;
            ring_write(&c->ring, rec, sizeof(*rec));
        }
        break;
    case K_FLOOR:       /* the record's 3 words, as the ring copies them */
        for (uint64_t i = i0; i < i0 + CHUNK; i++) {
            rec->tsc = i;
            rec->arg = i ^ 0x55;
            __asm__ volatile("" : "+m"(*rec));   /* it is in memory, as for the ring */
            const uint64_t *src = (const uint64_t *)(const void *)rec;
            uint64_t *dst = (uint64_t *)(void *)&c->floor[i & 0xffff];
            for (int w = 0; w < 3; w++)   /* relaxed: 8-byte movs, not merged */
                dst[w] = __atomic_load_n(&src[w], __ATOMIC_RELAXED);
            __asm__ volatile("" ::: "memory");
        }
        break;
    case K_MINIMAL:
        for (uint64_t i = i0; i < i0 + CHUNK; i++) {
            rec->tsc = i;
            rec->arg = i ^ 0x55;
            minimal_write(&c->minimal, rec, sizeof(*rec));
        }
        break;
    case K_FLOOR_STRUCT:
        for (uint64_t i = i0; i < i0 + CHUNK; i++) {
            rec->tsc = i;
            rec->arg = i ^ 0x55;
            c->floor[i & 0xffff] = *rec;
            __asm__ volatile("" ::: "memory");
        }
        break;
    default:
        break;
    }
}

static void *worker(void *arg)
{
    struct job *j = arg;
    /* Thread i runs on CPU i, as the CPU it stands for: unpinned, the
     * scheduler moved threads between the host's CPUs in mid-run and the
     * 1-thread medians swung 8-15 ns between runs. Best effort: a host
     * with one CPU runs both threads on it. */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(j->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    struct percpu *c = &cpus[j->cpu];
    struct rec24 rec = {.event = 7, .cpu = (uint16_t)j->cpu};
    if (j->k == K_RING)     /* start full: every write reclaims */
        for (uint64_t i = 0; i < RING_BYTES / 16; i++)
            ring_write(&c->ring, &rec, sizeof(rec));
    pthread_barrier_wait(j->bar);
    for (uint64_t i = 0; i < j->n; i += CHUNK) {
        double t0 = now();
        run_chunk(j->k, j->cpu, c, i, &rec);
        j->chunk_ns[i / CHUNK] = (now() - t0) / CHUNK;
    }
    if (j->k == K_RING_FREE)
        ring_init(&c->ring, c->ring_mem, RING_BYTES, RING_OVERWRITE);
    return NULL;
}

/* Issue 12's goals for the ring against the plain-store floor. */
#define GOAL_ROOM      1.3
#define GOAL_OVERWRITE 1.6

static const char *verdict(const double ring[2], const double floor[2], double goal)
{
    return ring[0] / floor[0] <= goal && ring[1] / floor[1] <= goal ? "met" : "NOT met";
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* All chunk times of one writer: ROUNDS * MAXT * chunks. */
static double *samples[NKIND][MAXT];
static size_t nsamples[NKIND][MAXT];

static void run_round(enum kind k, int nthreads, uint64_t n)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
    pthread_t t[MAXT];
    struct job jobs[MAXT];
    double *out = samples[k][nthreads - 1];
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (struct job){k, i, n, &bar, out + nsamples[k][nthreads - 1]};
        nsamples[k][nthreads - 1] += n / CHUNK;
        pthread_create(&t[i], NULL, worker, &jobs[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
}

/* The share of kind k's chunks that ran >= 1.3x slower than the fastest
 * tenth of them (sorts a copy). */
static double slow_share(enum kind k, int nthreads)
{
    size_t n = nsamples[k][nthreads - 1];
    double *v = malloc(n * sizeof(*v));
    memcpy(v, samples[k][nthreads - 1], n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_double);
    size_t slow = 0;
    for (size_t i = 0; i < n; i++)
        slow += v[i] >= 1.3 * v[n / 10];
    free(v);
    return (double)slow / (double)n;
}

static double median(enum kind k, int nthreads)
{
    double *v = samples[k][nthreads - 1];
    size_t n = nsamples[k][nthreads - 1];
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

int main(void)
{
    for (int i = 0; i < MAXT; i++) {
        cpus[i].ring_mem = aligned_alloc(64, RING_BYTES);
        cpus[i].floor = aligned_alloc(64, 65536 * sizeof(struct rec24));
        memset(cpus[i].ring_mem, 0, RING_BYTES);
        memset(cpus[i].floor, 0, 65536 * sizeof(struct rec24));
        ring_init(&cpus[i].ring, cpus[i].ring_mem, RING_BYTES, RING_OVERWRITE);
        cpus[i].minimal.buf = aligned_alloc(64, RING_BYTES);
        memset(cpus[i].minimal.buf, 0, RING_BYTES);
        cpus[i].minimal.mask = RING_BYTES - 1;
    }
    const uint64_t n_fast = 150 * CHUNK, n_slow = 30 * CHUNK;
    for (int k = 0; k < NKIND; k++)
        for (int t = 0; t < MAXT; t++)
            samples[k][t] = malloc(sizeof(double) * ROUNDS * MAXT * (n_fast / CHUNK));
    printf("bench_ring: ns per 24-byte trace record, per thread (median %d-record\n"
           "chunk of %d rounds %d ms apart, writers taking turns)\n", CHUNK, ROUNDS, PAUSE_MS);
    printf("ring (overwriting): RING_OVERWRITE, 1 MiB, full: writes free the oldest in batches\n"
           "ring (has room): RING_DROP_NEWEST, never full: the fast path only\n"
           "struct copy: the floor issue 12 set its goals against (its \"plain stores\n"
           "  of the same record\"): a struct assignment; it stalls ~5 ns on store\n"
           "  forwarding (a 16-byte load over the 8-byte field just stored)\n"
           "plain stores: the record's 3 words copied with plain movs, no stall\n"
           "minimal ring: head and seq in memory, a 16-byte header, the payload;\n"
           "  not NMI-safe, no frontier, no loss counts: the least any ring costs\n\n");
    for (int round = 0; round < ROUNDS; round++) {
        for (int t = 1; t <= MAXT; t++)
            for (int k = 0; k < NKIND; k++)
                run_round((enum kind)k, t, k == K_SPIN ? n_slow : n_fast);
        nanosleep(&(struct timespec){0, PAUSE_MS * 1000000L}, NULL);
    }
    printf("%-28s %6s %12s\n", "writer", "1 thread", "2 threads");
    double slow[2];
    for (int t = 1; t <= MAXT; t++)
        slow[t - 1] = slow_share(K_FLOOR, t);   /* before median() sorts */
    double r[NKIND][2];
    for (int k = 0; k < NKIND; k++) {
        for (int t = 1; t <= MAXT; t++)
            r[k][t - 1] = median((enum kind)k, t);
        printf("%-28s %4.1f ns %9.1f ns\n", kind_name[k], r[k][0], r[k][1]);
    }
    static const struct { const char *name; enum kind ring, floor; double goal; } rows[] = {
        {"overwriting / struct copy", K_RING, K_FLOOR_STRUCT, GOAL_OVERWRITE},
        {"has room / struct copy", K_RING_FREE, K_FLOOR_STRUCT, GOAL_ROOM},
        {"minimal ring / plain stores", K_MINIMAL, K_FLOOR, 0},
        {"overwriting / plain stores", K_RING, K_FLOOR, 0},
        {"has room / plain stores", K_RING_FREE, K_FLOOR, 0},
        {"has room / minimal ring", K_RING_FREE, K_MINIMAL, 0},
    };
    for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        printf("%-28s %5.1fx %11.1fx", rows[i].name, r[rows[i].ring][0] / r[rows[i].floor][0],
               r[rows[i].ring][1] / r[rows[i].floor][1]);
        if (rows[i].goal)
            printf("   goal <= %.1fx: %s\n", rows[i].goal,
                   verdict(r[rows[i].ring], r[rows[i].floor], rows[i].goal));
        else
            printf("   (no goal)\n");
    }
    printf("%-28s %5.1fx %11.1fx\n", "spinlock / ring (overwriting)",
           r[K_SPIN][0] / r[K_RING][0], r[K_SPIN][1] / r[K_RING][1]);
    printf("%-28s %5.0f%% %10.0f%%   (plain stores >= 1.3x their fastest tenth)\n",
           "slow chunks", 100 * slow[0], 100 * slow[1]);
    if (slow[0] >= 0.5 || slow[1] >= 0.5)
        printf("(half the run or more on a shared core: the figures are a shared core's)\n");
    printf("(goals: issue 12, both thread counts, against the struct copy it\n"
           " measured as the floor (13.3-13.7 ns then). Against plain stores no\n"
           " ring can meet them: the minimal ring's own ratio is printed above;\n"
           " has room / minimal ring is what NMI safety and exact loss counts\n"
           " cost. See README, Benchmarks)\n");
    return 0;
}
