/* Entry failures explained: the VM-instruction error as text, the exit
 * reason and qualification, and every field of the table by name. */
#include "console/console.h"
#include <percpu.h>
#include "trace/trace.h"
#include "cpu/exception.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"
#include "vmx/vmx_insn.h"

void vmcs_dump_all(void)
{
    static const char *const groups[] = { "CTRL", "RO", "GUEST", "HOST" };
    for (unsigned g = 0; g < 4; g++) {
        printf("  -- %s fields --\n", groups[g]);
        for (unsigned i = 0; i < vmcs_field_count; i++) {
            const struct vmcs_field_info *f = &vmcs_field_table[i];
            if (f->group[0] != groups[g][0] || f->group[1] != groups[g][1])
                continue;
            uint64_t v;
            if (vmx_vmread_raw(f->encoding, &v))
                printf("  %-24s (unreadable)\n", f->name);
            else
                printf("  %-24s %#lx\n", f->name, v);
        }
    }
}

void vmx_entry_failed(int invalid)
{
    struct percpu *p = this_cpu();
    int status = invalid ? 1 : 2;
    uint64_t err = 0;
    if (!invalid)
        vmx_vmread_raw(VMCS_VM_INSN_ERROR, &err);
    trace_event(TEV_VMENTRY_FAIL, err, 0, 0);
    printf("FATAL cpu%u: VM entry failed: %s (VM-instruction error %lu)\n",
           p->index, vmx_error_text(status), err);
    if (!invalid)
        vmcs_dump_all();
    cpu_park();
}

/* An exit with bit 31 of the reason set: the entry itself failed after the
 * checks on controls and host state (guest state, MSR loading, #MC). */
void vmx_entry_failure_exit(uint32_t reason, uint64_t qual)
{
    struct percpu *p = this_cpu();
    const char *name = catalog_exit_name(reason & 0xffff);
    trace_event(TEV_VMENTRY_FAIL, 0, reason & 0xffff, qual);
    printf("FATAL cpu%u: VM entry failed: exit reason %u (%s), qualification %#lx\n",
           p->index, reason & 0xffff, name ? name : "?", qual);
    vmcs_dump_all();
    cpu_park();
}
