/* The raw VMX instructions. Register operands only (see vmcs.h). Each
 * returns 0 on success, 1 for VMfailInvalid, 2 for VMfailValid (then the
 * VM-instruction error field says why). */
#ifndef HV_VMX_VMX_INSN_H
#define HV_VMX_VMX_INSN_H
#include <stdint.h>

#define VMX_FAIL_STATUS(cf, zf) ((cf) ? 1 : (zf) ? 2 : 0)

static inline int vmx_vmread_raw(uint64_t enc, uint64_t *val)
{
    uint8_t cf, zf;
    uint64_t v = 0;
    __asm__ volatile("vmread %[enc], %[val]" : [val] "=r"(v), "=@ccc"(cf), "=@ccz"(zf)
                     : [enc] "r"(enc) : "memory");
    *val = v;
    return VMX_FAIL_STATUS(cf, zf);
}

static inline int vmx_vmwrite_raw(uint64_t enc, uint64_t val)
{
    uint8_t cf, zf;
    __asm__ volatile("vmwrite %[val], %[enc]" : "=@ccc"(cf), "=@ccz"(zf)
                     : [enc] "r"(enc), [val] "r"(val) : "memory");
    return VMX_FAIL_STATUS(cf, zf);
}

static inline int vmx_on(uint64_t phys)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxon %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(phys) : "memory");
    return VMX_FAIL_STATUS(cf, zf);
}

static inline int vmx_vmclear(uint64_t phys)
{
    uint8_t cf, zf;
    __asm__ volatile("vmclear %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(phys) : "memory");
    return VMX_FAIL_STATUS(cf, zf);
}

static inline int vmx_vmptrld(uint64_t phys)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrld %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(phys) : "memory");
    return VMX_FAIL_STATUS(cf, zf);
}

#endif
