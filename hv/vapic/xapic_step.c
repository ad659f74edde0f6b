/* xAPIC accesses, completed by single-stepping the guest's instruction with
 * its LAPIC page mapped in this CPU's own EPT root (other CPUs keep it
 * trapped). During the step: external interrupts are held off (IF = 0), no
 * NMI is injected (nmi_hold; NMIs that arrive stay pending), and every
 * exception exits to us, so nothing runs in the guest with the page open
 * except the one instruction. */
#include "config/config.h"
#include "console/console.h"
#include "cpu/lapic.h"
#include <percpu.h>
#include "mem/pmm.h"
#include "trace/trace.h"
#include <x86.h>
#include "vapic/vapic.h"
#include "vmx/controls.h"
#include "vmx/ept.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/intr_info.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"
#include "cpu/idt.h"
#include "cpu/tsc.h"
#include "smp/work.h"

/* The step watchdog: how long a step may stay open through exits that
 * leave the guest before its instruction (NMIs, the preemption timer),
 * and how many missed steps each CPU reports on the console (the trace
 * event comes for every one). */
#define STEP_LIMIT_MS   1000
#define STEP_REPORTS    4

static bool probe_intercept(struct vcpu *v, uint32_t basic)
{
    return v->mtf_probe.armed && vapic_mtf_probe_exit(v, basic);
}

static bool step_intercept(struct vcpu *v, uint32_t basic)
{
    return v->step.active && vapic_step_exit(v, basic);
}

/* An INIT the guest sent this CPU while it ran (sipi.c) takes effect at
 * the end of whatever exit comes next. */
static void reset_if_init_pending(struct vcpu *v)
{
    if (__atomic_load_n(&v->run_state, __ATOMIC_ACQUIRE) == GUEST_RESETTING)
        vapic_reset_ap(v);
}

static void vapic_register_hooks(void)
{
    vapic_msr_init();
    cpu_idle_set_hook(vapic_idle_poll);
    vmx_exit_intercept_register(probe_intercept);
    vmx_exit_intercept_register(step_intercept);
    vmx_exit_register_final(VMX_EXIT_INIT, vapic_reset_ap);
    vmx_before_entry_register(ENTRY_STAGE_STATE, reset_if_init_pending);
    vmx_before_entry_register(ENTRY_STAGE_CONTROLS, vapic_mtf_probe_arm);
    if (hv_config.lapic_trap)
        vmx_ept_violation_register(vapic_ept_violation);
}

void vapic_global_init(void)
{
    bool true_ctls = rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_TRUE_CTLS;
    uint64_t cap = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED : MSR_IA32_VMX_PROCBASED_CTLS);
    bool has_mtf = (cap >> 32) & PROC_MONITOR_TRAP;
    vapic_mtf_probe_init(has_mtf);
    x2apic_hint_init();
    vapic_register_hooks();
    if (hv_config.lapic_step == LAPIC_STEP_MTF && !has_mtf)
        printf("vapic: lapic_step=mtf asked for, but this CPU has no monitor trap flag\n");
    if (!hv_config.lapic_trap) {
        printf("vapic: lapic_trap=off: the guest's xAPIC page is not trapped, its xAPIC "
               "INIT/SIPI would reach the hardware (for one-CPU guests)\n");
        return;
    }
    switch (vapic_mtf_verdict()) {
    case MTF_ABSENT:
        printf("vapic: guest xAPIC accesses are single-stepped with TF and #DB "
               "(this CPU has no monitor trap flag)\n");
        break;
    case MTF_UNUSED:
        printf("vapic: guest xAPIC accesses are single-stepped with TF and #DB "
               "(lapic_step=tf)\n");
        break;
    case MTF_WORKS:
        printf("vapic: guest xAPIC accesses are single-stepped with the monitor trap flag "
               "(lapic_step=mtf, not probed)\n");
        break;
    default:
        printf("vapic: guest xAPIC accesses are single-stepped with TF and #DB until a "
               "probe shows the monitor trap flag works\n");
    }
}

