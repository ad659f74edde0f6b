/* The debug registers by number (SDM Vol. 3B, 18.2): MOV to and from
 * DR0-DR3, DR6 and DR7 (4 and 5 alias 6 and 7; unused here). */
#ifndef HV_GDBSTUB_DEBUGREGS_H
#define HV_GDBSTUB_DEBUGREGS_H
#include <stdint.h>

static inline uint64_t read_dr(int n)
{
    uint64_t v = 0;
    switch (n) {
    case 0: __asm__ volatile("mov %%dr0, %0" : "=r"(v)); break;
    case 1: __asm__ volatile("mov %%dr1, %0" : "=r"(v)); break;
    case 2: __asm__ volatile("mov %%dr2, %0" : "=r"(v)); break;
    case 3: __asm__ volatile("mov %%dr3, %0" : "=r"(v)); break;
    case 6: __asm__ volatile("mov %%dr6, %0" : "=r"(v)); break;
    case 7: __asm__ volatile("mov %%dr7, %0" : "=r"(v)); break;
    }
    return v;
}

static inline void write_dr(int n, uint64_t v)
{
    switch (n) {
    case 0: __asm__ volatile("mov %0, %%dr0" :: "r"(v)); break;
    case 1: __asm__ volatile("mov %0, %%dr1" :: "r"(v)); break;
    case 2: __asm__ volatile("mov %0, %%dr2" :: "r"(v)); break;
    case 3: __asm__ volatile("mov %0, %%dr3" :: "r"(v)); break;
    case 6: __asm__ volatile("mov %0, %%dr6" :: "r"(v)); break;
    case 7: __asm__ volatile("mov %0, %%dr7" :: "r"(v)); break;
    }
}

#endif
