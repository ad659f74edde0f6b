/* A PAL's own view of memory, built at REG from the hypervisor's pages:
 *
 * - its page tables (IA-32e 4-level paging, SDM Vol. 3A, 4.5): each of its
 *   pages at the linear address the caller registered it at, to the same
 *   guest-physical frame, and nothing else. Accessed and dirty bits are
 *   set in advance (the CPU then never writes them, Vol. 3A, 4.8), so the
 *   tables can be read-only for the PAL. Writable only for DATA, PARAM and
 *   STACK; user pages if the caller registered at CPL 3.
 * - its EPT (SDM Vol. 3C, 28.2): its pages with the permissions of their
 *   section (bits 2:0, 28.2.2: CODE and SHARED_CODE read + execute, DATA,
 *   PARAM and STACK read + write), its page tables read-only, write-back
 *   (memory type 6 in bits 5:3, 28.2.6.1); everything else not present.
 *
 * While the PAL runs on a CPU that CPU's EPT pointer and CR3 are these
 * (pal_call.c); every other CPU keeps the normal view, without the PAL. */
#include <string.h>
#include <x86.h>
#include "mem/pmm.h"
#include "trustvisor/pal.h"
#include "vmx/ept.h"

#define ADDR_MASK   0x000ffffffffff000ull
/* IA-32e paging-structure entries (SDM Vol. 3A, Tables 4-14 to 4-19) */
#define PT_P        (1ull << 0)
#define PT_RW       (1ull << 1)
#define PT_US       (1ull << 2)
#define PT_A        (1ull << 5)
#define PT_D        (1ull << 6)
/* EPT entries (SDM Vol. 3C, 28.2.2): non-leaf bits 7:3 are reserved */
#define EPT_R       1ull
#define EPT_W       2ull
#define EPT_X       4ull
#define EPT_WB      (6ull << 3)

static uint64_t *table_alloc(struct pal_tables *t)
{
    if (t->n == PAL_MAX_TABLES)
        return NULL;
    uint64_t *pg = pmm_alloc_pages(1);      /* zeroed: nothing present */
    if (pg)
        t->page[t->n++] = pg;
    return pg;
}

/* The 4 KiB leaf entry for addr, the tables above it made on the way with
 * `link` as their entries' bits. NULL: out of tables. */
static uint64_t *leaf_slot(struct pal_tables *t, uint64_t addr, uint64_t link)
{
    if (!t->root && !(t->root = table_alloc(t)))
        return NULL;
    uint64_t *tab = t->root;
    for (int shift = 39; shift > 12; shift -= 9) {
        uint64_t *e = &tab[(addr >> shift) & 511];
        if (!*e) {
            uint64_t *n = table_alloc(t);
            if (!n)
                return NULL;
            *e = (uint64_t)n | link;
        }
        tab = (uint64_t *)(*e & ADDR_MASK);
    }
    return &tab[(addr >> 12) & 511];
}

static void tables_free(struct pal_tables *t)
{
    for (unsigned i = 0; i < t->n; i++)
        pmm_free_pages(t->page[i], 1);
    memset(t, 0, sizeof(*t));
}

void pal_view_free(struct pal *p)
{
    tables_free(&p->ept);
    tables_free(&p->gpt);
    p->view_eptp = p->view_cr3 = 0;
}

static bool writable(uint32_t type)
{
    return type == TV_PAL_SECTION_DATA || type == TV_PAL_SECTION_PARAM ||
           type == TV_PAL_SECTION_STACK || type == TV_PAL_SECTION_SHARED;
}

static bool build(struct pal *p, bool user)
{
    uint64_t us = user ? PT_US : 0;
    for (uint32_t i = 0; i < p->npages; i++) {
        const struct pal_page *pg = &p->page[i];
        uint64_t *e = leaf_slot(&p->gpt, pg->gva, PT_P | PT_RW | us | PT_A);
        uint64_t *x = leaf_slot(&p->ept, pg->gpa, EPT_R | EPT_W | EPT_X);
        if (!e || !x)
            return false;
        *e = pg->gpa | PT_P | PT_A | PT_D | us | (writable(pg->type) ? PT_RW : 0);
        *x = pg->gpa | EPT_WB | (writable(pg->type) ? EPT_R | EPT_W : EPT_R | EPT_X);
    }
    /* The page tables are guest-physical memory of the view: read-only. */
    for (unsigned i = 0; i < p->gpt.n; i++) {
        uint64_t a = (uint64_t)p->gpt.page[i];
        uint64_t *x = leaf_slot(&p->ept, a, EPT_R | EPT_W | EPT_X);
        if (!x)
            return false;
        *x = a | EPT_WB | EPT_R;
    }
    p->view_cr3 = (uint64_t)p->gpt.root;
    p->view_eptp = ept_pointer_of((uint64_t)p->ept.root);
    return true;
}

bool pal_view_build(struct pal *p, bool user)
{
    pal_view_free(p);
    p->param_gva = p->param_len = p->stack_top = 0;
    for (uint32_t i = 0; i < p->npages; i++) {
        const struct pal_page *pg = &p->page[i];
        /* The first section of each kind, as far as it runs on. */
        if (pg->type == TV_PAL_SECTION_PARAM &&
            (!p->param_len || pg->gva == p->param_gva + p->param_len)) {
            p->param_gva = p->param_len ? p->param_gva : pg->gva;
            p->param_len += PAGE_SIZE;
        }
        if (pg->type == TV_PAL_SECTION_STACK && (!p->stack_top || pg->gva == p->stack_top))
            p->stack_top = pg->gva + PAGE_SIZE;
    }
    if (build(p, user))
        return true;
    pal_view_free(p);
    return false;
}

void *pal_ptr(struct pal *p, uint64_t gva, uint64_t len, uint32_t type)
{
    uint64_t base = gva & ~(uint64_t)(PAGE_SIZE - 1);
    if (len > PAGE_SIZE - (gva - base))
        return NULL;
    for (uint32_t i = 0; i < p->npages; i++)
        if (p->page[i].gva == base && (!type || p->page[i].type == type))
            return (uint8_t *)phys_ptr(p->page[i].gpa) + (gva - base);
    return NULL;
}

void *pal_ptr_rw(struct pal *p, uint64_t gva, uint64_t len, bool write)
{
    static const uint32_t writable[] = { TV_PAL_SECTION_DATA, TV_PAL_SECTION_PARAM,
                                         TV_PAL_SECTION_STACK, TV_PAL_SECTION_SHARED };
    if (!write)
        return pal_ptr(p, gva, len, 0);
    for (unsigned i = 0; i < sizeof(writable) / sizeof(writable[0]); i++) {
        void *h = pal_ptr(p, gva, len, writable[i]);
        if (h)
            return h;
    }
    return NULL;
}

/* Each parameter takes 8 bytes of the PARAM section (an integer) or its
 * size rounded up to 8 (what a pointer points to): they must fit. */
uint32_t pal_params_fit(const struct pal *p)
{
    uint64_t need = 0;
    for (uint32_t i = 0; i < p->params.num_params; i++) {
        uint64_t sz = p->params.params[i].size;
        if (p->params.params[i].type == TV_PAL_PM_POINTER && sz > p->param_len)
            return TV_ERR_BAD_PARAM;
        need += p->params.params[i].type == TV_PAL_PM_POINTER ? (sz + 7) & ~7ull : 8;
    }
    return need <= p->param_len ? TV_OK : TV_ERR_BAD_PARAM;
}
