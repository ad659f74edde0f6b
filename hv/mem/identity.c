/* The hypervisor's own identity map beyond the first 4 GiB that the boot
 * code maps: all RAM the firmware reports, so that the hypervisor can read
 * guest memory anywhere (the guest's page tables, string I/O buffers) with
 * phys_ptr. 1 GiB pages where the CPU has them (CPUID 0x80000001:EDX[26]),
 * else 2 MiB pages. Done once on the BSP before the APs start (they share
 * the page tables). */
#include <x86.h>
#include "config/multiboot.h"
#include "console/console.h"
#include "mem/identity.h"
#include "mem/pmm.h"

#define PTE_P_RW    0x3ull
#define PTE_PS      0x80ull
#define SZ_2M       (2ull << 20)
#define SZ_1G       (1ull << 30)
#define SZ_512G     (512ull << 30)
#define ADDR_MASK   0x000ffffffffff000ull

static uint64_t ram_top(void)
{
    uint64_t top = 0;
    for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
        const struct mb_mmap_entry *m = &boot_info.mmap[i];
        if (m->type == 1 && m->addr + m->len > top)
            top = m->addr + m->len;
    }
    return (top + SZ_1G - 1) & ~(SZ_1G - 1);
}

/* The PDPT for the 512 GiB at a, created if missing. */
static uint64_t *pdpt_for(uint64_t *pml4, uint64_t a)
{
    uint64_t *e = &pml4[a / SZ_512G];
    if (!(*e & 1)) {
        uint64_t *t = pmm_alloc_pages(1);
        if (!t)
            return NULL;
        *e = (uint64_t)t | PTE_P_RW;
    }
    return (uint64_t *)(*e & ADDR_MASK);
}

static bool map_gib(uint64_t *pml4, uint64_t a, bool gib_pages)
{
    uint64_t *pdpt = pdpt_for(pml4, a), *e;
    if (!pdpt)
        return false;
    e = &pdpt[(a >> 30) & 511];
    if (*e & 1)
        return true;            /* mapped already (the first 4 GiB) */
    if (gib_pages) {
        *e = a | PTE_P_RW | PTE_PS;
        return true;
    }
    uint64_t *pd = pmm_alloc_pages(1);
    if (!pd)
        return false;
    for (int i = 0; i < 512; i++)
        pd[i] = (a + i * SZ_2M) | PTE_P_RW | PTE_PS;
    *e = (uint64_t)pd | PTE_P_RW;
    return true;
}

int mem_map_all_ram(void)
{
    uint64_t *pml4 = (uint64_t *)(read_cr3() & ADDR_MASK), top = ram_top();
    bool gib_pages = cpuid(0x80000001, 0).edx & (1u << 26);
    for (uint64_t a = 4 * SZ_1G; a < top; a += SZ_1G)
        if (!map_gib(pml4, a, gib_pages)) {
            printf("mem: out of pages mapping RAM at %#lx\n", a);
            return -1;
        }
    /* New entries only (nothing was cached for them): no flush needed. */
    return 0;
}
