/* PAL registration and isolation (TV_HC_REG / TV_HC_UNREG).
 *
 * REG checks the descriptors, finds every page of every section through
 * the caller's paging (present, guest RAM, writable by the caller, in no
 * other PAL), measures the code into the PAL's own PCR 0, then takes the
 * pages from the guest: with every other CPU stopped (quiesce) each page's
 * leaf in the EPT all CPUs share loses its read/write/execute bits (not
 * present, SDM Vol. 3C, 28.2.2: an entry with bits 2:0 clear is not
 * present, any access an EPT violation, 28.3.3.2), and every CPU flushes
 * its EPT-derived translations before its next entry (28.4.3.1: a change
 * of a present entry needs INVEPT). From then on any guest access, from any
 * CPU, is an EPT violation that TrustVisor refuses: #GP(0) at the
 * instruction, reported, the machine runs on. The hypervisor's own reads
 * for the guest (hypercall buffers, page walks) are refused as well
 * (tv_pal_withheld, through guest_ram_ok).
 *
 * UNREG scrubs every page (zeroes) while the guest still cannot see it,
 * then gives the pages back, again under quiesce and flushed everywhere. */
#include <string.h>
#include <tvabi.h>
#include <x86.h>
#include "mem/pmm.h"
#include <percpu.h>
#include "console/console.h"
#include "hypapp/hypapp.h"
#include "cpu/idt.h"
#include "trace/trace.h"
#include "trustvisor/pal.h"
#include <bearssl_hash.h>
#include "trustvisor/tv.h"
#include "vmx/ept.h"
#include "vmx/exit.h"
#include "vmx/guest_mem.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"

struct pal tv_pals[MAX_PALS];

bool tv_pal_withheld(uint64_t gpa, uint64_t len)
{
    for (unsigned p = 0; p < MAX_PALS; p++)
        for (unsigned i = 0; tv_pals[p].used && i < tv_pals[p].npages; i++)
            if (gpa < tv_pals[p].page[i].gpa + PAGE_SIZE && tv_pals[p].page[i].gpa < gpa + len)
                return true;
    return false;
}

static const char *access_name(uint64_t qual)
{
    return qual & 2 ? "write" : qual & 4 ? "fetch" : "read";
}

/* In the normal view: the call of a PAL (a fetch of its entry, pal_call.c)
 * or a refused access. In a PAL's view: the PAL's own violation. */
bool tv_pal_ept_violation(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
    struct pal *run = pal_running_here(v);
    if (run)
        return pal_call_ept_violation(v, run, gpa, qual);
    if (!tv_pal_withheld(gpa, 1))
        return false;
    for (unsigned p = 0; (qual & 4) && p < MAX_PALS; p++)
        if (tv_pals[p].used && vmcs_read(GUEST_RIP) == tv_pals[p].entry &&
            pal_call_ept_violation(v, &tv_pals[p], gpa, qual))
            return true;
    /* Contained like an access to the hypervisor: #GP(0) at the faulting
     * instruction (RIP not advanced; a fault, SDM Vol. 3A, 6.5). */
    guest_inject_exception(VEC_GP, true, 0);
    guest_refused(v, REFUSE_PAL_MEMORY, gpa, "%s of a registered PAL's page at %#lx "
                  "(rip %#lx); #GP", access_name(qual), gpa, vmcs_read(GUEST_RIP));
    return true;
}

/* ---- REG ---------------------------------------------------------------- */
static uint32_t check_section(const struct tv_pal_section *s, uint32_t *pages)
{
    if (s->type < TV_PAL_SECTION_CODE || s->type > TV_PAL_SECTION_SHARED_CODE)
        return TV_ERR_SECTION_TYPE;
    if (s->start_addr & (PAGE_SIZE - 1))
        return TV_ERR_SECTION_ALIGN;
    if (s->page_num == 0 || s->page_num > MAX_PAL_PAGES - *pages ||
        s->start_addr + (uint64_t)s->page_num * PAGE_SIZE < s->start_addr)
        return TV_ERR_SECTION_SIZE;
    *pages += s->page_num;
    return TV_OK;
}

static uint32_t check_descriptors(const struct tv_pal_sections *ss,
                                  const struct tv_pal_params *pm, uint64_t entry)
{
    uint32_t pages = 0, rc;
    bool entry_in_code = false;
    if (ss->num_sections == 0)
        return TV_ERR_SECTION_TYPE;
    if (ss->num_sections > TV_MAX_SECTIONS || pm->num_params > TV_MAX_PARAMS)
        return TV_ERR_TOO_MANY;
    for (uint32_t i = 0; i < pm->num_params; i++)
        if (pm->params[i].type != TV_PAL_PM_INTEGER && pm->params[i].type != TV_PAL_PM_POINTER)
            return TV_ERR_BAD_PARAM;
    for (uint32_t i = 0; i < ss->num_sections; i++) {
        const struct tv_pal_section *s = &ss->sections[i];
        if ((rc = check_section(s, &pages)) != TV_OK)
            return rc;
        uint64_t end = s->start_addr + (uint64_t)s->page_num * PAGE_SIZE;
        for (uint32_t j = 0; j < i; j++) {
            const struct tv_pal_section *o = &ss->sections[j];
            if (s->start_addr < o->start_addr + (uint64_t)o->page_num * PAGE_SIZE &&
                o->start_addr < end)
                return TV_ERR_SECTION_OVERLAP;
        }
        if ((s->type == TV_PAL_SECTION_CODE || s->type == TV_PAL_SECTION_SHARED_CODE) &&
            entry >= s->start_addr && entry < end)
            entry_in_code = true;
    }
    return entry_in_code ? TV_OK : TV_ERR_ENTRY;
}

