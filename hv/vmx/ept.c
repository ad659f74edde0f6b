#include <string.h>
#include "console/console.h"
#include "mem/pmm.h"
#include <x86.h>
#include "config/multiboot.h"
#include "vmx/ept.h"

/* The identity EPT (SDM Vol. 3C, 28.2). Entry bits (28.2.2, Tables 28-1
 * to 28-6): 0-2 read/write/execute; in a leaf, 5:3 the memory type
 * (28.2.6.1: with "ignore PAT" clear it combines with the guest's PAT);
 * bit 7 maps a 2 MiB page from a PDE. */
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

static uint64_t *base_pml4;     /* the shared tables every CPU's root reuses */
static uint64_t eptp_flags;     /* page-walk length and memory type bits */
static uint64_t invept_type;    /* 1 single-context where offered, else 2 all */

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
    /* EPTP (24.6.11): bits 5:3 = walk length - 1 (4 levels), bits 2:0 the
     * paging-structure memory type, WB where IA32_VMX_EPT_VPID_CAP[14]
     * allows it, else UC (Vol. 3D, A.10). INVEPT single-context where
     * bit 25 offers it, else all-context (bit 26; 30.3 INVEPT). */
    bool wb = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) & (1ull << 14);
    base_pml4 = pml4;
    invept_type = (rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) & (1ull << 25)) ? 1 : 2;
    eptp_flags = (3ull << 3) | (wb ? 6 : 0);
    return (uint64_t)pml4 | eptp_flags;
}

static uint64_t *table_of(uint64_t entry) { return (uint64_t *)(entry & ~0xfffull & ((1ull << 52) - 1)); }

/* A private copy of the walk from the root to the 4 KiB entry of `gpa`
 * (below 4 GiB): everything else stays shared with the global EPT. The
 * guest's LAPIC page gets one per CPU, so a CPU can map it for its single
 * step without opening it to the others. */
uint64_t ept_build_cpu(uint64_t gpa, uint64_t **pte_out)
{
    uint64_t *pml4 = pmm_alloc_pages(1), *pdpt = pmm_alloc_pages(1);
    uint64_t *pd = pmm_alloc_pages(1), *pt = pmm_alloc_pages(1);
    if (!base_pml4 || !pml4 || !pdpt || !pd || !pt || gpa >= GUEST_LIMIT)
        return 0;
    uint64_t *base_pdpt = table_of(base_pml4[0]);
    uint64_t *base_pd = table_of(base_pdpt[gpa >> 30]);
    uint64_t pde = base_pd[(gpa >> 21) & 511];
    memcpy(pml4, base_pml4, PAGE_SIZE);
    memcpy(pdpt, base_pdpt, PAGE_SIZE);
    memcpy(pd, base_pd, PAGE_SIZE);
    uint64_t region = gpa & ~(SZ_2M - 1);
    for (int j = 0; j < 512; j++) {
        if (!(pde & EPT_RWX))
            pt[j] = 0;
        else if (pde & EPT_LARGE)   /* split: same access and memory type */
            pt[j] = (region + j * PAGE_SIZE) | (pde & 0x3f);
        else
            pt[j] = table_of(pde)[j];
    }
    pt[(gpa >> 12) & 511] = 0;     /* not present: every access exits (28.2.3.2) */
    pd[(gpa >> 21) & 511] = (uint64_t)pt | EPT_RWX;
    pdpt[gpa >> 30] = (uint64_t)pd | EPT_RWX;
    pml4[0] = (uint64_t)pdpt | EPT_RWX;
    *pte_out = &pt[(gpa >> 12) & 511];
    return (uint64_t)pml4 | eptp_flags;
}

void ept_set_page(uint64_t eptp, uint64_t *pte, uint64_t value)
{
    *pte = value;
    /* Changing a present entry requires INVEPT before the CPU may rely on
     * it (28.3.3.1). Only this CPU walks this root: a single-context flush
     * is enough, else all contexts. */
    struct { uint64_t eptp, zero; } desc = { eptp, 0 };
    __asm__ volatile("invept %0, %1" :: "m"(desc), "r"(invept_type) : "memory", "cc");
}
