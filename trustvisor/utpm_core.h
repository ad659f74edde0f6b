/* The micro-TPM's operations on plain buffers: PCR extend, the PCR
 * composite, seal blobs and quotes (formats: trustvisor/README.md). A
 * portable core: BearSSL and abi/tvabi.h only, no hypervisor header, so the
 * same file runs in hv.elf (utpm.c, seal.c feed it guest buffers and the
 * per-boot keys of crypto.c) and in the host unit test
 * (tests/unit/test_crypto.c). */
#ifndef TRUSTVISOR_UTPM_CORE_H
#define TRUSTVISOR_UTPM_CORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tvabi.h>
#include <bearssl_ec.h>

typedef uint8_t utpm_pcrs[TV_PCR_NUM][TV_PCR_SIZE];

/* TPM 1.2's extend: pcr = SHA1(pcr || m). */
void utpm_extend(uint8_t pcr[TV_PCR_SIZE], const uint8_t m[TV_PCR_SIZE]);
/* The digest a blob is bound to: SHA-256(u32le mask || the selected PCRs
 * in ascending order). mask must be < 1 << TV_PCR_NUM. */
void utpm_composite(const utpm_pcrs pcr, uint32_t mask, uint8_t out[32]);

/* Writes the blob of in[0..len) (TV_SEAL_OVERHEAD + len bytes) bound to
 * the current values of the PCRs in mask, under key with nonce (12 bytes,
 * never twice under one key). */
size_t utpm_seal(const uint8_t key[32], const uint8_t nonce[12], const utpm_pcrs pcr,
                 uint32_t mask, const uint8_t *in, size_t len, uint8_t *blob);
/* Opens a blob into out (blen - TV_SEAL_OVERHEAD bytes; the blob buffer
 * is used as scratch). TV_OK, TV_ERR_SEAL_AUTH (not this key's, altered,
 * cut) or TV_ERR_SEAL_PCR (authentic, but the bound PCRs differ now);
 * nothing is written to out unless TV_OK. */
uint32_t utpm_unseal(const uint8_t key[32], const utpm_pcrs pcr, uint8_t *blob, size_t blen,
                     uint8_t *out, size_t *outlen);

/* The quote info over the PCRs in mask and a 20-byte nonce (28 + 20 per
 * PCR bytes), and its ECDSA P-256 / SHA-256 signature (r || s, 64 bytes;
 * RFC 6979 deterministic). utpm_sign is false if BearSSL refuses the key. */
size_t utpm_quote_info(const utpm_pcrs pcr, uint32_t mask, const uint8_t nonce[20],
                       uint8_t *out);
bool utpm_sign(const br_ec_private_key *sk, const void *msg, size_t len,
               uint8_t sig[TV_QUOTE_SIG_SIZE]);
bool utpm_verify(const br_ec_public_key *pk, const void *msg, size_t len,
                 const uint8_t sig[TV_QUOTE_SIG_SIZE]);

/* Known-answer tests of the BearSSL primitives the micro-TPM uses
 * (crypto_vectors.c; the vectors' sources are named there): report gets
 * each vector's name, verdict and computed output. Returns the failures. */
typedef void utpm_report_fn(void *arg, const char *name, bool ok, const uint8_t *got,
                            size_t len);
int utpm_crypto_selftest(utpm_report_fn *report, void *arg);

#endif
