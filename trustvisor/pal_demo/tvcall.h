/* The guest side of TrustVisor's ABI for pal_demo (abi/tvabi.h): CPUID
 * detection and the VMCALL. always_inline: the PAL code uses them too and
 * must not call out of its own pages (nothing else is mapped for it). */
#ifndef PAL_DEMO_TVCALL_H
#define PAL_DEMO_TVCALL_H
#include <stdint.h>
#include <tvabi.h>

#define AI static inline __attribute__((always_inline))

/* EAX command; ECX, EDX, ESI, EDI arguments; EAX result. Every other
 * register is kept by the hypervisor. */
AI uint32_t tv_vmcall(uint32_t fn, uintptr_t c, uintptr_t d, uintptr_t s, uintptr_t di)
{
    uint32_t r;
    __asm__ volatile("vmcall" : "=a"(r) : "a"(fn), "c"(c), "d"(d), "S"(s), "D"(di)
                     : "memory");
    return r;
}

AI int tv_present(void)
{
    uint32_t a = TV_CPUID_LEAF, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return a == TV_CPUID_MAGIC && b == 0 && c == 0 && d == 0;
}

/* test_args' mixing step, the same in the PAL and in the checker. */
AI uint64_t mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}
#endif
