#include <console.h>
#include <hvabi.h>
#include "vmx/hypapp.h"

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

const struct hypapp *hypapp_for(uint32_t fn)
{
    for (unsigned i = 0; i < napps; i++)
        if (fn >= apps[i]->first && fn <= apps[i]->last)
            return apps[i];
    return NULL;
}

/* diag: 0x100 = this vCPU's VM exit count so far in RBX. */
static void diag_vmcall(struct vcpu *v, uint32_t fn)
{
    if (fn == 0x100) {
        v->regs.rbx = v->exits;
        v->regs.rax = HVABI_OK;
        return;
    }
    v->regs.rax = HVABI_ERR_UNKNOWN;
}

void hypapp_diag_register(void)
{
    static const struct hypapp diag = { "diag", 0x100, 0x10f, diag_vmcall };
    hypapp_register(&diag);
}
