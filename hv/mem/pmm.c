/* A bitmap over the page pool. A spinlock guards it: allocation happens at
 * start-up and from normal (non-NMI) paths only, so no NMI handler can ever
 * wait for it. */
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
static volatile int pool_lock;

static void lock(void)
{
    while (__atomic_exchange_n(&pool_lock, 1, __ATOMIC_ACQUIRE))
        cpu_relax();
}

static void unlock(void) { __atomic_store_n(&pool_lock, 0, __ATOMIC_RELEASE); }

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
    lock();
    size_t run = 0;
    for (size_t i = 0; i < pool_pages; i++) {
        if (bitmap[i / 64] & (1ull << (i % 64))) {
            run = 0;
            continue;
        }
        if (++run == count) {
            size_t first = i + 1 - count;
            for (size_t j = first; j <= i; j++)
                bitmap[j / 64] |= 1ull << (j % 64);
            pool_free -= count;
            unlock();
            void *p = (void *)(pool_base + first * PAGE_SIZE);
            memset(p, 0, count * PAGE_SIZE);
            return p;
        }
    }
    unlock();
    return NULL;
}

void pmm_free_pages(void *p, size_t count)
{
    uint64_t first = ((uint64_t)p - pool_base) / PAGE_SIZE;
    if ((uint64_t)p < pool_base || first + count > pool_pages) {
        printf("hv: pmm_free_pages(%p, %zu) outside the pool; ignored\n", p, count);
        return;
    }
    lock();
    for (size_t j = first; j < first + count; j++)
        bitmap[j / 64] &= ~(1ull << (j % 64));
    pool_free += count;
    unlock();
}

size_t pmm_free_count(void) { return pool_free; }
