/* AP start-up: real mode -> protected mode -> long mode -> ap_entry().
 *
 * ap_tramp_start..ap_tramp_end is copied by smp.c to one free page below
 * 1 MiB per SIPI vector (the page is vector << 12). A SIPI starts the AP
 * there in real mode with CS = vector << 8, IP = 0, so the blob is
 * position independent: it addresses its own data CS-relative and jumps
 * with absolute 32-bit addresses into the kernel image for the rest. The
 * vector it started at (CS >> 8) rides along in EBP so the AP can report
 * which SIPI started it. The AP finds its stack by looking its APIC ID
 * (CPUID) up in smp_boot_apic_id[], filled by smp.c. */

	.section .rodata.ap_tramp, "a"
	.code16
	.globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
	cli
	cld
	xorl %ebp, %ebp
	movw %cs, %bp
	shrl $8, %ebp                   /* the SIPI vector */
	lgdtl %cs:(ap_tramp_gdtr - ap_tramp_start)
	movl %cr0, %eax
	orl $1, %eax                    /* PE */
	movl %eax, %cr0
	ljmpl $0x08, $ap_start32

	.balign 8
ap_tramp_gdtr:
	.word ap_gdt_end - ap_gdt - 1
	.long ap_gdt
ap_tramp_end:

	.section .rodata
	.balign 16
ap_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: data */
	.quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
ap_gdt_end:

	.text
	.code32
ap_start32:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %cr4, %eax
	orl $0x20, %eax                 /* PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax           /* the BSP's 1:1 map of [0, 4 GiB) */
	movl %eax, %cr3
	movl $0xc0000080, %ecx          /* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	/* PG, WP, PE -- and CD, NW clear (INIT leaves the caches disabled). */
	movl $0x80010001, %eax
	movl %eax, %cr0
	ljmpl $0x18, $ap_start64

	.code64
ap_start64:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs

	/* APIC ID: CPUID leaf 0xb (x2APIC ID) when present, else leaf 1. */
	xorl %eax, %eax
	cpuid
	cmpl $0xb, %eax
	jb 1f
	movl $0xb, %eax
	xorl %ecx, %ecx
	cpuid
	testl %ebx, %ebx
	jz 1f
	movl %edx, %esi
	jmp 2f
1:	movl $1, %eax
	cpuid
	shrl $24, %ebx
	movl %ebx, %esi

2:	xorl %ecx, %ecx                 /* index = position in the table */
3:	cmpl smp_boot_ncpus(%rip), %ecx
	jae 9f
	leaq smp_boot_apic_id(%rip), %rax
	cmpl (%rax,%rcx,4), %esi
	je 4f
	incl %ecx
	jmp 3b

4:	leaq smp_boot_stack(%rip), %rax
	movq (%rax,%rcx,8), %rsp
	testq %rsp, %rsp
	jz 9f
	movl %ecx, %edi                 /* ap_entry(index, vector) */
	movl %ebp, %esi
	xorl %ebp, %ebp
	call ap_entry

	/* Not in the table (or ap_entry returned): stop quietly; the CPU
	 * that started us times out naming this CPU. */
9:	cli
	hlt
	jmp 9b
