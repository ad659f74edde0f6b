/* Calling a registered PAL, and coming back.
 *
 * The call: the registering process (same CR3 frame) jumps to the entry
 * point (a `call`, its return address on top of its stack), from 64-bit
 * code (SysV AMD64) or from 32-bit code under a 64-bit kernel (cdecl: a
 * 4-byte return address, every argument in a 4-byte stack slot; the
 * PAL's view keeps the IA-32e paging it runs under). In the normal view
 * the PAL's pages are not present, so the fetch is an EPT violation (SDM
 * Vol. 3C, 28.3.3.2; exit qualification bit 2: a fetch, Table 28-7 of
 * 27.2.1). This CPU then switches into the PAL's view (pal_view.c): its
 * EPT pointer (24.6.11) and its own page tables (GUEST_CR3), after an
 * INVEPT of that view on this CPU (28.4.3.1). The PAL runs on its STACK
 * section with the caller's parameters copied into its PARAM section.
 * While it runs:
 * - guest interrupts are held: RFLAGS.IF is clear (Vol. 3A, 6.8.1), so
 *   an external interrupt stays pending at the LAPIC (no external-
 *   interrupt exiting here, 25.2); blocking by STI/MOV SS is dropped
 *   (with IF clear, 26.3.1.5 forbids STI blocking) and so is a pending
 *   single step (TF cleared);
 * - guest NMIs are kept pending (nmi_hold: the NMI layer neither injects
 *   nor asks for the NMI window; NMI exiting is on, 25.3);
 * - every exception exits (exception bitmap all ones, #PF mask and match
 *   0, 25.2): the PAL never reaches the guest's IDT.
 * The return: the PAL's `ret` jumps to the caller's return address, which
 * its page tables do not map: a #PF on the fetch (CR2 = RIP = that
 * address) is the return. Anything else is the PAL's fault: another
 * exception, an EPT violation (an access against its sections'
 * permissions), or running past the time limit (the VMX-preemption
 * timer's count, 25.5.1). The PAL is then abandoned: the caller gets TV_ERR_PAL_FAULT,
 * the machine runs on. Either way the caller resumes at its return
 * address with its stack popped, its callee-saved registers (RBX, RBP,
 * R12-R15; for 32-bit code EBX, ESI, EDI, EBP and R8-R15, which it cannot
 * see) as they were, RAX the result and the other scratch registers zero
 * (nothing of the PAL leaks out in them). */
#include <string.h>
#include <x86.h>
#include <percpu.h>
#include "cpu/idt.h"
#include "mem/pmm.h"
#include "trace/trace.h"
#include "trustvisor/pal.h"
#include "trustvisor/tv.h"
#include "vmx/controls.h"
#include "vmx/ept.h"
#include "vmx/intr_info.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

#define RFLAGS_TF   (1ull << 8)
#define RFLAGS_IF   (1ull << 9)
#define CS_AR_L     (1u << 13)      /* 64-bit code (SDM Vol. 3C, 24.4.1) */
#define CS_AR_DB    (1u << 14)      /* with L clear: 32-bit code */
#define CR4_LA57    (1ull << 12)    /* 5-level paging (Vol. 3A, 4.1) */
#define PAL_PERIODS 10              /* time limit: housekeeping periods (~0.5 s) */
#define NREGARGS    6               /* SysV AMD64: RDI, RSI, RDX, RCX, R8, R9 */

struct pal_call {
    struct pal *p;
    struct guest_regs regs;             /* the caller's, at the call */
    uint64_t rsp, rflags, cr3, ret;
    unsigned w;                         /* the caller's stack slot: 8, or 4 (cdecl) */
    uint32_t exc_bitmap, pf_mask, pf_match;
    uint64_t ptr[TV_MAX_PARAMS], off[TV_MAX_PARAMS];   /* pointer params */
    uint64_t ran;                       /* preemption-timer units it ran */
};

static struct pal_call calls[MAX_CPUS];

struct pal *pal_running_here(struct vcpu *v)
{
    return calls[v->index].p;
}

static uint64_t *reg_arg(struct guest_regs *r, unsigned i)
{
    uint64_t *regs[NREGARGS] = { &r->rdi, &r->rsi, &r->rdx, &r->rcx, &r->r8, &r->r9 };
    return regs[i];
}

/* [off, off+len) of the PARAM section to or from the caller's gva. */
static bool param_copy(struct pal *p, uint64_t off, uint64_t gva, uint64_t len, bool out)
{
    while (len) {
        uint64_t a = p->param_gva + off, n = PAGE_SIZE - (a & (PAGE_SIZE - 1));
        n = n < len ? n : len;
        void *h = pal_ptr(p, a, n, TV_PAL_SECTION_PARAM);
        if (!h || !(out ? tv_copy_to_guest(gva, h, n) : tv_copy_from_guest(h, gva, n)))
            return false;
        off += n, gva += n, len -= n;
    }
    return true;
}

