/* The guest's local APIC: what the hypervisor intercepts and why.
 *
 * Only INIT and SIPI are virtualised (the hypervisor owns the physical
 * start-up of every CPU; the guest's APs are started in real mode at the
 * SIPI vector by the hypervisor on that CPU). Everything else the guest
 * does with its LAPIC reaches the hardware:
 *  - xAPIC: the LAPIC page is not present in the CPU's EPT; each access
 *    exits. A plain 32-bit MOV to or from an aligned register is emulated
 *    right there (one exit: lapic_emulate=on, the default); any other
 *    access is completed by single-stepping the instruction with a scratch
 *    page mapped (monitor trap flag where the CPU has it, else TF + #DB).
 *    A write to ICR low is caught in a scratch page and then acted on.
 *  - x2APIC: only WRMSR to the ICR (0x830) and to IA32_APIC_BASE exit;
 *    EOI, TPR and the rest pass with no exit.
 * The hypervisor never writes the guest's LVT entries, so LINT1 stays an
 * NMI input as the guest set it. */
#ifndef HV_VAPIC_VAPIC_H
#define HV_VAPIC_VAPIC_H
#include <stdbool.h>
#include <stdint.h>
#include "cpu/lapic.h"
#include "vmx/vcpu.h"

#define GUEST_LAPIC_GPA     0xfee00000ull

/* Once, after the VMX core: chooses the single-step method and prints it,
 * and registers every vapic exit handler and hook with the core. */
void vapic_global_init(void);
/* Per CPU, with its VMCS current: its own EPT root with the LAPIC page
 * trapped, and the scratch page. False (reported) when out of pages. */
bool vapic_cpu_init(struct vcpu *v);

/* mtf_probe.c: does the monitor trap flag deliver its exits here? */
enum mtf_verdict {
    MTF_ABSENT,         /* not offered by the capability MSR */
    MTF_UNUSED,         /* lapic_step=tf or lapic_trap=off: never probed */
    MTF_UNTESTED,       /* offered; steps use TF until a probe decides */
    MTF_WORKS,          /* an MTF exit came (or lapic_step=mtf: taken on trust) */
    MTF_BROKEN,         /* an instruction retired with no MTF exit */
    MTF_UNDECIDED,      /* too many inconclusive probes: TF for good */
};
void vapic_mtf_probe_init(bool offered);
int vapic_mtf_verdict(void);
/* Before an entry: set MTF for a probe if undecided and no step is on. */
void vapic_mtf_probe_arm(struct vcpu *v);
/* The exit after a probe entry; true if it was the MTF exit itself. */
bool vapic_mtf_probe_exit(struct vcpu *v, uint32_t basic);

/* xapic_step.c */
bool vapic_ept_violation(struct vcpu *v, uint64_t gpa, uint64_t qual);
/* An exit while a step is armed: MTF and #DB end it (done), any other
 * exception ends it undone and goes to the guest; other exits end it
 * undone. Returns true if the exit was the step's own (nothing left). */
bool vapic_step_exit(struct vcpu *v, uint32_t basic);

/* xapic_regs.c: the scratch page a step runs against, and what the
 * stepped instruction wrote there, applied to the real LAPIC. */
void xapic_scratch_prepare(struct vcpu *v, uint32_t offset);
void xapic_scratch_apply(struct vcpu *v);
/* One aligned register as an emulated access sees it: the real value if
 * the register is readable, else 0 (as the scratch page shows it); and a
 * write with the step's checks (dropped and reported where the step's
 * would be, the ICR through vapic_icr_write). */
uint32_t xapic_reg_read(uint32_t off);
void xapic_reg_write(struct vcpu *v, uint32_t off, uint32_t value);
/* xapic_emulate.c: completes the access at the EPT violation, without a
 * step, when it is a plain 32-bit MOV the decoder knows (xapic_decode.h)
 * and nothing the step is for is in play. False: step it. */
bool xapic_emulate(struct vcpu *v, uint32_t offset, uint64_t qual);
/* xapic_width.c: the memory operand width of the instruction at the
 * guest's RIP (1, 2, 4, 8, 16), or 0 if not known. */
unsigned xapic_access_width(void);
/* Up to n bytes of the instruction at the guest's CS:RIP (a page walk per
 * page; fewer if a page is not readable guest RAM), and its code size:
 * 64, 32 or 16 (CS.L, CS.D). */
unsigned xapic_insn_bytes(uint8_t *b, unsigned n, unsigned *code_bits);
/* icr.c: a guest ICR write (dest: x2APIC id, or xAPIC id from ICR high). */
void vapic_icr_write(struct vcpu *v, uint32_t dest, uint32_t lo, bool x2apic);

/* x2apic_msr.c: the intercepted writes of the x2APIC ICR and APIC base. */
void vapic_msr_init(void);
/* Per CPU, with its VMCS current: do the accesses above exit? Each gap is
 * reported on the console; returns how many. */
unsigned vapic_msr_audit(struct vcpu *v);

/* x2apic_hint.c (x2apic_hint=kvm): CPUID leaves that let Linux keep x2APIC
 * mode without interrupt remapping. True if the leaf was answered. */
void x2apic_hint_init(void);      /* registers its CPUID leaves, says so */

/* sipi.c */
void vapic_guest_init(struct vcpu *target);
void vapic_guest_sipi(struct vcpu *target, uint8_t vector);
/* INIT for this CPU (RESETTING at the end of an exit, or an INIT exit):
 * the guest AP stops and this CPU waits for a SIPI again. */
void vapic_reset_ap(struct vcpu *v) __attribute__((noreturn));
/* The idle loop's hook: an AP whose SIPI arrived starts its guest. */
void vapic_idle_poll(void);

#endif
