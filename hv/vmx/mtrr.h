/* The guest's MTRRs (mtrr.c) and the memory type they give a range of
 * physical addresses (mtrr_types.c, a portable core the host tests use). */
#ifndef HV_VMX_MTRR_H
#define HV_VMX_MTRR_H
#include <stdbool.h>
#include <stdint.h>

#define MTRR_MAX_VAR 16

enum mtrr_type { MTRR_UC = 0, MTRR_WC = 1, MTRR_WT = 4, MTRR_WP = 5, MTRR_WB = 6 };

struct mtrr_state {
    uint64_t def_type;                  /* IA32_MTRR_DEF_TYPE */
    uint64_t fixed[11];                 /* 64K, 16K x2, 4K x8 */
    uint64_t var[MTRR_MAX_VAR][2];      /* PHYSBASEn, PHYSMASKn */
};

/* The address bits below MAXPHYADDR (PHYSMASK's meaningful bits). */
void mtrr_set_phys_mask(uint64_t mask);
/* The type of [a, a + len) (len a power of two, a aligned to it) by the
 * rules of SDM Vol. 3A, 11.11.4.1; *uniform false if parts differ (the
 * type is then UC, the safe choice). */
enum mtrr_type mtrr_range_type(const struct mtrr_state *m, uint64_t a, uint64_t len,
                               bool *uniform);

/* mtrr.c: once on the BSP, after the EPT exists. */
void vmx_mtrr_init(void);

#endif