/* The caller's parameters (SysV AMD64: six in registers, then on its
 * stack above the return address) into the PARAM section, in order: an
 * integer in 8 bytes (cut to its size), a pointer's `size` bytes; the PAL
 * gets the integer, or the address of the copy (0 for a null pointer). */
static bool marshal_in(struct pal_call *c, uint64_t *args)
{
    struct pal *p = c->p;
    uint64_t off = 0;
    for (uint32_t i = 0; i < p->params.num_params; i++) {
        const struct tv_pal_param *pm = &p->params.params[i];
        uint64_t val = 0;
        if (c->w == 8 && i < NREGARGS)
            val = *reg_arg(&c->regs, i);
        else if (!tv_copy_from_guest(&val, c->rsp + c->w * (c->w == 8 ? i - NREGARGS + 1 : i + 1),
                                     c->w))
            return false;
        c->ptr[i] = 0;
        if (pm->type == TV_PAL_PM_INTEGER) {
            if (pm->size && pm->size < c->w)
                val &= (1ull << (8 * pm->size)) - 1;
            uint64_t *slot = pal_ptr(p, p->param_gva + off, 8, TV_PAL_SECTION_PARAM);
            if (!slot)
                return false;
            *slot = val;
            args[i] = val;
            off += 8;
            continue;
        }
        if (val && !param_copy(p, off, val, pm->size, false))
            return false;
        c->ptr[i] = val;
        c->off[i] = off;
        args[i] = val ? p->param_gva + off : 0;
        off += (pm->size + 7) & ~7ull;
    }
    return true;
}

static bool marshal_out(struct pal_call *c)
{
    bool ok = true;
    for (uint32_t i = 0; i < c->p->params.num_params; i++)
        if (c->ptr[i])
            ok &= param_copy(c->p, c->off[i], c->ptr[i], c->p->params.params[i].size, true);
    return ok;
}

/* The PAL's stack: the return address, then the arguments past the sixth
 * (64-bit) or all of them in 4-byte slots (32-bit, cdecl); the stack
 * pointer + the slot 16-byte aligned at the entry (SysV AMD64 3.2.2, and
 * the i386 psABI's 2.2.2). */
static bool build_stack(struct pal_call *c, const uint64_t *args, uint64_t *rsp)
{
    struct pal *p = c->p;
    uint32_t np = p->params.num_params, skip = c->w == 8 ? NREGARGS : 0;
    uint32_t n = np > skip ? np - skip : 0;
    uint64_t top = ((p->stack_top - c->w * n) & ~0xfull) - c->w;
    for (uint32_t k = 0; k <= n; k++) {
        void *slot = pal_ptr(p, top + c->w * k, c->w, TV_PAL_SECTION_STACK);
        uint64_t val = k ? args[skip + k - 1] : c->ret;
        if (!slot)
            return false;
        memcpy(slot, &val, c->w);       /* little-endian: the low bytes */
    }
    *rsp = top;
    return true;
}

/* This CPU into the PAL's view. */
static void switch_in(struct vcpu *v, struct pal_call *c, const uint64_t *args, uint64_t rsp)
{
    struct pal *p = c->p;
    for (uint32_t i = 0; c->w == 8 && i < p->params.num_params && i < NREGARGS; i++)
        *reg_arg(&v->regs, i) = args[i];
    c->exc_bitmap = vmcs_read(EXCEPTION_BITMAP);
    c->pf_mask = vmcs_read(PF_ERROR_MASK);
    c->pf_match = vmcs_read(PF_ERROR_MATCH);
    vmcs_write(EXCEPTION_BITMAP, 0xffffffffu);
    vmcs_write(PF_ERROR_MASK, 0);
    vmcs_write(PF_ERROR_MATCH, 0);
    vmcs_write(GUEST_RSP, rsp);
    vmcs_write(GUEST_RFLAGS, c->rflags & ~(RFLAGS_IF | RFLAGS_TF));
    vmcs_write(GUEST_INTERRUPTIBILITY,
               vmcs_read(GUEST_INTERRUPTIBILITY) & ~(BLOCK_STI | BLOCK_MOV_SS));
    vmcs_write(GUEST_PENDING_DBG, 0);
    vmcs_write(GUEST_CR3, p->view_cr3);
    vmcs_write(EPT_POINTER, p->view_eptp);
    ept_invalidate(p->view_eptp);
    v->nmi_hold = true;
    trace_event(TEV_TV_PAL_ENTER, p->entry, c->ret);
}

