#include <string.h>
#include <console.h>
#include <pmm.h>
#include <x86.h>
#include "boot/multiboot.h"
#include "vmx/ept.h"

#define EPT_RWX         0x7ull
#define EPT_MT_UC       (0ull << 3)
#define EPT_MT_WB       (6ull << 3)
#define EPT_LARGE       (1ull << 7)
#define SZ_2M           (2ull << 20)
#define GUEST_LIMIT     (4ull << 30)

enum kind { K_RAM, K_OTHER, K_MIXED };

bool ept_in_footprint(uint64_t gpa)
{
    return gpa >= hv_footprint_start && gpa < hv_footprint_end;
}

static bool ram_type(uint32_t t) { return t == 1 || t == 3 || t == 4; }

/* What [a, a+len) is, by the multiboot (E820) map. */
static enum kind classify(uint64_t a, uint64_t len)
{
    uint64_t covered = 0;
    bool any_other = false;
    for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
        const struct mb_mmap_entry *m = &boot_info.mmap[i];
        uint64_t lo = m->addr > a ? m->addr : a;
        uint64_t hi = m->addr + m->len < a + len ? m->addr + m->len : a + len;
        if (lo >= hi)
            continue;
        if (ram_type(m->type))
            covered += hi - lo;
        else
            any_other = true;
    }
    if (covered == len && !any_other)
        return K_RAM;
    return covered == 0 ? K_OTHER : K_MIXED;
}

static uint64_t leaf_type(enum kind k) { return k == K_RAM ? EPT_MT_WB : EPT_MT_UC; }

uint64_t ept_build(void)
{
    uint64_t *pml4 = pmm_alloc_pages(1), *pdpt = pmm_alloc_pages(1);
    uint64_t *pd = pmm_alloc_pages(4);
    if (!pml4 || !pdpt || !pd) {
        printf("ept: out of pages for the EPT\n");
        return 0;
    }
    pml4[0] = (uint64_t)pdpt | EPT_RWX;
    for (int i = 0; i < 4; i++)
        pdpt[i] = ((uint64_t)pd + i * PAGE_SIZE) | EPT_RWX;
    for (uint64_t a = 0; a < GUEST_LIMIT; a += SZ_2M) {
        uint64_t *pde = &pd[a / SZ_2M];
        if (ept_in_footprint(a))
            continue;   /* not present: a guest access is an EPT violation */
        enum kind k = classify(a, SZ_2M);
        if (k != K_MIXED) {
            *pde = a | EPT_RWX | EPT_LARGE | leaf_type(k);
            continue;
        }
        uint64_t *pt = pmm_alloc_pages(1);
        if (!pt) {
            printf("ept: out of pages for a page table at %#lx\n", a);
            return 0;
        }
        for (int j = 0; j < 512; j++) {
            uint64_t pa = a + j * PAGE_SIZE;
            pt[j] = pa | EPT_RWX | leaf_type(classify(pa, PAGE_SIZE));
        }
        *pde = (uint64_t)pt | EPT_RWX;
    }
    bool wb = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) & (1ull << 14);
    return (uint64_t)pml4 | (3ull << 3) | (wb ? 6 : 0);
}
