/* The micro-TPM (TrustVisor's uTPM): PCRs (8 of them, SHA-1, extended as a
 * TPM 1.2 does: PCR = SHA1(PCR || m)) and random numbers from the CPU.
 *
 * Whose PCRs: a PAL's own once PALs can be called (each PAL's uTPM is
 * made at REG, pal.c); until then every caller is the untrusted guest,
 * which gets one uTPM instance of its own for the boot (TrustVisor itself
 * refuses uTPM calls outside a PAL; see trustvisor/README.md). */
#include <string.h>
#include <tvabi.h>
#include <x86.h>
#include "trace/trace.h"
#include "trustvisor/sha1.h"
#include "trustvisor/tv.h"

static uint8_t guest_pcr[TV_PCR_NUM][TV_PCR_SIZE];
static int pcr_lock;

static void lock(void)
{
    while (__atomic_exchange_n(&pcr_lock, 1, __ATOMIC_ACQUIRE))
        cpu_relax();    /* hypercalls only, never NMI context */
}

static void unlock(void)
{
    __atomic_store_n(&pcr_lock, 0, __ATOMIC_RELEASE);
}

uint32_t tv_utpm_pcrread(struct vcpu *v, uint64_t index, uint64_t out)
{
    uint8_t val[TV_PCR_SIZE];
    uint32_t rc = TV_OK;
    if (index >= TV_PCR_NUM) {
        rc = TV_ERR_PCR_OUT_OF_RANGE;
    } else {
        lock();
        memcpy(val, guest_pcr[index], sizeof(val));
        unlock();
        if (!tv_copy_to_guest(out, val, sizeof(val)))
            rc = TV_ERR_BAD_PARAM;
    }
    trace_event(TEV_TV_UTPM_OP, 0 /* PCR_READ */, 0, rc);
    return rc;
}

uint32_t tv_utpm_pcrext(struct vcpu *v, uint64_t index, uint64_t meas)
{
    uint8_t m[TV_PCR_SIZE];
    uint32_t rc = TV_OK;
    if (index >= TV_PCR_NUM) {
        rc = TV_ERR_PCR_OUT_OF_RANGE;
    } else if (!tv_copy_from_guest(m, meas, sizeof(m))) {
        rc = TV_ERR_BAD_PARAM;
    } else {
        struct sha1_ctx c;
        lock();
        sha1_init(&c);
        sha1_update(&c, guest_pcr[index], TV_PCR_SIZE);
        sha1_update(&c, m, sizeof(m));
        sha1_final(&c, guest_pcr[index]);
        unlock();
    }
    trace_event(TEV_TV_UTPM_OP, 1 /* EXTEND */, 0, rc);
    return rc;
}

/* RDRAND (CPUID.1:ECX[30]) or RDSEED (CPUID.(7,0):EBX[18]); each may
 * report "no value now" with CF = 0 and is retried a few times (SDM Vol.
 * 1, 7.3.17.1, the retry advice for RDRAND). */
static bool cpu_random(uint64_t *out)
{
    static int have = -1;       /* 0 none, 1 rdrand, 2 rdseed */
    if (have < 0)
        have = (cpuid(1, 0).ecx & (1u << 30)) ? 1 : (cpuid(7, 0).ebx & (1u << 18)) ? 2 : 0;
    for (int tries = 0; have && tries < 10; tries++) {
        uint8_t ok;
        if (have == 1)
            __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok) :: "cc");
        else
            __asm__ volatile("rdseed %0; setc %1" : "=r"(*out), "=qm"(ok) :: "cc");
        if (ok)
            return true;
    }
    return false;
}

uint32_t tv_utpm_genrand(struct vcpu *v, uint64_t out, uint64_t len_ptr)
{
    uint32_t len;
    uint8_t buf[256];
    uint32_t rc = TV_OK;
    if (!tv_copy_from_guest(&len, len_ptr, sizeof(len)) || len > TV_MAX_RAND) {
        rc = TV_ERR_BAD_PARAM;
        goto out;
    }
    for (uint32_t done = 0; done < len;) {
        uint32_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
        for (uint32_t i = 0; i < n; i += 8) {
            uint64_t r;
            if (!cpu_random(&r)) {
                rc = TV_ERR_INSUFFICIENT_ENTROPY;
                goto out;
            }
            memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
        }
        if (!tv_copy_to_guest(out + done, buf, n)) {
            rc = TV_ERR_BAD_PARAM;
            goto out;
        }
        done += n;
    }
    if (!tv_copy_to_guest(len_ptr, &len, sizeof(len)))
        rc = TV_ERR_BAD_PARAM;
out:
    memset(buf, 0, sizeof(buf));
    trace_event(TEV_TV_UTPM_OP, 5 /* GET_RANDOM */, 0, rc);
    return rc;
}
