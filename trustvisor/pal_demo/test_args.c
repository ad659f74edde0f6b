/* pal_demo test_args FUNCS ITERS SEED: FUNCS registrations of pal_args,
 * each with a random parameter list (the descriptor, then up to ARGS_MAX
 * integers of 1 byte to a word and pointers to 8-64 bytes), ITERS calls with
 * random values (now and then a null pointer). Every result and every
 * pointed-to word the PAL changed is checked against the same computation
 * done here; integers reach the PAL cut to their registered size. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pal_demo.h"
#include "pals.h"
#include "tvcall.h"

#define MAXP 9      /* room for the most parameters besides the descriptor */
static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static word reference(word d, const word *x, uint64_t (*buf)[8])
{
    uint64_t h = mix(0, d);
    for (unsigned i = 0; i < (d & 15); i++) {
        unsigned t = (d >> (4 + 4 * i)) & 15;
        if (!(t & 8))
            h = mix(h, x[i]);
        else if (!x[i])
            h = mix(h, 0xdead);
        else
            for (unsigned k = 0; k <= (t & 7); k++) {
                h = mix(h, buf[i][k]);
                buf[i][k] = ~buf[i][k] ^ h;
            }
    }
    return (word)h;
}

struct counts { unsigned calls, ints, ptrs, nulls; };

static int one_call(word d, const struct tv_pal_params *pm, struct counts *n)
{
    word x[MAXP] = { 0 }, cut[MAXP] = { 0 };
    uint64_t buf[MAXP][8], want[MAXP][8];
    for (unsigned i = 0; i < (d & 15); i++) {
        const struct tv_pal_param *p = &pm->params[i + 1];
        for (int k = 0; k < 8; k++)
            buf[i][k] = rnd();
        if (p->type == TV_PAL_PM_INTEGER) {
            x[i] = rnd();
            cut[i] = p->size < sizeof(word) ? x[i] & ((1ull << (8 * p->size)) - 1) : x[i];
            n->ints++;
        } else {
            x[i] = cut[i] = rnd() % 8 ? (uintptr_t)buf[i] : 0;
            n->ptrs++, n->nulls += !x[i];
        }
    }
    memcpy(want, buf, sizeof(buf));
    word h = reference(d, cut, want);
    word got = pal_args(d, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8]);
    n->calls++;
    if (got != h)
        return fail("test_args", "d=%#lx: result %#lx, want %#lx", d, got, h);
    if (memcmp(buf, want, sizeof(buf)))
        return fail("test_args", "d=%#lx: pointed-to words not as computed", d);
    return 0;
}

static int one_func(unsigned iters, struct counts *n)
{
    struct tv_pal_params pm = { 0 };
    unsigned np = rnd() % (ARGS_MAX + 1);
    word d = np;
    pm.num_params = np + 1;
    pm.params[0] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0, sizeof(word) };
    for (unsigned i = 0; i < np; i++) {
        unsigned words = rnd() % 8;
        if (rnd() % 2) {
            pm.params[i + 1] = (struct tv_pal_param){ TV_PAL_PM_POINTER, 0, 8 * (words + 1) };
            d |= (word)(8 | words) << (4 + 4 * i);
        } else {
            pm.params[i + 1] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0,
                                                      1 + rnd() % sizeof(word) };
        }
    }
    uint32_t rc = reg((void *)pal_args, &pm);
    if (rc != TV_OK)
        return fail("test_args", "REG (%u parameters) error %#x", np + 1, rc);
    for (unsigned it = 0; it < iters; it++)
        if (one_call(d, &pm, n)) {
            unreg((void *)pal_args);
            scrubbed_then_restore();
            return 1;
        }
    if ((rc = unreg((void *)pal_args)) != TV_OK)
        return fail("test_args", "UNREG error %#x", rc);
    if (!scrubbed_then_restore())
        return fail("test_args", "PAL pages not scrubbed at UNREG");
    return 0;
}

int cmd_test_args(int argc, char **argv)
{
    if (argc != 5)
        return fail("test_args", "usage: test_args FUNCS ITERS SEED");
    unsigned funcs = atoi(argv[2]), iters = atoi(argv[3]);
    rng = strtoull(argv[4], NULL, 0) * 0x9e3779b97f4a7c15ull | 1;
    struct counts n = { 0 };
    uint64_t t0 = now_ns();
    if (setup("test_args"))
        return 1;
    for (unsigned f = 0; f < funcs; f++)
        if (one_func(iters, &n))
            return 1;
    printf("PALDEMO test_args ok funcs=%u iters=%u seed=%s calls=%u ints=%u ptrs=%u nulls=%u "
           "t0=%" PRIu64 " t1=%" PRIu64 "\n", funcs, iters, argv[4], n.calls, n.ints, n.ptrs,
           n.nulls, t0, now_ns());
    return 0;
}
