/* Multiboot2 entry: GRUB leaves us in 32-bit protected mode, paging off.
 * We build identity page tables for the first 4 GiB (2 MiB pages), enter
 * long mode and call hv_main(mbi). Everything here runs before any C. */
#include "boot/boot.h"

#define MB2_MAGIC   0xe85250d6
#define MB2_ARCH    0

    .section .multiboot, "a"
    .align 8
mb2_header:
    .long MB2_MAGIC
    .long MB2_ARCH
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + MB2_ARCH + (mb2_header_end - mb2_header))
    /* end tag */
    .align 8
    .short 0, 0
    .long 8
mb2_header_end:

    .section .text.boot, "ax"
    .code32
    .globl _start32
_start32:
    cli
    cld
    mov $BOOT_STACK_TOP_SYM, %esp
    cmp $0x36d76289, %eax           /* multiboot2 bootloader magic */
    jne no_multiboot
    mov %ebx, boot_mbi

    /* Long mode needs CPUID 0x80000001 EDX.LM; say so on port 0xe9 if not. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    bt $29, %edx
    jnc no_long_mode

    /* PML4[0] -> PDPT; PDPT[0..3] -> PD0..3; PDs map 4 GiB with 2 MiB pages. */
    mov $boot_pdpt, %eax
    or $0x3, %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    or $0x3, %eax
    mov $boot_pdpt, %edi
    mov $4, %ecx
1:  mov %eax, (%edi)
    add $4096, %eax
    add $8, %edi
    loop 1b
    mov $boot_pd, %edi
    mov $0x83, %eax                 /* present, writable, 2 MiB page */
    xor %edx, %edx
    mov $2048, %ecx
2:  mov %eax, (%edi)
    mov %edx, 4(%edi)
    add $0x200000, %eax
    adc $0, %edx
    add $8, %edi
    loop 2b

    mov %cr4, %eax
    or $(1 << 5), %eax              /* PAE */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* IA32_EFER */
    rdmsr
    or $(1 << 8), %eax              /* LME */
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16)), %eax   /* PG, WP */
    mov %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $long_entry

no_multiboot:
    mov $msg_no_mb, %esi
    jmp e9_die
no_long_mode:
    mov $msg_no_lm, %esi
e9_die:                             /* Bochs/QEMU debug port, then the UART */
    lodsb
    test %al, %al
    jz 4f
    outb %al, $0xe9
    mov $0x3f8, %dx
    outb %al, %dx
    jmp e9_die
4:  hlt
    jmp 4b

    .code64
long_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov $BOOT_STACK_TOP_SYM, %rsp
    xor %ebp, %ebp                  /* ends the backtrace chain */
    mov boot_mbi(%rip), %edi
    call hv_main
5:  cli
    hlt
    jmp 5b

    .section .rodata
msg_no_mb:  .asciz "hv: not started by a multiboot2 loader\r\n"
msg_no_lm:  .asciz "hv: this CPU has no long mode (x86-64); cannot run\r\n"

    .section .data
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    .globl boot_mbi
boot_mbi:
    .long 0

    .section .bss
    .align 4096
    .globl boot_pml4
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4 * 4096
    .globl boot_stack
boot_stack: .skip BOOT_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:
