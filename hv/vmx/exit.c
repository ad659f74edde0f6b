/* VM exit dispatch: the table of handlers by basic exit reason and the
 * hooks around it (exit_table.h says the order). An exit without a handler
 * is reported by name with the guest's state, never skipped silently. */
#include <percpu.h>
#include "console/console.h"
#include "serial/serial.h"
#include "trace/trace.h"
#include "vmx/controls.h"
#include "vmx/ept.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/hook_list.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

#define MAX_EXIT_REASONS    80      /* basic reasons 0..79 (SDM Vol. 3D, C) */

static struct exit_entry {
    exit_handler_fn fn;
    exit_final_fn final;
} exit_table[MAX_EXIT_REASONS];

static struct hook_list intercepts, after_exit, before_entry[ENTRY_STAGES];

bool hook_add(struct hook_list *l, void *fn, const char *what)
{
    if (l->n == MAX_HOOKS) {
        printf("vmx: %s hook table full; a handler was not registered\n", what);
        return false;
    }
    l->fn[l->n++] = fn;
    return true;
}

static bool slot_free(uint32_t basic)
{
    if (basic >= MAX_EXIT_REASONS || exit_table[basic].fn || exit_table[basic].final) {
        printf("vmx: exit reason %u: handler refused (out of range or taken)\n", basic);
        return false;
    }
    return true;
}

bool vmx_exit_register(uint32_t basic, exit_handler_fn fn)
{
    if (!slot_free(basic))
        return false;
    exit_table[basic].fn = fn;
    return true;
}

bool vmx_exit_register_final(uint32_t basic, exit_final_fn fn)
{
    if (!slot_free(basic))
        return false;
    exit_table[basic].final = fn;
    return true;
}

void vmx_exit_intercept_register(exit_intercept_fn fn)
{
    hook_add(&intercepts, (void *)fn, "exit intercept");
}

void vmx_after_exit_register(vcpu_hook_fn fn)
{
    hook_add(&after_exit, (void *)fn, "after-exit");
}

void vmx_before_entry_register(enum entry_stage stage, vcpu_hook_fn fn)
{
    hook_add(&before_entry[stage], (void *)fn, "before-entry");
}

static void run_hooks(const struct hook_list *l, struct vcpu *v)
{
    for (unsigned i = 0; i < l->n; i++)
        ((vcpu_hook_fn)l->fn[i])(v);
}

/* The end of every exit that resumes the guest, and of the paths that
 * enter it for the first time. */
/* The primary processor-based controls for this entry, composed once from
 * the base and what the owners asked for (24.6.2): MTF for a LAPIC step
 * or the MTF probe (25.5.2), NMI-window exiting for a pending NMI (25.3). */
static void compose_controls(struct vcpu *v)
{
    uint32_t proc = vmx_controls.ctl[CTL_PROC];
    if ((v->step.active && v->step.mtf) || v->mtf_probe.armed)
        proc |= PROC_MONITOR_TRAP;
    if (v->nmi_window_wanted)
        proc |= PROC_NMI_WINDOW;
    vmcs_write(PROC_CONTROLS, proc);
}

/* The VMX-preemption timer for this entry (25.5.1; not saved on exit, so
 * it starts from this value at every entry): the housekeeping period, or
 * sooner if an owner asked for an exit by v->exit_by_tsc. */
static void compose_timer(struct vcpu *v)
{
    if (!(vmx_controls.ctl[CTL_PIN] & PIN_PREEMPT_TIMER))
        return;
    uint32_t t = vmx_preemption_ticks();
    uint64_t by = v->exit_by_tsc;
    if (by) {
        uint64_t now = rdtsc();
        uint32_t soon = vmx_timer_ticks(by > now ? by - now : 0);
        if (soon < t)
            t = soon;
    }
    /* Frames waiting for the line: back in time to top up the UART's FIFO
     * (the exit path never waits for the line itself). */
    uint64_t pump = serial_tx_pump_period();
    if (pump && vmx_timer_ticks(pump) < t)
        t = vmx_timer_ticks(pump);
    if (t != v->timer_value) {
        vmcs_write(PREEMPTION_TIMER, t);
        v->timer_value = t;
    }
}

void vmx_prepare_entry(struct vcpu *v)
{
    run_hooks(&before_entry[ENTRY_STAGE_STATE], v);
    run_hooks(&before_entry[ENTRY_STAGE_CONTROLS], v);
    serial_kick_exit(); /* drain and host commands, in normal context */
    run_hooks(&before_entry[ENTRY_STAGE_EVENTS], v);
    ept_sync(&v->ept_generation);
    compose_controls(v);
    compose_timer(v);
    run_hooks(&before_entry[ENTRY_STAGE_COMMIT], v);
    this_cpu()->in_exit = false;    /* set by vmx_exit_handler; a first entry too */
}

