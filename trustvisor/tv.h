/* TrustVisor's insides, shared by its files (not for other layers). */
#ifndef TRUSTVISOR_TV_H
#define TRUSTVISOR_TV_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vmx/vcpu.h"

/* An argument register as the caller meant it: all 64 bits from 64-bit
 * code, the low 32 from 16/32-bit code (compatibility mode leaves the
 * upper halves undefined, SDM Vol. 1, 3.4.1.1). */
uint64_t tv_arg(uint64_t reg);
/* Copies to/from the calling guest's linear addresses through its paging,
 * page by page, only into guest RAM it still owns (never PAL pages). */
bool tv_copy_from_guest(void *dst, uint64_t gva, size_t len);
bool tv_copy_to_guest(uint64_t gva, const void *src, size_t len);

/* pal.c: registration and isolation */
uint32_t tv_pal_register(struct vcpu *v, uint64_t sections, uint64_t params, uint64_t entry);
uint32_t tv_pal_unregister(struct vcpu *v, uint64_t entry);
bool tv_pal_ept_violation(struct vcpu *v, uint64_t gpa, uint64_t qual);
bool tv_pal_withheld(uint64_t gpa, uint64_t len);
void tv_pal_shutdown(struct vcpu *v);

/* utpm.c: the micro-TPM */
uint32_t tv_utpm_pcrread(struct vcpu *v, uint64_t index, uint64_t out);
uint32_t tv_utpm_pcrext(struct vcpu *v, uint64_t index, uint64_t meas);
uint32_t tv_utpm_genrand(struct vcpu *v, uint64_t out, uint64_t len_ptr);

#endif
