/* IN/OUT to ports in the I/O bitmaps (SDM Vol. 3C, 25.1.3: an access exits
 * if the bit of any port it touches is set). Emulated one byte at a time:
 * bytes of registered ports go to their owner, the others of a straddling
 * access reach the hardware as they would have without the bitmap. */
#include <x86.h>
#include "console/console.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
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

void handle_io(struct vcpu *v)
{
    /* Exit qualification for I/O instructions (SDM Vol. 3C, Table 27-5). */
    uint64_t q = vmcs_read(EXIT_QUALIFICATION);
    unsigned size = (q & 7) + 1;
    bool in = q & 8, string = q & 16;
    uint16_t port = q >> 16;
    if (string) {
        /* INS/OUTS would need the guest's page tables; no known console
         * driver uses them on a UART. Refused loudly, guest kept running. */
        printf("guest cpu%u: string I/O to port %#x not emulated; skipped\n", v->index, port);
        guest_advance_rip();
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
