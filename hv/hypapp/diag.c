/* diag: the hypervisor's own test and benchmark functions (hvabi.h), a
 * hypapp like any other. */
#include <hvabi.h>
#include "console/console.h"
#include "hypapp/hypapp.h"
#include "nmi/nmi.h"

static void diag_quiesce(struct vcpu *v)
{
    char why[80];
    uint32_t others = hypapp_quiesce(v);
    bool ok = quiesce_section_exclusive(v, why, sizeof(why));
    hypapp_endquiesce(v);
    if (!ok)
        printf("diag quiesce from cpu%u: section not exclusive: %s\n", v->index, why);
    v->regs.rax = ok ? HVABI_OK : HVABI_ERR_QUIESCE;
    v->regs.rbx = others;
    v->regs.rcx = (uint32_t)(v->regs.rcx + 1);
}

static void diag_hypercall(struct vcpu *v, uint32_t fn)
{
    switch (fn) {
    case HVABI_VMCALL_DIAG_EXITS:
        v->regs.rbx = v->exits;
        break;
    case HVABI_VMCALL_DIAG_QUIESCE:
        diag_quiesce(v);
        return;
    case HVABI_VMCALL_DIAG_NMI_STATS:
        v->regs.rbx = v->nmi_injected;
        v->regs.rcx = v->nmi_coalesced;
        v->regs.rdx = v->quiesce_answered;
        break;
    default:
        v->regs.rax = HVABI_ERR_UNKNOWN;
        return;
    }
    v->regs.rax = HVABI_OK;
}

void hypapp_diag_register(void)
{
    static const struct hypapp diag = {
        .name = "diag",
        .first = HVABI_VMCALL_DIAG_FIRST, .last = HVABI_VMCALL_DIAG_LAST,
        .hypercall = diag_hypercall,
    };
    hypapp_register(&diag);
}
