/* What every exit handler needs: moving the guest on, injecting its
 * events, checking its addresses, and the report of what cannot go on. */
#ifndef HV_VMX_EXIT_H
#define HV_VMX_EXIT_H
#include <stdint.h>
#include <stdbool.h>
#include "vmx/vcpu.h"

/* The exiting instruction completed (guest_state.c). */
void guest_advance_rip(void);
/* An instruction of len bytes the hypervisor completed for the guest
 * without an instruction-length field (an emulated access). */
void guest_advance_rip_by(uint64_t len);
/* The guest's general register n in encoding order (0 rax .. 4 rsp ..
 * 15 r15), read and written. */
uint64_t guest_gpr(struct vcpu *v, unsigned n);
void guest_set_gpr(struct vcpu *v, unsigned n, uint64_t value);
/* A hardware exception for the guest at the next entry. */
void guest_inject_exception(uint8_t vector, bool has_error, uint32_t error);
/* Is [gpa, gpa+len) ordinary guest RAM (not the hypervisor's, not MMIO)? */
bool guest_ram_ok(uint64_t gpa, uint64_t len);
/* Reports the exit and the guest's state, then parks this CPU. */
void exit_unhandled(struct vcpu *v, const char *why) __attribute__((noreturn));

/* vectoring.c: an exit during event delivery. begin: the IDT-vectoring
 * information if valid, else 0 (at the start of the exit). end: after the
 * exit's handler, before NMI injection: delivers the event again if the
 * handler left the guest where it was and injected nothing; reports it. */
uint32_t vectoring_exit_begin(void);
void vectoring_exit_end(struct vcpu *v, uint32_t basic, uint32_t vect, uint64_t rip_before);
void vmx_entry_failure_exit(uint32_t reason, uint64_t qual) __attribute__((noreturn));
/* exit_summary.c: after an exit was counted, the EXIT_COUNTS summary of
 * this CPU if its interval has passed. */
void vmx_exit_summary(struct vcpu *v);

#endif
