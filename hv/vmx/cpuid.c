/* CPUID exits unconditionally in VMX non-root operation (SDM Vol. 3C,
 * 25.1.2). The guest sees the CPU's answer, minus what it cannot use here
 * (VMX itself, features whose instructions would #UD without their VM-
 * execution control), plus the hypervisor's own leaves (abi/hvabi.h) and
 * whatever a registered owner answers. */
#include <hvabi.h>
#include "vmx/controls.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/hook_list.h"

static struct hook_list hooks;

void vmx_cpuid_register(cpuid_hook_fn fn)
{
    hook_add(&hooks, (void *)fn, "CPUID");
}

/* Instructions whose enable control the CPU did not give us #UD in the
 * guest (SDM Vol. 3C, 25.3: RDTSCP, INVPCID, XSAVES): hide them. */
static void hide_disabled(uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
    uint32_t proc2 = vmx_controls.ctl[CTL_PROC2];
    if (leaf == 7 && sub == 0 && !(proc2 & PROC2_INVPCID))
        r->ebx &= ~(1u << 10);
    if (leaf == 0x80000001 && !(proc2 & PROC2_RDTSCP))
        r->edx &= ~(1u << 27);
    if (leaf == 0xd && sub == 1 && !(proc2 & PROC2_XSAVES))
        r->eax &= ~(1u << 3);
}

static void answer(uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
    for (unsigned i = 0; i < hooks.n; i++)
        if (((cpuid_hook_fn)hooks.fn[i])(leaf, sub, r))
            return;
    if (leaf == 1) {
        r->ecx |= HVABI_CPUID1_ECX_HYPERVISOR;
        r->ecx &= ~HVABI_CPUID1_ECX_VMX;         /* VMX is not offered */
    } else if (leaf == HVABI_CPUID_VENDOR_LEAF) {
        *r = (struct cpuid_regs){ HVABI_CPUID_MAX_LEAF, HVABI_SIG_EBX, HVABI_SIG_ECX,
                                  HVABI_SIG_EDX };
    } else if (leaf == HVABI_CPUID_VERSION_LEAF) {
        *r = (struct cpuid_regs){ HVABI_VERSION, 0, 0, 0 };
    }
}

void handle_cpuid(struct vcpu *v)
{
    uint32_t leaf = v->regs.rax, sub = v->regs.rcx;
    struct cpuid_regs r = cpuid(leaf, sub);
    hide_disabled(leaf, sub, &r);
    answer(leaf, sub, &r);
    /* CPUID writes the low halves and clears the high halves of RAX-RDX. */
    v->regs.rax = r.eax;
    v->regs.rbx = r.ebx;
    v->regs.rcx = r.ecx;
    v->regs.rdx = r.edx;
    guest_advance_rip();
}
