/* Per-CPU data, reached in O(1) through the GS base: gs:0 holds a pointer
 * to the CPU's own struct percpu. Valid from the first C line on the BSP
 * (hv_main sets it first) and from ap_entry64 on the APs. */
#ifndef HV_PERCPU_H
#define HV_PERCPU_H
#include <stdint.h>
#include <stdbool.h>

#define MAX_CPUS        64
#define STACK_SIZE      (16 * 1024)
#define IST_STACK_SIZE  (8 * 1024)

enum ist_index { IST_NMI = 1, IST_DF = 2, IST_MC = 3 };

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct percpu {
    struct percpu *self;            /* gs:0, see this_cpu() */
    uint32_t index;                 /* 0 = BSP, dense */
    uint32_t apic_id;
    volatile bool online;
    volatile bool parked;           /* stopped on a fatal path */
    uint8_t *stack_base;            /* main stack [base, base+STACK_SIZE) */
    uint8_t *ist_base[4];           /* IST stacks, index enum ist_index */
    uint8_t *exit_stack_base;       /* VM exits run here (16 KiB) */
    uint32_t exc_depth;             /* nesting of exceptions/NMIs now */
    bool in_exit;                   /* handling a VM exit: the guest waits */
    uint64_t nmi_count;
    uint64_t gdt[7] __attribute__((aligned(16)));
    struct tss64 tss __attribute__((aligned(16)));
};

extern struct percpu percpu_table[MAX_CPUS];
extern uint32_t cpu_count;          /* CPUs found by ACPI (>= 1) */

static inline struct percpu *this_cpu(void)
{
    struct percpu *p;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(p));
    return p;
}

static inline uint32_t this_cpu_index(void) { return this_cpu()->index; }

/* Sets GS base so this_cpu() works; first thing each CPU does. */
void percpu_bind(struct percpu *p);
/* GDT with TSS and IST stacks, IDT; for the CPU running it. */
void cpu_tables_init(struct percpu *p);
/* Is [addr, addr+len) inside one of this CPU's stacks? (backtrace guard) */
bool percpu_on_stack(const struct percpu *p, uint64_t addr, uint64_t len);

#endif
