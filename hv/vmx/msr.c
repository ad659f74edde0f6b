/* RDMSR/WRMSR exits for the MSRs in the bitmap (SDM Vol. 3C, 24.6.9: a
 * set bit makes the access exit; ranges 0-0x1fff and 0xc0000000-
 * 0xc0001fff). Every other MSR reaches the CPU with no exit. */
#include <x86.h>
#include "console/console.h"
#include "cpu/idt.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/refuse.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"

#define MAX_MSR_INTERCEPTS 16

static struct msr_intercept table[MAX_MSR_INTERCEPTS];
static unsigned count;
static uint8_t *bitmap;     /* read low, read high, write low, write high */

void vmx_msr_bitmap_set(uint8_t *b)
{
    bitmap = b;
}

static bool in_bitmap_range(uint32_t msr)
{
    return msr <= 0x1fff || (msr >= 0xc0000000 && msr <= 0xc0001fff);
}

static void set_bits(uint32_t msr, bool read, bool write)
{
    uint32_t base = msr >= 0xc0000000 ? 1024 : 0, bit = msr & 0x1fff;
    if (read)
        bitmap[base + bit / 8] |= 1u << (bit % 8);
    /* PLANTED BUG (HV_BUGS=x2apic-sipi): the x2APIC MSRs (0x800-0x8ff) are
     * left out of the write bitmap, as if all of them could pass: WRMSR
     * 0x830 (the ICR: the guest's INIT/SIPI) then reaches the hardware and
     * never becomes the hypervisor's virtual INIT/SIPI (seed 003). */
#ifdef HV_BUG_X2APIC_SIPI
    if (write && (msr & ~0xffu) != 0x800)
#else
    if (write)
#endif
        bitmap[2048 + base + bit / 8] |= 1u << (bit % 8);
}

/* Does RDMSR/WRMSR of msr exit with the current VMCS? Asked of the VMCS
 * itself, not of the registry: "use MSR bitmaps" off makes every access
 * exit, and so does an MSR outside both bitmap ranges (SDM Vol. 3C,
 * 25.1.3); otherwise the bit in the page MSR_BITMAP points to (24.6.9). */
bool vmx_msr_exits(uint32_t msr, bool write)
{
    if (!(vmcs_read(PROC_CONTROLS) & PROC_MSR_BITMAPS) || !in_bitmap_range(msr))
        return true;
    const uint8_t *b = (const uint8_t *)vmcs_read(MSR_BITMAP);
    uint32_t base = (write ? 2048 : 0) + (msr >= 0xc0000000 ? 1024 : 0), bit = msr & 0x1fff;
    return (b[base + bit / 8] >> (bit % 8)) & 1;
}

bool vmx_msr_register(const struct msr_intercept *m)
{
    if (!bitmap || count == MAX_MSR_INTERCEPTS || m->first > m->last ||
        !in_bitmap_range(m->first) || !in_bitmap_range(m->last)) {
        printf("vmx: MSR intercept %#x-%#x for %s refused\n", m->first, m->last, m->owner);
        return false;
    }
    /* May run while other CPUs look entries up: the entry is whole before
     * the count that makes it visible, and its bits are set after. */
    table[count] = *m;
    __atomic_store_n(&count, count + 1, __ATOMIC_RELEASE);
    for (uint32_t msr = m->first; msr <= m->last; msr++)
        set_bits(msr, !m->pass_read, true);
    return true;
}

static const struct msr_intercept *find(uint32_t msr)
{
    unsigned n = __atomic_load_n(&count, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++)
        if (msr >= table[i].first && msr <= table[i].last)
            return &table[i];
    return NULL;
}

void handle_rdmsr(struct vcpu *v)
{
    uint32_t msr = v->regs.rcx;
    const struct msr_intercept *m = find(msr);
    uint64_t value;
    if (!m || !m->read || !m->read(v, msr, &value)) {
        guest_inject_exception(VEC_GP, true, 0);    /* as without the MSR */
        guest_refused(v, REFUSE_MSR, msr, "RDMSR %#x: #GP", msr);
        return;
    }
    /* RDMSR loads EDX:EAX and clears the high halves (SDM Vol. 2B). */
    v->regs.rax = (uint32_t)value;
    v->regs.rdx = value >> 32;
    guest_advance_rip();
}

void handle_wrmsr(struct vcpu *v)
{
    uint32_t msr = v->regs.rcx;
    const struct msr_intercept *m = find(msr);
    uint64_t value = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;
    if (!m || !m->write || !m->write(v, msr, value)) {
        guest_inject_exception(VEC_GP, true, 0);
        guest_refused(v, REFUSE_MSR, msr, "WRMSR %#x = %#lx: #GP", msr, value);
        return;
    }
    guest_advance_rip();
}
