/* The CPU-local atomics of the trace ring (hv/trace/local_atomic.h).
 *
 * The ring's writer takes its reservation with local_cas64 (or
 * local_cmpxchg64, ring_write's fast path) and counts its losses with
 * local_add64: a cmpxchg / add WITHOUT the lock prefix (on
 * x86-64, outside ThreadSanitizer). That is only correct because an
 * interrupt (here: a signal, delivered between two instructions of this
 * thread, like an NMI on a CPU) cannot land inside one instruction. This
 * test checks exactly that property, plus the plain semantics:
 *   - cas: true and the new value on a match; false and the current value
 *     in *exp on a mismatch; cmpxchg: the previous value either way, the
 *     new one stored only on a match; add adds;
 *   - a handler that increments the same three words while the main loop
 *     increments them (by add, by a cas retry loop and by a cmpxchg retry
 *     loop) loses no update.
 * A version made of a separate load and store (the bug this guards
 * against) lost about one increment per ten signals here when tried.
 * Exit 0 on success. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "trace/local_atomic.h"
#include "unit_check.h"

static uint64_t by_add, by_cas, by_xchg;     /* the contended words       */
static volatile uint64_t handler_runs;
static volatile int stop;
static pthread_t main_tid;

static void cas_inc(uint64_t *p)
{
    uint64_t e = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (!local_cas64(p, &e, e + 1))
        ;   /* e now holds the value that beat us: retry from it */
}

static void xchg_inc(uint64_t *p)
{
    uint64_t e = __atomic_load_n(p, __ATOMIC_RELAXED), was;
    while ((was = local_cmpxchg64(p, e, e + 1)) != e)
        e = was;
}

static void on_signal(int sig)
{
    (void)sig;
    local_add64(&by_add, 1);
    cas_inc(&by_cas);
    xchg_inc(&by_xchg);
    handler_runs = handler_runs + 1;
}

static void *injector(void *arg)
{
    (void)arg;
    while (!stop) {
        pthread_kill(main_tid, SIGUSR1);
        for (volatile int i = 0; i < 200; i++)
            ;
    }
    return NULL;
}

static void test_semantics(void)
{
    uint64_t w = 5, e = 5;
    CHECK(local_cas64(&w, &e, 9));
    CHECK(w == 9 && e == 5);
    e = 5;
    CHECK(!local_cas64(&w, &e, 11));
    CHECK(w == 9 && e == 9);
    CHECK(local_cmpxchg64(&w, 9, 4) == 9 && w == 4);
    CHECK(local_cmpxchg64(&w, 9, 7) == 4 && w == 4);
    w = 9;
    local_add64(&w, 3);
    CHECK(w == 12);
    local_add64(&w, ~0ull);     /* wraps like the atomic builtin: -1 */
    CHECK(w == 11);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Main loop and handler increment the same words; nothing may be lost. */
static void test_against_handler(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    main_tid = pthread_self();
    pthread_t inj;
    CHECK(pthread_create(&inj, NULL, injector, NULL) == 0);

    uint64_t mine = 0;
    double t0 = now_s();
    /* Until enough interleavings: a loaded host delivers fewer signals. */
    while (handler_runs < 20000 && now_s() - t0 < 60.0) {
        for (int i = 0; i < 1000; i++) {
            local_add64(&by_add, 1);
            cas_inc(&by_cas);
            xchg_inc(&by_xchg);
        }
        mine += 1000;
    }
    stop = 1;
    pthread_join(inj, NULL);
    signal(SIGUSR1, SIG_IGN);

    uint64_t h = handler_runs;
    printf("test_ring_local: %lu handler runs against %lu main increments\n",
           (unsigned long)h, (unsigned long)mine);
    CHECK(h >= 2000);                   /* the handler really interleaved */
    CHECK(by_add == mine + h);
    CHECK(by_cas == mine + h);
    CHECK(by_xchg == mine + h);
    if (by_add != mine + h || by_cas != mine + h || by_xchg != mine + h)
        fprintf(stderr, "lost: add %ld, cas %ld, cmpxchg %ld\n", (long)(mine + h - by_add),
                (long)(mine + h - by_cas), (long)(mine + h - by_xchg));
}

int main(void)
{
    test_semantics();
    test_against_handler();
    if (!failures)
        printf("test_ring_local: all passed\n");
    return failures != 0;
}
