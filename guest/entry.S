/* Exception/interrupt entry stubs (all 256 vectors) and the VMCALL helper. */

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERR(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || \
		    (v) == 13 || (v) == 14 || (v) == 17 || (v) == 21 || \
		    (v) == 29 || (v) == 30)

	.text
	.altmacro
	.macro stub v
	.balign 16
	.if HAS_ERR(\v) == 0
	push $0
	.endif
	push $\v
	jmp trap_common
	.endm

	.balign 16
	.globl trap_stubs
trap_stubs:
	.set v, 0
	.rept 256
	stub %v
	.set v, v + 1
	.endr

	.noaltmacro

trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	cld
	mov %rsp, %rdi
	call trap_handler
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp                   /* vector, error code */
	iretq

/* int vmcall_regs(struct vmcall_regs *r): every GPR but RSP from *r,
 * VMCALL, every GPR back into *r. Returns -1, or the vector of an exception
 * the VMCALL raised (caught through .extable). */
	.globl vmcall_regs
vmcall_regs:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi                       /* the block pointer, for after */
	mov %gs:0, %rax
	movl $-1, 16(%rax)              /* this_cpu()->fault.vector = -1 */
	mov 8(%rdi), %rbx
	mov 16(%rdi), %rcx
	mov 24(%rdi), %rdx
	mov 32(%rdi), %rsi
	mov 48(%rdi), %rbp
	mov 56(%rdi), %r8
	mov 64(%rdi), %r9
	mov 72(%rdi), %r10
	mov 80(%rdi), %r11
	mov 88(%rdi), %r12
	mov 96(%rdi), %r13
	mov 104(%rdi), %r14
	mov 112(%rdi), %r15
	mov 0(%rdi), %rax
	mov 40(%rdi), %rdi
1:	vmcall
2:	xchg %rdi, (%rsp)               /* save guest RDI, get the block */
	mov %rax, 0(%rdi)
	mov %rbx, 8(%rdi)
	mov %rcx, 16(%rdi)
	mov %rdx, 24(%rdi)
	mov %rsi, 32(%rdi)
	mov %rbp, 48(%rdi)
	mov %r8, 56(%rdi)
	mov %r9, 64(%rdi)
	mov %r10, 72(%rdi)
	mov %r11, 80(%rdi)
	mov %r12, 88(%rdi)
	mov %r13, 96(%rdi)
	mov %r14, 104(%rdi)
	mov %r15, 112(%rdi)
	pop %rax
	mov %rax, 40(%rdi)
	mov %gs:0, %rax
	movslq 16(%rax), %rax           /* this_cpu()->fault.vector */
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	.pushsection .extable, "a"
	.balign 8
	.quad 1b, 2b
	.popsection
