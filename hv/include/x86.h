/* Thin wrappers around x86 instructions the hypervisor uses. */
#ifndef HV_X86_H
#define HV_X86_H
#include <stdint.h>
#include <stdbool.h>

/* MSR numbers (SDM Vol. 4, Table 2-2), each defined here and nowhere
 * else. */
#define MSR_IA32_APIC_BASE          0x1b
#define MSR_IA32_FEATURE_CONTROL    0x3a
#define MSR_IA32_SYSENTER_CS        0x174
#define MSR_IA32_SYSENTER_ESP       0x175
#define MSR_IA32_SYSENTER_EIP       0x176
#define MSR_IA32_PAT                0x277
#define MSR_IA32_VMX_BASIC          0x480
#define MSR_IA32_VMX_PINBASED_CTLS  0x481
#define MSR_IA32_VMX_PROCBASED_CTLS 0x482
#define MSR_IA32_VMX_EXIT_CTLS      0x483
#define MSR_IA32_VMX_ENTRY_CTLS     0x484
#define MSR_IA32_VMX_MISC           0x485
#define MSR_IA32_VMX_CR0_FIXED0     0x486
#define MSR_IA32_VMX_CR0_FIXED1     0x487
#define MSR_IA32_VMX_CR4_FIXED0     0x488
#define MSR_IA32_VMX_CR4_FIXED1     0x489
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x48b
#define MSR_IA32_VMX_EPT_VPID_CAP   0x48c
#define MSR_IA32_VMX_TRUE_PINBASED  0x48d
#define MSR_IA32_VMX_TRUE_PROCBASED 0x48e
#define MSR_IA32_VMX_TRUE_EXIT      0x48f
#define MSR_IA32_VMX_TRUE_ENTRY     0x490
#define MSR_IA32_VMX_LAST           0x491   /* IA32_VMX_VMFUNC */
#define MSR_X2APIC_ICR              0x830
#define MSR_IA32_EFER               0xc0000080
#define MSR_IA32_FS_BASE            0xc0000100
#define MSR_IA32_GS_BASE            0xc0000101

/* Bits of IA32_FEATURE_CONTROL (SDM Vol. 3C, 23.7). */
#define FEATURE_CONTROL_LOCK        (1ull << 0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)
/* IA32_VMX_BASIC bit 55: the TRUE_* capability MSRs exist (SDM Vol. 3D, A.1). */
#define VMX_BASIC_TRUE_CTLS         (1ull << 55)

/* Control-register, EFER and RFLAGS bits (SDM Vol. 3A, 2.5 and 2.3). */
#define CR0_PE      (1ull << 0)
#define CR0_TS      (1ull << 3)
#define CR0_ET      (1ull << 4)
#define CR0_NW      (1ull << 29)
#define CR0_CD      (1ull << 30)
#define CR0_PG      (1ull << 31)
#define CR4_PAE     (1ull << 5)
#define CR4_VMXE    (1ull << 13)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_LME    (1ull << 8)
#define EFER_LMA    (1ull << 10)
#define RFLAGS_TF   (1ull << 8)
#define RFLAGS_IF   (1ull << 9)

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t sub)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(sub));
    return r;
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port));
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_READ_CR(n) \
    static inline uint64_t read_cr##n(void) \
    { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; }
DEFINE_READ_CR(0)
DEFINE_READ_CR(2)
DEFINE_READ_CR(3)
DEFINE_READ_CR(4)
#undef DEFINE_READ_CR

static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }

static inline uint64_t read_rflags(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f;
}

/* A pointer to a physical address (identity-mapped). Laundered through asm
 * so the compiler does not treat low constants like 0x40e as bogus. */
static inline void *phys_ptr(uint64_t addr)
{
    __asm__("" : "+r"(addr));
    return (void *)addr;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void cpu_halt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

#endif
