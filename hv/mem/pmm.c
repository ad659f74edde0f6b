/* A bitmap over the page pool, without a lock: pages are claimed and
 * released with atomic operations on the bitmap's words. Why no lock: a
 * CPU stopped by a quiesce NMI may be anywhere in the allocator, and the
 * quiescing CPU may allocate under that quiesce (TrustVisor's REG builds
 * EPT tables): with a spinlock, a CPU parked while holding it deadlocked
 * the quiescer (two REGs at once, one on each CPU, in pal_demo's T2/T5). */
#include "mem/pmm.h"
#include <string.h>
#include "console/console.h"
#include <x86.h>
#include <image.h>
#include "config/multiboot.h"

#define POOL_ALIGN  (2ull << 20)    /* 2 MiB: EPT can hide it with large pages */
#define MAX_POOL_PAGES (1u << 18)   /* 1 GiB */

uint64_t hv_footprint_start, hv_footprint_end;
static uint64_t pool_base;
static uint32_t pool_pages, pool_free;
static uint64_t bitmap[MAX_POOL_PAGES / 64];

/* Bits [first, first + count) of the bitmap, word by word: f(word index,
 * mask); stops at the first f that returns false, returning its end. */
static size_t for_each_word(size_t first, size_t count, bool (*f)(size_t, uint64_t))
{
    size_t j = first, end = first + count;
    while (j < end) {
        size_t n = 64 - j % 64 < end - j ? 64 - j % 64 : end - j;
        uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << (j % 64);
        if (!f(j / 64, mask))
            return j;
        j += n;
    }
    return end;
}

/* Claims the bits of mask if none is taken (one CAS loop on one word). */
static bool claim(size_t w, uint64_t mask)
{
    uint64_t old = __atomic_load_n(&bitmap[w], __ATOMIC_RELAXED);
    do {
        if (old & mask)
            return false;
    } while (!__atomic_compare_exchange_n(&bitmap[w], &old, old | mask, false,
                                          __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
    return true;
}

static bool release(size_t w, uint64_t mask)
{
    __atomic_fetch_and(&bitmap[w], ~mask, __ATOMIC_RELEASE);
    return true;
}

static int range_is_ram(uint64_t start, uint64_t end)
{
    for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
        const struct mb_mmap_entry *m = &boot_info.mmap[i];
        if (m->type == 1 && m->addr <= start && end <= m->addr + m->len)
            return 1;
    }
    return 0;
}

static int overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
    return a0 < b1 && b0 < a1;
}

int pmm_init(uint64_t pool_bytes)
{
    uint64_t start = ((uint64_t)hv_end + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1);
    uint64_t end = start + ((pool_bytes + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1));
    if (!range_is_ram((uint64_t)hv_start, end)) {
        printf("hv: FATAL: the hypervisor needs RAM at [%#lx, %#lx) (image + %lu MiB pool); "
               "give the machine more memory or a smaller hv_mem=\n",
               (uint64_t)hv_start, end, pool_bytes >> 20);
        return -1;
    }
    /* GRUB may have put modules or the MBI after our image. */
    for (uint32_t i = 0; i < boot_info.module_count; i++)
        if (overlaps(start, end, boot_info.modules[i].start, boot_info.modules[i].end)) {
            printf("hv: FATAL: module %u at [%#lx, %#lx) overlaps the page pool\n", i,
                   boot_info.modules[i].start, boot_info.modules[i].end);
            return -1;
        }
    if (overlaps(start, end, boot_info.mbi_start, boot_info.mbi_end)) {
        printf("hv: FATAL: the multiboot info overlaps the page pool\n");
        return -1;
    }
    pool_base = start;
    pool_pages = (end - start) / PAGE_SIZE;
    pool_free = pool_pages;
    hv_footprint_start = (uint64_t)hv_start & ~(POOL_ALIGN - 1);
    hv_footprint_end = end;
    return 0;
}

void *pmm_alloc_pages(size_t count)
{
    if (!count)
        return NULL;
    size_t run = 0;
    for (size_t i = 0; i < pool_pages; i++) {
        if (__atomic_load_n(&bitmap[i / 64], __ATOMIC_RELAXED) & (1ull << (i % 64))) {
            run = 0;
            continue;
        }
        if (++run < count)
            continue;
        /* A free run as we saw it: claim it word by word; if another CPU
         * took a page of it meanwhile, give back what we claimed and
         * search on. */
        size_t first = i + 1 - count;
        size_t got = for_each_word(first, count, claim);
        if (got != first + count) {
            for_each_word(first, got - first, release);
            run = 0;
            continue;
        }
        __atomic_fetch_sub(&pool_free, count, __ATOMIC_RELAXED);
        void *p = (void *)(pool_base + first * PAGE_SIZE);
        memset(p, 0, count * PAGE_SIZE);
        return p;
    }
    return NULL;
}

void pmm_free_pages(void *p, size_t count)
{
    uint64_t first = ((uint64_t)p - pool_base) / PAGE_SIZE;
    if ((uint64_t)p < pool_base || first + count > pool_pages) {
        printf("hv: pmm_free_pages(%p, %zu) outside the pool; ignored\n", p, count);
        return;
    }
    for_each_word(first, count, release);
    __atomic_fetch_add(&pool_free, count, __ATOMIC_RELAXED);
}

size_t pmm_free_count(void) { return __atomic_load_n(&pool_free, __ATOMIC_RELAXED); }