/* This CPU back to the normal view, the caller resuming after its call. */
static void leave(struct vcpu *v, struct pal_call *c, bool ok)
{
    struct pal *p = c->p;
    const struct guest_regs r = c->regs;
    uint64_t rax = ok ? v->regs.rax : TV_ERR_PAL_FAULT;
    vmcs_write(EPT_POINTER, v->eptp);
    vmcs_write(GUEST_CR3, c->cr3);
    vmcs_write(EXCEPTION_BITMAP, c->exc_bitmap);
    vmcs_write(PF_ERROR_MASK, c->pf_mask);
    vmcs_write(PF_ERROR_MATCH, c->pf_match);
    vmcs_write(GUEST_RFLAGS, c->rflags);
    vmcs_write(GUEST_INTERRUPTIBILITY,
               vmcs_read(GUEST_INTERRUPTIBILITY) & ~(BLOCK_STI | BLOCK_MOV_SS));
    vmcs_write(GUEST_ACTIVITY_STATE, 0);    /* active: a PAL may have halted (24.4.2) */
    vmcs_write(GUEST_PENDING_DBG, 0);
    vmcs_write(ENTRY_INTR_INFO, 0);         /* nothing of the PAL's is delivered */
    vmcs_write(GUEST_RIP, c->ret);
    vmcs_write(GUEST_RSP, c->rsp + c->w);
    if (ok && !marshal_out(c)) {
        guest_refused(v, REFUSE_PAL_CALL, c->ret, "the PAL at %#lx returned, but a pointer "
                      "parameter is no longer writable: error %#x", p->entry, TV_ERR_BAD_PARAM);
        rax = TV_ERR_BAD_PARAM;
    }
    /* Callee-saved: SysV AMD64's; for 32-bit code the i386 ones (EBX, ESI,
     * EDI, EBP) and R8-R15, which compatibility mode cannot see. */
    v->regs = (struct guest_regs){ .rax = rax, .rbx = r.rbx, .rbp = r.rbp, .r12 = r.r12,
                                   .r13 = r.r13, .r14 = r.r14, .r15 = r.r15 };
    if (c->w == 4) {
        v->regs.rsi = r.rsi, v->regs.rdi = r.rdi, v->regs.r8 = r.r8, v->regs.r9 = r.r9;
        v->regs.r10 = r.r10, v->regs.r11 = r.r11;
    }
    v->nmi_hold = false;
    c->p = NULL;
    __atomic_store_n(&p->running, 0, __ATOMIC_RELEASE);
    trace_event(TEV_TV_PAL_EXIT, p->entry, c->ret);
}

/* A call refused before the switch: the caller gets `rc` at its return
 * address, as if the PAL had returned it. */
static bool refuse_call(struct vcpu *v, struct pal *p, uint64_t ret, unsigned w, uint32_t rc,
                        const char *why)
{
    guest_refused(v, REFUSE_PAL_CALL, rc, "call of the PAL at %#lx refused: %s; error %#x",
                  p->entry, why, rc);
    vmcs_write(GUEST_RIP, ret);
    vmcs_write(GUEST_RSP, vmcs_read(GUEST_RSP) + w);
    v->regs.rax = rc;
    return true;
}

/* Is this fetch the call of p by its own process? */
static bool is_call(struct pal *p, uint64_t gpa)
{
    const struct pal_page *pg = NULL;
    for (uint32_t i = 0; i < p->npages && !pg; i++)
        if (p->page[i].gva == (p->entry & ~(uint64_t)(PAGE_SIZE - 1)))
            pg = &p->page[i];
    return p->used && pg && pg->gpa == (gpa & ~(uint64_t)(PAGE_SIZE - 1)) &&
           vmcs_read(GUEST_RIP) == p->entry && pal_process(vmcs_read(GUEST_CR3)) == p->cr3 &&
           !(vmcs_read(IDT_VECTORING_INFO) & INTR_INFO_VALID);
}

/* The caller's stack slot: 8 in 64-bit code, 4 in 32-bit code under a
 * 64-bit kernel (compatibility mode: IA-32e paging, which the PAL's view
 * uses too); 0 for anything else (16-bit code, no IA-32e mode). */
static unsigned caller_width(void)
{
    uint32_t ar = vmcs_read(GUEST_CS_AR);
    if (!(vmcs_read(ENTRY_CONTROLS) & ENTRY_IA32E_GUEST) || (vmcs_read(GUEST_CR4) & CR4_LA57))
        return 0;
    return (ar & CS_AR_L) ? 8 : (ar & CS_AR_DB) ? 4 : 0;
}

