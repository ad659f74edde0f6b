/* The unit tests' check: report the failed condition with its place and
 * count it; each test program ends by returning failures != 0. Included
 * once per test program (after <stdio.h>). */
#ifndef TESTS_UNIT_UNIT_CHECK_H
#define TESTS_UNIT_UNIT_CHECK_H
static int failures;
#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #c);                                                     \
            failures++;                                                      \
        }                                                                    \
    } while (0)

#endif