bool vapic_cpu_init(struct vcpu *v)
{
    v->apic_base = rdmsr(MSR_IA32_APIC_BASE);   /* the guest starts with the real one */
    vapic_msr_audit(v);     /* reports a gap; the guest's symptom follows */
    if (!hv_config.lapic_trap)
        return true;    /* the shared EPT maps the page: no trap, no step */
    v->lapic_scratch = pmm_alloc_pages(1);
    v->eptp = ept_build_cpu(GUEST_LAPIC_GPA, &v->lapic_pte);
    if (!v->lapic_scratch || !v->eptp) {
        printf("vapic: cpu%u: out of pages for the LAPIC trap\n", v->index);
        return false;
    }
    vmcs_write(EPT_POINTER, v->eptp);
    return true;
}

/* The access that exited is stepped against this CPU's scratch page
 * (xapic_regs.c), mapped read/write where the LAPIC page is, in this CPU's
 * own EPT root: nothing runs in the guest with the page open except the
 * one instruction. Interrupts are held off (IF = 0, SDM Vol. 3A, 6.8.1),
 * no NMI is injected (nmi_hold), every exception exits (the exception
 * bitmap, Vol. 3C, 25.2), and the step ends on the MTF exit (25.5.2) or
 * the single-step #DB (Vol. 3A, 17.3.1.4). */
static void step_begin(struct vcpu *v, uint32_t offset, bool write)
{
    struct lapic_step *s = &v->step;
    s->active = true;
    s->reg = offset;
    s->write = write;
    s->rip = vmcs_read(GUEST_RIP);
    s->mtf = vapic_mtf_verdict() == MTF_WORKS;
    s->tsc = rdtsc();
    s->width = xapic_access_width();
    xapic_scratch_prepare(v, offset);
    ept_set_page(v->eptp, v->lapic_pte, (uint64_t)v->lapic_scratch | EPT_PAGE_RW_UC);
    v->nmi_hold = true;
    uint64_t rf = vmcs_read(GUEST_RFLAGS);
    uint32_t intr = vmcs_read(GUEST_INTERRUPTIBILITY);
    s->saved_rflags_bits = rf & (RFLAGS_IF | RFLAGS_TF);
    /* PLANTED BUG (HV_BUGS=vmcs-width): the exception bitmap (a 32-bit
     * field) read by a VMREAD with a memory operand, bypassing the typed
     * accessors. In 64-bit mode it stores 64 bits (SDM Vol. 3C, 31.3,
     * "VMREAD"): the zero upper half lands on s->reg, the offset of the
     * access being stepped, so its write is applied at offset 0. */
#ifdef HV_BUG_VMCS_WIDTH
    __asm__ volatile("vmread %1, (%0)" :: "r"(&s->saved_exc_bitmap),
                     "r"((uint64_t)VMCS_EXCEPTION_BITMAP) : "memory", "cc");
#else
    s->saved_exc_bitmap = vmcs_read(EXCEPTION_BITMAP);
#endif
    rf &= ~RFLAGS_IF;
    intr &= ~BLOCK_STI;     /* STI blocking is only legal with IF = 1 (26.3.1.5) */
    vmcs_write(EXCEPTION_BITMAP, 0xffffffffu);
    if (!s->mtf) {          /* with MTF, the VMX core sets it for the step */
        rf |= RFLAGS_TF;
        /* Entry check: TF with MOV-SS blocking needs BS pending (26.3.1.5). */
        if (intr & BLOCK_MOV_SS)
            vmcs_write(GUEST_PENDING_DBG, vmcs_read(GUEST_PENDING_DBG) | PENDING_DBG_BS);
    }
    vmcs_write(GUEST_RFLAGS, rf);
    vmcs_write(GUEST_INTERRUPTIBILITY, intr);
}

