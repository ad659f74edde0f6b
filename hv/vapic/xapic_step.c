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
#include "vmx/vmcs.h"
#include "cpu/idt.h"
#include "smp/work.h"


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

static void step_begin(struct vcpu *v, uint32_t reg, bool write)
{
    struct lapic_step *s = &v->step;
    s->active = true;
    s->reg = reg;
    s->icr_write = write && reg == XAPIC_ICR_LO;
    s->rip = vmcs_read(GUEST_RIP);
    s->mtf = vapic_mtf_verdict() == MTF_WORKS;
    /* An ICR-low write lands in the scratch page and is acted on after
     * the step; anything else goes straight to the real LAPIC. */
    uint64_t page = s->icr_write ? (uint64_t)v->lapic_scratch : GUEST_LAPIC_GPA;
    ept_set_page(v->eptp, v->lapic_pte, page | EPT_PAGE_RW_UC);
    v->nmi_hold = true;
    uint64_t rf = vmcs_read(GUEST_RFLAGS);
    uint32_t intr = vmcs_read(GUEST_INTERRUPTIBILITY);
    s->saved_rflags_bits = rf & (RFLAGS_IF | RFLAGS_TF);
    s->saved_exc_bitmap = vmcs_read(EXCEPTION_BITMAP);
    rf &= ~RFLAGS_IF;
    intr &= ~BLOCK_STI;     /* STI blocking is only legal with IF = 1 */
    vmcs_write(EXCEPTION_BITMAP, 0xffffffffu);
    if (s->mtf) {
        vmcs_write(PROC_CONTROLS, vmcs_read(PROC_CONTROLS) | PROC_MONITOR_TRAP);
    } else {
        rf |= RFLAGS_TF;
        if (intr & BLOCK_MOV_SS)    /* entry check: TF under MOV SS blocking */
            vmcs_write(GUEST_PENDING_DBG, vmcs_read(GUEST_PENDING_DBG) | PENDING_DBG_BS);
    }
    vmcs_write(GUEST_RFLAGS, rf);
    vmcs_write(GUEST_INTERRUPTIBILITY, intr);
}

static void step_end(struct vcpu *v, bool done)
{
    struct lapic_step *s = &v->step;
    ept_set_page(v->eptp, v->lapic_pte, 0);
    uint64_t rf = vmcs_read(GUEST_RFLAGS) & ~(RFLAGS_IF | RFLAGS_TF);
    vmcs_write(GUEST_RFLAGS, rf | s->saved_rflags_bits);
    vmcs_write(EXCEPTION_BITMAP, s->saved_exc_bitmap);
    if (s->mtf)
        vmcs_write(PROC_CONTROLS, vmcs_read(PROC_CONTROLS) & ~PROC_MONITOR_TRAP);
    v->nmi_hold = false;
    s->active = false;
    if (!done)
        return;     /* the guest runs the instruction again: a new exit */
    if (s->icr_write) {
        uint32_t lo = *(volatile uint32_t *)(v->lapic_scratch + XAPIC_ICR_LO);
        trace_event(TEV_APIC_WRITE, s->reg, lo);
        vapic_icr_write(v, lapic_read(XAPIC_ICR_HI) >> 24, lo, false);
    }
    if (s->saved_rflags_bits & RFLAGS_TF)
        guest_inject_exception(VEC_DB, false, 0);    /* the guest was stepping itself */
}

bool vapic_ept_violation(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
    if ((gpa & ~0xfffull) != GUEST_LAPIC_GPA || !v->lapic_pte)
        return false;
    if (qual & 4) {
        printf("guest cpu%u: instruction fetch from the LAPIC page at %#lx refused; "
               "#GP injected\n", v->index, gpa);
        guest_inject_exception(VEC_GP, true, 0);
        return true;
    }
    if (v->step.active)     /* a second LAPIC access in one instruction */
        step_end(v, false);
    v->lapic_exits[0][(gpa & 0xfff) >> 4]++;    /* < 0x100: in bounds */
    step_begin(v, gpa & 0xfff, qual & 2);
    return true;
}

/* The instruction faulted: the page closes and the guest gets the fault. */
static void reflect_exception(uint32_t info)
{
    uint8_t vector = info & 0xff;
    if (vector == 14)       /* a #PF exit leaves CR2 alone: the guest needs it */
        __asm__ volatile("mov %0, %%cr2" :: "r"(vmcs_read(EXIT_QUALIFICATION)));
    vmcs_write(ENTRY_INTR_INFO, info & (INTR_INFO_VALID | INTR_INFO_ERR_VALID | 0x7ff));
    if (info & INTR_INFO_ERR_VALID)
        vmcs_write(ENTRY_EXC_ERROR, vmcs_read(EXIT_INTR_ERROR));
    if (INTR_TYPE_IS_SOFTWARE(INTR_INFO_TYPE(info)))
        vmcs_write(ENTRY_INSN_LEN, vmcs_read(EXIT_INSN_LEN));
}

bool vapic_step_exit(struct vcpu *v, uint32_t basic)
{
    if (basic == VMX_EXIT_MONITOR_TRAP_FLAG) {
        v->lapic_exits[0][v->step.reg >> 4]++;     /* the access's second exit */
        step_end(v, true);
        return true;
    }
    if (basic == VMX_EXIT_EXCEPTION_NMI) {
        uint32_t info = vmcs_read(EXIT_INTR_INFO);
        if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI)
            return false;   /* an NMI: handled as usual, the step stays armed */
        v->lapic_exits[0][v->step.reg >> 4]++;
        if (INTR_INFO_VECTOR(info) == VEC_DB && !v->step.mtf && (vmcs_read(EXIT_QUALIFICATION) & DB_QUAL_BS)) {
            step_end(v, true);
            return true;
        }
        step_end(v, false);
        reflect_exception(info);
        return true;
    }
    if (basic == VMX_EXIT_PREEMPTION_TIMER)
        return false;       /* housekeeping; the step stays armed */
    step_end(v, false);     /* anything else: handle it with the page shut */
    return false;
}