/* Every page through the caller's paging: present, writable by it, guest
 * RAM, not another PAL's, not twice (two linear pages, one frame). */
static uint32_t find_pages(struct pal *p, const struct tv_pal_sections *ss)
{
    p->npages = 0;
    for (uint32_t i = 0; i < ss->num_sections; i++)
        for (uint32_t k = 0; k < ss->sections[i].page_num; k++) {
            uint64_t gva = ss->sections[i].start_addr + (uint64_t)k * PAGE_SIZE, gpa;
            uint32_t pf;
            enum guest_walk w = guest_linear_to_phys(gva, true, &gpa, &pf);
            if (w == WALK_FAULT)
                return (pf & 1) ? TV_ERR_SECTION_READONLY : TV_ERR_SECTION_UNMAPPED;
            gpa &= ~(uint64_t)(PAGE_SIZE - 1);
            if (w != WALK_OK || !guest_ram_ok(gpa, PAGE_SIZE))
                return tv_pal_withheld(gpa, PAGE_SIZE) ? TV_ERR_ALREADY
                                                       : TV_ERR_SECTION_UNMAPPED;
            for (uint32_t j = 0; j < p->npages; j++)
                if (p->page[j].gpa == gpa)
                    return TV_ERR_SECTION_OVERLAP;
            p->page[p->npages++] = (struct pal_page){ gva, gpa, NULL, 0,
                                                      ss->sections[i].type };
        }
    return TV_OK;
}

/* PCR 0 of the PAL's uTPM: extended with SHA-1 over its code pages, in
 * the order of the sections (TrustVisor measures the PAL at REG):
 * PCR 0 = SHA1(0^20 || SHA1(CODE and SHARED_CODE pages)). */
static void measure(struct pal *p)
{
    br_sha1_context c;
    uint8_t m[TV_PCR_SIZE];
    br_sha1_init(&c);
    for (uint32_t i = 0; i < p->npages; i++)
        if (p->page[i].type == TV_PAL_SECTION_CODE || p->page[i].type == TV_PAL_SECTION_SHARED_CODE)
            br_sha1_update(&c, phys_ptr(p->page[i].gpa), PAGE_SIZE);
    br_sha1_out(&c, m);
    memset(p->pcr, 0, sizeof(p->pcr));
    utpm_extend(p->pcr[0], m);
}

/* With every other CPU stopped: the pages leave the guest's EPT. */
static bool take_pages(struct pal *p)
{
    for (uint32_t i = 0; i < p->npages; i++) {
        struct pal_page *pg = &p->page[i];
        pg->pte = ept_leaf_4k(pg->gpa);
        if (!pg->pte) {
            while (i--)
                *p->page[i].pte = p->page[i].saved;
            return false;
        }
        pg->saved = *pg->pte;
        *pg->pte = pg->saved & ~EPT_ACCESS_MASK;
    }
    return true;
}

static uint32_t do_register(struct vcpu *v, struct pal *p, uint64_t sections, uint64_t params)
{
    static struct tv_pal_sections ss[MAX_CPUS];
    struct tv_pal_sections *s = &ss[v->index];
    memset(&p->params, 0, sizeof(p->params));
    if (!tv_copy_from_guest(s, sections, sizeof(*s)) ||
        (params && !tv_copy_from_guest(&p->params, params, sizeof(p->params))))
        return TV_ERR_BAD_PARAM;
    uint32_t rc = check_descriptors(s, &p->params, p->entry);
    if (rc == TV_OK)
        rc = find_pages(p, s);
    /* The PAL's pages for a user process are user pages in its own page
     * tables (CPL from SS.DPL, SDM Vol. 3C, 24.4.1; Vol. 3A, 5.5). */
    p->user = ((vmcs_read(GUEST_SS_AR) >> 5) & 3) == 3;
    p->nsections = s->num_sections;
    if (rc == TV_OK && !pal_view_build(p, p->user))
        rc = TV_ERR_NO_ROOM;
    if (rc == TV_OK)
        rc = pal_params_fit(p);
    if (rc != TV_OK) {
        pal_view_free(p);
        return rc;
    }
    measure(p);
    hypapp_quiesce(v);
    /* Rechecked inside: another CPU's REG may have taken a page since. */
    for (uint32_t i = 0; i < p->npages && rc == TV_OK; i++)
        if (tv_pal_withheld(p->page[i].gpa, PAGE_SIZE))
            rc = TV_ERR_ALREADY;
    if (rc == TV_OK && !take_pages(p))
        rc = TV_ERR_NO_ROOM;
    if (rc == TV_OK) {
        p->used = true;
        ept_flush_everywhere();
    }
    hypapp_endquiesce(v);
    if (rc != TV_OK)
        pal_view_free(p);
    return rc;
}

