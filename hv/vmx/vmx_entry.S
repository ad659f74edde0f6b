/* VM exit entry and guest (re)entry. HOST_RSP points 16 bytes below the top
 * of the CPU's exit stack, where vmx_cpu_init stored the struct vcpu
 * pointer, so the exit path finds its vcpu without touching guest state.
 * A VM exit saves only RIP/RSP/RFLAGS and the VMCS guest state: every
 * general register still holds the guest's value here (SDM Vol. 3C, 27.3,
 * 27.5), and a VM entry loads none of them (26.3.2). */
#define R(n) (n * 8)

    .text
    .globl vmx_exit_entry
vmx_exit_entry:
    push %rax
    mov 8(%rsp), %rax               /* struct vcpu * */
    mov %rcx, R(1)(%rax)
    mov %rdx, R(2)(%rax)
    mov %rbx, R(3)(%rax)
    mov %rbp, R(4)(%rax)
    mov %rsi, R(5)(%rax)
    mov %rdi, R(6)(%rax)
    mov %r8,  R(7)(%rax)
    mov %r9,  R(8)(%rax)
    mov %r10, R(9)(%rax)
    mov %r11, R(10)(%rax)
    mov %r12, R(11)(%rax)
    mov %r13, R(12)(%rax)
    mov %r14, R(13)(%rax)
    mov %r15, R(14)(%rax)
    pop %rcx
    mov %rcx, R(0)(%rax)
    xor %ebp, %ebp                  /* backtraces end here */
    mov %rax, %rdi
    call vmx_exit_handler           /* returns only to resume the guest */
    mov (%rsp), %rdi
    jmp vmx_resume_guest

/* void vmx_enter_guest(struct vcpu *v, int launch) -- never returns. */
    .globl vmx_enter_guest
vmx_enter_guest:
    mov %rdi, %rax
    test %esi, %esi
    jz 1f
    call load_guest_regs
    vmlaunch                        /* first entry: the VMCS is clear (30.3) */
    jmp 2f
1:
vmx_resume_guest:
    mov %rdi, %rax
    call load_guest_regs
    vmresume                        /* later entries: the VMCS is launched */
2:  /* VMfail (30.2): the instruction failed before entry, so nothing was
     * loaded; RFLAGS.CF = VMfailInvalid, ZF = VMfailValid with the error
     * number in the VM-instruction error field. */
    setc %dil                       /* 1 = VMfailInvalid, else VMfailValid */
    movzbl %dil, %edi
    call vmx_entry_failed           /* noreturn */
3:  hlt
    jmp 3b

load_guest_regs:                    /* rax = vcpu; clobbers everything */
    mov R(1)(%rax), %rcx
    mov R(2)(%rax), %rdx
    mov R(3)(%rax), %rbx
    mov R(4)(%rax), %rbp
    mov R(5)(%rax), %rsi
    mov R(6)(%rax), %rdi
    mov R(7)(%rax), %r8
    mov R(8)(%rax), %r9
    mov R(9)(%rax), %r10
    mov R(10)(%rax), %r11
    mov R(11)(%rax), %r12
    mov R(12)(%rax), %r13
    mov R(13)(%rax), %r14
    mov R(14)(%rax), %r15
    mov R(0)(%rax), %rax
    ret