static void account(struct vcpu *v, uint32_t basic)
{
    v->exits++;
    v->last_reason = basic;
    v->last_rip = vmcs_read(GUEST_RIP);
    v->last_rflags = vmcs_read(GUEST_RFLAGS);
    v->last_cr0 = vmcs_read(GUEST_CR0);
    if (basic < sizeof(v->exit_count) / sizeof(v->exit_count[0]))
        v->exit_count[basic]++;
    vmx_exit_summary(v);
    /* Housekeeping timer exits are counted but not traced: at 20 per
     * second they would only crowd the line. */
    if (basic != VMX_EXIT_PREEMPTION_TIMER)
        trace_event(TEV_VMEXIT, basic, v->last_rip);
}

static bool intercepted(struct vcpu *v, uint32_t basic)
{
    for (unsigned i = 0; i < intercepts.n; i++)
        if (((exit_intercept_fn)intercepts.fn[i])(v, basic))
            return true;
    return false;
}

static void dispatch(struct vcpu *v, uint32_t basic)
{
    const struct exit_entry *e = basic < MAX_EXIT_REASONS ? &exit_table[basic] : NULL;
    if (e && e->final)
        e->final(v);
    if (!e || !e->fn)
        exit_unhandled(v, "exit without a handler");
    e->fn(v);
}

void vmx_exit_handler(struct vcpu *v)
{
    this_cpu()->in_exit = true;     /* console text must not wait: serial_kick */
    uint32_t reason = vmcs_read(EXIT_REASON);
    uint32_t basic = reason & 0xffff;
    account(v, basic);
    /* Bit 31: the VM entry itself failed (SDM Vol. 3C, 26.8): the guest
     * never ran, there is nothing to resume. */
    if (reason & (1u << 31))
        vmx_entry_failure_exit(reason, vmcs_read(EXIT_QUALIFICATION));
    run_hooks(&after_exit, v);
    uint32_t vect = vectoring_exit_begin();
    if (!intercepted(v, basic))
        dispatch(v, basic);
    vectoring_exit_end(v, basic, vect, v->last_rip);
    vmx_prepare_entry(v);
}

/* The core's own exits; the layers above register theirs at their init. */
void vmx_exits_init(void)
{
    vmx_exit_register(VMX_EXIT_EXCEPTION_NMI, handle_exception_exit);
    vmx_exit_register(VMX_EXIT_CPUID, handle_cpuid);
    vmx_exit_register(VMX_EXIT_VMCALL, handle_vmcall);
    vmx_exit_register(VMX_EXIT_CR_ACCESS, handle_cr_access);
    vmx_exit_register(VMX_EXIT_RDMSR, handle_rdmsr);
    vmx_exit_register(VMX_EXIT_WRMSR, handle_wrmsr);
    vmx_exit_register(VMX_EXIT_XSETBV, handle_xsetbv);
    vmx_exit_register(VMX_EXIT_IO_INSTRUCTION, handle_io);
    /* The timer's only job is the drain in vmx_prepare_entry. */
    vmx_exit_register(VMX_EXIT_PREEMPTION_TIMER, handle_nothing);
    vmx_exit_register(VMX_EXIT_INVD, handle_invd);
    vmx_exit_register(VMX_EXIT_EPT_VIOLATION, handle_ept_violation);
    vmx_exit_register(VMX_EXIT_TASK_SWITCH, handle_task_switch);
    static const uint8_t vmx_insns[] = {
        VMX_EXIT_GETSEC, VMX_EXIT_VMCLEAR, VMX_EXIT_VMLAUNCH, VMX_EXIT_VMPTRLD,
        VMX_EXIT_VMPTRST, VMX_EXIT_VMREAD, VMX_EXIT_VMRESUME, VMX_EXIT_VMWRITE,
        VMX_EXIT_VMXOFF, VMX_EXIT_VMXON, VMX_EXIT_INVEPT, VMX_EXIT_INVVPID, VMX_EXIT_VMFUNC,
    };
    for (unsigned i = 0; i < sizeof(vmx_insns); i++)
        vmx_exit_register(vmx_insns[i], handle_vmx_insn);
    vmx_exit_register_final(VMX_EXIT_TRIPLE_FAULT, handle_triple_fault);
    vmx_exit_register_final(VMX_EXIT_EPT_MISCONFIG, handle_ept_misconfig);
}
