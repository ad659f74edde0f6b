/* The PALs: run by TrustVisor in their own view, where only the .pal_*
 * sections are mapped. So this file is built without anything that would
 * reach out of them (mk/pal_demo.mk: no stack protector (its canary is in
 * TLS), no jump tables (in .rodata), no memcpy/memset calls for loops, no
 * SSE), and nothing here calls outside .pal_code. */
#include <stdarg.h>
#include <stddef.h>
#include "pals.h"
#include "tvcall.h"

/* The PARAM and STACK sections: parameters are marshalled into the first,
 * the PAL runs on the second. */
uint8_t pal_param_area[4096] __attribute__((section(".pal_param"), aligned(4096)));
uint8_t pal_stack_area[2 * 4096] __attribute__((section(".pal_stack"), aligned(4096)));
static PAL_DATA uint64_t calls = 0;

PAL_CODE word pal_main(word a, uint64_t *v)
{
    word sum = 0;
    calls++;
    for (unsigned i = 0; i < MAIN_N; i++) {
        v[i] = v[i] * a + i + calls;
        sum += v[i];
    }
    return sum;
}

PAL_CODE word pal_args(word d, ...)
{
    va_list ap;
    uint64_t h = mix(0, d);
    unsigned n = d & 15;
    va_start(ap, d);
    for (unsigned i = 0; i < n; i++) {
        unsigned t = (d >> (4 + 4 * i)) & 15;
        word x = va_arg(ap, word);
        if (!(t & 8)) {
            h = mix(h, x);
            continue;
        }
        uint64_t *w = (uint64_t *)(uintptr_t)x;
        if (!w) {
            h = mix(h, 0xdead);
            continue;
        }
        for (unsigned k = 0; k <= (t & 7); k++) {
            h = mix(h, w[k]);
            w[k] = ~w[k] ^ h;
        }
    }
    va_end(ap);
    return (word)h;
}

/* The micro-TPM this PAL talks to is its own (PCR 0 its measurement);
 * every pointer is to its own pages (here: the copy of io in PARAM and
 * the tv_bufs on its stack). */
PAL_CODE word pal_seal(struct seal_io *io)
{
    struct tv_buf in, out, info;
    uint32_t rc;
    if (io->op == SEAL_OP_SEAL) {       /* a -> sealed to PCR 0 -> b */
        in = (struct tv_buf){ (uintptr_t)io->a, io->len_a, 0 };
        out = (struct tv_buf){ (uintptr_t)io->b, sizeof(io->b), 0 };
        rc = tv_vmcall(TV_HC_UTPM_SEAL, (uintptr_t)&in, 1, (uintptr_t)&out, 0);
        io->len_b = out.len;
        return rc;
    }
    if (io->op == SEAL_OP_UNSEAL) {     /* b -> unsealed -> c */
        in = (struct tv_buf){ (uintptr_t)io->b, io->len_b, 0 };
        out = (struct tv_buf){ (uintptr_t)io->c, sizeof(io->c), 0 };
        rc = tv_vmcall(TV_HC_UTPM_UNSEAL, (uintptr_t)&in, (uintptr_t)&out, 0, 0);
        io->len_c = out.len;
        return rc;
    }
    if (io->op == SEAL_OP_QUOTE) {      /* nonce a[0..20) -> sig b, info c, PCR 0 at a[32] */
        out = (struct tv_buf){ (uintptr_t)io->b, sizeof(io->b), 0 };
        info = (struct tv_buf){ (uintptr_t)io->c, sizeof(io->c), 0 };
        rc = tv_vmcall(TV_HC_UTPM_QUOTE, 1, (uintptr_t)&out, (uintptr_t)io->a,
                       (uintptr_t)&info);
        io->len_b = out.len;
        io->len_c = info.len;
        if (rc == TV_OK)
            rc = tv_vmcall(TV_HC_UTPM_PCRREAD, 0, (uintptr_t)(io->a + 32), 0, 0);
        return rc;
    }
    return 0xbad;
}
