/* Classifying NMIs and injecting the guest's. Model: nmi_model.pml. */
#include "console/console.h"
#include <percpu.h>
#include "trace/trace.h"
#include "cpu/exception.h"
#include "nmi/nmi.h"
#include "vmx/controls.h"
#include "vmx/exit_table.h"
#include "vmx/intr_info.h"
#include "vmx/vmcs.h"


void nmi_unblock(void)
{
    /* IRET to the next instruction on the same stack: the only way, short
     * of taking another NMI, to end the NMI blocking in root mode. */
    __asm__ volatile(
        "mov %%ss, %%eax\n\t"
        "push %%rax\n\t"
        "push %%rsp\n\t"
        "addq $8, (%%rsp)\n\t"
        "pushfq\n\t"
        "mov %%cs, %%eax\n\t"
        "push %%rax\n\t"
        "lea 1f(%%rip), %%rax\n\t"
        "push %%rax\n\t"
        "iretq\n"
        "1:" ::: "rax", "memory", "cc");
}

void nmi_reset(struct vcpu *v)
{
    if (__atomic_exchange_n(&v->nmi_pending, 0, __ATOMIC_ACQ_REL))
        v->nmi_dropped++;
}

static nmi_stop_hook_fn stop_hook;

void nmi_set_stop_hook(nmi_stop_hook_fn fn) { stop_hook = fn; }

void nmi_stop_poll(struct vcpu *v)
{
    if (stop_hook)
        stop_hook(v, false);
}

/* The NMI window (SDM Vol. 3C, 24.6.2) for NMIs that come after the entry
 * decision: they wait for it rather than for some later exit. */
static bool nmi_window_usable(void)
{
    /* PLANTED BUG (HV_BUGS=nmi-direct-inject): no NMI-window exiting at
     * all; a pending NMI waits for whatever exit comes next and is then
     * injected directly (nmi_injectable). */
#ifdef HV_BUG_NMI_DIRECT_INJECT
    return false;
#else
    return true;
#endif
}

void nmi_arrived(struct vcpu *v, enum nmi_path path)
{
    /* Through the IDT the CPU layer asked the debugger before us. A
     * debugger's NMI answers a quiesce only if that quiesce was asked
     * before it came (then the CPU may have merged the two); one asked
     * while the debugger held this CPU sends its own NMI, still to come. */
    bool quiesce_before = quiesce_requested();
    bool debugger_nmi = path == NMI_VIA_EXIT && stop_hook && stop_hook(v, true);
    if (debugger_nmi && !quiesce_before)
        return;
    if (quiesce_answer(v))
        return;
    if (debugger_nmi)
        return;
    uint32_t state = __atomic_load_n(&v->run_state, __ATOMIC_ACQUIRE);
    if (state != GUEST_RUNNING && state != GUEST_RESETTING) {
        /* No guest context on this CPU (an AP waiting for its SIPI):
         * like a CPU in wait-for-SIPI, it has nothing to deliver it to. */
        v->nmi_dropped++;
        trace_event(TEV_NMI_DROPPED, state);
        return;
    }
    if (__atomic_exchange_n(&v->nmi_pending, 1, __ATOMIC_ACQ_REL)) {
        v->nmi_coalesced++;     /* one is already pending: hardware merges too */
        trace_event(TEV_NMI_COALESCED, v->nmi_coalesced);
    } else {
        trace_event(TEV_NMI_PENDING, 1);
    }
    /* Interrupting the last steps before VM entry: the main path will not
     * look at pending again, and will not touch the VMCS either, so the
     * window request is ours to make (no read-modify-write race). */
    if (path == NMI_VIA_IDT && __atomic_load_n(&v->entry_committed, __ATOMIC_ACQUIRE) &&
        !v->nmi_hold && nmi_window_usable())
        vmcs_write(PROC_CONTROLS, vmcs_read(PROC_CONTROLS) | PROC_NMI_WINDOW);
}

/* Root-mode NMIs (IDT vector 2, on the NMI IST stack). */
bool nmi_from_idt(struct regs *r)
{
    (void)r;
    struct vcpu *v = &vcpus[this_cpu_index()];
    if (!v->vmcs_phys)
        return false;       /* not a VMX CPU yet: reported as unclaimed */
    nmi_arrived(v, NMI_VIA_IDT);
    return true;
}

/* Once, before the first guest starts; later calls only put the IDT hook
 * back (selftests swap it). */
