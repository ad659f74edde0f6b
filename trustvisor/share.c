/* SHARE (TV_HC_SHARE): the registering process lends more of its memory
 * to a registered PAL, as TrustVisor's scode_share_ranges does: each range
 * becomes a SHARED section of the PAL (its type 6), mapped read + write in
 * the PAL's own view at the linear address the caller gave, and like the
 * PAL's own pages it leaves the guest's EPT for as long as the PAL stays
 * registered (a guest access: #GP, refused), so no other CPU can change
 * what the PAL reads, or read what it writes, while it works on it.
 * UNREG gives the shared pages back *as the PAL left them* (they are how
 * it hands bulk results to its caller) where its own pages are scrubbed.
 * All or nothing: a refused range leaves the PAL as it was. */
#include <string.h>
#include <tvabi.h>
#include <x86.h>
#include "mem/pmm.h"
#include <percpu.h>
#include "console/console.h"
#include "hypapp/hypapp.h"
#include "trustvisor/pal.h"
#include "trustvisor/tv.h"
#include "vmx/ept.h"
#include "vmx/exit.h"
#include "vmx/guest_mem.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"

struct share_req {
    uint64_t addr[TV_MAX_SECTIONS], len[TV_MAX_SECTIONS];
    uint32_t count;
};

/* The ranges themselves: aligned, non-empty, within the PAL's page and
 * section budget, overlapping neither each other nor the PAL's pages. */
static uint32_t check_ranges(const struct pal *p, const struct share_req *r)
{
    uint32_t pages = p->npages;
    if (r->count > TV_MAX_SECTIONS - p->nsections)
        return TV_ERR_TOO_MANY;
    for (uint32_t i = 0; i < r->count; i++) {
        uint64_t a = r->addr[i], l = r->len[i];
        if ((a | l) & (PAGE_SIZE - 1))
            return TV_ERR_SECTION_ALIGN;
        if (l == 0 || l / PAGE_SIZE > MAX_PAL_PAGES - pages || a + l < a)
            return TV_ERR_SECTION_SIZE;
        pages += l / PAGE_SIZE;
        for (uint32_t j = 0; j < i; j++)
            if (a < r->addr[j] + r->len[j] && r->addr[j] < a + l)
                return TV_ERR_SECTION_OVERLAP;
        for (uint32_t k = 0; k < p->npages; k++)
            if (p->page[k].gva >= a && p->page[k].gva < a + l)
                return TV_ERR_SECTION_OVERLAP;
    }
    return TV_OK;
}

/* Each page through the caller's paging (present, writable by it, not a
 * frame already in the PAL's list, guest RAM, no PAL's), appended to the
 * PAL's page list as SHARED pages. Under quiesce: no REG or SHARE on
 * another CPU can take a page between this check and the lending. */
static uint32_t find_shared_pages(struct pal *p, const struct share_req *r)
{
    for (uint32_t i = 0; i < r->count; i++)
        for (uint64_t off = 0; off < r->len[i]; off += PAGE_SIZE) {
            uint64_t gva = r->addr[i] + off, gpa;
            uint32_t pf;
            enum guest_walk w = guest_linear_to_phys(gva, true, &gpa, &pf);
            if (w == WALK_FAULT)
                return (pf & 1) ? TV_ERR_SECTION_READONLY : TV_ERR_SECTION_UNMAPPED;
            gpa &= ~(uint64_t)(PAGE_SIZE - 1);
            /* Before guest_ram_ok: pages already in the list count as
             * withheld there. */
            for (uint32_t j = 0; w == WALK_OK && j < p->npages; j++)
                if (p->page[j].gpa == gpa)
                    return TV_ERR_SECTION_OVERLAP;
            if (w != WALK_OK || !guest_ram_ok(gpa, PAGE_SIZE))
                return tv_pal_withheld(gpa, PAGE_SIZE) ? TV_ERR_ALREADY
                                                       : TV_ERR_SECTION_UNMAPPED;
            p->page[p->npages++] = (struct pal_page){ gva, gpa, NULL, 0,
                                                      TV_PAL_SECTION_SHARED };
        }
    return TV_OK;
}

