/* selftest=crypto: the micro-TPM's BearSSL primitives, as compiled with
 * the hypervisor's own flags, against published vectors
 * (trustvisor/crypto_vectors.c). Each vector's computed output is printed
 * in full, so the host test can compare it with its own computation, not
 * only with this line's verdict. */
#include "console/console.h"
#include <percpu.h>
#include "trustvisor/utpm_core.h"
#include "selftest/selftest.h"

/* "NAME ok|FAILED N bytes", then the output 48 bytes a line ("NAME @OFF
 * HEX"): a console line holds about 250 characters. */
static void report(void *arg, const char *name, bool ok, const uint8_t *got, size_t len)
{
    (*(int *)arg)++;
    printf("selftest crypto: %s %s %zu bytes\n", name, ok ? "ok" : "FAILED", len);
    for (size_t off = 0; off < len; off += 48) {
        char hex[2 * 48 + 1];
        size_t n = len - off < 48 ? len - off : 48;
        for (size_t i = 0; i < n; i++) {
            hex[2 * i] = "0123456789abcdef"[got[off + i] >> 4];
            hex[2 * i + 1] = "0123456789abcdef"[got[off + i] & 15];
        }
        hex[2 * n] = 0;
        printf("selftest crypto: %s @%zu %s\n", name, off, hex);
    }
}

void selftest_crypto(void)
{
    int n = 0;
    int failed = utpm_crypto_selftest(report, &n);
    printf("selftest crypto: %d vectors, %d failed\n", n, failed);
}
