/* pal_demo seal: the PAL seals a secret to its own PCR 0, unseals it, a
 * tampered blob is refused, the untrusted process (another micro-TPM)
 * cannot open the blob, and the PAL quotes its PCR 0 for the host
 * (host-tools/tv-verify-quote with the public key from ID_GETPUB).
 * pal_demo peek: while a PAL is registered, its pages are read and
 * written from the other CPU and from this one: each must fault (the
 * hypervisor refuses the access, the guest gets #GP, Linux SIGSEGV). */
#define _GNU_SOURCE
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "pal_demo.h"
#include "pals.h"
#include "tvcall.h"

static void hex(const char *name, const uint8_t *p, size_t n)
{
    printf(" %s=", name);
    while (n--)
        printf("%02x", *p++);
}

static uint32_t seal_call(struct seal_io *io, uint32_t op)
{
    io->op = op;
    return (uint32_t)pal_seal(io);
}

static int seal_checks(struct seal_io *io, uint32_t *tamper, uint32_t *outside)
{
    static const char secret[] = "pal_demo: sealed to the PAL's own PCR 0";
    uint8_t blob[sizeof(io->b)];
    uint32_t rc, bloblen;
    memcpy(io->a, secret, sizeof(secret));
    io->len_a = sizeof(secret);
    if ((rc = seal_call(io, SEAL_OP_SEAL)) || io->len_b != sizeof(secret) + TV_SEAL_OVERHEAD)
        return fail("seal", "SEAL in the PAL: error %#x, %u bytes", rc, io->len_b);
    memcpy(blob, io->b, bloblen = io->len_b);
    if ((rc = seal_call(io, SEAL_OP_UNSEAL)) || io->len_c != sizeof(secret) ||
        memcmp(io->c, secret, sizeof(secret)))
        return fail("seal", "UNSEAL in the PAL: error %#x, %u bytes", rc, io->len_c);
    io->b[TV_SEAL_HEADER + 3] ^= 0x40;          /* one ciphertext bit */
    if ((*tamper = seal_call(io, SEAL_OP_UNSEAL)) != TV_ERR_SEAL_AUTH)
        return fail("seal", "tampered blob: UNSEAL gave %#x", *tamper);
    /* The process's own micro-TPM: PCR 0 is not the PAL's. */
    uint8_t out[sizeof(io->c)];
    struct tv_buf in = { (uintptr_t)blob, bloblen, 0 }, o = { (uintptr_t)out, sizeof(out), 0 };
    if ((*outside = tv_vmcall(TV_HC_UTPM_UNSEAL, (uintptr_t)&in, (uintptr_t)&o, 0, 0)) !=
        TV_ERR_SEAL_PCR)
        return fail("seal", "the PAL's blob outside the PAL: UNSEAL gave %#x", *outside);
    return 0;
}

int cmd_seal(int argc, char **argv)
{
    static const struct tv_pal_params pm = {
        1, 0, { { TV_PAL_PM_POINTER, 0, sizeof(struct seal_io) } } };
    static struct seal_io io;
    uint8_t pub[TV_PUBKEY_SIZE], nonce[TV_QUOTE_NONCE_SIZE];
    uint32_t publen = sizeof(pub), rc, tamper, outside;
    if (setup("seal"))
        return 1;
    if ((rc = tv_vmcall(TV_HC_UTPM_ID_GETPUB, (uintptr_t)pub, (uintptr_t)&publen, 0, 0)))
        return fail("seal", "ID_GETPUB error %#x", rc);
    uint32_t nlen = sizeof(nonce);
    if ((rc = tv_vmcall(TV_HC_UTPM_GENRAND, (uintptr_t)nonce, (uintptr_t)&nlen, 0, 0)))
        return fail("seal", "GENRAND error %#x", rc);
    if ((rc = reg((void *)pal_seal, &pm)))
        return fail("seal", "REG error %#x", rc);
    int bad = seal_checks(&io, &tamper, &outside);
    if (!bad) {
        memcpy(io.a, nonce, sizeof(nonce));
        if ((rc = seal_call(&io, SEAL_OP_QUOTE)) || io.len_b != TV_QUOTE_SIG_SIZE ||
            io.len_c != TV_QUOTE_HEADER + TV_PCR_SIZE)
            bad = fail("seal", "QUOTE in the PAL: error %#x, %u/%u bytes", rc, io.len_b,
                       io.len_c);
    }
    if ((rc = unreg((void *)pal_seal)) || !scrubbed_then_restore())
        return fail("seal", "UNREG error %#x or not scrubbed", rc);
    if (bad)
        return 1;
    printf("PALDEMO seal ok sealed=%u tamper=%#x outside=%#x", io.len_b, tamper, outside);
    hex("pub", pub, sizeof(pub));
    hex("nonce", nonce, sizeof(nonce));
    hex("pcr0", io.a + 32, TV_PCR_SIZE);
    hex("info", io.c, io.len_c);
    hex("sig", io.b, io.len_b);
    printf("\n");
    return 0;
}

/* ---- peek ---------------------------------------------------------------- */
static sigjmp_buf jb;
static volatile int last_sig;

static void on_fault(int sig)
{
    last_sig = sig;
    siglongjmp(jb, 1);
}

/* 1: the access faulted (as it must while the PAL is registered). */
static int faults(volatile uint8_t *p, int write)
{
    last_sig = 0;
    if (sigsetjmp(jb, 1))
        return 1;
    if (write)
        *p = 0x5a;
    else
        (void)*p;
    return 0;
}

static int on_cpu(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return sched_setaffinity(0, sizeof(s), &s) == 0 && sched_getcpu() == cpu;
}

int cmd_peek(int argc, char **argv)
{
    static const struct tv_pal_params pm = { 2, 0, { { TV_PAL_PM_INTEGER, 0, sizeof(word) },
                                                     { TV_PAL_PM_POINTER, 0, 8 * MAIN_N } } };
    uint64_t v[MAIN_N] = { 0 };
    uint32_t rc;
    struct sigaction sa = { .sa_handler = on_fault };
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    if (!on_cpu(0) || setup("peek"))
        return fail("peek", "cannot run on cpu0");
    if ((rc = reg((void *)pal_main, &pm)))
        return fail("peek", "REG error %#x", rc);
    int n = 0, sig = 0, ok = on_cpu(1);
    if (ok) {       /* from the other CPU: read the code, write the data */
        n += faults(pal_code_start, 0), sig |= 1 << last_sig;
        n += faults(pal_data_start, 1), sig |= 1 << last_sig;
        ok = on_cpu(0);
    }
    if (ok)         /* and from the registering CPU: read the stack */
        n += faults(pal_stack_start, 0), sig |= 1 << last_sig;
    /* The PAL itself still works, called from the other CPU, and UNREG
     * from there too (same process, another CPU). */
    word got = ok && on_cpu(1) ? pal_main(1, v) : 0;
    rc = unreg((void *)pal_main);
    if (!ok)
        return fail("peek", "cannot switch CPUs");
    if (rc || !scrubbed_then_restore())
        return fail("peek", "UNREG from cpu1: error %#x, or not scrubbed", rc);
    int after = faults(pal_code_start, 0);
    if (n != 3 || got != MAIN_N * (MAIN_N + 1) / 2 || after)
        return fail("peek", "faults=%d of 3, call from cpu1 %#lx, fault after UNREG %d", n,
                    got, after);
    printf("PALDEMO peek ok faults=%d of=3 sigmask=%#x call_cpu1=%lu\n", n, sig, got);
    return 0;
}
