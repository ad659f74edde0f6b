/* XSETBV exits unconditionally (SDM Vol. 3C, 25.1.2). The hypervisor runs
 * it for the guest after the checks the instruction itself makes. */
#include <x86.h>
#include "cpu/idt.h"
#include "vmx/exit.h"
#include "vmx/handlers.h"

void handle_xsetbv(struct vcpu *v)
{
    uint64_t value = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;
    struct cpuid_regs d = cpuid(0xd, 0);
    uint64_t supported = ((uint64_t)d.edx << 32) | d.eax;
    if (v->regs.rcx != 0 || !(value & 1) || (value & ~supported) ||
        ((value & 4) && !(value & 2))) {
        guest_inject_exception(VEC_GP, true, 0);
        return;
    }
    write_cr4(read_cr4() | CR4_OSXSAVE);    /* so that we may execute it */
    __asm__ volatile("xsetbv" :: "a"((uint32_t)value), "d"((uint32_t)(value >> 32)), "c"(0));
    guest_advance_rip();
}
