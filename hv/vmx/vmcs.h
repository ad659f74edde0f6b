/* Typed VMCS access generated from vmcs_fields.def.
 *
 *   uint32_t ctl = vmcs_read(PROC_CONTROLS);
 *   vmcs_write(GUEST_RIP, 0x7c00);
 *
 * The C type of every access comes from the field's width in the table, and
 * the instructions only ever use 64-bit registers, never a memory operand:
 * a 32-bit field read can't store 64 bits over its neighbour (seed 001). A
 * write whose value does not fit the field's width is reported, not
 * silently truncated. Failures (VMfailInvalid/VMfailValid) are reported with
 * the field's name and the VM-instruction error text, never ignored. */
#ifndef HV_VMX_VMCS_H
#define HV_VMX_VMCS_H
#include <stdint.h>
#include <stdbool.h>

enum vmcs_width { W16 = 0, W64 = 1, W32 = 2, WNAT = 3 };   /* = bits 14:13 */

typedef uint16_t vmcs_type_W16;
typedef uint32_t vmcs_type_W32;
typedef uint64_t vmcs_type_W64;
typedef uint64_t vmcs_type_WNAT;

enum vmcs_field {
#define VMCS_FIELD(name, enc, w, group) VMCS_##name = (enc),
#include "vmx/vmcs_fields.def"
#undef VMCS_FIELD
};

#define VMCS_FIELD(name, enc, w, group) typedef vmcs_type_##w vmcs_type_##name;
#include "vmx/vmcs_fields.def"
#undef VMCS_FIELD

/* The width an encoding itself declares (SDM: bits 14:13). */
static inline enum vmcs_width vmcs_encoding_width(uint32_t enc)
{
    return (enum vmcs_width)((enc >> 13) & 3);
}

struct vmcs_field_info {
    uint32_t encoding;
    enum vmcs_width width;
    const char *name;
    const char *group;
};
extern const struct vmcs_field_info vmcs_field_table[];
extern const unsigned vmcs_field_count;
const char *vmcs_field_name(uint32_t enc);

/* Checked primitives (vmcs.c in the hypervisor; a mock in host tests). */
uint64_t vmcs_read_checked(uint32_t enc, const char *name);
bool vmcs_write_checked(uint32_t enc, const char *name, uint64_t value, uint64_t max);

#define vmcs_field_max(name) ((uint64_t)(vmcs_type_##name)~0ull)
#define vmcs_read(name) ((vmcs_type_##name)vmcs_read_checked(VMCS_##name, #name))
#define vmcs_write(name, v) \
    vmcs_write_checked(VMCS_##name, #name, (uint64_t)(v), vmcs_field_max(name))

#endif