static int table_lock;

uint32_t tv_pal_register(struct vcpu *v, uint64_t sections, uint64_t params, uint64_t entry)
{
    struct pal *p = NULL;
    while (__atomic_exchange_n(&table_lock, 1, __ATOMIC_ACQUIRE))
        cpu_relax();
    for (unsigned i = 0; i < MAX_PALS && !p; i++)
        if (!tv_pals[i].claimed)
            p = &tv_pals[i];
    if (p)
        p->claimed = true;
    __atomic_store_n(&table_lock, 0, __ATOMIC_RELEASE);
    if (!p) {
        guest_refused(v, REFUSE_VMCALL, entry, "TrustVisor REG: all %d PAL slots in use",
                      MAX_PALS);
        return TV_ERR_NO_ROOM;
    }
    p->entry = entry;
    p->cr3 = pal_process(vmcs_read(GUEST_CR3));
    uint32_t rc = do_register(v, p, sections, params);
    if (rc != TV_OK) {
        p->npages = 0;
        __atomic_store_n(&p->claimed, false, __ATOMIC_RELEASE);
        guest_refused(v, REFUSE_VMCALL, rc, "TrustVisor REG (entry %#lx) refused: error %#x",
                      entry, rc);
        return rc;
    }
    /* An event, not a console line: PAL loops register and unregister
     * back to back, and console text from a VM exit waits for the line
     * (~8 ms a line at 115200 baud), which held this CPU and, with the
     * line saturated, starved the other CPU's guest of it (the Linux
     * guest's T3 stress cell stalled for minutes). */
    trace_event(TEV_TV_PAL_REGISTER, entry, p->page[0].gpa, (uint64_t)p->npages * PAGE_SIZE);
    return TV_OK;
}

/* ---- UNREG -------------------------------------------------------------- */
/* The PAL's own pages are scrubbed first; pages it was lent by SHARE go
 * back as it left them (its results for the caller, share.c). */
static void give_back(struct pal *p)
{
    for (uint32_t i = 0; i < p->npages; i++) {
        if (p->page[i].type != TV_PAL_SECTION_SHARED)
            memset(phys_ptr(p->page[i].gpa), 0, PAGE_SIZE);
        *p->page[i].pte = p->page[i].saved;
    }
}

uint32_t tv_pal_unregister(struct vcpu *v, uint64_t entry)
{
    uint64_t cr3 = pal_process(vmcs_read(GUEST_CR3));
    struct pal *p = NULL;
    hypapp_quiesce(v);
    for (unsigned i = 0; i < MAX_PALS && !p; i++)
        if (tv_pals[i].used && tv_pals[i].entry == entry && tv_pals[i].cr3 == cr3)
            p = &tv_pals[i];
    /* A CPU stopped half-way into a call has claimed it already (or
     * will find it taken): the claim is the one atomic step. */
    uint32_t idle = 0, runner = 0;
    if (p && !__atomic_compare_exchange_n(&p->running, &idle, ~0u, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE)) {
        runner = idle;
        p = NULL;
    }
    if (p) {
        give_back(p);
        p->used = false;
        ept_flush_everywhere();
        __atomic_store_n(&p->running, 0, __ATOMIC_RELEASE);
    }
    hypapp_endquiesce(v);
    if (runner) {
        guest_refused(v, REFUSE_VMCALL, entry, "TrustVisor UNREG of %#lx: the PAL runs on "
                      "cpu%u", entry, runner - 1);
        return TV_ERR_PAL_BUSY;
    }
    if (!p) {
        guest_refused(v, REFUSE_VMCALL, entry, "TrustVisor UNREG of %#lx: no such PAL of "
                      "this process", entry);
        return TV_ERR_ENTRY;
    }
    trace_event(TEV_TV_PAL_UNREGISTER, entry);     /* no console line: see REG */
    memset(p->pcr, 0, sizeof(p->pcr));
    pal_view_free(p);
    p->npages = 0;
    __atomic_store_n(&p->claimed, false, __ATOMIC_RELEASE);
    return TV_OK;
}

/* The machine resets: nothing of a PAL survives in RAM the next boot's
 * guest would see. */
void tv_pal_shutdown(struct vcpu *v)
{
    for (unsigned i = 0; i < MAX_PALS; i++)
        for (uint32_t k = 0; tv_pals[i].used && k < tv_pals[i].npages; k++)
            memset(phys_ptr(tv_pals[i].page[k].gpa), 0, PAGE_SIZE);
}
