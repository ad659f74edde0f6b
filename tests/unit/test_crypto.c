/* The micro-TPM's crypto on the host: BearSSL (built for the host from the
 * same pinned Debian source as for the hypervisor, mk/bearssl.mk) against
 * published vectors (trustvisor/crypto_vectors.c), and the micro-TPM's own
 * operations (trustvisor/utpm_core.c): a seal blob opens only unaltered
 * (every byte flipped in turn is refused), only with the PCRs it is bound
 * to, and a quote's signature verifies only over its own bytes. */
#include <stdio.h>
#include <string.h>
#include <bearssl_ec.h>
#include <bearssl_rand.h>
#include "trustvisor/utpm_core.h"
#include "unit_check.h"

static void report(void *arg, const char *name, bool ok, const uint8_t *got, size_t len)
{
    int *n = arg;
    (*n)++;
    printf("%s %s ", ok ? "ok  " : "FAIL", name);
    for (size_t i = 0; i < len; i++)
        printf("%02x", got[i]);
    printf("\n");
}

static void vectors(void)
{
    int n = 0;
    CHECK(utpm_crypto_selftest(report, &n) == 0);
    CHECK(n == 18);     /* every vector ran */
}

static void seal_cases(void)
{
    uint8_t key[32], nonce[12], data[100], blob[100 + TV_SEAL_OVERHEAD], copy[sizeof(blob)];
    uint8_t out[100];
    utpm_pcrs pcr = { { 0 } };
    size_t outlen = 0;
    for (unsigned i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 13 + 1);
    memset(nonce, 0x42, sizeof(nonce));
    for (unsigned i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    pcr[2][0] = 0x22;
    size_t blen = utpm_seal(key, nonce, (const uint8_t (*)[20])pcr, 0x05, data, sizeof(data), blob);
    CHECK(blen == sizeof(blob));
    CHECK(!memcmp(blob, "TVS1", 4) && blob[4] == 0x05);
    CHECK(memcmp(blob + TV_SEAL_HEADER, data, sizeof(data)) != 0);   /* encrypted */
    memcpy(copy, blob, blen);
    CHECK(utpm_unseal(key, (const uint8_t (*)[20])pcr, copy, blen, out, &outlen) == TV_OK);
    CHECK(outlen == sizeof(data) && !memcmp(out, data, sizeof(data)));
    /* Every byte of the blob matters. */
    int refused = 0;
    for (size_t i = 0; i < blen; i++) {
        memcpy(copy, blob, blen);
        copy[i] ^= 0x01;
        refused += utpm_unseal(key, (const uint8_t (*)[20])pcr, copy, blen, out, &outlen) ==
                   TV_ERR_SEAL_AUTH;
    }
    CHECK(refused == (int)blen);
    memcpy(copy, blob, blen);
    CHECK(utpm_unseal(key, (const uint8_t (*)[20])pcr, copy, blen - 1, out, &outlen) ==
          TV_ERR_SEAL_AUTH);
    /* Another key: refused as not ours. */
    uint8_t key2[32];
    memcpy(key2, key, 32);
    key2[31] ^= 0x80;
    memcpy(copy, blob, blen);
    CHECK(utpm_unseal(key2, (const uint8_t (*)[20])pcr, copy, blen, out, &outlen) ==
          TV_ERR_SEAL_AUTH);
    /* A bound PCR changed: refused; an unbound one changed: opens. */
    pcr[2][19] ^= 1;
    memcpy(copy, blob, blen);
    memset(out, 0, sizeof(out));
    CHECK(utpm_unseal(key, (const uint8_t (*)[20])pcr, copy, blen, out, &outlen) ==
          TV_ERR_SEAL_PCR);
    CHECK(out[1] == 0);                 /* nothing written on refusal */
    pcr[2][19] ^= 1;
    pcr[1][0] = 0x11;
    memcpy(copy, blob, blen);
    CHECK(utpm_unseal(key, (const uint8_t (*)[20])pcr, copy, blen, out, &outlen) == TV_OK);
}

/* A quote signed with a key made like the hypervisor makes its own
 * (br_ec_keygen from an HMAC-DRBG) verifies; altered, it does not. */
static void quote_cases(void)
{
    br_hmac_drbg_context drbg;
    br_ec_private_key sk;
    br_ec_public_key pk;
    uint8_t skbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pkbuf[BR_EC_KBUF_PUB_MAX_SIZE];
    br_hmac_drbg_init(&drbg, &br_sha256_vtable, "test seed, not secret", 21);
    CHECK(br_ec_keygen(&drbg.vtable, &br_ec_p256_m31, &sk, skbuf, BR_EC_secp256r1) == 32);
    CHECK(br_ec_compute_pub(&br_ec_p256_m31, &pk, pkbuf, &sk) == TV_PUBKEY_SIZE);
    utpm_pcrs pcr = { { 0 } };
    uint8_t nonce[20], info[TV_QUOTE_MAX_INFO], sig[64];
    memset(nonce, 0x6e, sizeof(nonce));
    for (int i = 0; i < TV_PCR_NUM; i++)
        memset(pcr[i], 0x10 + i, TV_PCR_SIZE);
    size_t n = utpm_quote_info((const uint8_t (*)[20])pcr, 0x81, nonce, info);
    CHECK(n == TV_QUOTE_HEADER + 2 * TV_PCR_SIZE);
    CHECK(!memcmp(info, "TVQ1", 4) && !memcmp(info + 4, nonce, 20) && info[24] == 0x81);
    CHECK(info[28] == 0x10 && info[48] == 0x17);
    CHECK(utpm_sign(&sk, info, n, sig));
    CHECK(utpm_verify(&pk, info, n, sig));
    info[30] ^= 4;
    CHECK(!utpm_verify(&pk, info, n, sig));
}

int main(void)
{
    vectors();
    seal_cases();
    quote_cases();
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("all passed\n");
    return 0;
}
