/* Multiboot2 entry: GRUB leaves us in 32-bit protected mode, paging off,
 * EAX = magic, EBX = physical address of the boot information. We zero the
 * BSS, identity-map [0, 4 GiB) with 2 MiB pages, enter long mode and call
 * guest_main(magic, info) on the boot stack. */

#define MB2_MAGIC       0xe85250d6
#define MB2_HEADER_LEN  (mb2_header_end - mb2_header)
#define BOOT_STACK_SIZE 16384

	.section .multiboot, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long 0                         /* i386 */
	.long MB2_HEADER_LEN
	.long 0x100000000 - (MB2_MAGIC + MB2_HEADER_LEN)
	.short 0, 0                     /* end tag */
	.long 8
mb2_header_end:

	.section .text.boot, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	mov %eax, %esi                  /* keep magic and info across the clear */
	mov %ebx, %ebp

	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb

	mov %esi, boot_magic
	mov %ebp, boot_info_addr
	mov $boot_stack_top, %esp

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; PDn[i] = 2 MiB pages. */
	mov $boot_pdpt, %eax
	or $0x3, %eax
	mov %eax, boot_pml4
	mov $boot_pd, %eax
	or $0x3, %eax
	xor %ecx, %ecx
1:	mov %eax, boot_pdpt(,%ecx,8)
	add $0x1000, %eax
	inc %ecx
	cmp $4, %ecx
	jb 1b
	mov $0x83, %eax                 /* present, writable, 2 MiB */
	xor %edx, %edx                  /* bits 32+ of the page address */
	xor %ecx, %ecx
2:	mov %eax, boot_pd(,%ecx,8)
	mov %edx, boot_pd+4(,%ecx,8)
	add $0x200000, %eax
	adc $0, %edx
	inc %ecx
	cmp $2048, %ecx
	jb 2b

	mov %cr4, %eax
	or $0x20, %eax                  /* PAE */
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx           /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80010001, %eax            /* PG, WP, PE */
	mov %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $start64

	.code64
start64:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp
	mov boot_magic(%rip), %edi
	mov boot_info_addr(%rip), %esi
	call guest_main
3:	cli
	hlt
	jmp 3b

	.section .rodata
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.section .bss
	.balign 4096
	.globl boot_stack_top
	.globl boot_pml4, boot_pd
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4 * 4096
boot_stack:	.skip BOOT_STACK_SIZE
boot_stack_top:
boot_magic:	.long 0
boot_info_addr:	.long 0
