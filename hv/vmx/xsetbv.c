/* XSETBV exits unconditionally (SDM Vol. 3C, 25.1.2). The hypervisor runs
 * it for the guest after the checks the instruction itself makes (Vol.
 * 2C, XSETBV; Vol. 1, 13.3): #GP(0) for an XCR other than 0 (ECX only:
 * RCX[63:32] are ignored), a bit the CPU does not support (CPUID.(0xd,0)),
 * x87 state off, AVX without SSE, AVX-512 state without AVX or with only
 * part of its three components, MPX with one of its two, AMX with one of
 * its two. */
#include <x86.h>
#include "cpu/idt.h"
#include "vmx/exit.h"
#include "vmx/handlers.h"
#include "vmx/refuse.h"

#define XCR0_X87        (1ull << 0)
#define XCR0_SSE        (1ull << 1)
#define XCR0_AVX        (1ull << 2)
#define XCR0_MPX        (3ull << 3)     /* BNDREGS, BNDCSR */
#define XCR0_AVX512     (7ull << 5)     /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_AMX        (3ull << 17)    /* XTILECFG, XTILEDATA */

/* Components that must be all on or all off together. */
static bool all_or_none(uint64_t value, uint64_t group)
{
    return (value & group) == 0 || (value & group) == group;
}

static const char *xcr0_error(uint64_t value, uint64_t supported)
{
    if (value & ~supported)
        return "a component this CPU does not support";
    if (!(value & XCR0_X87))
        return "x87 state must stay enabled";
    if ((value & XCR0_AVX) && !(value & XCR0_SSE))
        return "AVX without SSE";
    if ((value & XCR0_AVX512) && !(value & XCR0_AVX))
        return "AVX-512 without AVX";
    if (!all_or_none(value, XCR0_AVX512))
        return "AVX-512 components only in part";
    if (!all_or_none(value, XCR0_MPX))
        return "MPX components only in part";
    if (!all_or_none(value, XCR0_AMX))
        return "AMX components only in part";
    return NULL;
}

void handle_xsetbv(struct vcpu *v)
{
    uint32_t index = (uint32_t)v->regs.rcx;
    uint64_t value = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;
    struct cpuid_regs d = cpuid(0xd, 0);
    uint64_t supported = ((uint64_t)d.edx << 32) | d.eax;
    const char *why = index != 0 ? "an XCR other than XCR0" : xcr0_error(value, supported);
    if (why) {
        guest_inject_exception(VEC_GP, true, 0);
        guest_refused(v, REFUSE_XSETBV, value, "XSETBV XCR%u = %#lx: %s; #GP", index, value, why);
        return;
    }
    write_cr4(read_cr4() | CR4_OSXSAVE);    /* so that we may execute it */
    __asm__ volatile("xsetbv" :: "a"((uint32_t)value), "d"((uint32_t)(value >> 32)), "c"(0));
    guest_advance_rip();
}
