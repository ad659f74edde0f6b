/* The guest instruction at CS:RIP, for the xAPIC trap: its bytes (for the
 * emulation, xapic_emulate.c, and for the width below) and, for a stepped
 * access, its memory operand width: the EPT violation says where and
 * whether it wrote, not how wide (SDM Vol. 3C, Table 27-7). Only the
 * integer forms that can store to memory are known; anything else is 0
 * ("not known"). Width rules from the opcode maps (Vol. 2D, A.2-A.3): bit
 * 0 of most one-byte opcodes selects byte or full size; 0x66 toggles 16/32
 * bits, REX.W makes it 64. */
#include <x86.h>
#include "vapic/vapic.h"
#include "vmx/guest_mem.h"
#include "vmx/vmcs.h"

#define CS_AR_L     (1u << 13)
#define CS_AR_DB    (1u << 14)

unsigned xapic_insn_bytes(uint8_t *b, unsigned n, unsigned *code_bits)
{
    uint64_t rip = vmcs_read(GUEST_RIP), cs_ar = vmcs_read(GUEST_CS_AR);
    bool mode64 = (vmcs_read(GUEST_EFER) & EFER_LMA) && (cs_ar & CS_AR_L);
    uint64_t mask = mode64 ? ~0ull : 0xffffffffull;
    uint64_t linear = mode64 ? rip : vmcs_read(GUEST_CS_BASE) + rip;
    *code_bits = mode64 ? 64 : (cs_ar & CS_AR_DB) ? 32 : 16;
    unsigned got = 0;
    while (got < n) {                       /* a page walk per page */
        uint64_t at = (linear + got) & mask, gpa;
        uint32_t pf;
        if (guest_linear_to_phys(at, false, &gpa, &pf) != WALK_OK)
            break;
        const volatile uint8_t *p = phys_ptr(gpa);
        for (unsigned i = 0, k = 0x1000 - (at & 0xfff); i < k && got < n; i++)
            b[got++] = p[i];
    }
    return got;
}

static bool legacy_prefix(uint8_t b)
{
    switch (b) {
    case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
        return true;
    default:
        return false;
    }
}

/* Width of a one-byte opcode's memory operand: 1 for its byte form, full
 * (the operand size) for the other, 0 if it is not a known store form. */
static unsigned one_byte_width(uint8_t op, unsigned full)
{
    if (op < 0x40 && (op & 7) < 4)          /* ALU r/m forms: add..cmp */
        return op & 1 ? full : 1;
    switch (op) {
    case 0x80: case 0x82: case 0x86: case 0x88: case 0xa4: case 0xaa:
    case 0xc0: case 0xc6: case 0xd0: case 0xd2: case 0xf6: case 0xfe:
        return 1;
    case 0x81: case 0x83: case 0x87: case 0x89: case 0xa5: case 0xab:
    case 0xc1: case 0xc7: case 0xd1: case 0xd3: case 0xf7: case 0xff:
        return full;
    case 0xc4: case 0xc5:                    /* VEX: vector stores */
        return 16;
    default:
        return 0;
    }
}

unsigned xapic_access_width(void)
{
    uint8_t b[15];
    unsigned bits;
    if (xapic_insn_bytes(b, sizeof(b), &bits) < sizeof(b))
        return 0;
    bool mode64 = bits == 64;
    unsigned def = bits == 16 ? 2 : 4, size = def, i = 0;
    for (; i < sizeof(b) && legacy_prefix(b[i]); i++)
        if (b[i] == 0x66)
            size = def == 4 ? 2 : 4;
    if (i < sizeof(b) && mode64 && (b[i] & 0xf0) == 0x40) {
        if (b[i] & 8)
            size = 8;                        /* REX.W */
        i++;
    }
    if (i >= sizeof(b))
        return 0;
    if (b[i] != 0x0f)
        return one_byte_width(b[i], size);
    if (i + 1 >= sizeof(b))
        return 0;
    switch (b[i + 1]) {                      /* two-byte opcodes that store */
    case 0xb0: case 0xc0: return 1;          /* cmpxchg, xadd (byte) */
    case 0xb1: case 0xc1: case 0xab: case 0xb3: case 0xbb: case 0xc3: return size;
    case 0x11: case 0x29: case 0x2b: case 0x7f: case 0xe7: return 16;   /* SSE stores */
    default: return 0;
    }
}
