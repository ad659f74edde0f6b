/* Exits whose handling is one line, each with its reason. */
#include "config/config.h"
#include "cpu/idt.h"
#include "cpu/reset.h"
#include "serial/serial.h"
#include "trace/catalog.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/hook_list.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"

void handle_invd(struct vcpu *v)
{
    /* INVD exits unconditionally (SDM Vol. 3C, 25.1.2). Dropping dirty
     * lines would lose the hypervisor's data too: write them back. */
    __asm__ volatile("wbinvd" ::: "memory");
    guest_advance_rip();
}

void handle_nothing(struct vcpu *v)
{
    /* The preemption timer (SDM Vol. 3C, 25.5.1): counted; the drain at
     * the end of the exit is its purpose. */
}

/* A triple fault shuts the processor down; on a PC the chipset turns the
 * shutdown into a reset (SDM Vol. 3A, 6.15 #DF; the shutdown special
 * cycle). The machine does the same here: report, flush, reset; the
 * firmware, GRUB and the hypervisor run again and the guest boots a second
 * time, as XMHF's reboot path does. on_triple_fault=park keeps the CPU
 * parked instead, for the debugger. */
static struct hook_list shutdown_hooks;

void vmx_shutdown_register(vcpu_hook_fn fn)
{
    hook_add(&shutdown_hooks, (void *)fn, "shutdown");
}

void handle_triple_fault(struct vcpu *v)
{
    if (hv_config.triple_fault_park)
        exit_unhandled(v, "guest triple fault (on_triple_fault=park)");
    guest_refused(v, REFUSE_TRIPLE_FAULT, vmcs_read(GUEST_RIP),
                  "triple fault: the machine resets (on_triple_fault=reset)");
    for (unsigned i = 0; i < shutdown_hooks.n; i++)
        ((vcpu_hook_fn)shutdown_hooks.fn[i])(v);
    serial_fatal_takeover();    /* every CPU's rings out before the reset */
    platform_reset();
}

void handle_ept_misconfig(struct vcpu *v)
{
    exit_unhandled(v, "EPT misconfiguration (hypervisor bug)");
}

/* VMX instructions exit unconditionally in non-root operation (SDM Vol.
 * 3C, 25.1.2), as do GETSEC and INVEPT/INVVPID. The guest is shown a CPU
 * without VMX (CPUID.1:ECX.VMX = 0, cpuid.c), where each of them is #UD
 * (Vol. 3C, 30.3: "#UD if ... CR4.VMXE = 0"; GETSEC with CR4.SMXE = 0). */
void handle_vmx_insn(struct vcpu *v)
{
    uint32_t basic = vmcs_read(EXIT_REASON) & 0xffff;
    const char *name = catalog_exit_name(basic);
    guest_inject_exception(VEC_UD, false, 0);
    guest_refused(v, REFUSE_VMX_INSN, basic, "%s: #UD (VMX is not offered)", name ? name : "?");
}

/* A hardware task switch (CALL/JMP to a TSS or task gate, IRET with NT)
 * exits unconditionally (25.1.2). Emulating one is not supported; the
 * guest gets #GP(0) at the instruction, and the report says why. No 64-bit
 * guest can cause one (they are #GP in IA-32e mode anyway). */
void handle_task_switch(struct vcpu *v)
{
    uint64_t q = vmcs_read(EXIT_QUALIFICATION);
    guest_inject_exception(VEC_GP, true, 0);
    guest_refused(v, REFUSE_TASK_SWITCH, q, "task switch to selector %#lx not emulated; #GP",
                  q & 0xffff);
}