/* The guest had TF set itself: it is owed the single-step #DB of the
 * instruction, with DR6.BS as the CPU would set it (a #DB that exits does
 * not update DR6, Vol. 3C, 27.1). */
static void deliver_guest_step_trap(void)
{
    uint64_t dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    __asm__ volatile("mov %0, %%dr6" :: "r"(dr6 | DB_QUAL_BS));
    guest_inject_exception(VEC_DB, false, 0);
}

static void step_end(struct vcpu *v, bool done)
{
    struct lapic_step *s = &v->step;
    ept_set_page(v->eptp, v->lapic_pte, 0);
    uint64_t rf = vmcs_read(GUEST_RFLAGS) & ~(RFLAGS_IF | RFLAGS_TF);
    vmcs_write(GUEST_RFLAGS, rf | s->saved_rflags_bits);
    vmcs_write(EXCEPTION_BITMAP, s->saved_exc_bitmap);
    v->nmi_hold = false;
    s->active = false;
    if (!done)
        return;     /* the guest runs the instruction again: a new exit */
    xapic_scratch_apply(v);
    if (s->saved_rflags_bits & RFLAGS_TF)
        deliver_guest_step_trap();
}

bool vapic_ept_violation(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
    if ((gpa & ~0xfffull) != GUEST_LAPIC_GPA || !v->lapic_pte)
        return false;
    if (qual & 4) {
        guest_inject_exception(VEC_GP, true, 0);
        guest_refused(v, REFUSE_LAPIC_FETCH, gpa, "instruction fetch from the LAPIC page at "
                      "%#lx; #GP", gpa);
        return true;
    }
    if (v->step.active)     /* the page was shut again before the step ended */
        step_end(v, false);
    /* With the guest's own TF set, the exit may save a single-step trap as
     * pending for the very instruction that faulted (Bochs does, 27.3.4):
     * it belongs after that instruction, which the step completes, and it
     * is delivered then (step_end). Left pending it would fire at entry,
     * before the instruction, and the access would fault again: a
     * livelock. */
    uint64_t pending = vmcs_read(GUEST_PENDING_DBG);
    if ((pending & PENDING_DBG_BS) && (vmcs_read(GUEST_RFLAGS) & RFLAGS_TF))
        vmcs_write(GUEST_PENDING_DBG, pending & ~PENDING_DBG_BS);
    if (xapic_emulate(v, gpa & 0xfff, qual))
        return true;
    v->lapic_exits[0][(gpa & 0xfff) >> 4]++;    /* < 0x100: in bounds */
    v->lapic_stepped++;
    step_begin(v, gpa & 0xfff, qual & 2);
    return true;
}

/* The instruction faulted: the page closes and the guest gets the fault. */
static void reflect_exception(uint32_t info)
{
    uint8_t vector = info & 0xff;
    if (vector == VEC_PF)   /* a #PF exit leaves CR2 alone: the guest needs it */
        __asm__ volatile("mov %0, %%cr2" :: "r"(vmcs_read(EXIT_QUALIFICATION)));
    if (vector == VEC_DB) { /* nor DR6: its bits are in the qualification (27.1) */
        uint64_t dr6;
        __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
        dr6 |= vmcs_read(EXIT_QUALIFICATION) & (0xf | (1ull << 13) | DB_QUAL_BS);
        __asm__ volatile("mov %0, %%dr6" :: "r"(dr6));
    }
    vmcs_write(ENTRY_INTR_INFO, info & (INTR_INFO_VALID | INTR_INFO_ERR_VALID | 0x7ff));
    if (info & INTR_INFO_ERR_VALID)
        vmcs_write(ENTRY_EXC_ERROR, vmcs_read(EXIT_INTR_ERROR));
    if (INTR_TYPE_IS_SOFTWARE(INTR_INFO_TYPE(info)))
        vmcs_write(ENTRY_INSN_LEN, vmcs_read(EXIT_INSN_LEN));
}

