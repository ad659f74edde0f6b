/* Known-answer tests of the BearSSL primitives the micro-TPM uses, with
 * published vectors (typed in from the documents named at each). Run in
 * the hypervisor build (selftest=crypto, hv/selftest/crypto_selftest.c)
 * and on the host (tests/unit/test_crypto.c): the same BearSSL source,
 * compiled with each build's flags. */
#include <string.h>
#include <bearssl_block.h>
#include <bearssl_hash.h>
#include <bearssl_hmac.h>
#include "trustvisor/utpm_core.h"

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; s[0] && s[1]; s += 2) {
        int hi = s[0] <= '9' ? s[0] - '0' : (s[0] | 0x20) - 'a' + 10;
        int lo = s[1] <= '9' ? s[1] - '0' : (s[1] | 0x20) - 'a' + 10;
        out[n++] = (uint8_t)(hi << 4 | lo);
    }
    return n;
}

struct run {
    utpm_report_fn *report;
    void *arg;
    int failures;
};

/* Compares got with the expected hex and reports. */
static void expect(struct run *r, const char *name, const uint8_t *got, size_t len,
                   const char *want_hex)
{
    uint8_t want[128];
    bool ok = unhex(want_hex, want) == len && !memcmp(got, want, len);
    r->failures += !ok;
    r->report(r->arg, name, ok, got, len);
}

static void verdict(struct run *r, const char *name, bool ok)
{
    uint8_t b = ok;
    r->failures += !ok;
    r->report(r->arg, name, ok, &b, 1);
}

static void hash(const br_hash_class *h, const void *msg, size_t len, size_t reps, uint8_t *out)
{
    br_hash_compat_context c;
    h->init(&c.vtable);
    for (size_t i = 0; i < reps; i++)
        h->update(&c.vtable, msg, len);
    h->out(&c.vtable, out);
}

/* FIPS 180-2, Appendix A (SHA-1) and B (SHA-256): "abc", the 448-bit
 * message, one million 'a' (here 10000 x 100 'a'). */
