/* mtrr_range_type against the rules of SDM Vol. 3A, 11.11: fixed ranges
 * below 1 MiB, variable ranges by mask, precedence of overlaps, the
 * default type, MTRRs disabled, and ranges the MTRRs split. */
#include <stdio.h>
#include <string.h>
#include "vmx/mtrr.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

#define E   (1ull << 11)
#define FE  (1ull << 10)
#define V   (1ull << 11)
#define GiB (1ull << 30)
#define MiB (1ull << 20)

static struct mtrr_state base(void)
{
    struct mtrr_state m;
    memset(&m, 0, sizeof(m));
    m.def_type = E | FE | MTRR_WB;
    for (int i = 0; i < 11; i++)
        m.fixed[i] = 0x0606060606060606ull;         /* all WB */
    m.fixed[2] = 0;                                 /* 0xa0000-0xbffff UC (VGA) */
    /* 3-4 GiB: the PCI hole, UC */
    m.var[0][0] = 3 * GiB | MTRR_UC;
    m.var[0][1] = (~(GiB - 1) & 0xfffffffff000ull) | V;
    return m;
}

static enum mtrr_type type(const struct mtrr_state *m, uint64_t a, uint64_t len, int *uni)
{
    bool u;
    enum mtrr_type t = mtrr_range_type(m, a, len, &u);
    *uni = u;
    return t;
}

int main(void)
{
    int u;
    mtrr_set_phys_mask(0xfffffffff000ull);          /* MAXPHYADDR 48 */
    struct mtrr_state m = base();
    CHECK(type(&m, 0, 4096, &u) == MTRR_WB && u);
    CHECK(type(&m, 0xa0000, 4096, &u) == MTRR_UC && u);     /* fixed range */
    CHECK(type(&m, 0x80000, 0x80000, &u) == MTRR_UC && !u);  /* part WB, part UC */
    CHECK(type(&m, GiB, GiB, &u) == MTRR_WB && u);          /* default type */
    CHECK(type(&m, 3 * GiB, GiB, &u) == MTRR_UC && u);      /* variable range */
    CHECK(type(&m, 3 * GiB + 2 * MiB, 2 * MiB, &u) == MTRR_UC && u);
    CHECK(type(&m, 2 * GiB, 2 * GiB, &u) == MTRR_UC && !u); /* split by the hole */

    /* Overlaps: UC wins; WT with WB gives WT. */
    m.var[1][0] = 1 * GiB | MTRR_WT;
    m.var[1][1] = (~(GiB - 1) & 0xfffffffff000ull) | V;
    CHECK(type(&m, GiB, 2 * MiB, &u) == MTRR_WT);
    m.var[2][0] = 1 * GiB | MTRR_WB;
    m.var[2][1] = (~(256 * MiB - 1) & 0xfffffffff000ull) | V;
    CHECK(type(&m, GiB, 2 * MiB, &u) == MTRR_WT);           /* WT + WB */
    m.var[3][0] = 1 * GiB | MTRR_UC;
    m.var[3][1] = (~(2 * MiB - 1) & 0xfffffffff000ull) | V;
    CHECK(type(&m, GiB, 2 * MiB, &u) == MTRR_UC);           /* UC wins */
    CHECK(type(&m, GiB + 2 * MiB, 2 * MiB, &u) == MTRR_WT && u);

    /* An invalid range is ignored. */
    m = base();
    m.var[1][0] = 0 | MTRR_UC;
    m.var[1][1] = ~(GiB - 1) & 0xfffffffff000ull;           /* V clear */
    CHECK(type(&m, 0x200000, 2 * MiB, &u) == MTRR_WB && u);

    /* Fixed ranges off: the variable ranges and default apply below 1 MiB. */
    m = base();
    m.def_type = E | MTRR_WB;
    CHECK(type(&m, 0xa0000, 4096, &u) == MTRR_WB);

    /* MTRRs disabled: everything UC. */
    m = base();
    m.def_type = MTRR_WB;
    CHECK(type(&m, GiB, GiB, &u) == MTRR_UC && u);
    CHECK(type(&m, 0, 4096, &u) == MTRR_UC);

    if (failures)
        return 1;
    printf("test_mtrr_types: all passed\n");
    return 0;
}
