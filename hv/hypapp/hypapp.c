/* The hypapp registry: the one user of the VMX core's registries on behalf
 * of every hypapp (hypapp.h). */
#include <hvabi.h>
#include "console/console.h"
#include "hypapp/hypapp.h"
#include "nmi/nmi.h"
#include "vmx/ept.h"
#include "vmx/exit_table.h"

#define MAX_HYPAPPS 8

static const struct hypapp *apps[MAX_HYPAPPS];
static unsigned napps;

static bool overlaps(uint32_t a0, uint32_t a1, uint32_t b0, uint32_t b1)
{
    return a0 <= b1 && b0 <= a1;
}

bool hypapp_register(const struct hypapp *app)
{
    if (app->first > app->last ||
        overlaps(app->first, app->last, HVABI_VMCALL_CORE_FIRST, HVABI_VMCALL_CORE_LAST)) {
        printf("hypapp %s: range %#x-%#x is invalid or touches the core's (%#x-%#x); refused\n",
               app->name, app->first, app->last, HVABI_VMCALL_CORE_FIRST,
               HVABI_VMCALL_CORE_LAST);
        return false;
    }
    for (unsigned i = 0; i < napps; i++)
        if (overlaps(app->first, app->last, apps[i]->first, apps[i]->last)) {
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

/* ---- forwarding from the core's registries --------------------------- */
static bool on_vmcall(struct vcpu *v, uint32_t fn)
{
    for (unsigned i = 0; i < napps; i++)
        if (fn >= apps[i]->first && fn <= apps[i]->last && apps[i]->hypercall) {
            apps[i]->hypercall(v, fn);
            return true;
        }
    return false;
}

static bool on_cpuid(uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
    for (unsigned i = 0; i < napps; i++)
        if (apps[i]->cpuid && apps[i]->cpuid(leaf, sub, r))
            return true;
    return false;
}

static bool on_ept_violation(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
    for (unsigned i = 0; i < napps; i++)
        if (apps[i]->ept_violation && apps[i]->ept_violation(v, gpa, qual))
            return true;
    return false;
}

static bool on_exit(struct vcpu *v, uint32_t basic)
{
    if (basic >= 64)
        return false;
    for (unsigned i = 0; i < napps; i++)
        if ((apps[i]->exits & (1ull << basic)) && apps[i]->exit && apps[i]->exit(v, basic))
            return true;
    return false;
}

static bool on_ram_withheld(uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < napps; i++)
        if (apps[i]->ram_withheld && apps[i]->ram_withheld(gpa, len))
            return true;
    return false;
}

static void on_shutdown(struct vcpu *v)
{
    for (unsigned i = 0; i < napps; i++)
        if (apps[i]->shutdown)
            apps[i]->shutdown(v);
}

void hypapp_cpu_init(struct vcpu *v)
{
    for (unsigned i = 0; i < napps; i++)
        if (apps[i]->cpu_init)
            apps[i]->cpu_init(v);
}

/* The EPT lock first, then the quiesce, always in that order: a CPU the
 * quiesce stops cannot be holding the lock the quiescer's EPT edits need
 * (ept.c, map_lock). */
uint32_t hypapp_quiesce(struct vcpu *v)
{
    ept_hold();
    return quiesce(v);
}

void hypapp_endquiesce(struct vcpu *v)
{
    endquiesce(v);
    ept_unhold();
}

void hypapp_init(void)
{
    vmx_vmcall_register(on_vmcall);
    vmx_cpuid_register(on_cpuid);
    vmx_ept_violation_register(on_ept_violation);
    vmx_exit_intercept_register(on_exit);
    vmx_guest_ram_guard_register(on_ram_withheld);
    vmx_shutdown_register(on_shutdown);
    hypapp_diag_register();
}
