/* What the ring's deterministic tests share (test_ring_cases.c,
 * test_ring_nmi_points.c): a check that reports its message, a
 * deterministic random source, and record contents that show any tear.
 * Included once per test program (after <stdio.h> and <stdlib.h>). */
#ifndef TESTS_UNIT_RING_CASES_H
#define TESTS_UNIT_RING_CASES_H
#include <stdbool.h>
#include <stdint.h>

static int failures;
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            failures++;                                                      \
            if (failures > 20)                                               \
                exit(1);                                                     \
        }                                                                    \
    } while (0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Record content is a function of (id, length): any tear or mix shows. */
static uint8_t pat(uint64_t id, uint32_t i)
{
    return (uint8_t)(id * 0x9e37u + i * 31u + (id >> 7) + 1);
}
static void fill(uint8_t *p, uint32_t len, uint64_t id)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = pat(id, i);
}
static bool verify(const uint8_t *p, uint32_t len, uint64_t id)
{
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != pat(id, i))
            return false;
    return true;
}

#endif
