/* Exits whose handling is one line, each with its reason. */
#include "cpu/idt.h"
#include "trace/catalog.h"
#include "vmx/exit.h"
#include "vmx/handlers.h"
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

void handle_triple_fault(struct vcpu *v)
{
    exit_unhandled(v, "guest triple fault");
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
