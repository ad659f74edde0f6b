/* An exit that cut an event's delivery through the guest's IDT short
 * (IDT-vectoring information valid): without redelivery that event, an
 * interrupt or a guest NMI, would be lost.
 *
 * Here such exits can only come from the guest's own structures: an IDT,
 * GDT or stack in the trapped LAPIC page (EPT violation) or in hypervisor
 * memory (refused with #GP), or an exception the exception bitmap catches
 * during a LAPIC step. So each one is also reported (console, first few
 * per CPU, and the EVENT_CUT trace event), never silent. The event is
 * delivered again at the next entry when the exit handler left the guest
 * where it was and injected nothing itself; for a #GP the hypervisor
 * injects instead, the cut event is reported as lost. */
#include "console/console.h"
#include <percpu.h>
#include "trace/trace.h"
#include "vmx/exit.h"
#include "vmx/intr_info.h"
#include "vmx/vmcs.h"

#define REPORT_LIMIT    8

static void describe(struct vcpu *v, uint32_t basic, uint32_t vect, bool redelivered)
{
    static const char *const type_name[8] = {
        "external interrupt", "?", "NMI", "hardware exception", "software interrupt",
        "privileged software exception", "software exception", "other event" };
    if (v->events_cut++ >= REPORT_LIMIT)
        return;
    const char *exit = catalog_exit_name(basic);
    printf("guest cpu%u: exit %s cut the delivery of %s vector %u short (guest rip %#lx): "
           "%s\n", v->index, exit ? exit : "?", type_name[(vect >> 8) & 7], vect & 0xff,
           vmcs_read(GUEST_RIP), redelivered ? "delivered again" : "LOST (the exit injects "
           "its own event)");
}

uint32_t vectoring_exit_begin(void)
{
    uint32_t vect = vmcs_read(IDT_VECTORING_INFO);
    return (vect & INTR_INFO_VALID) ? vect : 0;
}

void vectoring_exit_end(struct vcpu *v, uint32_t basic, uint32_t vect, uint64_t rip_before)
{
    if (!vect)
        return;
    bool free = !(vmcs_read(ENTRY_INTR_INFO) & INTR_INFO_VALID) &&
                vmcs_read(GUEST_RIP) == rip_before;
    if (free) {
        /* Bit 12 is undefined in IDT-vectoring information and must be 0 in
         * the entry field (SDM Vol. 3C, 24.8.3, 27.2.4). */
        vmcs_write(ENTRY_INTR_INFO, vect & ~INTR_INFO_NMI_UNBLOCKED);
        if (vect & INTR_INFO_ERR_VALID)
            vmcs_write(ENTRY_EXC_ERROR, vmcs_read(IDT_VECTORING_ERROR));
        if (INTR_TYPE_IS_SOFTWARE(INTR_INFO_TYPE(vect)))   /* their length, 26.6.1.1 */
            vmcs_write(ENTRY_INSN_LEN, vmcs_read(EXIT_INSN_LEN));
    }
    trace_event(TEV_EVENT_CUT, basic, vect, rip_before, free);
    describe(v, basic, vect, free);
}
