/* How the layers above the VMX core (nmi, vapic, vdev, hypapps, later the
 * GDB stub) take part in VM exits without the core naming them: each owner
 * registers its handlers here once, at start-up, before any guest runs.
 *
 * The order of one exit (exit.c, vmx_exit_handler):
 *   1. bookkeeping (counts, last RIP), then the after-exit hooks (nmi: the
 *      VMCS is no longer committed);
 *   2. the intercepts, in registration order: a step in progress (vapic)
 *      may claim the exit as its own;
 *   3. the handler registered for the basic exit reason (SDM Vol. 3C,
 *      Appendix C); none means the exit is reported and the CPU parks;
 *   4. the before-entry hooks, by stage: STATE (vapic: an INIT that
 *      arrived resets this CPU), CONTROLS (vapic: the MTF probe), then the
 *      drain, then EVENTS (nmi: injection, and whether it needs the NMI
 *      window); then the core composes the primary processor-based
 *      controls once from what the owners asked for (vcpu.h: a step or
 *      probe's MTF, nmi's window) and writes them, and the preemption
 *      timer (vcpu.exit_by_tsc: the NMI storm); then COMMIT (nmi: the
 *      VMCS is final; an NMI from here on arms the window itself).
 * Nobody else read-modify-writes PROC_CONTROLS: two writers of one field
 * lose each other's bits (seed: a lost NMI-window request). */
#ifndef HV_VMX_EXIT_TABLE_H
#define HV_VMX_EXIT_TABLE_H
#include <stdbool.h>
#include <stdint.h>
#include <x86.h>
#include "vmx/vcpu.h"

typedef void (*exit_handler_fn)(struct vcpu *v);
typedef void (*exit_final_fn)(struct vcpu *v) __attribute__((noreturn));
typedef bool (*exit_intercept_fn)(struct vcpu *v, uint32_t basic);
typedef void (*vcpu_hook_fn)(struct vcpu *v);

/* The handler of a basic exit reason; refused (reported) if taken. */
bool vmx_exit_register(uint32_t basic, exit_handler_fn fn);
/* A handler that never returns to this exit (the CPU resets or parks). */
bool vmx_exit_register_final(uint32_t basic, exit_final_fn fn);
void vmx_exit_intercept_register(exit_intercept_fn fn);
void vmx_after_exit_register(vcpu_hook_fn fn);
enum entry_stage { ENTRY_STAGE_STATE, ENTRY_STAGE_CONTROLS, ENTRY_STAGE_EVENTS,
                   ENTRY_STAGE_COMMIT, ENTRY_STAGES };
void vmx_before_entry_register(enum entry_stage stage, vcpu_hook_fn fn);
/* The before-entry hooks, for paths that enter without an exit (the first
 * launch, an AP's start at its SIPI vector). */
void vmx_prepare_entry(struct vcpu *v);

/* Exit reason 0 by vector: NMIs (vector 2) and the exceptions the
 * exception bitmap asks for. */
bool vmx_exception_register(uint8_t vector, exit_handler_fn fn);

/* MSRs the guest may not reach directly (the MSR bitmap). Reads exit
 * unless pass_read. A NULL handler refuses with #GP, as a CPU without the
 * MSR would. Handlers return false for #GP; on true the RDMSR/WRMSR is
 * complete (the core moves RIP past it). */
typedef bool (*msr_read_fn)(struct vcpu *v, uint32_t msr, uint64_t *value);
typedef bool (*msr_write_fn)(struct vcpu *v, uint32_t msr, uint64_t value);
struct msr_intercept {
    uint32_t first, last;
    bool pass_read;
    msr_read_fn read;
    msr_write_fn write;
    const char *owner;
};
bool vmx_msr_register(const struct msr_intercept *m);
/* Whether RDMSR (write false) or WRMSR of msr exits with this CPU's
 * current VMCS, as the CPU would decide (for owners' audits). */
bool vmx_msr_exits(uint32_t msr, bool write);

/* I/O ports the guest may not reach (the I/O bitmaps): one byte at a time,
 * so an access that straddles a registered range reaches the hardware for
 * the ports outside it. */
typedef uint8_t (*io_in_fn)(uint16_t port);
typedef void (*io_out_fn)(uint16_t port, uint8_t value);
bool vmx_io_register(uint16_t first, uint16_t count, io_in_fn in, io_out_fn out);

/* CPUID leaves an owner answers (true: r is the answer). */
typedef bool (*cpuid_hook_fn)(uint32_t leaf, uint32_t sub, struct cpuid_regs *r);
void vmx_cpuid_register(cpuid_hook_fn fn);

/* EPT violations an owner claims (true: handled). */
typedef bool (*ept_violation_fn)(struct vcpu *v, uint64_t gpa, uint64_t qual);
void vmx_ept_violation_register(ept_violation_fn fn);

/* VMCALLs above the core's own functions (hypapps): true if some owner
 * took function fn (it sets the guest's RAX). */
typedef bool (*vmcall_fn)(struct vcpu *v, uint32_t fn);
void vmx_vmcall_register(vmcall_fn fn);

/* RAM an owner has taken from the guest (TrustVisor's PAL pages): true if
 * any byte of [gpa, gpa+len) is withheld. guest_ram_ok() then says no, so
 * no hypercall, INT 15h hook or page walk reads or writes it for the
 * guest. */
typedef bool (*guest_ram_guard_fn)(uint64_t gpa, uint64_t len);
void vmx_guest_ram_guard_register(guest_ram_guard_fn fn);

/* Before the machine resets because of the guest (a triple fault): the
 * owner's last words (hypapps scrub their secrets). */
void vmx_shutdown_register(vcpu_hook_fn fn);

#endif
