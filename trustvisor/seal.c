/* The micro-TPM's keyed operations (formats and registers:
 * trustvisor/README.md, abi/tvabi.h): SEAL and UNSEAL (ChaCha20-Poly1305
 * under this boot's seal key, bound to the caller's current PCR values),
 * QUOTE (an ECDSA P-256 signature over selected PCRs and the caller's
 * nonce) and ID_GETPUB (the quote key's public half). The caller's micro-
 * TPM and its pointers are those of utpm.c: a PAL's own inside a PAL.
 * Every length is checked before anything is copied; an output buffer
 * that is too small gets the size it needs and TV_ERR_BAD_PARAM. */
#include <string.h>
#include <tvabi.h>
#include "trustvisor/tv.h"
#include "vmx/refuse.h"

/* One set of buffers, used with the micro-TPM's lock held. */
static uint8_t blob[TV_SEAL_MAX_DATA + TV_SEAL_OVERHEAD];
static uint8_t data[TV_SEAL_MAX_DATA];

/* An output tv_buf with room for need bytes, else its len set to need. */
static uint32_t out_room(struct vcpu *v, uint64_t at, struct tv_buf *b, uint32_t need)
{
    if (!tv_read(v, b, at, sizeof(*b)))
        return TV_ERR_BAD_PARAM;
    if (b->len >= need)
        return TV_OK;
    b->len = need;
    tv_write(v, at, b, sizeof(*b));
    return TV_ERR_BAD_PARAM;
}

/* The result into out (its bytes, then its len). */
static uint32_t put(struct vcpu *v, uint64_t at, struct tv_buf *b, const void *src, uint32_t n)
{
    b->len = n;
    return tv_write(v, b->addr, src, n) && tv_write(v, at, b, sizeof(*b)) ? TV_OK
                                                                         : TV_ERR_BAD_PARAM;
}

static uint32_t seal(struct vcpu *v, uint64_t in_at, uint64_t mask, uint64_t out_at)
{
    struct tv_buf in, out;
    const uint8_t *key;
    const br_ec_private_key *sk;
    const br_ec_public_key *pk;
    uint8_t nonce[12];
    if (mask >> TV_PCR_NUM)
        return TV_ERR_PCR_OUT_OF_RANGE;
    if (!tv_read(v, &in, in_at, sizeof(in)) || in.len > TV_SEAL_MAX_DATA)
        return TV_ERR_BAD_PARAM;
    uint32_t rc = out_room(v, out_at, &out, in.len + TV_SEAL_OVERHEAD);
    if (rc != TV_OK)
        return rc;
    tv_utpm_lock();
    if (!tv_read(v, data, in.addr, in.len))
        rc = TV_ERR_BAD_PARAM;
    if (rc == TV_OK)
        rc = tv_keys(&key, &sk, &pk);
    if (rc == TV_OK)
        rc = tv_random(nonce, sizeof(nonce));
    if (rc == TV_OK) {
        size_t n = utpm_seal(key, nonce, (const uint8_t (*)[TV_PCR_SIZE])tv_utpm_pcrs(v),
                             (uint32_t)mask, data, in.len, blob);
        rc = put(v, out_at, &out, blob, (uint32_t)n);
    }
    memset(data, 0, sizeof(data));
    tv_utpm_unlock();
    return rc;
}

uint32_t tv_utpm_seal(struct vcpu *v, uint64_t in, uint64_t mask, uint64_t out)
{
    uint32_t rc = seal(v, in, mask, out);
    tv_utpm_trace(v, 2 /* SEAL */, rc);
    return rc;
}

static uint32_t unseal(struct vcpu *v, uint64_t in_at, uint64_t out_at)
{
    struct tv_buf in, out;
    const uint8_t *key;
    const br_ec_private_key *sk;
    const br_ec_public_key *pk;
    size_t n = 0;
    if (!tv_read(v, &in, in_at, sizeof(in)) || in.len > sizeof(blob))
        return TV_ERR_BAD_PARAM;
    if (in.len < TV_SEAL_OVERHEAD)
        return TV_ERR_SEAL_AUTH;        /* cut: no blob is that short */
    uint32_t rc = out_room(v, out_at, &out, in.len - TV_SEAL_OVERHEAD);
    if (rc != TV_OK)
        return rc;
    tv_utpm_lock();
    if (!tv_read(v, blob, in.addr, in.len))
        rc = TV_ERR_BAD_PARAM;
    if (rc == TV_OK)
        rc = tv_keys(&key, &sk, &pk);
    if (rc == TV_OK)
        rc = utpm_unseal(key, (const uint8_t (*)[TV_PCR_SIZE])tv_utpm_pcrs(v), blob, in.len,
                         data, &n);
    if (rc == TV_OK)
        rc = put(v, out_at, &out, data, (uint32_t)n);
    memset(data, 0, sizeof(data));
    memset(blob, 0, sizeof(blob));
    tv_utpm_unlock();
    return rc;
}

uint32_t tv_utpm_unseal(struct vcpu *v, uint64_t in, uint64_t out)
{
    uint32_t rc = unseal(v, in, out);
    if (rc == TV_ERR_SEAL_AUTH || rc == TV_ERR_SEAL_PCR)
        guest_refused(v, REFUSE_VMCALL, rc, "TrustVisor UNSEAL refused: %s; error %#x",
                      rc == TV_ERR_SEAL_AUTH ? "not a blob of this boot's key, or altered"
                                             : "the PCRs it is bound to differ now", rc);
    tv_utpm_trace(v, 3 /* UNSEAL */, rc);
    return rc;
}
