/* NMI virtualisation and quiesce: the protocol checked by nmi_model.pml
 * (see MODEL.md for which line of the model is which line here).
 *
 * Every physical NMI a CPU takes, through an NMI VM exit or through the IDT
 * in root mode, goes to nmi_arrived(): it is either this CPU's answer to a
 * quiesce request or an NMI for the guest. Guest NMIs are never written
 * straight into the VM-entry field: they are counted as pending (at most
 * one, as on hardware) and injected by nmi_before_entry() when the guest
 * can take one, else NMI-window exiting asks for the moment it can. */
#ifndef HV_NMI_NMI_H
#define HV_NMI_NMI_H
#include <stdbool.h>
#include <stdint.h>
#include "vmx/vcpu.h"

struct regs;

enum nmi_path { NMI_VIA_EXIT, NMI_VIA_IDT };

/* Installs the root-mode NMI hook; once, before the first guest starts. */
void nmi_init(void);
/* The classifier (model: on_nmi). Runs with NMIs blocked. */
void nmi_arrived(struct vcpu *v, enum nmi_path path);
/* Exit reason 0 with an NMI, and exit reason 8 (NMI window). */
void nmi_exit(struct vcpu *v);
void nmi_window_exit(struct vcpu *v);
/* First thing after every exit / last thing before every entry. */
void nmi_after_exit(struct vcpu *v);
void nmi_before_entry(struct vcpu *v);      /* before the controls are composed */
void nmi_commit_entry(struct vcpu *v);      /* after: the VMCS is final */
/* An IRET to ourselves: ends the NMI blocking an NMI exit leaves in root,
 * for paths that wait for other CPUs afterwards. */
void nmi_unblock(void);
/* The root-mode NMI hook nmi_init installs (for hooks that wrap it). */
bool nmi_from_idt(struct regs *r);
/* The NMI_STORM host command (storm.c); nmi_init registers it. */
void nmi_storm_init(void);
/* The guest's pending NMI is dropped (INIT, a fresh AP start). */
void nmi_reset(struct vcpu *v);

/* Quiesce: stop every other CPU (those running a guest and those idling in
 * the hypervisor), run, release. Called from exit handlers. Never returns
 * without every other CPU stopped; a CPU that does not answer within
 * quiesce_report_ms (command line, default 2000) is named in a report
 * (state, its trace flushed), and the wait goes on. Returns the number of
 * other CPUs stopped. */
uint32_t quiesce(struct vcpu *v);
void endquiesce(struct vcpu *v);
/* True while a quiesce is asking this CPU to stop: then it stops here until
 * endquiesce (model: the quiesce branch of on_nmi). */
bool quiesce_answer(struct vcpu *v);
/* The debugger's stop (hv/gdbstub/ registers it): called first for every
 * NMI taken through an exit, and from every wait of the quiesce protocol,
 * so a CPU asked to stop parks wherever it spins (a stop and a quiesce
 * never wait for each other: MODEL.md, "debugger stop"). nmi: called for
 * an NMI; the hook returns true when that NMI was the debugger's (then it
 * is not the guest's; a quiesce request is still answered). */
typedef bool (*nmi_stop_hook_fn)(struct vcpu *v, bool nmi);
void nmi_set_stop_hook(nmi_stop_hook_fn fn);
/* A CPU released by the debugger that acknowledged a quiesce while
 * stopped waits here for that quiesce's resume signal. */
void quiesce_settle_owed(struct vcpu *v);
/* Is a quiesce asked for right now? (the debugger's NMI classification) */
bool quiesce_requested(void);
/* For the spins of the protocol: the stop hook, if a stop is asked. */
void nmi_stop_poll(struct vcpu *v);
/* Inside a section: is it exclusive? (for the diag hypapp's check) */
bool quiesce_section_exclusive(struct vcpu *v, char *why, unsigned len);

#endif
