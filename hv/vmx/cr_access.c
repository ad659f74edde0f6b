/* MOV to CR0/CR4, CLTS and LMSW that exit: those that would change a bit
 * the hypervisor owns (the guest/host masks, SDM Vol. 3C, 24.6.6 and
 * 25.1.3). The guest sees its own values in the read shadows; the CPU runs
 * with the fixed bits VMX needs (23.8). Because the instruction exited
 * instead of executing, every check the CPU would have made is made here
 * (Vol. 2B, "MOV - Move to/from Control Registers"; Vol. 3A, 2.5), and a
 * value the CPU would refuse gets #GP(0) with nothing changed. */
#include <x86.h>
#include "cpu/idt.h"
#include "vmx/controls.h"
#include "vmx/exit.h"
#include "vmx/handlers.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"

#define CS_AR_L         (1u << 13)      /* CS.L: 64-bit code (24.4.1) */
#define CR4_PCIDE       (1ull << 17)
#define CR4_LA57        (1ull << 12)

/* CR0 or CR4 as the guest sees it: its own bits, our bits' shadow. */
static uint64_t guest_view(uint64_t real, uint64_t mask, uint64_t shadow)
{
    return (real & ~mask) | (shadow & mask);
}

static bool in_64bit_mode(void)
{
    return (vmcs_read(GUEST_EFER) & EFER_LMA) && (vmcs_read(GUEST_CS_AR) & CS_AR_L);
}

static const char *cr0_error(uint64_t value)
{
    uint64_t cr4 = guest_view(vmcs_read(GUEST_CR4), vmcs_read(CR4_GUEST_HOST_MASK),
                              vmcs_read(CR4_READ_SHADOW));
    if (value >> 32)
        return "bits 63:32 are reserved";
    if ((value & CR0_PG) && !(value & CR0_PE))
        return "paging without protected mode";
    if ((value & CR0_NW) && !(value & CR0_CD))
        return "not-write-through without cache-disable";
    if (!(value & CR0_PG) && in_64bit_mode())
        return "paging cannot be turned off in 64-bit mode";
    if ((value & CR0_PG) && (vmcs_read(GUEST_EFER) & EFER_LME) && !(cr4 & CR4_PAE))
        return "IA-32e paging needs CR4.PAE";
    return NULL;
}

static void set_guest_cr0(uint64_t value)
{
    uint64_t mask = vmcs_read(CR0_GUEST_HOST_MASK);
    uint64_t fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    vmcs_write(CR0_READ_SHADOW, value);
    uint64_t real = ((value & ~mask) | (mask & rdmsr(MSR_IA32_VMX_CR0_FIXED0))) &
                    (fixed1 | CR0_PE | CR0_PG);
    vmcs_write(GUEST_CR0, real);
    /* Paging switched by this write: IA-32e mode follows EFER.LME, and the
     * "IA-32e mode guest" entry control must match EFER.LMA (26.3.1.1). */
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

static const char *cr4_error(uint64_t value)
{
    uint64_t old = guest_view(vmcs_read(GUEST_CR4), vmcs_read(CR4_GUEST_HOST_MASK),
                              vmcs_read(CR4_READ_SHADOW));
    bool lma = vmcs_read(GUEST_EFER) & EFER_LMA;
    if (value & CR4_VMXE)
        return "VMX is not offered";
    if (value & ~(rdmsr(MSR_IA32_VMX_CR4_FIXED1) | CR4_VMXE))
        return "a bit this CPU cannot set";
    if (lma && !(value & CR4_PAE))
        return "PAE cannot be cleared in IA-32e mode";
    if (lma && ((value ^ old) & CR4_LA57))
        return "LA57 cannot change in IA-32e mode";
    if ((value & CR4_PCIDE) && !(old & CR4_PCIDE) &&
        (!lma || (vmcs_read(GUEST_CR3) & 0xfff)))
        return "PCIDE needs IA-32e mode and CR3[11:0] = 0";
    return NULL;
}

static void set_guest_cr4(uint64_t value)
{
    uint64_t mask = vmcs_read(CR4_GUEST_HOST_MASK);
    vmcs_write(CR4_READ_SHADOW, value);
    vmcs_write(GUEST_CR4, (value & ~mask) | (mask & (rdmsr(MSR_IA32_VMX_CR4_FIXED0) | CR4_VMXE)));
}

/* The new CR0 or CR4 value of this exit, or false if the access is one we
 * never ask for (MOV from CR, other CRs). */
static bool new_value(struct vcpu *v, uint64_t q, unsigned *cr, uint64_t *value)
{
    unsigned type = (q >> 4) & 3;
    uint64_t old0 = vmcs_read(CR0_READ_SHADOW);
    *cr = q & 15;
    switch (type) {
    case 0:                     /* MOV to CR */
        *value = guest_gpr(v, (q >> 8) & 15);     /* Table 27-3 */
        return *cr == 0 || *cr == 4;
    case 2:                     /* CLTS */
        *cr = 0;
        *value = guest_view(vmcs_read(GUEST_CR0), vmcs_read(CR0_GUEST_HOST_MASK), old0) & ~CR0_TS;
        return true;
    case 3: {                   /* LMSW: low 4 bits; cannot clear PE */
        uint64_t cur = guest_view(vmcs_read(GUEST_CR0), vmcs_read(CR0_GUEST_HOST_MASK), old0);
        uint64_t src = (q >> 16) & 0xf;
        *cr = 0;
        *value = (cur & ~0xeull) | (src & 0xe) | ((cur | src) & 1);
        return true;
    }
    default:                    /* MOV from CR: only CR3/CR8 could, we don't ask */
        return false;
    }
}

void handle_cr_access(struct vcpu *v)
{
    uint64_t q = vmcs_read(EXIT_QUALIFICATION), value;
    unsigned cr;
    if (!new_value(v, q, &cr, &value))
        exit_unhandled(v, "a control-register access that is not intercepted");
    const char *why = cr == 0 ? cr0_error(value) : cr4_error(value);
    if (why) {
        guest_inject_exception(VEC_GP, true, 0);
        guest_refused(v, REFUSE_CR_WRITE, value, "CR%u = %#lx: %s; #GP", cr, value, why);
        return;
    }
    if (cr == 0)
        set_guest_cr0(value);
    else
        set_guest_cr4(value);
    guest_advance_rip();
}
