/* What a stepped xAPIC access may see and do. The guest's instruction never
 * touches the real LAPIC page: it runs against this CPU's scratch page,
 * which holds the real value of the register the access faulted on, and
 * whatever it wrote there is applied afterwards, register by register, with
 * the 32-bit aligned stores the LAPIC requires (SDM Vol. 3A, 10.4.1: "all
 * registers must be accessed using 128-bit aligned 32-bit loads or
 * stores"). So an odd-width, unaligned or dword-spanning access, or a
 * string instruction that copies one register into the ICR, can neither
 * reach the hardware unchecked nor crash an emulator that refuses odd
 * widths. Writes to reserved offsets, the APIC ID and read-only registers
 * are dropped and reported; the ICR goes through vapic_icr_write. */
#include <string.h>
#include "console/console.h"
#include "cpu/lapic.h"
#include "trace/trace.h"
#include "vapic/vapic.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"

#define PAGE_DWORDS     1024
#define REGS_END        0x400       /* registers are 0x000-0x3f0 */

/* Registers a read may return (Table 10-1), by offset >> 4. EOI, RRD and
 * the reserved slots are not readable. */
static bool readable(uint32_t off)
{
    switch (off) {
    case 0x20: case 0x30: case 0x80: case 0x90: case 0xa0: case 0xd0: case 0xe0: case 0xf0:
    case 0x280: case 0x2f0: case 0x300: case 0x310: case 0x380: case 0x390: case 0x3e0:
        return true;
    default:
        return (off >= 0x100 && off <= 0x270) || (off >= 0x320 && off <= 0x370);
    }
}

/* Registers a write may change (Table 10-1). The APIC ID is read/write on
 * some CPUs, but the hypervisor addresses CPUs by it: not the guest's. */
static bool writable(uint32_t off)
{
    switch (off) {
    case 0x80: case 0xb0: case 0xd0: case 0xe0: case 0xf0: case 0x280: case 0x2f0:
    case 0x300: case 0x310: case 0x380: case 0x3e0:
        return true;
    default:
        return off >= 0x320 && off <= 0x370;
    }
}

void xapic_scratch_prepare(struct vcpu *v, uint32_t offset)
{
    uint32_t *page = (uint32_t *)v->lapic_scratch;
    uint32_t reg = offset & 0xff0;
    /* In x2APIC mode the xAPIC page decodes nothing: reads see all ones,
     * writes go nowhere (SDM Vol. 3A, 10.12.1.2). */
    v->step.x2apic = lapic_x2apic_mode();
    memset(page, v->step.x2apic ? 0xff : 0, PAGE_DWORDS * 4);
    if (v->step.x2apic)
        return;
    v->step.snapshot = offset < REGS_END && readable(reg) ? lapic_read(reg) : 0;
    page[reg / 4] = v->step.snapshot;
}

static void apply_write(struct vcpu *v, uint32_t off, uint32_t value, uint32_t icr_hi)
{
    if (off >= REGS_END || (off & 0xf) || !writable(off)) {
        guest_refused(v, REFUSE_LAPIC_ACCESS, off, "xAPIC write of %#x at offset %#x dropped "
                      "(%s)", value, off, off >= REGS_END || (off & 0xf) ? "not a register" :
                      off == 0x20 ? "the APIC ID is the hypervisor's" : "read-only register");
        return;
    }
    /* EOI is written at the end of every interrupt handler: a per-exit
     * event (the vmx class, kept in the flight recorder by default), where
     * the other writes, which set the LAPIC up or send IPIs, are streamed.
     * Both paths get here with the instruction complete: RIP is past it. */
    if (off == XAPIC_EOI)
        trace_event(TEV_LAPIC_EOI, vmcs_read(GUEST_RIP));
    else
        trace_event(TEV_APIC_WRITE, off, value);
    if (off == XAPIC_ICR_LO)
        vapic_icr_write(v, icr_hi >> 24, value, false);
    else
        lapic_write(off, value);
}

uint32_t xapic_reg_read(uint32_t off)
{
    return off < REGS_END && !(off & 0xf) && readable(off) ? lapic_read(off) : 0;
}

void xapic_reg_write(struct vcpu *v, uint32_t off, uint32_t value)
{
    /* ICR high only matters to an ICR-low write (the destination). */
    apply_write(v, off, value, off == XAPIC_ICR_LO ? lapic_read(XAPIC_ICR_HI) : 0);
}

/* Did the stepped instruction write this dword of the scratch page? The
 * faulting register counts as written even with its old value (an EOI of
 * 0, a TPR rewritten as it was); elsewhere a write shows as a change. */
static bool written(const struct vcpu *v, uint32_t off)
{
    const uint32_t *page = (const uint32_t *)v->lapic_scratch;
    uint32_t reg = v->step.reg & 0xff0;
    if (off == reg && v->step.write && !(v->step.reg & 0xf))
        return true;
    return page[off / 4] != (off == reg ? v->step.snapshot : 0);
}

static bool written_anywhere(const struct vcpu *v)
{
    for (uint32_t off = 0; off < PAGE_DWORDS * 4; off += 4)
        if (written(v, off))
            return true;
    return false;
}

void xapic_scratch_apply(struct vcpu *v)
{
    const uint32_t *page = (const uint32_t *)v->lapic_scratch;
    uint32_t offset = v->step.reg, writes = 0;
    if (v->step.x2apic) {
        if (v->step.write)
            guest_refused(v, REFUSE_LAPIC_ACCESS, offset, "xAPIC write at offset %#x while "
                          "the LAPIC is in x2APIC mode: dropped", offset);
        return;
    }
    /* Registers take aligned 32-bit stores only: an instruction of any
     * other width, or an unaligned write, changes nothing. */
    unsigned width = v->step.width;
    if ((v->step.write && (offset & 3)) || (width && width != 4)) {
        if (v->step.write || written_anywhere(v))
            guest_refused(v, REFUSE_LAPIC_ACCESS, offset, "%u-byte xAPIC %s at offset %#x "
                          "dropped (registers take aligned 32-bit stores)", width,
                          offset & 3 ? "unaligned write" : "write", offset);
        return;
    }
    /* An instruction that writes ICR high and low (a string copy can) sends
     * to the destination it wrote. */
    uint32_t icr_hi = written(v, XAPIC_ICR_HI) ? page[XAPIC_ICR_HI / 4] : lapic_read(XAPIC_ICR_HI);
    for (uint32_t off = 0; off < PAGE_DWORDS * 4; off += 4) {
        if (!written(v, off))
            continue;
        if (writes++ == 1)
            guest_refused(v, REFUSE_LAPIC_ACCESS, offset, "one instruction wrote more than one "
                          "xAPIC register (first access at %#x)", offset);
        apply_write(v, off, page[off / 4], icr_hi);
    }
}
