/* The MTRRs are the hypervisor's: they set the memory types of its own
 * accesses. The guest gets a shadow copy per vCPU (reads see what it
 * wrote; writes are checked as the CPU checks them, SDM Vol. 3A, 11.11),
 * and what its MTRRs say about RAM is folded into the EPT memory types
 * (with EPT, the guest's accesses take their type from the EPT and the
 * guest's PAT, never from the MTRRs, Vol. 3C, 28.2.6.2). */
#include <string.h>
#include <percpu.h>
#include <x86.h>
#include "console/console.h"
#include "vmx/ept.h"
#include "vmx/exit_table.h"
#include "vmx/handlers.h"
#include "vmx/mtrr.h"

#define MSR_MTRRCAP         0xfe
#define MSR_MTRR_PHYSBASE0  0x200
#define MSR_MTRR_FIX64K     0x250
#define MSR_MTRR_FIX16K_80  0x258
#define MSR_MTRR_FIX16K_A0  0x259
#define MSR_MTRR_FIX4K_C0   0x268
#define MSR_MTRR_FIX4K_F8   0x26f
#define MSR_MTRR_DEF_TYPE   0x2ff
#define DEF_TYPE_E          (1ull << 11)
#define DEF_TYPE_FE         (1ull << 10)
#define MASK_VALID          (1ull << 11)

static struct mtrr_state shadow[MAX_CPUS];
static unsigned var_count;      /* MTRRCAP[7:0] */
static uint64_t phys_mask;      /* address bits below MAXPHYADDR */

static bool valid_type(uint8_t t)
{
    return t == MTRR_UC || t == MTRR_WC || t == MTRR_WT || t == MTRR_WP || t == MTRR_WB;
}

/* Index into struct mtrr_state's fixed[] (11 MSRs), or -1. */
static int fixed_index(uint32_t msr)
{
    if (msr == MSR_MTRR_FIX64K)
        return 0;
    if (msr == MSR_MTRR_FIX16K_80 || msr == MSR_MTRR_FIX16K_A0)
        return 1 + (msr - MSR_MTRR_FIX16K_80);
    if (msr >= MSR_MTRR_FIX4K_C0 && msr <= MSR_MTRR_FIX4K_F8)
        return 3 + (msr - MSR_MTRR_FIX4K_C0);
    return -1;
}

static uint64_t *slot(struct mtrr_state *m, uint32_t msr)
{
    int f = fixed_index(msr);
    if (msr == MSR_MTRR_DEF_TYPE)
        return &m->def_type;
    if (f >= 0)
        return &m->fixed[f];
    if (msr >= MSR_MTRR_PHYSBASE0 && msr < MSR_MTRR_PHYSBASE0 + 2 * var_count)
        return &m->var[(msr - MSR_MTRR_PHYSBASE0) / 2][msr & 1];
    return NULL;
}

/* The checks WRMSR makes (Vol. 3A, 11.11.2): #GP for reserved bits and
 * undefined memory types. */
static bool write_ok(uint32_t msr, uint64_t value)
{
    if (msr == MSR_MTRR_DEF_TYPE)
        return !(value & ~(0xffull | DEF_TYPE_FE | DEF_TYPE_E)) && valid_type(value & 0xff);
    if (fixed_index(msr) >= 0) {
        for (int i = 0; i < 8; i++)
            if (!valid_type(value >> (8 * i)))
                return false;
        return true;
    }
    if ((msr & 1) == 0)         /* PHYSBASEn */
        return !(value & ~(phys_mask | 0xffull)) && valid_type(value & 0xff);
    return !(value & ~(phys_mask | MASK_VALID));   /* PHYSMASKn */
}

static bool read_mtrr(struct vcpu *v, uint32_t msr, uint64_t *value)
{
    uint64_t *s = slot(&shadow[v->index], msr);
    if (!s)
        return false;
    *value = *s;
    return true;
}

static bool write_mtrr(struct vcpu *v, uint32_t msr, uint64_t value)
{
    uint64_t *s = slot(&shadow[v->index], msr);
    if (!s || !write_ok(msr, value))
        return false;
    *s = value;
    /* Operating systems program the MTRRs with them disabled and enable
     * them last (11.11.7.2): the types are folded then. */
    if (msr == MSR_MTRR_DEF_TYPE && (value & DEF_TYPE_E))
        ept_fold_memory_types(&shadow[v->index]);
    return true;
}

static void snapshot(struct mtrr_state *m)
{
    m->def_type = rdmsr(MSR_MTRR_DEF_TYPE);
    for (uint32_t i = 0; i < 11; i++) {
        static const uint32_t fixed[11] = { 0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b,
                                            0x26c, 0x26d, 0x26e, 0x26f };
        m->fixed[i] = rdmsr(fixed[i]);
    }
    for (unsigned i = 0; i < var_count; i++) {
        m->var[i][0] = rdmsr(MSR_MTRR_PHYSBASE0 + 2 * i);
        m->var[i][1] = rdmsr(MSR_MTRR_PHYSBASE0 + 2 * i + 1);
    }
}

/* Once, on the BSP: the firmware's MTRRs are every vCPU's starting copy,
 * and they give the EPT its first memory types. */
void vmx_mtrr_init(void)
{
    if (!(cpuid(1, 0).edx & (1u << 12)))
        return;                 /* no MTRRs: nothing to shadow */
    var_count = rdmsr(MSR_MTRRCAP) & 0xff;
    if (var_count > MTRR_MAX_VAR)
        var_count = MTRR_MAX_VAR;
    phys_mask = ((1ull << (cpuid(0x80000008, 0).eax & 0xff)) - 1) & ~0xfffull;
    mtrr_set_phys_mask(phys_mask);
    snapshot(&shadow[0]);
    for (unsigned c = 1; c < MAX_CPUS; c++)
        shadow[c] = shadow[0];
    /* Firmware that left the MTRRs off (everything UC) is not followed:
     * RAM stays write-back until the guest enables its MTRRs. */
    if (shadow[0].def_type & DEF_TYPE_E)
        ept_fold_memory_types(&shadow[0]);
    static const struct msr_intercept mtrrs[] = {
        { MSR_MTRR_PHYSBASE0, MSR_MTRR_PHYSBASE0 + 2 * MTRR_MAX_VAR - 1, false, read_mtrr,
          write_mtrr, "vmx mtrr" },
        { MSR_MTRR_FIX64K, MSR_MTRR_FIX64K, false, read_mtrr, write_mtrr, "vmx mtrr" },
        { MSR_MTRR_FIX16K_80, MSR_MTRR_FIX16K_A0, false, read_mtrr, write_mtrr, "vmx mtrr" },
        { MSR_MTRR_FIX4K_C0, MSR_MTRR_FIX4K_F8, false, read_mtrr, write_mtrr, "vmx mtrr" },
        { MSR_MTRR_DEF_TYPE, MSR_MTRR_DEF_TYPE, false, read_mtrr, write_mtrr, "vmx mtrr" },
    };
    for (unsigned i = 0; i < sizeof(mtrrs) / sizeof(mtrrs[0]); i++)
        vmx_msr_register(&mtrrs[i]);
}
