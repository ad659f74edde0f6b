/* SHA-1 (FIPS 180-4, 6.1): the micro-TPM's PCR hash, as TrustVisor's uTPM
 * uses (20-byte PCRs). A portable core: plain C, no hypervisor header, the
 * same file in hv.elf and in the host unit test (tests/unit/test_sha1.c,
 * FIPS 180 / NIST CAVP vectors). */
#ifndef TRUSTVISOR_SHA1_H
#define TRUSTVISOR_SHA1_H
#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_SIZE 20

struct sha1_ctx {
    uint32_t h[5];
    uint64_t bytes;             /* message length so far */
    uint8_t block[64];
    unsigned fill;              /* bytes in block */
};

void sha1_init(struct sha1_ctx *c);
void sha1_update(struct sha1_ctx *c, const void *data, size_t len);
void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_DIGEST_SIZE]);
void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_SIZE]);

#endif
