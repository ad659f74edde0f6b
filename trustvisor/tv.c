/* TrustVisor as a hypapp: its hypercalls (abi/tvabi.h, numbers and
 * registers as TrustVisor's own), its CPUID leaf, its EPT violations, its
 * RAM the guest may not reach, its last words before a reset. */
#include <tvabi.h>
#include "console/console.h"
#include "hypapp/hypapp.h"
#include "trustvisor/trustvisor.h"
#include "trustvisor/pal.h"
#include "trustvisor/tv.h"
#include "vmx/refuse.h"

/* TEST: TrustVisor's liveness call. Here it also stops every other CPU
 * once (quiesce) and lets them go, so a loop of TEST calls exercises the
 * quiesce path under load (the seed notes' T5). */
static uint32_t tv_test(struct vcpu *v)
{
    hypapp_quiesce(v);
    hypapp_endquiesce(v);
    return TV_OK;
}

/* A PAL may use its micro-TPM and TEST, not change what is registered:
 * REG, UNREG or SHARE would take or give back pages (its own among them)
 * under a quiesce while this CPU runs in the PAL's view. */
static bool lifecycle_from_pal(struct vcpu *v, uint32_t fn)
{
    if ((fn != TV_HC_REG && fn != TV_HC_UNREG && fn != TV_HC_SHARE) || !pal_running_here(v))
        return false;
    guest_refused(v, REFUSE_VMCALL, fn, "TrustVisor %s from inside a PAL: error %#x",
                  fn == TV_HC_REG ? "REG" : fn == TV_HC_UNREG ? "UNREG" : "SHARE",
                  TV_ERR_PAL_MODE);
    return true;
}

static uint32_t dispatch(struct vcpu *v, uint32_t fn)
{
    uint64_t rcx = tv_arg(v->regs.rcx), rdx = tv_arg(v->regs.rdx);
    uint64_t rsi = tv_arg(v->regs.rsi), rdi = tv_arg(v->regs.rdi);
    if (lifecycle_from_pal(v, fn))
        return TV_ERR_PAL_MODE;
    switch (fn) {
    case TV_HC_TEST:
        return tv_test(v);
    case TV_HC_REG:
        return tv_pal_register(v, rcx, rsi, rdi);
    case TV_HC_UNREG:
        return tv_pal_unregister(v, rcx);
    case TV_HC_UTPM_PCRREAD:
        return tv_utpm_pcrread(v, rcx, rdx);
    case TV_HC_UTPM_PCREXT:
        return tv_utpm_pcrext(v, rcx, rdx);
    case TV_HC_UTPM_GENRAND:
        return tv_utpm_genrand(v, rcx, rdx);
    case TV_HC_UTPM_SEAL:
        return tv_utpm_seal(v, rcx, rdx, rsi);
    case TV_HC_UTPM_UNSEAL:
        return tv_utpm_unseal(v, rcx, rdx);
    case TV_HC_UTPM_QUOTE:
        return tv_utpm_quote(v, rcx, rdx, rsi, rdi);
    case TV_HC_UTPM_ID_GETPUB:
        return tv_utpm_id_getpub(v, rcx, rdx);
    case TV_HC_SHARE:
        return tv_pal_share(v, rcx, rdx, rsi, rdi);
    default:
        guest_refused(v, REFUSE_VMCALL, fn, "VMCALL function %#x is no TrustVisor command", fn);
        return TV_ERR_UNKNOWN;
    }
}

static void tv_hypercall(struct vcpu *v, uint32_t fn)
{
    v->regs.rax = dispatch(v, fn);      /* EAX, zero-extended */
}

static bool tv_cpuid(uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
    if (leaf != TV_CPUID_LEAF)
        return false;
    *r = (struct cpuid_regs){ TV_CPUID_MAGIC, 0, 0, 0 };
    return true;
}

void trustvisor_register(void)
{
    static const struct hypapp tv = {
        .name = "trustvisor",
        .first = 0x1, .last = 0xff,     /* TV_HC_REG .. TV_HC_TEST */
        .hypercall = tv_hypercall,
        .cpuid = tv_cpuid,
        .ept_violation = tv_pal_ept_violation,
        /* While a PAL runs: its exceptions (exception bitmap) and its time
         * (preemption timer), pal_call.c. */
        .exits = 1ull << VMX_EXIT_EXCEPTION_NMI | 1ull << VMX_EXIT_PREEMPTION_TIMER,
        .exit = pal_call_exit,
        .ram_withheld = tv_pal_withheld,
        .shutdown = tv_pal_shutdown,
    };
    hypapp_register(&tv);
}
