/* Small operations on the guest's state shared by every exit handler. */
#include "console/console.h"
#include "cpu/exception.h"
#include "trace/trace.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/hook_list.h"
#include "vmx/guest_start.h"
#include "vmx/intr_info.h"
#include "vmx/vmcs.h"
#include <x86.h>

#define DEBUGCTL_BTF (1ull << 1)

/* A guest single-stepping (RFLAGS.TF) across an instruction the hypervisor
 * completed for it is owed the single-step trap after that instruction:
 * the VM exit took the instruction's place, and the trap does not come by
 * itself (a VM exit caused by an instruction saves no single-step trap of
 * it as pending, SDM Vol. 3C, 27.3.4, "pending debug exceptions"; Bochs 2.7
 * saved one anyway, Bochs 3.0 does not, and there the guest's #DB came one
 * instruction late). Pending BS is delivered right after VM entry, before
 * any guest instruction, with DR6.BS set (26.7.3). With DEBUGCTL.BTF the
 * step is per branch, and these instructions are not branches. */
static void owe_single_step(void)
{
    if (!(vmcs_read(GUEST_RFLAGS) & RFLAGS_TF) || (vmcs_read(GUEST_DEBUGCTL) & DEBUGCTL_BTF))
        return;
    vmcs_write(GUEST_PENDING_DBG, vmcs_read(GUEST_PENDING_DBG) | PENDING_DBG_BS);
}

void guest_advance_rip(void)
{
    guest_advance_rip_by(vmcs_read(EXIT_INSN_LEN));
}

void guest_advance_rip_by(uint64_t len)
{
    vmcs_write(GUEST_RIP, vmcs_read(GUEST_RIP) + len);
    /* An instruction completed: STI/MOV SS blocking ends with it (SDM Vol.
     * 3C, 24.4.2: the blocking lasts one instruction). */
    vmcs_write(GUEST_INTERRUPTIBILITY,
               vmcs_read(GUEST_INTERRUPTIBILITY) & ~(BLOCK_STI | BLOCK_MOV_SS));
    owe_single_step();
}

void guest_inject_exception(uint8_t vector, bool has_error, uint32_t error)
{
    /* Real mode has no error codes; an entry that delivers one there fails
     * its checks (SDM Vol. 3C, 26.2.1.3). */
    if (!(vmcs_read(GUEST_CR0) & CR0_PE))
        has_error = false;
    uint32_t info = vector | (INTR_TYPE_HW_EXCEPTION << 8) | INTR_INFO_VALID |
                    (has_error ? INTR_INFO_ERR_VALID : 0);
    vmcs_write(ENTRY_INTR_INFO, info);
    if (has_error)
        vmcs_write(ENTRY_EXC_ERROR, error);
}

/* The general registers by their encoding number (ModR/M reg, the MOV CR
 * qualification: rax rcx rdx rbx rsp rbp rsi rdi r8..r15); struct
 * guest_regs leaves RSP out, it lives in the VMCS. */
static const uint8_t gpr_slot[16] = { 0, 1, 2, 3, 255, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

uint64_t guest_gpr(struct vcpu *v, unsigned n)
{
    n &= 15;
    return n == 4 ? vmcs_read(GUEST_RSP) : ((uint64_t *)&v->regs)[gpr_slot[n]];
}

void guest_set_gpr(struct vcpu *v, unsigned n, uint64_t value)
{
    n &= 15;
    if (n == 4)
        vmcs_write(GUEST_RSP, value);
    else
        ((uint64_t *)&v->regs)[gpr_slot[n]] = value;
}

static struct hook_list guards;

void vmx_guest_ram_guard_register(guest_ram_guard_fn fn)
{
    hook_add(&guards, (void *)fn, "guest RAM guard");
}

bool guest_ram_ok(uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa)
        return false;
    for (unsigned i = 0; i < guards.n; i++)
        if (((guest_ram_guard_fn)guards.fn[i])(gpa, len))
            return false;
    for (uint32_t i = 0; i < guest_e820.count; i++) {
        const struct e820_entry *e = &guest_e820.e[i];
        if (e->type == 1 && gpa >= e->addr && gpa + len <= e->addr + e->len)
            return true;
    }
    return false;
}

static void print_guest_state(struct vcpu *v)
{
    printf("  guest rip %#lx rsp %#lx rflags %#lx cs %#x (base %#lx)\n",
           vmcs_read(GUEST_RIP), vmcs_read(GUEST_RSP), vmcs_read(GUEST_RFLAGS),
           vmcs_read(GUEST_CS_SEL), vmcs_read(GUEST_CS_BASE));
    printf("  guest cr0 %#lx cr3 %#lx cr4 %#lx efer %#lx\n", vmcs_read(GUEST_CR0),
           vmcs_read(GUEST_CR3), vmcs_read(GUEST_CR4), vmcs_read(GUEST_EFER));
    printf("  guest rax %#lx rbx %#lx rcx %#lx rdx %#lx rsi %#lx rdi %#lx\n",
           v->regs.rax, v->regs.rbx, v->regs.rcx, v->regs.rdx, v->regs.rsi, v->regs.rdi);
}

void exit_unhandled(struct vcpu *v, const char *why)
{
    uint32_t reason = vmcs_read(EXIT_REASON);
    const char *name = catalog_exit_name(reason & 0xffff);
    printf("FATAL cpu%u: %s: exit reason %u (%s), qualification %#lx\n", v->index, why,
           reason & 0xffff, name ? name : "?", vmcs_read(EXIT_QUALIFICATION));
    print_guest_state(v);
    cpu_park();
}
