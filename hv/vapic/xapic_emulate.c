/* A trapped xAPIC access completed at its EPT violation, without a step:
 * one exit instead of two (the violation and the step's end), and no
 * change to this CPU's EPT, so no INVEPT. Linux reads and writes its LAPIC
 * with plain 32-bit MOVs (EOI and the timer at every tick), so this is
 * most of its exits in xAPIC mode.
 *
 * Only what the step would do the same way is emulated: a MOV the decoder
 * knows (xapic_decode.c), at an aligned register offset, by the
 * instruction itself (not event delivery, not a paging-structure access),
 * with nothing that observes the instruction's execution in play: the
 * guest's single-step (TF) and enabled hardware breakpoints go to the
 * step, which runs the real instruction. Everything else is stepped, as
 * before. The value read or written is the step's (xapic_regs.c), so both
 * paths give the guest the same answers and the same refusals. */
#include "config/config.h"
#include "cpu/lapic.h"
#include <x86.h>
#include "vapic/vapic.h"
#include "vapic/xapic_decode.h"
#include "vmx/exit.h"
#include "vmx/intr_info.h"
#include "vmx/vmcs.h"

/* Exit qualification for EPT violations (SDM Vol. 3C, Table 27-7). */
#define EPT_QUAL_WRITE          (1ull << 1)
#define EPT_QUAL_LINEAR_VALID   (1ull << 7)
#define EPT_QUAL_TRANSLATED     (1ull << 8)     /* the access itself, not a page walk */
#define RFLAGS_RF       (1ull << 16)
#define RFLAGS_VM       (1ull << 17)
#define DR7_ENABLES     0xffull                 /* L0-3, G0-3 (Vol. 3B, 18.2.4) */
#define REGS_END        0x400
#define MAX_INSN        15

/* Is this access one the emulation does exactly as the step would? */
static bool emulable(uint32_t offset, uint64_t qual)
{
    uint64_t need = EPT_QUAL_LINEAR_VALID | EPT_QUAL_TRANSLATED;
    if (!hv_config.lapic_emulate || (qual & need) != need)
        return false;
    /* Offset 0 is also where an access that starts on the page before
     * lands; unaligned and odd offsets are the step's to refuse. */
    if (offset == 0 || (offset & 0xf) || offset >= REGS_END || lapic_x2apic_mode())
        return false;
    if (vmcs_read(IDT_VECTORING_INFO) & INTR_INFO_VALID)
        return false;       /* event delivery touched the page, not an instruction */
    return !(vmcs_read(GUEST_RFLAGS) & (RFLAGS_TF | RFLAGS_VM)) &&
           !(vmcs_read(GUEST_DR7) & DR7_ENABLES) && (vmcs_read(GUEST_CR0) & CR0_PE);
}

bool xapic_emulate(struct vcpu *v, uint32_t offset, uint64_t qual)
{
    if (!emulable(offset, qual))
        return false;
    uint8_t b[MAX_INSN];
    unsigned bits, n = xapic_insn_bytes(b, sizeof(b), &bits);
    struct xapic_mov m;
    if (bits == 16 || !xapic_decode_mov(b, n, bits == 64, &m))
        return false;           /* 16-bit code: stepped */
    uint64_t rip = vmcs_read(GUEST_RIP), mask = bits == 64 ? ~0ull : 0xffffffffull;
    /* The bytes may have changed since the access (another CPU wrote
     * them): the decoded direction must be the one that faulted. */
    if (m.write != !!(qual & EPT_QUAL_WRITE) || rip + m.len > mask)
        return false;
    v->lapic_exits[0][offset >> 4]++;
    v->lapic_emulated++;
    uint32_t value = m.has_imm ? m.imm : (uint32_t)guest_gpr(v, m.reg);
    if (!m.write)       /* a 32-bit destination is zero-extended (Vol. 1, 3.4.1.1) */
        guest_set_gpr(v, m.reg, xapic_reg_read(offset));
    /* The instruction is complete before its effect: an INIT this write
     * sends to this very CPU does not come back. RF clears at the end of
     * an instruction (Vol. 3B, 18.3.1.1). */
    guest_advance_rip_by(m.len);
    vmcs_write(GUEST_RFLAGS, vmcs_read(GUEST_RFLAGS) & ~RFLAGS_RF);
    if (m.write)
        xapic_reg_write(v, offset, value);
    return true;
}
