#include "console/console.h"
#include "trace/trace.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_insn.h"

const struct vmcs_field_info vmcs_field_table[] = {
#define VMCS_FIELD(name, enc, w, group) { (enc), w, #name, #group },
#include "vmx/vmcs_fields.def"
#undef VMCS_FIELD
};
const unsigned vmcs_field_count = sizeof(vmcs_field_table) / sizeof(vmcs_field_table[0]);

const char *vmcs_field_name(uint32_t enc)
{
    for (unsigned i = 0; i < vmcs_field_count; i++)
        if (vmcs_field_table[i].encoding == enc)
            return vmcs_field_table[i].name;
    return "?";
}

/* Why a VMX instruction failed, as text. */
const char *vmx_error_text(int status)
{
    if (status == 1)
        return "VMfailInvalid (no current VMCS)";
    uint64_t err = 0;
    if (vmx_vmread_raw(VMCS_VM_INSN_ERROR, &err))
        return "VMfailValid (error field unreadable)";
    const char *t = catalog_vmerr_name(err);
    return t ? t : "VMfailValid (unknown error number)";
}

uint64_t vmcs_read_checked(uint32_t enc, const char *name)
{
    uint64_t v;
    int st = vmx_vmread_raw(enc, &v);
    if (st) {
        printf("vmx: VMREAD %s (%#x) failed: %s\n", name, enc, vmx_error_text(st));
        return 0;
    }
    return v;
}

bool vmcs_write_checked(uint32_t enc, const char *name, uint64_t value, uint64_t max)
{
    if (value > max) {
        printf("vmx: VMWRITE %s (%#x): value %#lx does not fit the field's width; "
               "not written\n", name, enc, value);
        return false;
    }
    int st = vmx_vmwrite_raw(enc, value);
    if (st) {
        printf("vmx: VMWRITE %s (%#x) = %#lx failed: %s\n", name, enc, value,
               vmx_error_text(st));
        return false;
    }
    return true;
}
