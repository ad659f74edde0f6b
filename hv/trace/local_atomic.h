/* CPU-local atomics for the trace ring (hv/trace/ring.c, ring_read.c). Freestanding. */
#ifndef HV_TRACE_LOCAL_ATOMIC_H
#define HV_TRACE_LOCAL_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

/* CPU-local read-modify-writes, for words only the owning CPU writes (resv
 * and the writer's counters; the consumer only reads them). The writers
 * that race for such a word all run on one CPU, nested by interrupts, and
 * an interrupt lands between instructions, never inside one: a single
 * cmpxchg or add without the lock prefix is atomic against them (Linux's
 * local_t rests on the same fact). Why: a locked instruction is a full
 * barrier that waits for the store buffer to drain (every record's stores
 * before it), and it was most of the writer's time. Other CPUs see the
 * store half as an ordinary, single-copy atomic 8-byte store; x86 keeps it
 * in order with the loads and stores around it (TSO), and the "memory"
 * clobber keeps the compiler from moving accesses across it, which is what
 * the acquire/release of the former __atomic builtin gave.
 * ThreadSanitizer cannot see inside asm, so its build (and any non-x86
 * build) uses the __atomic builtins, which are the same operation in the
 * C memory model as seen by the one thread that writes the word.
 * tests/unit/test_ring_local.c checks both against a signal handler. */
#if defined(__SANITIZE_THREAD__)
#define RING_LOCAL_ASM 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RING_LOCAL_ASM 0
#endif
#endif
#if !defined(RING_LOCAL_ASM) && defined(__x86_64__)
#define RING_LOCAL_ASM 1
#endif
#ifndef RING_LOCAL_ASM
#define RING_LOCAL_ASM 0
#endif

#if RING_LOCAL_ASM
static inline bool local_cas64(uint64_t *p, uint64_t *exp, uint64_t des)
{
    bool ok;
    __asm__ volatile("cmpxchgq %3, %1"
                     : "=@ccz"(ok), "+m"(*p), "+a"(*exp)
                     : "r"(des)
                     : "memory");
    return ok;
}

/* The same cmpxchg, returning the word's previous value (== old: it was
 * swapped). ring_write's fast path tests it with a compare, which leaves a
 * register free that local_cas64's flag output kept (gcc 12). */
static inline uint64_t local_cmpxchg64(uint64_t *p, uint64_t old, uint64_t des)
{
    __asm__ volatile("cmpxchgq %2, %1" : "+a"(old), "+m"(*p) : "r"(des) : "memory", "cc");
    return old;
}

static inline void local_add64(uint64_t *p, uint64_t v)
{
    __asm__ volatile("addq %1, %0" : "+m"(*p) : "er"(v) : "memory");
}
#else
static inline bool local_cas64(uint64_t *p, uint64_t *exp, uint64_t des)
{
    return __atomic_compare_exchange_n(p, exp, des, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

static inline uint64_t local_cmpxchg64(uint64_t *p, uint64_t old, uint64_t des)
{
    __atomic_compare_exchange_n(p, &old, des, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return old;     /* unchanged if swapped, else the value found */
}

static inline void local_add64(uint64_t *p, uint64_t v)
{
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
#endif

#endif /* HV_TRACE_LOCAL_ATOMIC_H */
