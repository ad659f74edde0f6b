/* checked_copy(dst, src, n): rep movsb, and a fault inside it returns
 * the bytes left instead of being fatal. exception_dispatch() moves a #PF
 * or #GP whose RIP is checked_copy_insn to checked_copy_fixup; RCX still
 * holds the count not yet copied (rep movsb updates RCX per byte, SDM
 * Vol. 2B, REP: a fault leaves the registers at the faulting iteration). */
    .text
    .globl checked_copy, checked_copy_insn, checked_copy_fixup
checked_copy:
    mov %rdx, %rcx
checked_copy_insn:
    rep movsb
checked_copy_fixup:
    mov %rcx, %rax
    ret