static bool call(struct vcpu *v, struct pal *p, uint64_t gpa)
{
    struct pal_call *c = &calls[v->index];
    uint64_t rsp = vmcs_read(GUEST_RSP), ret = 0, args[TV_MAX_PARAMS] = { 0 };
    unsigned w = caller_width();
    if (!is_call(p, gpa) || !tv_copy_from_guest(&ret, rsp, w ? w : 8))
        return false;       /* no call: refused like any access (#GP) */
    if (!w)
        return refuse_call(v, p, ret, 8, TV_ERR_PAL_MODE,
                           "not 64- or 32-bit code with 4-level IA-32e paging");
    if (!p->stack_top)
        return refuse_call(v, p, ret, w, TV_ERR_PAL_MODE, "the PAL has no STACK section");
    uint32_t idle = 0;
    if (!__atomic_compare_exchange_n(&p->running, &idle, v->index + 1, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return refuse_call(v, p, ret, w, TV_ERR_PAL_BUSY, "it runs on another CPU");
    if (!is_call(p, gpa)) {         /* UNREG'd and reused meanwhile */
        __atomic_store_n(&p->running, 0, __ATOMIC_RELEASE);
        return false;
    }
    *c = (struct pal_call){ .p = p, .regs = v->regs, .rsp = rsp, .ret = ret, .w = w,
                            .cr3 = vmcs_read(GUEST_CR3),   /* with this CPU's PCID */
                            .rflags = vmcs_read(GUEST_RFLAGS) };
    uint64_t prsp;
    if (!marshal_in(c, args) || !build_stack(c, args, &prsp)) {
        c->p = NULL;
        __atomic_store_n(&p->running, 0, __ATOMIC_RELEASE);
        return refuse_call(v, p, ret, w, TV_ERR_BAD_PARAM, "a parameter cannot be read");
    }
    switch_in(v, c, args, prsp);
    return true;
}

bool pal_call_ept_violation(struct vcpu *v, struct pal *p, uint64_t gpa, uint64_t qual)
{
    struct pal_call *c = &calls[v->index];
    if (c->p != p)
        return call(v, p, gpa);
    /* Inside the PAL: an access its sections do not allow. */
    guest_refused(v, REFUSE_PAL_CALL, gpa, "the PAL at %#lx: %s of %#lx against its "
                  "sections' permissions (rip %#lx); abandoned, error %#x", p->entry,
                  qual & 2 ? "write" : qual & 4 ? "fetch" : "read", gpa,
                  vmcs_read(GUEST_RIP), TV_ERR_PAL_FAULT);
    leave(v, c, false);
    return true;
}

/* Exits while a PAL runs here (exception/NMI and preemption timer, asked
 * for through the hypapp's exit mask). */
bool pal_call_exit(struct vcpu *v, uint32_t basic)
{
    struct pal_call *c = &calls[v->index];
    if (!c->p)
        return false;
    if (basic == VMX_EXIT_PREEMPTION_TIMER) {
        /* The timer counts down only in VMX non-root operation and starts
         * from the VMCS value at every entry (Vol. 3C, 25.5.1): at its exit
         * the PAL ran that whole value. Summed in timer units, not exits:
         * the period is shorter while the line has bytes to send
         * (serial_tx_pump_period), and counting exits once cut a PAL off
         * after 14 ms instead of half a second. */
        c->ran += v->timer_value;
        if (c->ran > (uint64_t)PAL_PERIODS * vmx_preemption_ticks()) {
            guest_refused(v, REFUSE_PAL_CALL, c->ran, "the PAL at %#lx ran past its time "
                          "limit (rip %#lx); abandoned, error %#x", c->p->entry,
                          vmcs_read(GUEST_RIP), TV_ERR_PAL_FAULT);
            leave(v, c, false);
        }
        return false;       /* the core's timer work runs as ever */
    }
    uint32_t info = vmcs_read(EXIT_INTR_INFO);
    if (basic != VMX_EXIT_EXCEPTION_NMI || INTR_INFO_TYPE(info) == INTR_TYPE_NMI)
        return false;       /* an NMI: pending, held until the PAL is done */
    uint64_t rip = vmcs_read(GUEST_RIP);
    if (INTR_INFO_VECTOR(info) == VEC_PF && rip == c->ret &&
        vmcs_read(EXIT_QUALIFICATION) == c->ret) {
        leave(v, c, true);  /* the fetch of the return address: it returned */
        return true;
    }
    guest_refused(v, REFUSE_PAL_CALL, INTR_INFO_VECTOR(info), "the PAL at %#lx raised "
                  "vector %u (error %#x, rip %#lx, cr2/qual %#lx); abandoned, error %#x",
                  c->p->entry, INTR_INFO_VECTOR(info),
                  (info & INTR_INFO_ERR_VALID) ? (uint32_t)vmcs_read(EXIT_INTR_ERROR) : 0,
                  rip, vmcs_read(EXIT_QUALIFICATION), TV_ERR_PAL_FAULT);
    leave(v, c, false);
    return true;
}
