#include "console/console.h"
#include <hvabi.h>
#include "hypapp/hypapp.h"
#include "vmx/exit_table.h"
#include "nmi/nmi.h"

#define MAX_HYPAPPS 8

static const struct hypapp *apps[MAX_HYPAPPS];
static unsigned napps;

bool hypapp_register(const struct hypapp *app)
{
    if (app->first > app->last || app->first <= HYPAPP_CORE_LAST) {
        printf("hypapp %s: range %#x-%#x is invalid or inside the core's; refused\n",
               app->name, app->first, app->last);
        return false;
    }
    for (unsigned i = 0; i < napps; i++)
        if (app->first <= apps[i]->last && apps[i]->first <= app->last) {
            printf("hypapp %s: range %#x-%#x overlaps %s; refused\n", app->name,
                   app->first, app->last, apps[i]->name);
            return false;
        }
    if (napps == MAX_HYPAPPS) {
        printf("hypapp %s: no room (%d hypapps at most); refused\n", app->name, MAX_HYPAPPS);
        return false;
    }
    apps[napps++] = app;
    printf("hypapp %s: VMCALL functions %#x-%#x\n", app->name, app->first, app->last);
    return true;
}

/* The VMX core hands us the VMCALLs it does not own itself. */
static bool hypapp_vmcall(struct vcpu *v, uint32_t fn)
{
    for (unsigned i = 0; i < napps; i++)
        if (fn >= apps[i]->first && fn <= apps[i]->last) {
            apps[i]->vmcall(v, fn);
            return true;
        }
    return false;
}

void hypapp_init(void)
{
    vmx_vmcall_register(hypapp_vmcall);
    hypapp_diag_register();
}

/* diag: the hypervisor's own test and benchmark functions (hvabi.h). */
static void diag_quiesce(struct vcpu *v)
{
    char why[80];
    uint32_t others = quiesce(v);
    bool ok = quiesce_section_exclusive(v, why, sizeof(why));
    endquiesce(v);
    if (!ok)
        printf("diag quiesce from cpu%u: section not exclusive: %s\n", v->index, why);
    v->regs.rax = ok ? HVABI_OK : HVABI_ERR_QUIESCE;
    v->regs.rbx = others;
    v->regs.rcx = (uint32_t)(v->regs.rcx + 1);
}

static void diag_vmcall(struct vcpu *v, uint32_t fn)
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
    static const struct hypapp diag = { "diag", 0x100, 0x10f, diag_vmcall };
    hypapp_register(&diag);
}
