#ifndef HV_CPU_IDT_H
#define HV_CPU_IDT_H
#include <stdint.h>

/* Saved by isr.S in this order (lowest address first). */
struct regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;     /* pushed by the CPU */
};

/* Exception vectors (SDM Vol. 3A, 6.3.1), defined here only. */
#define VEC_DB  1
#define VEC_NMI 2
#define VEC_BP  3
#define VEC_UD  6
#define VEC_DF  8
#define VEC_GP  13
#define VEC_PF  14
#define VEC_MC  18

void idt_init(void);        /* once, on the BSP: the table is shared */
void idt_load(void);        /* every CPU */
void exception_dispatch(struct regs *r);   /* called from isr.S */

#endif
