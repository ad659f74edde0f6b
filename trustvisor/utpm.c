/* The micro-TPM (TrustVisor's uTPM): whose it is, PCRs (8 of them, SHA-1,
 * extended as a TPM 1.2 does: PCR = SHA1(PCR || m), utpm_core.c) and
 * random numbers (crypto.c: an HMAC-DRBG fed from RDRAND/RDSEED).
 *
 * Whose: a hypercall from inside a PAL (one runs on this CPU, pal_call.c)
 * reaches that PAL's own micro-TPM, made at its REG with PCR 0 its
 * measurement (pal.c), and its pointers are the PAL's own addresses. Any
 * other caller is the untrusted guest, which gets one micro-TPM of its own
 * for the boot (TrustVisor itself refuses uTPM calls outside a PAL; see
 * trustvisor/README.md). */
#include <string.h>
#include <tvabi.h>
#include <x86.h>
#include "trace/trace.h"
#include "trustvisor/pal.h"
#include "trustvisor/tv.h"

static utpm_pcrs guest_pcr;
static int utpm_lock_word;

/* One lock for every micro-TPM, the DRBG and the keys: hypercalls only,
 * never NMI context. */
void tv_utpm_lock(void)
{
    while (__atomic_exchange_n(&utpm_lock_word, 1, __ATOMIC_ACQUIRE))
        cpu_relax();
}

void tv_utpm_unlock(void)
{
    __atomic_store_n(&utpm_lock_word, 0, __ATOMIC_RELEASE);
}

uint8_t (*tv_utpm_pcrs(struct vcpu *v))[TV_PCR_SIZE]
{
    struct pal *p = pal_running_here(v);
    return p ? p->pcr : guest_pcr;
}

/* TV_UTPM_OP: the operation (hv/trace/names.def), whose micro-TPM (the
 * PAL's entry, 0: the guest's) and the result. */
void tv_utpm_trace(struct vcpu *v, unsigned op, uint32_t rc)
{
    struct pal *p = pal_running_here(v);
    trace_event(TEV_TV_UTPM_OP, op, p ? p->entry : 0, rc);
}

uint32_t tv_utpm_pcrread(struct vcpu *v, uint64_t index, uint64_t out)
{
    uint8_t val[TV_PCR_SIZE];
    uint32_t rc = TV_OK;
    if (index >= TV_PCR_NUM) {
        rc = TV_ERR_PCR_OUT_OF_RANGE;
    } else {
        tv_utpm_lock();
        memcpy(val, tv_utpm_pcrs(v)[index], sizeof(val));
        tv_utpm_unlock();
        if (!tv_write(v, out, val, sizeof(val)))
            rc = TV_ERR_BAD_PARAM;
    }
    tv_utpm_trace(v, 0 /* PCR_READ */, rc);
    return rc;
}

uint32_t tv_utpm_pcrext(struct vcpu *v, uint64_t index, uint64_t meas)
{
    uint8_t m[TV_PCR_SIZE];
    uint32_t rc = TV_OK;
    if (index >= TV_PCR_NUM) {
        rc = TV_ERR_PCR_OUT_OF_RANGE;
    } else if (!tv_read(v, m, meas, sizeof(m))) {
        rc = TV_ERR_BAD_PARAM;
    } else {
        tv_utpm_lock();
        utpm_extend(tv_utpm_pcrs(v)[index], m);
        tv_utpm_unlock();
    }
    tv_utpm_trace(v, 1 /* EXTEND */, rc);
    return rc;
}

uint32_t tv_utpm_genrand(struct vcpu *v, uint64_t out, uint64_t len_ptr)
{
    uint32_t len;
    uint8_t buf[256];
    uint32_t rc = TV_OK;
    /* The output checked first: a bad pointer is the caller's error whether
     * or not the CPU has entropy, and no bytes land in a buffer that turns
     * out to be cut short. */
    if (!tv_read(v, &len, len_ptr, sizeof(len)) || len > TV_MAX_RAND ||
        !tv_writable(v, out, len) || !tv_writable(v, len_ptr, sizeof(len))) {
        rc = TV_ERR_BAD_PARAM;
        goto out;
    }
    for (uint32_t done = 0; done < len && rc == TV_OK; done += sizeof(buf)) {
        uint32_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
        tv_utpm_lock();
        rc = tv_random(buf, n);
        tv_utpm_unlock();
        if (rc == TV_OK && !tv_write(v, out + done, buf, n))
            rc = TV_ERR_BAD_PARAM;
    }
    if (rc == TV_OK && !tv_write(v, len_ptr, &len, sizeof(len)))
        rc = TV_ERR_BAD_PARAM;
out:
    memset(buf, 0, sizeof(buf));
    tv_utpm_trace(v, 5 /* GET_RANDOM */, rc);
    return rc;
}
