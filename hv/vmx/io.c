/* IN/OUT to ports in the I/O bitmaps (SDM Vol. 3C, 25.1.3: an access exits
 * if the bit of any port it touches is set). Emulated one byte at a time:
 * bytes of registered ports go to their owner, the others of a straddling
 * access reach the hardware as they would have without the bitmap. */
#include <x86.h>
#include "console/console.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "cpu/idt.h"
#include "vmx/guest_mem.h"
#include "vmx/handlers.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"

#define MAX_IO_RANGES 4

static struct io_range { uint16_t first, count; io_in_fn in; io_out_fn out; } ranges[MAX_IO_RANGES];
static unsigned nranges;
static uint8_t *bitmaps;        /* A: ports 0-0x7fff, B: 0x8000-0xffff */

void vmx_io_bitmaps_set(uint8_t *b)
{
    bitmaps = b;
}

bool vmx_io_register(uint16_t first, uint16_t count, io_in_fn in, io_out_fn out)
{
    if (!bitmaps || nranges == MAX_IO_RANGES || !count || first + count > 0x10000) {
        printf("vmx: I/O range %#x+%u refused\n", first, count);
        return false;
    }
    ranges[nranges++] = (struct io_range){ first, count, in, out };
    for (uint32_t port = first; port < (uint32_t)first + count; port++)
        bitmaps[port / 8] |= 1u << (port % 8);
    return true;
}

static const struct io_range *owner(uint16_t port)
{
    for (unsigned i = 0; i < nranges; i++)
        if (port >= ranges[i].first && port - ranges[i].first < ranges[i].count)
            return &ranges[i];
    return NULL;
}

static uint8_t in_byte(uint16_t port)
{
    const struct io_range *r = owner(port);
    return r ? r->in(port) : inb(port);
}

static void out_byte(uint16_t port, uint8_t value)
{
    const struct io_range *r = owner(port);
    if (r)
        r->out(port, value);
    else
        outb(port, value);
}

/* One element of INS/OUTS: size bytes between the port and guest memory
 * at a linear address. False if the guest's paging faults (#PF injected:
 * the instruction stops there). Memory that is not guest RAM is refused
 * (reported) and the element skipped, so the instruction still ends. */
static bool string_element(struct vcpu *v, uint16_t port, unsigned size, bool in, uint64_t la)
{
    for (unsigned i = 0; i < size; i++) {
        uint64_t gpa;
        uint32_t pf;
        switch (guest_linear_to_phys(la + i, in, &gpa, &pf)) {
        case WALK_FAULT:
            __asm__ volatile("mov %0, %%cr2" :: "r"(la + i));
            guest_inject_exception(VEC_PF, true, pf);
            return false;
        case WALK_NOT_RAM:
            guest_refused(v, REFUSE_IO, la + i, "%s at linear %#lx: not guest RAM; skipped",
                          in ? "INS" : "OUTS", la + i);
            return true;
        case WALK_OK:
            break;
        }
        uint8_t *b = phys_ptr(gpa);
        if (in)
            *b = in_byte(port + i);
        else
            out_byte(port + i, *b);
    }
    return true;
}

/* INS/OUTS (with REP): the exit gives the first element's linear address
 * and the address size (SDM Vol. 3C, 27.2.1 guest-linear address, Table
 * 27-8 instruction information). At most STRING_BATCH elements per exit:
 * with count left, RIP stays and the instruction exits again, as an
 * interrupted REP would resume. */
#define STRING_BATCH 4096
static void string_io(struct vcpu *v, uint64_t q, unsigned size, bool in, uint16_t port)
{
    unsigned asize = (vmcs_read(EXIT_INSN_INFO) >> 7) & 7;     /* 0: 16, 1: 32, 2: 64 */
    uint64_t amask = asize == 0 ? 0xffff : asize == 1 ? 0xffffffffull : ~0ull;
    bool rep = q & 32, down = vmcs_read(GUEST_RFLAGS) & (1u << 10);
    uint64_t *index = in ? &v->regs.rdi : &v->regs.rsi;
    uint64_t count = rep ? v->regs.rcx & amask : 1, la = vmcs_read(GUEST_LINEAR_ADDR);
    uint64_t done = 0;
    for (; done < count && done < STRING_BATCH; done++) {
        if (!string_element(v, port, size, in, la))
            break;
        la += down ? -(uint64_t)size : size;
        *index = (*index & ~amask) | ((*index + (down ? -(uint64_t)size : size)) & amask);
    }
    if (rep)
        v->regs.rcx = (v->regs.rcx & ~amask) | ((count - done) & amask);
    if (done == count)
        guest_advance_rip();
}

void handle_io(struct vcpu *v)
{
    /* Exit qualification for I/O instructions (SDM Vol. 3C, Table 27-5). */
    uint64_t q = vmcs_read(EXIT_QUALIFICATION);
    unsigned size = (q & 7) + 1;
    bool in = q & 8, string = q & 16;
    uint16_t port = q >> 16;
    if (string) {
        string_io(v, q, size, in, port);
        return;
    }
    uint32_t val = 0;
    for (unsigned i = 0; i < size; i++) {
        if (in)
            val |= (uint32_t)in_byte(port + i) << (8 * i);
        else
            out_byte(port + i, (uint8_t)(v->regs.rax >> (8 * i)));
    }
    if (in) {
        uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (size * 8)) - 1;
        /* A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
        v->regs.rax = size == 4 ? val : (v->regs.rax & ~mask) | (val & mask);
    }
    guest_advance_rip();
}
