/* selftest=crypto: the micro-TPM's BearSSL primitives, as compiled with
 * the hypervisor's own flags, against published vectors
 * (trustvisor/crypto_vectors.c). Each vector's computed output is printed
 * in full, so the host test can compare it with its own computation, not
 * only with this line's verdict. */
#include "console/console.h"
#include <percpu.h>
#include "trustvisor/utpm_core.h"
#include "selftest/selftest.h"

static void report(void *arg, const char *name, bool ok, const uint8_t *got, size_t len)
{
    char hex[2 * 128 + 1];
    size_t n = len < 128 ? len : 128;
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = "0123456789abcdef"[got[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[got[i] & 15];
    }
    hex[2 * n] = 0;
    (*(int *)arg)++;
    printf("selftest crypto: %s %s %s\n", name, ok ? "ok" : "FAILED", hex);
}

void selftest_crypto(void)
{
    int n = 0;
    int failed = utpm_crypto_selftest(report, &n);
    printf("selftest crypto: %d vectors, %d failed\n", n, failed);
}
