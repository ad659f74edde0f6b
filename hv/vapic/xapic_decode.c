/* Decoding rules from the SDM, Vol. 2A, chapter 2 (instruction format:
 * prefixes, REX, ModR/M, SIB, displacement, immediate; Tables 2-2 and 2-3
 * for the 32-bit addressing forms, 2.2.1.6 for RIP-relative) and the MOV
 * entries of Vol. 2B. Only the forms that carry exactly one aligned 32-bit
 * memory access are accepted; everything else is left to the step. */
#include "vapic/xapic_decode.h"

#define MAX_INSN    15      /* Vol. 2A, 2.1.1: longer raises #GP */

static bool segment_override(uint8_t b)
{
    return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65;
}

/* Bytes of ModR/M, SIB and displacement for a memory operand; 0 for the
 * register form (mod = 3), which touches no memory. */
static unsigned modrm_bytes(const uint8_t *b, unsigned left)
{
    if (left < 1)
        return 0;
    uint8_t mod = b[0] >> 6, rm = b[0] & 7;
    if (mod == 3)
        return 0;
    unsigned len = 1;
    if (rm == 4) {                          /* a SIB byte follows */
        if (left < 2)
            return 0;
        if (mod == 0 && (b[1] & 7) == 5)    /* SIB base 101 with mod 00: disp32, no base */
            len += 4;
        len++;
    } else if (mod == 0 && rm == 5) {       /* disp32 (RIP-relative in 64-bit code) */
        len += 4;
    }
    len += mod == 1 ? 1 : mod == 2 ? 4 : 0;
    return len <= left ? len : 0;
}

static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool xapic_decode_mov(const uint8_t *b, unsigned n, bool mode64, struct xapic_mov *m)
{
    unsigned i = 0, rex = 0;
    if (n > MAX_INSN)
        n = MAX_INSN;
    while (i < n && segment_override(b[i]))
        i++;
    if (mode64 && i < n && (b[i] & 0xf0) == 0x40)
        rex = b[i++];                       /* REX must come right before the opcode */
    if (i >= n || (rex & 8))
        return false;                       /* REX.W: a 64-bit access */
    uint8_t op = b[i++];
    m->has_imm = false;
    m->imm = 0;
    if (op == 0xa1 || op == 0xa3) {         /* moffs: the address is the whole operand */
        unsigned moffs = mode64 ? 8 : 4;
        if (i + moffs > n)
            return false;
        m->reg = 0;
        m->write = op == 0xa3;
        m->len = i + moffs;
        return true;
    }
    if (op != 0x89 && op != 0x8b && op != 0xc7)
        return false;
    unsigned mem = modrm_bytes(b + i, n - i);
    if (!mem)
        return false;
    uint8_t reg = (b[i] >> 3) & 7;
    if (op == 0xc7) {
        if (reg != 0 || i + mem + 4 > n)    /* C7 /0 only */
            return false;
        m->has_imm = true;
        m->imm = le32(b + i + mem);
        m->len = i + mem + 4;
        m->reg = 0;
        m->write = true;
        return true;
    }
    m->reg = reg | (rex & 4 ? 8 : 0);       /* REX.R extends ModR/M.reg */
    m->write = op == 0x89;
    m->len = i + mem;
    return true;
}
