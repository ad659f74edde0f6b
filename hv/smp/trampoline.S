/* AP start-up trampoline. Assembled into the image, copied to
 * TRAMPOLINE_ADDR by smp_start_aps() and entered by SIPI in real mode at
 * CS=TRAMPOLINE_ADDR>>4, IP=0. It enables protected mode, PAE paging with
 * the BSP's page tables and long mode, then jumps to ap_entry64 with the
 * stack and per-CPU pointer the BSP left in the data slots below. */
#include "smp/trampoline.h"

#define T(sym) (TRAMPOLINE_ADDR + ((sym) - trampoline_start))

    .section .rodata
    .code16
    .globl trampoline_start, trampoline_end
    .globl tramp_cr3, tramp_stack, tramp_percpu, tramp_entry
trampoline_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl tramp_gdt_ptr - trampoline_start
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $T(tramp32)

    .code32
tramp32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $(1 << 5), %eax
    mov %eax, %cr4
    mov T(tramp_cr3), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16)), %eax
    mov %eax, %cr0
    ljmp $0x18, $T(tramp64)

    .code64
tramp64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov T(tramp_stack), %rsp
    mov T(tramp_percpu), %rdi
    xor %ebp, %ebp
    mov T(tramp_entry), %rax
    jmp *%rax

    .align 16
tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
tramp_gdt_end:
tramp_gdt_ptr:
    .short tramp_gdt_end - tramp_gdt - 1
    .long T(tramp_gdt)
    .align 8
tramp_cr3:    .quad 0
tramp_stack:  .quad 0
tramp_percpu: .quad 0
tramp_entry:  .quad 0
trampoline_end:
