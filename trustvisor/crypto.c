/* The micro-TPM's randomness and keys, for this boot only (there is no
 * TPM here to seal them to; trustvisor/README.md):
 * - entropy from the CPU: RDRAND (CPUID.1:ECX[30]) or RDSEED
 *   (CPUID.(7,0):EBX[18]), each retried a few times when it reports "no
 *   value now" with CF = 0 (SDM Vol. 1, 7.3.17.1);
 * - an HMAC-DRBG (SHA-256, BearSSL's; NIST SP 800-90A) seeded with 48
 *   bytes of it at the first use and given 32 fresh bytes before every
 *   output, so GENRAND never answers from the DRBG alone;
 * - at the first SEAL, UNSEAL, QUOTE or ID_GETPUB: the seal key (32 bytes,
 *   ChaCha20-Poly1305) and the quote key pair (ECDSA P-256), both from the
 *   DRBG.
 * Everything here runs with the micro-TPM's lock held (utpm.c). */
#include <string.h>
#include <x86.h>
#include <bearssl_ec.h>
#include <bearssl_rand.h>
#include "trustvisor/tv.h"

static bool cpu_random(uint64_t *out)
{
    static int have = -1;       /* 0 none, 1 rdrand, 2 rdseed */
    if (have < 0)
        have = (cpuid(1, 0).ecx & (1u << 30)) ? 1 : (cpuid(7, 0).ebx & (1u << 18)) ? 2 : 0;
    for (int tries = 0; have && tries < 10; tries++) {
        uint8_t ok;
        if (have == 1)
            __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok) :: "cc");
        else
            __asm__ volatile("rdseed %0; setc %1" : "=r"(*out), "=qm"(ok) :: "cc");
        if (ok)
            return true;
    }
    return false;
}

static bool entropy(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r;
        if (!cpu_random(&r))
            return false;
        memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
    }
    return true;
}

static br_hmac_drbg_context drbg;
static bool seeded;

uint32_t tv_random(void *out, size_t len)
{
    uint8_t fresh[48];
    if (!entropy(fresh, seeded ? 32 : sizeof(fresh)))
        return TV_ERR_INSUFFICIENT_ENTROPY;
    if (!seeded)
        br_hmac_drbg_init(&drbg, &br_sha256_vtable, fresh, sizeof(fresh));
    else
        br_hmac_drbg_update(&drbg, fresh, 32);
    seeded = true;
    memset(fresh, 0, sizeof(fresh));
    br_hmac_drbg_generate(&drbg, out, len);
    return TV_OK;
}

static struct {
    bool made;
    uint8_t seal[32];
    br_ec_private_key sk;
    br_ec_public_key pk;
    uint8_t skbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pkbuf[BR_EC_KBUF_PUB_MAX_SIZE];
} keys;

uint32_t tv_keys(const uint8_t **seal, const br_ec_private_key **sk,
                 const br_ec_public_key **pk)
{
    if (!keys.made) {
        uint32_t rc = tv_random(keys.seal, sizeof(keys.seal));
        if (rc != TV_OK)
            return rc;
        /* Drawn from the DRBG (already fed fresh entropy just above). */
        if (!br_ec_keygen(&drbg.vtable, &br_ec_p256_m31, &keys.sk, keys.skbuf,
                          BR_EC_secp256r1) ||
            br_ec_compute_pub(&br_ec_p256_m31, &keys.pk, keys.pkbuf, &keys.sk) != TV_PUBKEY_SIZE)
            return TV_ERR;
        keys.made = true;
    }
    *seal = keys.seal;
    *sk = &keys.sk;
    *pk = &keys.pk;
    return TV_OK;
}
