/* The hypapp interface: what an application of the hypervisor (TrustVisor,
 * the built-in diagnostics) may take part in, without the core naming it.
 *
 * A hypapp fills in a struct hypapp (every callback may be NULL) and calls
 * hypapp_register() once, at start-up, before any guest runs (from its own
 * *_register function, which hv_main calls through hypapp_init's caller).
 * The registry itself is the only user of the VMX core's registries
 * (exit_table.h) on behalf of hypapps: one VMCALL hook, one CPUID hook, one
 * EPT-violation hook, one exit intercept, one shutdown hook; it forwards
 * each to the hypapps in registration order.
 *
 * VMCALL numbers (EAX): the core keeps HVABI_VMCALL_CORE_FIRST..LAST
 * (abi/hvabi.h); a hypapp owns a range outside it and outside every other
 * hypapp's (TrustVisor owns 0x1-0xff, its external ABI; diag 0x100-0x10f). */
#ifndef HV_HYPAPP_HYPAPP_H
#define HV_HYPAPP_HYPAPP_H
#include <stdbool.h>
#include <stdint.h>
#include <x86.h>
#include "vmx/vcpu.h"

struct hypapp {
    const char *name;
    uint32_t first, last;       /* the VMCALL EAX range it owns */
    /* On every CPU, before its first guest entry (BSP and APs alike). */
    void (*cpu_init)(struct vcpu *v);
    /* A VMCALL with EAX in [first, last]: sets the guest's RAX (and what
     * else its ABI says); the core moves RIP past the VMCALL afterwards. */
    void (*hypercall)(struct vcpu *v, uint32_t fn);
    /* Every CPUID the guest executes, *r holding the CPU's answer: true
     * if it answered this leaf (*r is then the guest's result). */
    bool (*cpuid)(uint32_t leaf, uint32_t sub, struct cpuid_regs *r);
    /* An EPT violation (SDM Vol. 3C, 28.3.3.2) before the core looks at
     * it: true if the hypapp dealt with it (the guest resumes). */
    bool (*ept_violation)(struct vcpu *v, uint64_t gpa, uint64_t qual);
    /* The VM exits it asks for, by basic exit reason (bit n: reason n,
     * SDM Vol. 3C, Appendix C): exit() sees them before the core's
     * handler; true if it handled the exit. Only exits the core's controls
     * already cause can be asked for. */
    uint64_t exits;
    bool (*exit)(struct vcpu *v, uint32_t basic);
    /* Guest RAM the hypapp has taken from the guest: true if any byte of
     * [gpa, gpa+len) is withheld (no hypercall or page walk of the core
     * reads or writes it for the guest then). */
    bool (*ram_withheld)(uint64_t gpa, uint64_t len);
    /* The guest is going away (the machine resets): last words, scrub. */
    void (*shutdown)(struct vcpu *v);
};

/* Refuses (with a message) a range that is empty, touches the core's or
 * overlaps another hypapp's, or a full registry. */
bool hypapp_register(const struct hypapp *app);
/* Once, after the VMX core, before any CPU's VMX set-up: hooks the
 * registry into the core and registers the built-in hypapps. */
void hypapp_init(void);
/* On each CPU before its first guest entry: every hypapp's cpu_init. */
void hypapp_cpu_init(struct vcpu *v);

/* Quiesce for hypapps (hv/nmi/nmi.h): stops every other CPU; between the
 * two calls this CPU is the only one running, in the hypervisor, and may
 * change what every CPU's guest sees (EPT). Returns how many CPUs stopped.
 * Only from a hypapp callback that runs in an exit handler. */
uint32_t hypapp_quiesce(struct vcpu *v);
void hypapp_endquiesce(struct vcpu *v);

/* The built-in diagnostics hypapp (diag.c). */
void hypapp_diag_register(void);

#endif
