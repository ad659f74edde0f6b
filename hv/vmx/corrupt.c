/* vmx_corrupt=FIELD: deliberately breaks one VMCS field before VMLAUNCH so
 * tests can prove the entry-failure report names the field and the error.
 * GUEST_RFLAGS gets 0 (its bit 1 must be 1: invalid guest state); any other
 * field gets all ones of its width. */
#include <string.h>
#include "config/config.h"
#include "console/console.h"
#include "vmx/guest_start.h"
#include "vmx/vmcs.h"

void vmx_apply_corruption(void)
{
    if (!hv_config.vmx_corrupt[0])
        return;
    for (unsigned i = 0; i < vmcs_field_count; i++) {
        const struct vmcs_field_info *f = &vmcs_field_table[i];
        if (strcmp(f->name, hv_config.vmx_corrupt))
            continue;
        uint64_t max = f->width == W16 ? 0xffff : f->width == W32 ? 0xffffffff : ~0ull;
        uint64_t bad = f->encoding == VMCS_GUEST_RFLAGS ? 0 : max;
        printf("vmx: corrupting %s = %#lx on purpose (vmx_corrupt=)\n", f->name, bad);
        vmcs_write_checked(f->encoding, f->name, bad, max);
        return;
    }
    printf("vmx: vmx_corrupt=%s names no VMCS field; nothing corrupted\n", hv_config.vmx_corrupt);
}
