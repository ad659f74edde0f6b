/* The instruction forms a trapped xAPIC access is emulated for, decoded
 * from the guest's bytes: 32-bit MOV between a general register (or an
 * immediate) and memory. Portable: the host test (tests/unit/
 * test_xapic_decode.c) checks it against encodings from the GNU assembler. */
#ifndef HV_VAPIC_XAPIC_DECODE_H
#define HV_VAPIC_XAPIC_DECODE_H
#include <stdbool.h>
#include <stdint.h>

struct xapic_mov {
    uint8_t len;        /* instruction length in bytes */
    uint8_t reg;        /* general register, 0-15 (rax rcx rdx rbx rsp rbp rsi rdi r8..) */
    bool write;         /* a store to memory (else a load into reg) */
    bool has_imm;       /* MOV m32, imm32: imm is the value stored, reg unused */
    uint32_t imm;
};

/* Decodes the n bytes at b (n <= 15) as one of
 *   89 /r  MOV r/m32, r32      8B /r  MOV r32, r/m32
 *   C7 /0  MOV r/m32, imm32    A3/A1  MOV moffs32, EAX / MOV EAX, moffs32
 * with a memory operand, 32-bit operand size, and at most segment
 * overrides and (64-bit code) one REX prefix without W. mode64: 64-bit
 * code; otherwise protected-mode code with 32-bit default operand and
 * address size (CS.D = 1). False for anything else (operand-size,
 * address-size, LOCK and REP prefixes included): the caller steps it. */
bool xapic_decode_mov(const uint8_t *b, unsigned n, bool mode64, struct xapic_mov *m);

#endif
