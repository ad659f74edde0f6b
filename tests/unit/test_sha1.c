/* The micro-TPM's SHA-1 (trustvisor/sha1.c) against published vectors:
 * FIPS 180-2 Appendix A (one block, 56 bytes: the padding spills into a
 * second block, a million 'a'), two NIST CAVP SHAVS vectors, and the
 * TPM 1.2 PCR extend rule PCR' = SHA1(PCR || m) against Python's hashlib. The
 * incremental interface is checked against the one-shot one at every
 * split point. */
#include <stdio.h>
#include <string.h>
#include "trustvisor/sha1.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < SHA1_DIGEST_SIZE; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void vector(const char *msg, size_t len, const char *want)
{
    uint8_t d[SHA1_DIGEST_SIZE];
    char got[41];
    sha1(msg, len, d);
    hex(d, got);
    if (strcmp(got, want)) {
        printf("FAIL sha1(%zu bytes \"%.20s\") = %s, want %s\n", len, msg, got, want);
        failures++;
    }
}

static int unhex(const char *s, uint8_t *out)
{
    int n = 0;
    for (; s[0] && s[1]; s += 2)
        sscanf(s, "%2hhx", &out[n++]);
    return n;
}

int main(void)
{
    /* FIPS 180-2, Appendix A.1 and A.2; the empty message. */
    vector("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    vector("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
           "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    vector("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    vector("The quick brown fox jumps over the lazy dog", 43,
           "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");

    /* NIST CAVP SHA1ShortMsg.rsp: Len = 8 and Len = 1304 (163 bytes: two
     * full blocks and a tail). */
    struct { const char *msg, *md; } cavp[] = {
        { "36", "c1dfd96eea8cc2b62785275bca38ac261256e278" },
        { "7c9c67323a1df1adbfe5ceb415eaef0155ece2820f4d50c1ec22cba4928ac656c83fe585db6a78ce40bc42757aba7e5a3f582428d6ca68d0c3978336a6efb729613e8d9979016204bfd921322fdd5222183554447de5e6e9bbe6edf76d7b71e18dc2e8d6dc89b7398364f652fafc734329aafa3dcd45d4f31e388e4fafd7fc6495f37ca5cbab7f54d586463da4bfeaa3bae09f7b8e9239d832b4f0a733aa609cc1f8d4",
          "d8fd6a91ef3b6ced05b98358a99107c1fac8c807" },
    };
    for (unsigned i = 0; i < sizeof(cavp) / sizeof(cavp[0]); i++) {
        static uint8_t msg[512];
        int n = unhex(cavp[i].msg, msg);
        vector((const char *)msg, n, cavp[i].md);
    }

    /* FIPS 180-2, Appendix A.3: one million 'a', fed in odd pieces. */
    {
        struct sha1_ctx c;
        uint8_t d[SHA1_DIGEST_SIZE];
        char got[41];
        static char a[1001];
        memset(a, 'a', sizeof(a));
        sha1_init(&c);
        for (int i = 0; i < 1000; i++)
            sha1_update(&c, a, i % 2 ? 999 : 1001);
        sha1_final(&c, d);
        hex(d, got);
        CHECK(!strcmp(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
    }

    /* Incremental = one shot at every split of a 200-byte message. */
    {
        uint8_t msg[200], one[SHA1_DIGEST_SIZE], two[SHA1_DIGEST_SIZE];
        for (int i = 0; i < 200; i++)
            msg[i] = (uint8_t)(i * 7 + 3);
        sha1(msg, sizeof(msg), one);
        for (int split = 0; split <= 200; split++) {
            struct sha1_ctx c;
            sha1_init(&c);
            sha1_update(&c, msg, split);
            sha1_update(&c, msg + split, sizeof(msg) - split);
            sha1_final(&c, two);
            CHECK(!memcmp(one, two, sizeof(one)));
        }
    }

    /* PCR extend from zero with SHA1("abc"): SHA1(0^20 || SHA1("abc")). */
    {
        uint8_t buf[40] = { 0 }, d[SHA1_DIGEST_SIZE];
        char got[41];
        sha1("abc", 3, buf + 20);
        sha1(buf, 40, d);
        hex(d, got);
        /* Python's hashlib: sha1(bytes(20) + sha1(b"abc").digest()) */
        CHECK(!strcmp(got, "ccd5bd41458de644ac34a2478b58ff819bef5acf"));
    }

    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("all passed\n");
    return 0;
}
