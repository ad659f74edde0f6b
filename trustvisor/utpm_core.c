/* The micro-TPM's operations on plain buffers (utpm_core.h), on BearSSL:
 * SHA-1 for PCRs (as TPM 1.2), SHA-256 for the composite and the quote
 * hash, ChaCha20-Poly1305 (RFC 8439; br_chacha20_ct_run and
 * br_poly1305_ctmul_run: portable, constant-time, no SSE) for seal blobs,
 * ECDSA P-256 (br_ec_p256_m31, i31 ECDSA) for quotes. Formats:
 * trustvisor/README.md. */
#include <string.h>
#include <bearssl_block.h>
#include <bearssl_hash.h>
#include "trustvisor/utpm_core.h"

void utpm_extend(uint8_t pcr[TV_PCR_SIZE], const uint8_t m[TV_PCR_SIZE])
{
    br_sha1_context c;
    br_sha1_init(&c);
    br_sha1_update(&c, pcr, TV_PCR_SIZE);
    br_sha1_update(&c, m, TV_PCR_SIZE);
    br_sha1_out(&c, pcr);
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void utpm_composite(const utpm_pcrs pcr, uint32_t mask, uint8_t out[32])
{
    br_sha256_context c;
    uint8_t m[4];
    le32(m, mask);
    br_sha256_init(&c);
    br_sha256_update(&c, m, sizeof(m));
    for (unsigned i = 0; i < TV_PCR_NUM; i++)
        if (mask & (1u << i))
            br_sha256_update(&c, pcr[i], TV_PCR_SIZE);
    br_sha256_out(&c, out);
}

/* Blob: "TVS1" | u32le mask | digest[32] | nonce[12] | ciphertext | tag[16];
 * the first 40 bytes are the AEAD's associated data, so neither the mask
 * nor the digest can be changed without the tag failing. */
size_t utpm_seal(const uint8_t key[32], const uint8_t nonce[12], const utpm_pcrs pcr,
                 uint32_t mask, const uint8_t *in, size_t len, uint8_t *blob)
{
    memcpy(blob, TV_SEAL_MAGIC, 4);
    le32(blob + 4, mask);
    utpm_composite(pcr, mask, blob + 8);
    memcpy(blob + 40, nonce, 12);
    memmove(blob + TV_SEAL_HEADER, in, len);
    br_poly1305_ctmul_run(key, nonce, blob + TV_SEAL_HEADER, len, blob, 40,
                          blob + TV_SEAL_HEADER + len, br_chacha20_ct_run, 1);
    return TV_SEAL_OVERHEAD + len;
}

/* Constant time: how many bytes differ says nothing about where. */
static bool same(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

uint32_t utpm_unseal(const uint8_t key[32], const utpm_pcrs pcr, uint8_t *blob, size_t blen,
                     uint8_t *out, size_t *outlen)
{
    uint8_t tag[TV_SEAL_TAG], now[32];
    if (blen < TV_SEAL_OVERHEAD || memcmp(blob, TV_SEAL_MAGIC, 4))
        return TV_ERR_SEAL_AUTH;
    size_t len = blen - TV_SEAL_OVERHEAD;
    uint32_t mask = get_le32(blob + 4);
    br_poly1305_ctmul_run(key, blob + 40, blob + TV_SEAL_HEADER, len, blob, 40, tag,
                          br_chacha20_ct_run, 0);
    if (!same(tag, blob + TV_SEAL_HEADER + len, TV_SEAL_TAG)) {
        memset(blob, 0, blen);          /* no plaintext of a forgery stays around */
        return TV_ERR_SEAL_AUTH;
    }
    /* Authentic, so mask and digest are what SEAL wrote. */
    if (mask >> TV_PCR_NUM)
        return TV_ERR_SEAL_AUTH;
    utpm_composite(pcr, mask, now);
    if (!same(now, blob + 8, sizeof(now))) {
        memset(blob, 0, blen);
        return TV_ERR_SEAL_PCR;
    }
    memcpy(out, blob + TV_SEAL_HEADER, len);
    memset(blob, 0, blen);
    *outlen = len;
    return TV_OK;
}

/* Quote info: "TVQ1" | nonce[20] | u32le mask | the selected PCRs. */
size_t utpm_quote_info(const utpm_pcrs pcr, uint32_t mask, const uint8_t nonce[20],
                       uint8_t *out)
{
    size_t n = TV_QUOTE_HEADER;
    memcpy(out, TV_QUOTE_MAGIC, 4);
    memcpy(out + 4, nonce, TV_QUOTE_NONCE_SIZE);
    le32(out + 24, mask);
    for (unsigned i = 0; i < TV_PCR_NUM; i++)
        if (mask & (1u << i)) {
            memcpy(out + n, pcr[i], TV_PCR_SIZE);
            n += TV_PCR_SIZE;
        }
    return n;
}

static void sha256(const void *msg, size_t len, uint8_t out[32])
{
    br_sha256_context c;
    br_sha256_init(&c);
    br_sha256_update(&c, msg, len);
    br_sha256_out(&c, out);
}

bool utpm_sign(const br_ec_private_key *sk, const void *msg, size_t len,
               uint8_t sig[TV_QUOTE_SIG_SIZE])
{
    uint8_t h[32];
    sha256(msg, len, h);
    return br_ecdsa_i31_sign_raw(&br_ec_p256_m31, &br_sha256_vtable, h, sk, sig) ==
           TV_QUOTE_SIG_SIZE;
}

bool utpm_verify(const br_ec_public_key *pk, const void *msg, size_t len,
                 const uint8_t sig[TV_QUOTE_SIG_SIZE])
{
    uint8_t h[32];
    sha256(msg, len, h);
    return br_ecdsa_i31_vrfy_raw(&br_ec_p256_m31, h, sizeof(h), pk, sig, TV_QUOTE_SIG_SIZE) == 1;
}
