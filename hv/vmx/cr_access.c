/* MOV to/from CR0 and CR4 for the bits the hypervisor owns (guest/host
 * masks): the guest sees its own values in the read shadows, the CPU runs
 * with the fixed bits VMX needs. CR4.VMXE stays hidden and refused. */
#include <x86.h>
#include "vmx/controls.h"
#include "cpu/idt.h"
#include "vmx/exit.h"
#include "vmx/handlers.h"
#include "vmx/vmcs.h"


static uint64_t *gpr(struct vcpu *v, unsigned n)
{
    /* Exit qualification order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15. */
    static uint64_t rsp_slot;
    static const uint8_t slot[16] = { 0, 1, 2, 3, 255, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
    if (n == 4) {
        rsp_slot = vmcs_read(GUEST_RSP);
        return &rsp_slot;
    }
    return &((uint64_t *)&v->regs)[slot[n]];
}

static void set_guest_cr0(uint64_t value)
{
    uint64_t mask = vmcs_read(CR0_GUEST_HOST_MASK);
    uint64_t fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    vmcs_write(CR0_READ_SHADOW, value);
    uint64_t real = ((value & ~mask) | (mask & rdmsr(MSR_IA32_VMX_CR0_FIXED0))) & (fixed1 | CR0_PE | CR0_PG);
    vmcs_write(GUEST_CR0, real);
    /* Paging switched by this write: long mode follows EFER.LME. */
    uint64_t efer = vmcs_read(GUEST_EFER);
    uint32_t entry = vmcs_read(ENTRY_CONTROLS);
    if ((real & CR0_PG) && (efer & EFER_LME)) {
        vmcs_write(GUEST_EFER, efer | EFER_LMA);
        vmcs_write(ENTRY_CONTROLS, entry | ENTRY_IA32E_GUEST);
    } else if (!(real & CR0_PG)) {
        vmcs_write(GUEST_EFER, efer & ~EFER_LMA);
        vmcs_write(ENTRY_CONTROLS, entry & ~ENTRY_IA32E_GUEST);
    }
}

static bool set_guest_cr4(uint64_t value)
{
    if (value & CR4_VMXE)
        return false;           /* VMX is not offered to the guest */
    if (value & ~(rdmsr(MSR_IA32_VMX_CR4_FIXED1) | CR4_VMXE))
        return false;           /* a bit this CPU cannot set: #GP, as bare */
    uint64_t mask = vmcs_read(CR4_GUEST_HOST_MASK);
    vmcs_write(CR4_READ_SHADOW, value);
    vmcs_write(GUEST_CR4, (value & ~mask) | (mask & (rdmsr(MSR_IA32_VMX_CR4_FIXED0) | CR4_VMXE)));
    return true;
}

void handle_cr_access(struct vcpu *v)
{
    uint64_t q = vmcs_read(EXIT_QUALIFICATION);
    unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
    switch (type) {
    case 0:                     /* MOV to CR */
        if (cr == 0) {
            set_guest_cr0(*gpr(v, reg));
        } else if (cr == 4) {
            if (!set_guest_cr4(*gpr(v, reg))) {
                guest_inject_exception(VEC_GP, true, 0);
                return;
            }
        } else {
            exit_unhandled(v, "MOV to a control register that is not intercepted");
        }
        break;
    case 1:                     /* MOV from CR: only CR3 could exit; we don't ask */
        exit_unhandled(v, "MOV from a control register");
    case 2:                     /* CLTS */
        set_guest_cr0(vmcs_read(CR0_READ_SHADOW) & ~CR0_TS);
        break;
    case 3: {                   /* LMSW: low 4 bits; cannot clear PE */
        uint64_t old = vmcs_read(CR0_READ_SHADOW), src = (q >> 16) & 0xf;
        set_guest_cr0((old & ~0xeull) | (src & 0xe) | ((old | src) & 1));
        break;
    }
    }
    guest_advance_rip();
}
