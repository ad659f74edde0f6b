/* Per-CPU GDT and TSS. The TSS exists for its IST slots: NMI, #DF and #MC
 * each get their own stack so they work even when the interrupted stack
 * is broken, and an NMI never lands on the stack it interrupted. */
#include <percpu.h>
#include <string.h>
#include <stdint.h>
#include "cpu/idt.h"

#define SEL_CODE  0x08
#define SEL_DATA  0x10
#define SEL_TSS   0x18

void cpu_tables_init(struct percpu *p)
{
    memset(&p->tss, 0, sizeof(p->tss));
    for (int i = 1; i < 4; i++)
        p->tss.ist[i - 1] = (uint64_t)p->ist_base[i] + IST_STACK_SIZE;
    p->tss.rsp[0] = (uint64_t)p->stack_base + STACK_SIZE;
    p->tss.iomap_base = sizeof(p->tss);

    uint64_t base = (uint64_t)&p->tss, limit = sizeof(p->tss) - 1;
    p->gdt[0] = 0;
    p->gdt[1] = 0x00af9a000000ffffull;      /* 64-bit code */
    p->gdt[2] = 0x00cf92000000ffffull;      /* data */
    p->gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
                (((base >> 24) & 0xff) << 56);
    p->gdt[4] = base >> 32;

    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr = {
        sizeof(p->gdt) - 1, (uint64_t)p->gdt
    };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "mov %2, %%ax\n\t"
        "mov %%ax, %%ds\n\t"
        "mov %%ax, %%es\n\t"
        "mov %%ax, %%ss\n\t"
        "ltr %w3"
        :: "m"(gdtr), "i"(SEL_CODE), "i"(SEL_DATA), "r"(SEL_TSS)
        : "rax", "memory");
    idt_load();
}
