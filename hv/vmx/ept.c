/* The identity EPT (SDM Vol. 3C, 28.2): guest-physical = host-physical
 * everywhere but the hypervisor's footprint, which is not present. RAM
 * (by the firmware's E820 map) is write-back, everything else uncached.
 * Entry bits (28.2.2, Tables 28-1 to 28-6): 0-2 read/write/execute; in a
 * leaf, 5:3 the memory type (28.2.6.1: with "ignore PAT" clear it combines
 * with the guest's PAT); bit 7 makes a PDPTE a 1 GiB and a PDE a 2 MiB
 * page. Uniform regions get the largest page the CPU offers.
 *
 * Everything the firmware reports is mapped at start-up, at least the
 * first 4 GiB. An access above that (to nothing: no RAM, no device) is an
 * EPT violation; its GiB is then mapped uncached, identity, so the access
 * gets what the platform gives for an address nothing decodes (all ones,
 * writes dropped), as without the hypervisor. */
#include <string.h>
#include <x86.h>
#include <percpu.h>
#include "config/multiboot.h"
#include "console/console.h"
#include "mem/pmm.h"
#include "vmx/ept.h"
#include "vmx/mtrr.h"

#define EPT_RWX         0x7ull
#define EPT_MT_UC       (0ull << 3)
#define EPT_MT_WB       (6ull << 3)
#define EPT_LARGE       (1ull << 7)
#define SZ_2M           (2ull << 20)
#define SZ_1G           (1ull << 30)
#define SZ_512G         (512ull << 30)
#define MIN_TOP         (4ull << 30)
#define MAX_ROOTS       MAX_CPUS

enum kind { K_RAM, K_OTHER, K_MIXED };

static uint64_t *base_pml4;     /* the shared tables every CPU's root reuses */
static uint64_t eptp_flags;     /* page-walk length and memory type bits */
static uint64_t invept_type;    /* 1 single-context where offered, else 2 all */
static bool has_1g;             /* 1 GiB EPT pages (IA32_VMX_EPT_VPID_CAP[17]) */
static uint64_t phys_limit;     /* 2^MAXPHYADDR */
/* The tables' lock: 0 free, else the holder's CPU index + 1. A hypapp
 * holds it across its quiesce (ept_hold, hypapp.c): a CPU stopped by the
 * quiesce NMI while holding it (an EPT violation mapping a GiB on demand)
 * would otherwise leave the quiescer spinning for it in ept_leaf_4k with
 * every other CPU waiting for the quiescer: the deadlock the XMHF seed's
 * quiesce notes describe, with a lock instead of a print. */
static int map_lock;

/* Takes the lock unless this CPU holds it already (ept_hold); returns
 * whether it took it, for map_unlock. Exit handlers only, never NMI
 * context. */
