/* ns per trace record: the per-CPU ring vs the seed project's spinlock +
 * snprintf text logger vs plain unsynchronised stores (the floor), with 1
 * and 2 threads. Each thread stands for one CPU: it owns its ring and its
 * floor array; the text logger is global, as in the seed design. Best of 3.
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

struct percpu {
    struct trace_ring ring;
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

enum kind { K_RING, K_SPIN, K_FLOOR, K_RING_FREE, NKIND };
static const char *kind_name[] = {"ring (overwriting)", "spinlock+snprintf",
                                  "plain stores", "ring (has room)"};

struct job {
    enum kind k;
    int cpu;
    uint64_t n;
    pthread_barrier_t *bar;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    struct percpu *c = &cpus[j->cpu];
    struct rec24 rec = {.event = 7, .cpu = (uint16_t)j->cpu};
    pthread_barrier_wait(j->bar);
    switch (j->k) {
    case K_RING:
        for (uint64_t i = 0; i < j->n; i++) {
            rec.tsc = i;
            rec.arg = i ^ 0x55;
            ring_write(&c->ring, &rec, sizeof(rec));
        }
        break;
    case K_SPIN:
        for (uint64_t i = 0; i < j->n; i++) {
            spin_lock();
            if (log_pos > sizeof(log_buf) - 64)
                log_pos = 0;
            log_pos += (size_t)snprintf(log_buf + log_pos, 64, "{%d,%lu,%u}\n",
                                        j->cpu, (unsigned long)i, 7u);
            spin_unlock();
        }
        break;
    case K_RING_FREE:   /* drop-newest ring that never fills: no reclaim */
        for (uint64_t i = 0; i < j->n; i++) {
            if ((i & 16383) == 0)
                ring_init(&c->ring, c->ring_mem, RING_BYTES, RING_DROP_NEWEST);
            rec.tsc = i;
            rec.arg = i ^ 0x55;
            ring_write(&c->ring, &rec, sizeof(rec));
        }
        ring_init(&c->ring, c->ring_mem, RING_BYTES, RING_OVERWRITE);
        break;
    case K_FLOOR:
        for (uint64_t i = 0; i < j->n; i++) {
            rec.tsc = i;
            rec.arg = i ^ 0x55;
            c->floor[i & 0xffff] = rec;
            __asm__ volatile("" ::: "memory");
        }
        break;
    default:
        break;
    }
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per record per thread, best of 3 runs. */
static double measure(enum kind k, int nthreads, uint64_t n)
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
        pthread_t t[MAXT];
        struct job jobs[MAXT];
        for (int i = 0; i < nthreads; i++) {
            jobs[i] = (struct job){k, i, n, &bar};
            pthread_create(&t[i], NULL, worker, &jobs[i]);
        }
        pthread_barrier_wait(&bar);
        double t0 = now();
        for (int i = 0; i < nthreads; i++)
            pthread_join(t[i], NULL);
        double ns = (now() - t0) / (double)n;
        pthread_barrier_destroy(&bar);
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(void)
{
    for (int i = 0; i < MAXT; i++) {
        cpus[i].ring_mem = aligned_alloc(64, RING_BYTES);
        cpus[i].floor = aligned_alloc(64, 65536 * sizeof(struct rec24));
        memset(cpus[i].ring_mem, 0, RING_BYTES);
        memset(cpus[i].floor, 0, 65536 * sizeof(struct rec24));
        ring_init(&cpus[i].ring, cpus[i].ring_mem, RING_BYTES, RING_OVERWRITE);
    }
    const uint64_t n_fast = 4000000, n_slow = 1000000;
    printf("bench_ring: ns per 24-byte trace record, per thread (best of 3)\n");
    printf("ring (overwriting): RING_OVERWRITE, 1 MiB, full: every write reclaims\n"
           "ring (has room): RING_DROP_NEWEST, never full: the fast path only\n\n");
    printf("%-20s %12s %12s\n", "writer", "1 thread", "2 threads");
    double r[NKIND][2];
    for (int k = 0; k < NKIND; k++) {
        for (int t = 1; t <= MAXT; t++)
            r[k][t - 1] = measure((enum kind)k, t, k == K_SPIN ? n_slow : n_fast);
        printf("%-20s %10.1f ns %10.1f ns\n", kind_name[k], r[k][0], r[k][1]);
    }
    printf("%-20s %11.1fx %11.1fx\n", "ring / floor", r[K_RING][0] / r[K_FLOOR][0],
           r[K_RING][1] / r[K_FLOOR][1]);
    printf("%-20s %11.1fx %11.1fx\n", "spinlock / ring", r[K_SPIN][0] / r[K_RING][0],
           r[K_SPIN][1] / r[K_RING][1]);
    printf("%-20s %11.1fx %11.1fx\n", "ring(room) / floor",
           r[K_RING_FREE][0] / r[K_FLOOR][0], r[K_RING_FREE][1] / r[K_FLOOR][1]);
    return 0;
}