static void hashes(struct run *r)
{
    static const char m2[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const char a100[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    uint8_t d[32];
    hash(&br_sha1_vtable, "abc", 3, 1, d);
    expect(r, "sha1_abc", d, 20, "a9993e364706816aba3e25717850c26c9cd0d89d");
    hash(&br_sha1_vtable, m2, 56, 1, d);
    expect(r, "sha1_448bit", d, 20, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    hash(&br_sha1_vtable, a100, 100, 10000, d);
    expect(r, "sha1_million_a", d, 20, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    hash(&br_sha256_vtable, "abc", 3, 1, d);
    expect(r, "sha256_abc", d, 32,
           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hash(&br_sha256_vtable, m2, 56, 1, d);
    expect(r, "sha256_448bit", d, 32,
           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hash(&br_sha256_vtable, a100, 100, 10000, d);
    expect(r, "sha256_million_a", d, 32,
           "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* The TPM 1.2 extend rule through utpm_extend: a fresh PCR extended with
 * SHA-1("abc") is SHA-1(0^20 || a9993e36...) (computed with Python's
 * hashlib; the rule is TPM 1.2 Part 3, TPM_Extend). */
static void extend(struct run *r)
{
    uint8_t pcr[TV_PCR_SIZE] = { 0 }, m[TV_PCR_SIZE];
    hash(&br_sha1_vtable, "abc", 3, 1, m);
    utpm_extend(pcr, m);
    expect(r, "pcr_extend", pcr, 20, "ccd5bd41458de644ac34a2478b58ff819bef5acf");
}

static void hmac(struct run *r, const char *name, const uint8_t *key, size_t klen,
                 const char *msg, const char *want)
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    uint8_t out[32];
    br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, msg, strlen(msg));
    br_hmac_out(&hc, out);
    expect(r, name, out, 32, want);
}

/* RFC 4231, HMAC-SHA-256 test cases 1, 2 and 6 (a key longer than a block). */
static void hmacs(struct run *r)
{
    uint8_t key[131];
    memset(key, 0x0b, 20);
    hmac(r, "hmac_sha256_rfc4231_1", key, 20, "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    hmac(r, "hmac_sha256_rfc4231_2", (const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, sizeof(key));
    hmac(r, "hmac_sha256_rfc4231_6", key, sizeof(key),
         "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* RFC 8439, 2.8.2: the AEAD_CHACHA20_POLY1305 example ("Ladies and
 * Gentlemen of the class of '99 ..."): ciphertext and tag; decrypting it
 * gives the plaintext back and the same tag; a ciphertext with one bit
 * flipped gives another tag. */
static void aead(struct run *r)
{
    static const char plain[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
                                "only one tip for the future, sunscreen would be it.";
    static const char cipher[] =
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
        "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
        "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
        "3ff4def08e4b7a9de576d26586cec64b6116";
    static const char tag_hex[] = "1ae10b594f09e26a7e902ecbd0600691";
    uint8_t key[32], nonce[12], aad[12], buf[114], tag[16], want_tag[16];
    unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", key);
    unhex("070000004041424344454647", nonce);
    unhex("50515253c0c1c2c3c4c5c6c7", aad);
    unhex(tag_hex, want_tag);
    memcpy(buf, plain, sizeof(buf));
    br_poly1305_ctmul_run(key, nonce, buf, sizeof(buf), aad, sizeof(aad), tag,
                          br_chacha20_ct_run, 1);
    expect(r, "chacha20poly1305_rfc8439_ct", buf, sizeof(buf), cipher);
    expect(r, "chacha20poly1305_rfc8439_tag", tag, sizeof(tag), tag_hex);
    br_poly1305_ctmul_run(key, nonce, buf, sizeof(buf), aad, sizeof(aad), tag,
                          br_chacha20_ct_run, 0);
    verdict(r, "chacha20poly1305_rfc8439_open",
            !memcmp(buf, plain, sizeof(buf)) && !memcmp(tag, want_tag, 16));
    /* One bit of the ciphertext flipped: the tag computed while opening
     * is no longer the one sent. */
    unhex(cipher, buf);
    buf[100] ^= 0x10;
    br_poly1305_ctmul_run(key, nonce, buf, sizeof(buf), aad, sizeof(aad), tag,
                          br_chacha20_ct_run, 0);
    verdict(r, "chacha20poly1305_altered_ct_tag_differs", memcmp(tag, want_tag, 16) != 0);
}

/* RFC 6979, A.2.5: ECDSA P-256 with SHA-256, message "sample": the
 * deterministic signature (r || s) from the private key x; it verifies
 * with the public key U = xG; with one bit of s flipped, or over
 * "sample2", it does not. */
static void ecdsa(struct run *r)
{
    static const char x_hex[] =
        "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
    static const char u_hex[] =
        "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
        "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
    static const char sig_hex[] =
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
        "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
    uint8_t x[32], u[65], sig[64], want[64];
    unhex(x_hex, x);
    unhex(u_hex, u);
    unhex(sig_hex, want);
    br_ec_private_key sk = { BR_EC_secp256r1, x, sizeof(x) };
    br_ec_public_key pk = { BR_EC_secp256r1, u, sizeof(u) };
    bool signed_ok = utpm_sign(&sk, "sample", 6, sig);
    expect(r, "ecdsa_p256_rfc6979_sign", sig, signed_ok ? 64 : 0, sig_hex);
    verdict(r, "ecdsa_p256_rfc6979_verify", utpm_verify(&pk, "sample", 6, want));
    want[40] ^= 0x01;
    verdict(r, "ecdsa_p256_bad_sig_refused", !utpm_verify(&pk, "sample", 6, want));
    want[40] ^= 0x01;
    verdict(r, "ecdsa_p256_other_msg_refused", !utpm_verify(&pk, "sample2", 7, want));
}

int utpm_crypto_selftest(utpm_report_fn *report, void *arg)
{
    struct run r = { report, arg, 0 };
    hashes(&r);
    extend(&r);
    hmacs(&r);
    aead(&r);
    ecdsa(&r);
    return r.failures;
}
