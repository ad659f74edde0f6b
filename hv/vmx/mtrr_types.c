/* The memory type the MTRRs give an address range (SDM Vol. 3A, 11.11.4.1
 * "MTRR Precedences"). Portable: no hypervisor header, so host unit tests
 * check it against the SDM's rules. */
#include "vmx/mtrr.h"

#define DEF_TYPE_E      (1ull << 11)
#define DEF_TYPE_FE     (1ull << 10)
#define MASK_VALID      (1ull << 11)
#define ONE_MIB         0x100000ull

static uint64_t phys_mask = 0x000ffffffffff000ull;

void mtrr_set_phys_mask(uint64_t mask)
{
    phys_mask = mask;
}

/* The fixed-range type of one address below 1 MiB (11.11.2.2). */
static enum mtrr_type fixed_type(const struct mtrr_state *m, uint64_t a)
{
    unsigned msr, byte;
    if (a < 0x80000) {
        msr = 0;
        byte = a >> 16;
    } else if (a < 0xc0000) {
        msr = 1 + ((a - 0x80000) >> 17);
        byte = ((a - 0x80000) >> 14) & 7;
    } else {
        msr = 3 + ((a - 0xc0000) >> 15);
        byte = ((a - 0xc0000) >> 12) & 7;
    }
    return (enum mtrr_type)((m->fixed[msr] >> (8 * byte)) & 0xff);
}

/* Overlapping variable ranges: UC wins; WT and WB give WT; any other mix
 * is undefined, taken as UC (11.11.4.1). */
static enum mtrr_type combine(int have, enum mtrr_type a, enum mtrr_type b)
{
    if (!have || a == b)
        return b;
    if (a == MTRR_UC || b == MTRR_UC)
        return MTRR_UC;
    if ((a == MTRR_WT && b == MTRR_WB) || (a == MTRR_WB && b == MTRR_WT))
        return MTRR_WT;
    return MTRR_UC;
}

/* The variable-range type of one address, with the default type for an
 * address no enabled range covers. */
static enum mtrr_type var_type(const struct mtrr_state *m, uint64_t a)
{
    enum mtrr_type t = MTRR_UC;
    int have = 0;
    for (unsigned i = 0; i < MTRR_MAX_VAR; i++) {
        uint64_t base = m->var[i][0], mask = m->var[i][1];
        if (!(mask & MASK_VALID))
            continue;
        mask &= phys_mask;
        if ((a & mask) == (base & mask)) {
            t = combine(have, t, (enum mtrr_type)(base & 0xff));
            have = 1;
        }
    }
    return have ? t : (enum mtrr_type)(m->def_type & 0xff);
}

static enum mtrr_type type_at(const struct mtrr_state *m, uint64_t a)
{
    if (!(m->def_type & DEF_TYPE_E))
        return MTRR_UC;
    if ((m->def_type & DEF_TYPE_FE) && a < ONE_MIB)
        return fixed_type(m, a);
    return var_type(m, a);
}

/* The smallest piece of [a, a+len) the MTRRs can tell apart: 4 KiB below
 * 1 MiB, else the smallest enabled variable range that overlaps it. */
static uint64_t granule(const struct mtrr_state *m, uint64_t a, uint64_t len)
{
    uint64_t g = len;
    if (a < ONE_MIB)
        return 0x1000;
    for (unsigned i = 0; i < MTRR_MAX_VAR; i++) {
        uint64_t mask = m->var[i][1];
        if (!(mask & MASK_VALID))
            continue;
        mask &= phys_mask;
        uint64_t size = mask ? (mask & -mask) : 0x1000;     /* lowest set bit */
        if (size < g)
            g = size < 0x1000 ? 0x1000 : size;
    }
    return g;
}

enum mtrr_type mtrr_range_type(const struct mtrr_state *m, uint64_t a, uint64_t len,
                               bool *uniform)
{
    uint64_t g = granule(m, a, len);
    enum mtrr_type first = type_at(m, a);
    *uniform = true;
    for (uint64_t p = a + g; p < a + len; p += g)
        if (type_at(m, p) != first) {
            *uniform = false;
            return MTRR_UC;
        }
    return first;
}