void nmi_init(void)
{
    static bool registered;
    exception_set_nmi_hook(nmi_from_idt);
    if (registered)
        return;
    registered = true;
    vmx_exception_register(VEC_NMI, nmi_exit);
    vmx_exit_register(VMX_EXIT_NMI_WINDOW, nmi_window_exit);
    vmx_after_exit_register(nmi_after_exit);
    vmx_before_entry_register(ENTRY_STAGE_EVENTS, nmi_before_entry);
    vmx_before_entry_register(ENTRY_STAGE_COMMIT, nmi_commit_entry);
    nmi_storm_init();
}

void nmi_exit(struct vcpu *v)
{
    struct percpu *p = this_cpu();
    p->nmi_count++;
    trace_event(TEV_NMI_ENTER, vmcs_read(GUEST_RIP), TRACE_ORIGIN_GUEST);
    nmi_arrived(v, NMI_VIA_EXIT);
    /* An NMI exit leaves NMIs blocked (SDM Vol. 3C, 27.5.5: "NMI exiting"
     * blocks NMIs after the exit); the rest of this exit runs with them
     * open, as the IDT path does after its IRET (Vol. 3A, 6.7.1). */
    nmi_unblock();
    trace_event(TEV_NMI_EXIT, vmcs_read(GUEST_RIP), TRACE_ORIGIN_GUEST);
}

void nmi_window_exit(struct vcpu *v)
{
    trace_event(TEV_NMI_WINDOW, vmcs_read(GUEST_RIP), v->nmi_pending);
    /* nmi_before_entry injects; the window control is recomputed there. */
}

void nmi_after_exit(struct vcpu *v)
{
    __atomic_store_n(&v->entry_committed, false, __ATOMIC_SEQ_CST);
}

/* An NMI may be injected only when the guest is not blocking NMIs
 * (virtual-NMI blocking, 24.4.2) and nothing else is being injected (one
 * event per entry, 24.8.3); STI and MOV-SS blocking too, since some CPUs
 * refuse the entry otherwise (26.3.1.5). Else the NMI window (24.6.2)
 * exits as soon as it could be delivered (25.3). */
static bool guest_can_take_nmi(void)
{
    if (vmcs_read(ENTRY_INTR_INFO) & INTR_INFO_VALID)
        return false;   /* another event goes in first; the window follows */
    /* STI blocking too: some CPUs refuse NMI injection under it. */
    return !(vmcs_read(GUEST_INTERRUPTIBILITY) & (BLOCK_STI | BLOCK_MOV_SS | BLOCK_NMI));
}

/* May a pending NMI go into the VM-entry field at this entry? */
static bool nmi_injectable(void)
{
    /* PLANTED BUG (HV_BUGS=nmi-direct-inject): the pending NMI is written
     * into the VM-entry interruption-information field whatever the guest
     * blocks (NMI, STI, MOV SS) and whatever else is being injected: an
     * entry that fails its checks (SDM Vol. 3C, 26.3.1.5) or an NMI nested
     * in the guest's NMI handler. */
#ifdef HV_BUG_NMI_DIRECT_INJECT
    (void)guest_can_take_nmi;   /* the check exists; it is just not asked */
    return true;
#else
    return guest_can_take_nmi();
#endif
}

/* Before the VMX core composes the controls: inject the pending NMI if
 * the guest can take it now, else ask for the NMI window. */
void nmi_before_entry(struct vcpu *v)
{
    if (!v->nmi_hold && __atomic_load_n(&v->nmi_pending, __ATOMIC_ACQUIRE) &&
        nmi_injectable() && __atomic_exchange_n(&v->nmi_pending, 0, __ATOMIC_ACQ_REL)) {
        vmcs_write(ENTRY_INTR_INFO, INTR_INFO_VALID | (INTR_TYPE_NMI << 8) | VEC_NMI);
        v->nmi_injected++;
        trace_event(TEV_NMI_INJECTED, vmcs_read(GUEST_RIP), v->nmi_injected);
    }
    v->nmi_window_wanted = !v->nmi_hold && __atomic_load_n(&v->nmi_pending, __ATOMIC_ACQUIRE);
}

/* After the controls were written, the last step before VM entry: from
 * here an NMI taken through the IDT arms the window itself (nmi_arrived),
 * the only write of the controls after the composition. */
void nmi_commit_entry(struct vcpu *v)
{
    __atomic_store_n(&v->entry_committed, true, __ATOMIC_SEQ_CST);
    /* An NMI between the check and the commit only set pending. */
    if (!v->nmi_hold && !v->nmi_window_wanted && nmi_window_usable() &&
        __atomic_load_n(&v->nmi_pending, __ATOMIC_SEQ_CST))
        vmcs_write(PROC_CONTROLS, vmcs_read(PROC_CONTROLS) | PROC_NMI_WINDOW);
}
