/* A walk of the guest's page tables (SDM Vol. 3A, 4.3 32-bit paging, 4.4
 * PAE, 4.5 4- and 5-level), reading only guest RAM. Access rights are
 * checked as a supervisor access (the exits that use it come from
 * instructions the guest's kernel or user code ran at CPL 0-3; U/S is
 * checked against the guest's CPL, W with CR0.WP). Accessed/dirty bits
 * are not set (a documented simplification). */
#include <x86.h>
#include "vmx/exit.h"
#include "vmx/guest_mem.h"
#include "vmx/vmcs.h"

#define PTE_P       (1ull << 0)
#define PTE_W       (1ull << 1)
#define PTE_U       (1ull << 2)
#define PTE_PS      (1ull << 7)
#define PF_P        (1u << 0)
#define PF_W        (1u << 1)
#define PF_U        (1u << 2)
#define CR0_WP      (1ull << 16)
#define CR4_PSE     (1ull << 4)
#define CR4_LA57    (1ull << 12)
#define ADDR_MASK   0x000ffffffffff000ull

struct walk {
    bool write, user, wp, pse, any;
};

static bool read_entry(uint64_t pa, unsigned size, uint64_t *e)
{
    if (!guest_ram_ok(pa, size))
        return false;
    *e = size == 4 ? *(volatile uint32_t *)phys_ptr(pa) : *(volatile uint64_t *)phys_ptr(pa);
    return true;
}

/* Rights along the walk: every level must allow what the access needs. */
static bool allowed(struct walk *w, uint64_t e)
{
    if (!(e & PTE_P))
        return false;
    if (w->any)
        return true;
    if (w->user && !(e & PTE_U))
        return false;
    if (w->write && !(e & PTE_W) && (w->user || w->wp))
        return false;
    return true;
}

static enum guest_walk fault(struct walk *w, bool present, uint32_t *pf_error)
{
    *pf_error = (present ? PF_P : 0) | (w->write ? PF_W : 0) | (w->user ? PF_U : 0);
    return WALK_FAULT;
}

/* A walk from `table` down `levels` levels of entries `size` bytes wide
 * with `bits`-bit indices: 4-level (8, 9), 5-level, PAE below its PDPTE
 * (2 levels of 8, 9) or 32-bit (2 levels of 4, 10). PS makes a large page
 * at any level but the last (for 32-bit paging only with CR4.PSE). */
static enum guest_walk walk(struct walk *w, uint64_t table, unsigned levels, unsigned size,
                            unsigned bits, uint64_t la, uint64_t *gpa, uint32_t *pf_error)
{
    uint64_t mask = size == 4 ? 0xfffff000ull : ADDR_MASK;
    for (unsigned l = levels; l >= 1; l--) {
        unsigned shift = 12 + bits * (l - 1);
        uint64_t idx = (la >> shift) & ((1u << bits) - 1), e;
        if (!read_entry(table + idx * size, size, &e))
            return WALK_NOT_RAM;
        if (!allowed(w, e))
            return fault(w, e & PTE_P, pf_error);
        bool large = l > 1 && (e & PTE_PS) && l <= 3 && (size == 8 || w->pse);
        if (large || l == 1) {
            uint64_t page = 1ull << shift;
            *gpa = (e & mask & ~(page - 1)) | (la & (page - 1));
            return WALK_OK;
        }
        table = e & mask;
    }
    return WALK_NOT_RAM;
}

void guest_paging_current(struct guest_paging *pg)
{
    static const uint32_t pdpte[4] = { VMCS_GUEST_PDPTE0, VMCS_GUEST_PDPTE1,
                                       VMCS_GUEST_PDPTE2, VMCS_GUEST_PDPTE3 };
    pg->cr0 = vmcs_read(GUEST_CR0);
    pg->cr4 = vmcs_read(GUEST_CR4);
    pg->cr3 = vmcs_read(GUEST_CR3);
    pg->efer = vmcs_read(GUEST_EFER);
    pg->user = ((vmcs_read(GUEST_SS_AR) >> 5) & 3) == 3;
    pg->any_rights = false;
    /* With EPT the PDPTEs were loaded from the VMCS at entry (26.3.2.4). */
    bool pae = (pg->cr0 & CR0_PG) && (pg->cr4 & CR4_PAE) && !(pg->efer & EFER_LMA);
    for (int i = 0; i < 4; i++)
        pg->pdpte[i] = pae ? vmcs_read_checked(pdpte[i], "GUEST_PDPTE") : 0;
}

enum guest_walk guest_walk_with(const struct guest_paging *pg, uint64_t linear, bool write,
                                uint64_t *gpa, uint32_t *pf_error)
{
    struct walk w = { write, pg->user, pg->cr0 & CR0_WP, pg->cr4 & CR4_PSE, pg->any_rights };
    if (!(pg->cr0 & CR0_PG)) {
        *gpa = linear & 0xffffffffull;
        return WALK_OK;
    }
    if (pg->efer & EFER_LMA)
        return walk(&w, pg->cr3 & ADDR_MASK, (pg->cr4 & CR4_LA57) ? 5 : 4, 8, 9, linear, gpa,
                    pf_error);
    linear &= 0xffffffffull;
    if (pg->cr4 & CR4_PAE) {
        uint64_t e = pg->pdpte[linear >> 30];
        if (!(e & PTE_P))
            return fault(&w, false, pf_error);
        return walk(&w, e & ADDR_MASK, 2, 8, 9, linear, gpa, pf_error);
    }
    return walk(&w, pg->cr3 & 0xfffff000ull, 2, 4, 10, linear, gpa, pf_error);
}

enum guest_walk guest_linear_to_phys(uint64_t linear, bool write, uint64_t *gpa,
                                     uint32_t *pf_error)
{
    struct guest_paging pg;
    guest_paging_current(&pg);
    return guest_walk_with(&pg, linear, write, gpa, pf_error);
}
