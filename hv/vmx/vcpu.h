/* Per-CPU virtualisation state. The guest's general registers live here
 * while the hypervisor runs (vmx_entry.S saves and restores them). */
#ifndef HV_VMX_VCPU_H
#define HV_VMX_VCPU_H
#include <stdint.h>
#include <stdbool.h>

struct guest_regs {             /* order fixed: vmx_entry.S uses offsets */
    uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

struct vcpu {
    struct guest_regs regs;     /* offset 0 */
    uint32_t index;
    uint64_t vmxon_phys, vmcs_phys;
    uint8_t *exit_stack;        /* the stack exits run on */
    bool launched;
    uint64_t exits;
    uint32_t last_reason;       /* for reports from other CPUs: VMREAD only */
    uint64_t last_rip, last_rflags, last_cr0;    /* works on the own VMCS */
    uint64_t exit_count[70];    /* by basic exit reason, for the bench */
};

extern struct vcpu vcpus[];

#endif
