/* Exits whose handling is one line, each with its reason. */
#include "vmx/exit.h"
#include "vmx/handlers.h"

void handle_invd(struct vcpu *v)
{
    /* INVD exits unconditionally (SDM Vol. 3C, 25.1.2). Dropping dirty
     * lines would lose the hypervisor's data too: write them back. */
    __asm__ volatile("wbinvd" ::: "memory");
    guest_advance_rip();
}

void handle_nothing(struct vcpu *v)
{
    /* The preemption timer (SDM Vol. 3C, 25.5.1): counted; the drain at
     * the end of the exit is its purpose. */
}

void handle_triple_fault(struct vcpu *v)
{
    exit_unhandled(v, "guest triple fault");
}

void handle_ept_misconfig(struct vcpu *v)
{
    exit_unhandled(v, "EPT misconfiguration (hypervisor bug)");
}