/* The step's own end: the MTF exit, or our single-step #DB trap (BS set,
 * the instruction completed so RIP moved; a BS #DB at the same RIP was a
 * trap pending from before the instruction: the guest's own TF). */
static bool step_ended(struct vcpu *v, uint32_t basic)
{
    if (basic == VMX_EXIT_MONITOR_TRAP_FLAG)
        return v->step.mtf;
    if (basic != VMX_EXIT_EXCEPTION_NMI || v->step.mtf)
        return false;
    uint32_t info = vmcs_read(EXIT_INTR_INFO);
    return INTR_INFO_TYPE(info) != INTR_TYPE_NMI && INTR_INFO_VECTOR(info) == VEC_DB &&
           (vmcs_read(EXIT_QUALIFICATION) & DB_QUAL_BS) && vmcs_read(GUEST_RIP) != v->step.rip;
}

static void report_missed(struct vcpu *v, uint32_t basic, uint64_t rip, uint64_t us)
{
    struct lapic_step *s = &v->step;
    trace_event(TEV_LAPIC_STEP_MISSED, s->mtf, basic, rip, s->rip);
    if (s->missed++ >= STEP_REPORTS)
        return;
    const char *exit = catalog_exit_name(basic);
    printf("vapic: cpu%u: LAPIC step watchdog: the %s step of the xAPIC access at rip %#lx "
           "(offset %#x) never ended: exit %s came instead, at rip %#lx, %lu us later%s\n",
           v->index, s->mtf ? "monitor-trap-flag (MTF)" : "TF/#DB", s->rip, s->reg,
           exit ? exit : "?", rip, us, s->mtf ? " (no MTF exit)" : " (no single-step #DB)");
}

/* Once its instruction has retired, the step's end is the very next exit:
 * the MTF exit (SDM Vol. 3C, 25.5.2) and the single-step trap (Vol. 3A,
 * 17.3.1.4) outrank NMIs, the preemption timer and interrupts (Vol. 3A,
 * 6.9; Vol. 3C, 25.5.1); only INIT and a triple fault come first. So an
 * exit with the guest past the stepped instruction, or a step open longer
 * than STEP_LIMIT_MS, means the end never came: reported, never silent. */
static bool step_missed(struct vcpu *v, uint32_t basic)
{
    if (basic == VMX_EXIT_INIT || basic == VMX_EXIT_TRIPLE_FAULT)
        return false;
    uint64_t rip = vmcs_read(GUEST_RIP);
    uint64_t us = (rdtsc() - v->step.tsc) * 1000 / tsc_per_ms;
    if (rip == v->step.rip && us < STEP_LIMIT_MS * 1000ull)
        return false;   /* interrupted before its instruction: not late */
    report_missed(v, basic, rip, us);
    return true;
}

bool vapic_step_exit(struct vcpu *v, uint32_t basic)
{
    if (step_ended(v, basic)) {
        v->lapic_exits[0][v->step.reg >> 4]++;     /* the access's second exit */
        step_end(v, true);
        return true;
    }
    bool missed = step_missed(v, basic);
    if (basic == VMX_EXIT_EXCEPTION_NMI) {
        uint32_t info = vmcs_read(EXIT_INTR_INFO);
        if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI) {
            if (missed)
                step_end(v, false);
            return false;   /* an NMI: handled as usual, the step stays armed */
        }
        /* The instruction faulted (or a later one, after a missed end):
         * the page closes and the guest gets the exception. */
        v->lapic_exits[0][v->step.reg >> 4]++;
        step_end(v, false);
        reflect_exception(info);
        return true;
    }
    if (basic == VMX_EXIT_PREEMPTION_TIMER && !missed)
        return false;       /* housekeeping; the step stays armed */
    step_end(v, false);     /* anything else: handle it with the page shut */
    return false;
}
