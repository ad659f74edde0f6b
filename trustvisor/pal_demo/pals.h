/* The PALs of pal_demo (pals.c) and the sections they live in (pal.ld:
 * each section page-aligned and padded to whole pages, so REG takes from
 * the process exactly these pages and nothing of the rest of it). */
#ifndef PAL_DEMO_PALS_H
#define PAL_DEMO_PALS_H
#include <stdint.h>

#define PAL_CODE  __attribute__((section(".pal_code"), noinline))
#define PAL_DATA  __attribute__((section(".pal_data")))

extern uint8_t pal_code_start[], pal_code_end[], pal_data_start[], pal_data_end[];
extern uint8_t pal_param_start[], pal_param_end[], pal_stack_start[], pal_stack_end[];

/* Parameters and results are machine words (unsigned long): one stack
 * slot each for a 32-bit caller (cdecl), one register or slot in 64-bit. */
typedef unsigned long word;

/* main: v[i] = v[i] * a + i + calls, returns the sum of the new v[] (calls:
 * how often it ran since REG, kept in its DATA section). */
#define MAIN_N 8
word pal_main(word a, uint64_t *v);

/* test_args: d describes the other parameters (count in bits 0-3, then 4
 * bits each: bit 3 a pointer, bits 0-2 its size / 8 - 1); integers are
 * mixed into the result, pointed-to words too, each word then replaced
 * by ~word ^ h. At most (bits in a word - 4) / 4 of them. */
#define ARGS_MAX ((int)(sizeof(word) * 8 - 4) / 4 < 9 ? (int)(sizeof(word) * 8 - 4) / 4 : 9)
word pal_args(word d, ...);

/* seal: one micro-TPM operation from inside the PAL, on io. */
enum { SEAL_OP_SEAL = 1, SEAL_OP_UNSEAL, SEAL_OP_QUOTE };
struct seal_io {
    uint32_t op, len_a, len_b, len_c;
    uint8_t a[512], b[512], c[512];
};
word pal_seal(struct seal_io *io);
#endif
