/* EPT violations (SDM Vol. 3C, 28.2.3.2): a guest access the EPT does not
 * allow. Owners claim theirs first (the trapped LAPIC page); an access to
 * the hypervisor's own memory is refused with #GP and reported. */
#include "console/console.h"
#include "cpu/idt.h"
#include "trace/trace.h"
#include "vmx/ept.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/hook_list.h"
#include "vmx/refuse.h"
#include "vmx/vmcs.h"

/* Exit qualification bits (SDM Vol. 3C, Table 27-7, "EPT violations"). */
#define EPT_QUAL_WRITE  (1ull << 1)
#define EPT_QUAL_FETCH  (1ull << 2)
#define EPT_QUAL_READABLE   (1ull << 3)     /* the entry allowed reads, ... */
#define EPT_QUAL_WRITABLE   (1ull << 4)
#define EPT_QUAL_EXECUTABLE (1ull << 5)

static struct hook_list hooks;

void vmx_ept_violation_register(ept_violation_fn fn)
{
    hook_add(&hooks, (void *)fn, "EPT violation");
}

void handle_ept_violation(struct vcpu *v)
{
    uint64_t gpa = vmcs_read(GUEST_PHYS_ADDR), qual = vmcs_read(EXIT_QUALIFICATION);
    uint64_t rip = vmcs_read(GUEST_RIP);
    for (unsigned i = 0; i < hooks.n; i++)
        if (((ept_violation_fn)hooks.fn[i])(v, gpa, qual))
            return;     /* e.g. the guest's LAPIC page: stepped (not traced) */
    trace_event(TEV_EPT_VIOLATION, gpa, qual, rip);
    if (ept_in_footprint(gpa)) {
        /* Contained: the guest gets #GP, the hypervisor carries on. */
        guest_inject_exception(VEC_GP, true, 0);
        guest_refused(v, REFUSE_HV_MEMORY, gpa, "%s of hypervisor memory at %#lx; #GP",
                      qual & EPT_QUAL_WRITE ? "write" : qual & EPT_QUAL_FETCH ? "fetch" : "read",
                      gpa);
        return;
    }
    /* Not mapped: nothing is there. Mapped now, the access runs again and
     * the platform answers it as it would without us. */
    if (!(qual & (EPT_QUAL_READABLE | EPT_QUAL_WRITABLE | EPT_QUAL_EXECUTABLE)) &&
        ept_map_on_demand(gpa))
        return;
    printf("guest cpu%u: EPT violation at %#lx (qualification %#lx) outside the "
           "hypervisor's memory\n", v->index, gpa, qual);
    exit_unhandled(v, "unexpected EPT violation");
}