/* Under quiesce, the PAL claimed (not running): the new pages leave the
 * guest and enter the PAL's view, or nothing changes. */
static uint32_t lend(struct pal *p, uint32_t first)
{
    if (!pal_view_build(p, p->user))
        return TV_ERR_NO_ROOM;
    for (uint32_t i = first; i < p->npages; i++) {
        struct pal_page *pg = &p->page[i];
        pg->pte = ept_leaf_4k(pg->gpa);
        if (!pg->pte) {
            while (i-- > first)
                *p->page[i].pte = p->page[i].saved;
            return TV_ERR_NO_ROOM;
        }
        pg->saved = *pg->pte;
        *pg->pte = pg->saved & ~EPT_ACCESS_MASK;
    }
    ept_flush_everywhere();
    return TV_OK;
}

static struct pal *find_pal(uint64_t entry, uint64_t cr3)
{
    for (unsigned i = 0; i < MAX_PALS; i++)
        if (tv_pals[i].used && tv_pals[i].entry == entry && tv_pals[i].cr3 == cr3)
            return &tv_pals[i];
    return NULL;
}

/* The PAL claimed against calls and UNREG (as UNREG claims it), the
 * ranges checked and lent; on any refusal the page list and the view are
 * as they were. */
static uint32_t share_claimed(struct vcpu *v, struct pal *p, const struct share_req *r)
{
    uint32_t first = p->npages, rc = check_ranges(p, r);
    if (rc == TV_OK)
        rc = find_shared_pages(p, r);
    if (rc != TV_OK) {
        p->npages = first;
        return rc;
    }
    if ((rc = lend(p, first)) != TV_OK) {
        p->npages = first;
        /* The view was rebuilt with the new pages (or half-way): back to
         * the old one, whose tables fit before. */
        if (!pal_view_build(p, p->user))
            printf("trustvisor: SHARE: the PAL at %#lx lost its view\n", p->entry);
        return rc;
    }
    p->nsections += r->count;
    return TV_OK;
}

uint32_t tv_pal_share(struct vcpu *v, uint64_t entry, uint64_t addrs, uint64_t lens,
                      uint64_t count)
{
    static struct share_req reqs[MAX_CPUS];
    struct share_req *r = &reqs[v->index];
    uint32_t rc = TV_OK, idle = 0, runner = 0;
    struct pal *p = NULL;
    if (count == 0 || count > TV_MAX_SECTIONS)
        rc = count ? TV_ERR_TOO_MANY : TV_ERR_SECTION_SIZE;
    else if (!tv_copy_from_guest(r->addr, addrs, count * 8) ||
             !tv_copy_from_guest(r->len, lens, count * 8))
        rc = TV_ERR_BAD_PARAM;
    r->count = (uint32_t)count;
    if (rc != TV_OK)
        goto out;
    hypapp_quiesce(v);
    p = find_pal(entry, pal_process(vmcs_read(GUEST_CR3)));
    if (!p)
        rc = TV_ERR_ENTRY;
    else if (!__atomic_compare_exchange_n(&p->running, &idle, ~0u, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE))
        rc = TV_ERR_PAL_BUSY, runner = idle;
    else {
        rc = share_claimed(v, p, r);
        __atomic_store_n(&p->running, 0, __ATOMIC_RELEASE);
    }
    hypapp_endquiesce(v);
out:
    if (rc != TV_OK) {
        guest_refused(v, REFUSE_VMCALL, rc, "TrustVisor SHARE with the PAL at %#lx refused: "
                      "error %#x%s", entry, rc, runner ? " (it runs on another CPU)" : "");
        return rc;
    }
    printf("trustvisor: cpu%u shared %u range(s) with the PAL at %#lx: %u pages in all\n",
           v->index, r->count, entry, p->npages);
    return TV_OK;
}