static bool map_lock_take(void)
{
    int me = (int)this_cpu_index() + 1;
    if (__atomic_load_n(&map_lock, __ATOMIC_RELAXED) == me)
        return false;
    int free = 0;
    while (!__atomic_compare_exchange_n(&map_lock, &free, me, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
        free = 0;
        cpu_relax();
    }
    return true;
}

static void map_unlock(bool took)
{
    if (took)
        __atomic_store_n(&map_lock, 0, __ATOMIC_RELEASE);
}

void ept_hold(void)
{
    map_lock_take();
}

void ept_unhold(void)
{
    map_unlock(true);
}
/* Each CPU's private copies of the top two levels (ept_build_cpu): a GiB
 * mapped later must appear in them too. */
static struct { uint64_t *pml4, *pdpt0; } copies[MAX_ROOTS];
static unsigned ncopies;

bool ept_in_footprint(uint64_t gpa)
{
    return gpa >= hv_footprint_start && gpa < hv_footprint_end;
}

static bool ram_type(uint32_t t) { return t == 1 || t == 3 || t == 4; }

/* What [a, a+len) is, by the multiboot (E820) map; the footprint counts
 * as mixed so that it is always split down to where it ends. */
static enum kind classify(uint64_t a, uint64_t len)
{
    uint64_t covered = 0;
    bool any_other = false;
    if (a < hv_footprint_end && a + len > hv_footprint_start)
        return K_MIXED;
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

static uint64_t leaf(uint64_t a, enum kind k)
{
    return a | EPT_RWX | (k == K_RAM ? EPT_MT_WB : EPT_MT_UC);
}

static uint64_t *table_of(uint64_t entry) { return (uint64_t *)(entry & ~0xfffull & ((1ull << 52) - 1)); }

/* A page table for the 2 MiB at a: 4 KiB leaves, the footprint absent. */
static uint64_t map_2m_split(uint64_t a)
{
    uint64_t *pt = pmm_alloc_pages(1);
    if (!pt)
        return 0;
    for (int j = 0; j < 512; j++) {
        uint64_t pa = a + j * PAGE_SIZE;
        pt[j] = ept_in_footprint(pa) ? 0 : leaf(pa, classify(pa, PAGE_SIZE));
    }
    return (uint64_t)pt | EPT_RWX;
}

/* The PDPTE for the GiB at a: a 1 GiB leaf where uniform and offered,
 * else a page directory of 2 MiB leaves (split where mixed). 0: no pages. */
static uint64_t map_1g(uint64_t a)
{
    enum kind k = classify(a, SZ_1G);
    if (k != K_MIXED && has_1g)
        return leaf(a, k) | EPT_LARGE;
    uint64_t *pd = pmm_alloc_pages(1);
    if (!pd)
        return 0;
    for (int i = 0; i < 512; i++) {
        uint64_t m = a + i * SZ_2M;
        enum kind k2 = k != K_MIXED ? k : classify(m, SZ_2M);
        pd[i] = k2 != K_MIXED ? leaf(m, k2) | EPT_LARGE : map_2m_split(m);
        if (!pd[i])
            return 0;
    }
    return (uint64_t)pd | EPT_RWX;
}

/* The PDPT of the 512 GiB at gpa, created if missing (in the base and in
 * every CPU's copy of the PML4). */
static uint64_t *pdpt_of(uint64_t gpa)
{
    unsigned i = gpa / SZ_512G;
    if (!base_pml4[i]) {
        uint64_t *pdpt = pmm_alloc_pages(1);
        if (!pdpt)
            return NULL;
        base_pml4[i] = (uint64_t)pdpt | EPT_RWX;
        for (unsigned c = 0; c < ncopies; c++)
            copies[c].pml4[i] = base_pml4[i];
    }
    return table_of(base_pml4[i]);
}

static bool map_gib(uint64_t a)
{
    uint64_t *pdpt = pdpt_of(a);
    unsigned i = (a >> 30) & 511;
    if (!pdpt)
        return false;
    if (pdpt[i])
        return true;
    uint64_t e = map_1g(a);
    if (!e)
        return false;
    pdpt[i] = e;
    for (unsigned c = 0; c < ncopies; c++)
        if (a < SZ_512G && !copies[c].pdpt0[i])
            copies[c].pdpt0[i] = e;
    return true;
}

/* The end of what the firmware reports, at least 4 GiB, in whole GiB. */
static uint64_t mapped_top(void)
{
    uint64_t top = MIN_TOP;
    for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
        uint64_t end = boot_info.mmap[i].addr + boot_info.mmap[i].len;
        top = end > top ? end : top;
    }
    return (top + SZ_1G - 1) & ~(SZ_1G - 1);
}

uint64_t ept_build(void)
{
    uint64_t cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
    has_1g = cap & (1ull << 17);
    phys_limit = 1ull << (cpuid(0x80000008, 0).eax & 0xff);
    base_pml4 = pmm_alloc_pages(1);
    uint64_t top = mapped_top();
    for (uint64_t a = 0; base_pml4 && a < top; a += SZ_1G)
        if (!map_gib(a)) {
            printf("ept: out of pages for the EPT at %#lx\n", a);
            return 0;
        }
    printf("ept: identity map of [0, %#lx) with %s pages; more on demand up to %#lx\n", top,
           has_1g ? "1 GiB, 2 MiB and 4 KiB" : "2 MiB and 4 KiB", phys_limit);
    /* EPTP (24.6.11): bits 5:3 = walk length - 1 (4 levels), bits 2:0 the
     * paging-structure memory type, WB where IA32_VMX_EPT_VPID_CAP[14]
     * allows it, else UC (Vol. 3D, A.10). INVEPT single-context where
     * bit 25 offers it, else all-context (bit 26; 30.3 INVEPT). */
    bool wb = cap & (1ull << 14);
    invept_type = (cap & (1ull << 25)) ? 1 : 2;
    eptp_flags = (3ull << 3) | (wb ? 6 : 0);
    return (uint64_t)base_pml4 | eptp_flags;
}

bool ept_map_on_demand(uint64_t gpa)
{
    if (gpa >= phys_limit || ept_in_footprint(gpa))
        return false;
    bool took = map_lock_take();
    bool ok = map_gib(gpa & ~(SZ_1G - 1));
    map_unlock(took);
    /* A not-present entry is never cached (28.3.2): no flush needed. */
    return ok;
}

/* The page directory of the GiB at gpa in the base tables, split out of a
 * 1 GiB leaf into a fresh one if need be (for a private copy). */
static uint64_t *pd_for_copy(const uint64_t *base_pdpt, uint64_t gpa, uint64_t *pd)
{
    uint64_t e = base_pdpt[(gpa >> 30) & 511];
    if (!(e & EPT_LARGE))
        return memcpy(pd, table_of(e), PAGE_SIZE);
    uint64_t g = gpa & ~(SZ_1G - 1);
    for (int i = 0; i < 512; i++)   /* split: same access and memory type */
        pd[i] = (g + i * SZ_2M) | (e & 0x7f) | EPT_LARGE;
    return pd;
}

/* A private copy of the walk from the root to the 4 KiB entry of `gpa`
 * (below 512 GiB): everything else stays shared with the global EPT. The
 * guest's LAPIC page gets one per CPU, so a CPU can map it for its single
 * step without opening it to the others. */
uint64_t ept_build_cpu(uint64_t gpa, uint64_t **pte_out)
{
    uint64_t *pml4 = pmm_alloc_pages(1), *pdpt = pmm_alloc_pages(1);
    uint64_t *pd = pmm_alloc_pages(1), *pt = pmm_alloc_pages(1);
    if (!base_pml4 || !pml4 || !pdpt || !pd || !pt || gpa >= MIN_TOP || ncopies == MAX_ROOTS)
        return 0;
    bool took = map_lock_take();
    uint64_t *base_pdpt = table_of(base_pml4[0]);
    pd_for_copy(base_pdpt, gpa, pd);
    uint64_t pde = pd[(gpa >> 21) & 511];
    memcpy(pml4, base_pml4, PAGE_SIZE);
    memcpy(pdpt, base_pdpt, PAGE_SIZE);
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
    pdpt[(gpa >> 30) & 511] = (uint64_t)pd | EPT_RWX;
    pml4[0] = (uint64_t)pdpt | EPT_RWX;
    copies[ncopies].pml4 = pml4;
    copies[ncopies].pdpt0 = pdpt;
    ncopies++;
    map_unlock(took);
    *pte_out = &pt[(gpa >> 12) & 511];
    return (uint64_t)pml4 | eptp_flags;
}

void ept_invalidate(uint64_t eptp)
{
    struct { uint64_t eptp, zero; } desc = { eptp, 0 };
    __asm__ volatile("invept %0, %1" :: "m"(desc), "r"(invept_type) : "memory", "cc");
}

uint64_t ept_pointer_of(uint64_t root)
{
    return root | eptp_flags;
}

void ept_set_page(uint64_t eptp, uint64_t *pte, uint64_t value)
{
    *pte = value;
    /* Changing a present entry requires INVEPT before the CPU may rely on
     * it (28.3.3.1). Only this CPU walks this root: a single-context flush
     * is enough, else all contexts. */
    ept_invalidate(eptp);
}

/* ---- 4 KiB leaves for hypapps (ept_leaf_4k) ----------------------------- */
/* A 2 MiB or 1 GiB leaf split into 512 equivalent entries one level down
 * (same access and memory type, bits 6:0; 28.2.2 Tables 28-3, 28-5). */
static uint64_t *split_leaf(uint64_t e, uint64_t base, uint64_t step, bool large)
{
    uint64_t *t = pmm_alloc_pages(1);
    if (!t)
        return NULL;
    for (int i = 0; i < 512; i++)
        t[i] = (base + i * step) | (e & 0x7f) | (large ? EPT_LARGE : 0);
    return t;
}

static uint64_t *leaf_4k_locked(uint64_t gpa)
{
    unsigned li = gpa / SZ_512G, gi = (gpa >> 30) & 511, di = (gpa >> 21) & 511;
    if (!base_pml4 || gpa >= phys_limit || !(base_pml4[li] & EPT_RWX))
        return NULL;
    uint64_t *pdpt = table_of(base_pml4[li]), e = pdpt[gi];
    if (!(e & EPT_RWX))
        return NULL;
    for (unsigned c = 0; c < ncopies; c++)
        if (li == 0 && copies[c].pdpt0[gi] != e)
            return NULL;        /* a CPU's private PD (the LAPIC page's GiB) */
    if (e & EPT_LARGE) {
        uint64_t *pd = split_leaf(e, gpa & ~(SZ_1G - 1), SZ_2M, true);
        if (!pd)
            return NULL;
        pdpt[gi] = (uint64_t)pd | EPT_RWX;
        for (unsigned c = 0; c < ncopies && li == 0; c++)
            copies[c].pdpt0[gi] = pdpt[gi];
    }
    uint64_t *pd = table_of(pdpt[gi]), pde = pd[di];
    if (!(pde & EPT_RWX))
        return NULL;
    if (pde & EPT_LARGE) {
        uint64_t *pt = split_leaf(pde, gpa & ~(SZ_2M - 1), PAGE_SIZE, false);
        if (!pt)
            return NULL;
        pd[di] = (uint64_t)pt | EPT_RWX;
    }
    return &table_of(pd[di])[(gpa >> 12) & 511];
}

uint64_t *ept_leaf_4k(uint64_t gpa)
{
    bool took = map_lock_take();
    uint64_t *pte = leaf_4k_locked(gpa);
    map_unlock(took);
    return pte;
}

/* ---- memory types from the guest's MTRRs ---------------------------------
 * Leaves of RAM take the type the guest's MTRRs give their range (a leaf
 * the MTRRs split takes UC: safe, if slower); everything else stays UC.
 * Rewritten in place; every CPU flushes its EPT-derived translations
 * before its next entry (28.3.3.1). The private copies of the walk to the
 * LAPIC page (ept_build_cpu) keep the types of their build: MMIO there,
 * which is UC either way. */
static volatile uint64_t types_generation;

static uint64_t retyped(uint64_t e, uint64_t a, uint64_t len, const struct mtrr_state *m)
{
    bool uniform;
    if (!(e & EPT_RWX) || classify(a, len) != K_RAM)
        return e;
    enum mtrr_type t = mtrr_range_type(m, a, len, &uniform);
    return (e & ~(7ull << 3)) | ((uint64_t)t << 3);
}

static void fold_table(uint64_t *t, uint64_t a, unsigned level, const struct mtrr_state *m)
{
    uint64_t size = 1ull << (12 + 9 * (level - 1));
    for (int i = 0; i < 512; i++) {
        uint64_t e = t[i], ea = a + i * size;
        if (!(e & EPT_RWX))
            continue;
        if (level == 1 || (level <= 3 && (e & EPT_LARGE)))
            t[i] = retyped(e, ea, size, m);
        else
            fold_table(table_of(e), ea, level - 1, m);
    }
}

void ept_fold_memory_types(const struct mtrr_state *m)
{
    if (!base_pml4)
        return;
    bool took = map_lock_take();
    fold_table(base_pml4, 0, 4, m);
    __atomic_fetch_add(&types_generation, 1, __ATOMIC_RELEASE);
    map_unlock(took);
}

void ept_flush_everywhere(void)
{
    __atomic_fetch_add(&types_generation, 1, __ATOMIC_RELEASE);
}

void ept_sync(uint64_t *seen_generation)
{
    uint64_t g = __atomic_load_n(&types_generation, __ATOMIC_ACQUIRE);
    if (*seen_generation == g)
        return;
    *seen_generation = g;
    struct { uint64_t eptp, zero; } desc = { 0, 0 };
    __asm__ volatile("invept %0, %1" :: "m"(desc), "r"(2ull) : "memory", "cc");
}
