/* QUOTE and ID_GETPUB (formats: trustvisor/README.md): this boot's quote
 * key (crypto.c) signs the caller's selected PCRs and nonce; its public
 * half is for anyone to check that with (host-tools/tv-verify-quote). The
 * caller's micro-TPM and pointers are utpm.c's: a PAL's own inside it. */
#include <string.h>
#include <tvabi.h>
#include "trustvisor/tv.h"

static uint32_t quote(struct vcpu *v, uint64_t mask, uint64_t sig_at, uint64_t nonce_at,
                      uint64_t info_at)
{
    static uint8_t info[TV_QUOTE_MAX_INFO];     /* with the lock held */
    struct tv_buf sig_b, info_b;
    uint8_t nonce[TV_QUOTE_NONCE_SIZE], sig[TV_QUOTE_SIG_SIZE];
    const uint8_t *key;
    const br_ec_private_key *sk;
    const br_ec_public_key *pk;
    if (mask >> TV_PCR_NUM)
        return TV_ERR_PCR_OUT_OF_RANGE;
    uint32_t need = TV_QUOTE_HEADER + TV_PCR_SIZE * __builtin_popcount((uint32_t)mask);
    if (!tv_read(v, nonce, nonce_at, sizeof(nonce)) || !tv_read(v, &sig_b, sig_at, sizeof(sig_b)) ||
        !tv_read(v, &info_b, info_at, sizeof(info_b)))
        return TV_ERR_BAD_PARAM;
    if (sig_b.len < TV_QUOTE_SIG_SIZE || info_b.len < need) {
        sig_b.len = TV_QUOTE_SIG_SIZE;
        info_b.len = need;
        tv_write(v, sig_at, &sig_b, sizeof(sig_b));
        tv_write(v, info_at, &info_b, sizeof(info_b));
        return TV_ERR_BAD_PARAM;
    }
    tv_utpm_lock();
    uint32_t rc = tv_keys(&key, &sk, &pk);
    size_t n = utpm_quote_info((const uint8_t (*)[TV_PCR_SIZE])tv_utpm_pcrs(v), (uint32_t)mask,
                               nonce, info);
    if (rc == TV_OK && !utpm_sign(sk, info, n, sig))
        rc = TV_ERR;
    tv_utpm_unlock();
    sig_b.len = TV_QUOTE_SIG_SIZE;
    info_b.len = (uint32_t)n;
    if (rc == TV_OK && !(tv_write(v, sig_b.addr, sig, sizeof(sig)) &&
                         tv_write(v, info_b.addr, info, n) &&
                         tv_write(v, sig_at, &sig_b, sizeof(sig_b)) &&
                         tv_write(v, info_at, &info_b, sizeof(info_b))))
        rc = TV_ERR_BAD_PARAM;
    return rc;
}

uint32_t tv_utpm_quote(struct vcpu *v, uint64_t mask, uint64_t sig, uint64_t nonce,
                       uint64_t info)
{
    uint32_t rc = quote(v, mask, sig, nonce, info);
    tv_utpm_trace(v, 4 /* QUOTE */, rc);
    return rc;
}

uint32_t tv_utpm_id_getpub(struct vcpu *v, uint64_t out, uint64_t len_ptr)
{
    uint8_t q[TV_PUBKEY_SIZE];
    uint32_t len, rc;
    const uint8_t *key;
    const br_ec_private_key *sk;
    const br_ec_public_key *pk;
    if (!tv_read(v, &len, len_ptr, sizeof(len))) {
        rc = TV_ERR_BAD_PARAM;
    } else if (len < TV_PUBKEY_SIZE) {
        len = TV_PUBKEY_SIZE;
        tv_write(v, len_ptr, &len, sizeof(len));
        rc = TV_ERR_BAD_PARAM;
    } else {
        tv_utpm_lock();
        rc = tv_keys(&key, &sk, &pk);
        if (rc == TV_OK)
            memcpy(q, pk->q, TV_PUBKEY_SIZE);
        tv_utpm_unlock();
        len = TV_PUBKEY_SIZE;
        if (rc == TV_OK && !(tv_write(v, out, q, sizeof(q)) &&
                             tv_write(v, len_ptr, &len, sizeof(len))))
            rc = TV_ERR_BAD_PARAM;
    }
    tv_utpm_trace(v, 6 /* ID_GETPUB */, rc);
    return rc;
}
