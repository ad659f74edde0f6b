/* Entry stubs for all 256 vectors. Vectors without a CPU error code push a
 * zero so every frame has the same shape (struct regs in idt.h). */
    .altmacro
    .text
    .macro ISR vec
    .align 16
isr_\vec:
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp isr_common
    .endm

    .set i, 0
    .rept 256
    ISR %i
    .set i, i + 1
    .endr

isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    mov %rsp, %rdi
    /* Link a frame to the interrupted RIP/RBP so backtraces cross it. */
    pushq 17*8(%rsp)
    pushq %rbp
    mov %rsp, %rbp
    call exception_dispatch
    add $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    add $16, %rsp
    iretq

    .section .rodata
    .align 8
    .globl isr_table
isr_table:
    .set i, 0
    .macro ISR_ENTRY vec
    .quad isr_\vec
    .endm
    .rept 256
    ISR_ENTRY %i
    .set i, i + 1
    .endr
