/* Exit reason 0: an NMI (with NMI exiting on, SDM Vol. 3C, 25.2) or an
 * exception the exception bitmap asked for (SDM Vol. 3C, 25.2), dispatched
 * by vector to the owner that registered it. */
#include "console/console.h"
#include "vmx/exit.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/intr_info.h"
#include "vmx/vmcs.h"

static exit_handler_fn by_vector[32];

bool vmx_exception_register(uint8_t vector, exit_handler_fn fn)
{
    if (vector >= 32 || by_vector[vector]) {
        printf("vmx: exception vector %u: handler refused (out of range or taken)\n", vector);
        return false;
    }
    by_vector[vector] = fn;
    return true;
}

void handle_exception_exit(struct vcpu *v)
{
    uint32_t info = vmcs_read(EXIT_INTR_INFO);
    uint8_t vector = INTR_INFO_VECTOR(info);
    if (vector < 32 && by_vector[vector])
        by_vector[vector](v);
    else
        exit_unhandled(v, "guest exception with no handler");
}
