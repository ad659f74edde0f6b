/* xapic_decode_mov against encodings the GNU assembler produced (as --64 /
 * --32, objdump -d; the source line is the comment), and against every
 * truncation of them: a short fetch must never be taken for a shorter
 * instruction. */
#include <stdio.h>
#include <string.h>
#include "vapic/xapic_decode.h"
#include "unit_check.h"

struct sample {
    const char *as;             /* what was assembled */
    bool mode64;
    uint8_t bytes[15], n;
    bool ok;                    /* an accepted form */
    uint8_t reg;
    bool write, has_imm;
    uint32_t imm;
};

#define B(...) { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ })
static const struct sample samples[] = {
    { "movl %eax, 0xb0(%rdx)", 1, B(0x89, 0x82, 0xb0, 0, 0, 0), 1, 0, 1, 0, 0 },
    { "movl 0x30(%rax), %eax", 1, B(0x8b, 0x40, 0x30), 1, 0, 0, 0, 0 },
    { "movl %edi, 0xffffffffff5fc0b0", 1, B(0x89, 0x3c, 0x25, 0xb0, 0xc0, 0x5f, 0xff), 1, 7, 1, 0, 0 },
    { "movl 0xffffffffff5fc300, %r9d", 1, B(0x44, 0x8b, 0x0c, 0x25, 0x00, 0xc3, 0x5f, 0xff), 1, 9, 0, 0, 0 },
    { "movl %r15d, (%r13)", 1, B(0x45, 0x89, 0x7d, 0x00), 1, 15, 1, 0, 0 },
    { "movl (%r12), %esp", 1, B(0x41, 0x8b, 0x24, 0x24), 1, 4, 0, 0, 0 },
    { "movl 0x380(%rip), %ebx", 1, B(0x8b, 0x1d, 0x80, 0x03, 0, 0), 1, 3, 0, 0, 0 },
    { "movl $0x12345678, 0xb0(%rdx)", 1, B(0xc7, 0x82, 0xb0, 0, 0, 0, 0x78, 0x56, 0x34, 0x12),
      1, 0, 1, 1, 0x12345678 },
    { "movl $0, (%rax,%rcx,4)", 1, B(0xc7, 0x04, 0x88, 0, 0, 0, 0), 1, 0, 1, 1, 0 },
    { "movl %ecx, 0x10(%rsp)", 1, B(0x89, 0x4c, 0x24, 0x10), 1, 1, 1, 0, 0 },
    { "movl %ebp, (%rbp)", 1, B(0x89, 0x6d, 0x00), 1, 5, 1, 0, 0 },
    { "fs movl %eax, (%rdx)", 1, B(0x64, 0x89, 0x02), 1, 0, 1, 0, 0 },
    { "movl %eax, 0x80(%r8,%r9,8)", 1, B(0x43, 0x89, 0x84, 0xc8, 0x80, 0, 0, 0), 1, 0, 1, 0, 0 },
    { "movl 0xfee00030, %eax (moffs64)", 1, B(0xa1, 0x30, 0, 0xe0, 0xfe, 0, 0, 0, 0), 1, 0, 0, 0, 0 },
    /* not taken: other widths, other instructions, register forms, prefixes */
    { "movq %rax, (%rdx)", 1, B(0x48, 0x89, 0x02), 0, 0, 0, 0, 0 },
    { "movw %ax, (%rdx)", 1, B(0x66, 0x89, 0x02), 0, 0, 0, 0, 0 },
    { "movb %al, (%rdx)", 1, B(0x88, 0x02), 0, 0, 0, 0, 0 },
    { "xchgl %eax, (%rdx)", 1, B(0x87, 0x02), 0, 0, 0, 0, 0 },
    { "movl %eax, %edx", 1, B(0x89, 0xc2), 0, 0, 0, 0, 0 },
    { "lock addl %eax, (%rdx)", 1, B(0xf0, 0x01, 0x02), 0, 0, 0, 0, 0 },
    { "addr32 movl %eax, (%edx)", 1, B(0x67, 0x89, 0x02), 0, 0, 0, 0, 0 },
    { "rep movsl", 1, B(0xf3, 0xa5), 0, 0, 0, 0, 0 },
    { "c7 /1 (not MOV)", 1, B(0xc7, 0x0a, 0, 0, 0, 0), 0, 0, 0, 0, 0 },
    { "REX before a segment override (REX ignored: not taken)", 1, B(0x41, 0x64, 0x89, 0x02), 0, 0, 0, 0, 0 },
    /* 32-bit protected mode (CS.D = 1) */
    { "movl %eax, 0xfee000b0", 0, B(0xa3, 0xb0, 0x00, 0xe0, 0xfe), 1, 0, 1, 0, 0 },
    { "movl 0x30(%eax), %ecx", 0, B(0x8b, 0x48, 0x30), 1, 1, 0, 0, 0 },
    { "movl $1, (%ebx)", 0, B(0xc7, 0x03, 1, 0, 0, 0), 1, 0, 1, 1, 1 },
    { "movl %esp, 4(%esp)", 0, B(0x89, 0x64, 0x24, 0x04), 1, 4, 1, 0, 0 },
    { "movl %edx, 0x12345678(,%esi,2)", 0, B(0x89, 0x14, 0x75, 0x78, 0x56, 0x34, 0x12), 1, 2, 1, 0, 0 },
    { "inc %eax (0x40 is no REX here)", 0, B(0x40, 0x89, 0x02), 0, 0, 0, 0, 0 },
    { "addr16 movl %eax, (%bx)", 0, B(0x67, 0x89, 0x07), 0, 0, 0, 0, 0 },
};

static void check_sample(const struct sample *s)
{
    struct xapic_mov m;
    memset(&m, 0xa5, sizeof(m));
    bool ok = xapic_decode_mov(s->bytes, s->n, s->mode64, &m);
    if (ok != s->ok) {
        fprintf(stderr, "%s: decoded %s\n", s->as, ok ? "but should not be" : "not at all");
        failures++;
        return;
    }
    if (!ok)
        return;
    CHECK(m.len == s->n);
    CHECK(m.write == s->write);
    CHECK(m.has_imm == s->has_imm);
    if (s->has_imm)
        CHECK(m.imm == s->imm);
    else
        CHECK(m.reg == s->reg);
    if (m.len != s->n || m.reg != s->reg)
        fprintf(stderr, "  in %s: len %u reg %u\n", s->as, m.len, m.reg);
    /* Every shorter fetch (the page after the instruction's first bytes
     * not readable) must fail rather than decode a shorter instruction;
     * bytes after the instruction change nothing. */
    for (unsigned cut = 0; cut < s->n; cut++)
        CHECK(!xapic_decode_mov(s->bytes, cut, s->mode64, &m));
    uint8_t more[15];
    memset(more, 0x89, sizeof(more));
    memcpy(more, s->bytes, s->n);
    CHECK(xapic_decode_mov(more, sizeof(more), s->mode64, &m) && m.len == s->n);
}

int main(void)
{
    for (unsigned i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        check_sample(&samples[i]);
    /* Fifteen segment overrides leave no room for an opcode. */
    uint8_t prefixes[15];
    memset(prefixes, 0x3e, sizeof(prefixes));
    struct xapic_mov m;
    CHECK(!xapic_decode_mov(prefixes, sizeof(prefixes), true, &m));
    printf("test_xapic_decode: %u encodings, %s\n",
           (unsigned)(sizeof(samples) / sizeof(samples[0])), failures ? "FAILED" : "ok");
    return failures != 0;
}
