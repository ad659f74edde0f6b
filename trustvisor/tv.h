/* TrustVisor's insides, shared by its files (not for other layers). */
#ifndef TRUSTVISOR_TV_H
#define TRUSTVISOR_TV_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <bearssl_ec.h>
#include "trustvisor/utpm_core.h"
#include "vmx/vcpu.h"

/* An argument register as the caller meant it: all 64 bits from 64-bit
 * code, the low 32 from 16/32-bit code (compatibility mode leaves the
 * upper halves undefined, SDM Vol. 1, 3.4.1.1). */
uint64_t tv_arg(uint64_t reg);
/* Copies to/from the calling guest's linear addresses through its paging,
 * page by page, only into guest RAM it still owns (never PAL pages). */
bool tv_copy_from_guest(void *dst, uint64_t gva, size_t len);
bool tv_copy_to_guest(uint64_t gva, const void *src, size_t len);
/* The same for a hypercall's pointers, as its caller sees them: the
 * guest's memory, or when a PAL runs on this CPU the PAL's own pages
 * (writes only into DATA, PARAM and STACK), nothing else. */
bool tv_read(struct vcpu *v, void *dst, uint64_t gva, size_t len);
bool tv_write(struct vcpu *v, uint64_t gva, const void *src, size_t len);
bool tv_writable(struct vcpu *v, uint64_t gva, size_t len);

/* pal.c: registration and isolation */
uint32_t tv_pal_register(struct vcpu *v, uint64_t sections, uint64_t params, uint64_t entry);
uint32_t tv_pal_unregister(struct vcpu *v, uint64_t entry);
bool tv_pal_ept_violation(struct vcpu *v, uint64_t gpa, uint64_t qual);
bool tv_pal_withheld(uint64_t gpa, uint64_t len);
void tv_pal_shutdown(struct vcpu *v);
/* share.c: SHARE */
uint32_t tv_pal_share(struct vcpu *v, uint64_t entry, uint64_t addrs, uint64_t lens,
                      uint64_t count);

/* utpm.c: the micro-TPM: whose it is, its lock, PCRs, GENRAND */
void tv_utpm_lock(void);
void tv_utpm_unlock(void);
/* The PCRs of the caller's micro-TPM: the PAL's own if one runs on this
 * CPU, else the guest's. */
uint8_t (*tv_utpm_pcrs(struct vcpu *v))[TV_PCR_SIZE];
void tv_utpm_trace(struct vcpu *v, unsigned op, uint32_t rc);
uint32_t tv_utpm_pcrread(struct vcpu *v, uint64_t index, uint64_t out);
uint32_t tv_utpm_pcrext(struct vcpu *v, uint64_t index, uint64_t meas);
uint32_t tv_utpm_genrand(struct vcpu *v, uint64_t out, uint64_t len_ptr);
/* seal.c: SEAL, UNSEAL; quote.c: QUOTE, ID_GETPUB */
uint32_t tv_utpm_seal(struct vcpu *v, uint64_t in, uint64_t mask, uint64_t out);
uint32_t tv_utpm_unseal(struct vcpu *v, uint64_t in, uint64_t out);
uint32_t tv_utpm_quote(struct vcpu *v, uint64_t mask, uint64_t sig, uint64_t nonce,
                       uint64_t info);
uint32_t tv_utpm_id_getpub(struct vcpu *v, uint64_t out, uint64_t len_ptr);

/* crypto.c (with the micro-TPM's lock held): len bytes from the DRBG
 * given fresh CPU entropy (TV_ERR_INSUFFICIENT_ENTROPY without it); this
 * boot's keys, made at the first call. */
uint32_t tv_random(void *out, size_t len);
uint32_t tv_keys(const uint8_t **seal, const br_ec_private_key **sk,
                 const br_ec_public_key **pk);

#endif
