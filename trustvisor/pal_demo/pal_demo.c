/* pal_demo: TrustVisor's demo PALs in a Linux process (trustvisor/README.md).
 *   pal_demo main [ROUNDS]            REG, call pal_main twice, UNREG; ROUNDS times
 *                                     (with PALDEMO_UNTIL=FILE: and on until FILE exists)
 *   pal_demo test [N]                 N TEST hypercalls (each quiesces the machine)
 *   pal_demo test_args FUNCS ITERS SEED
 *   pal_demo seal                     (seal_peek.c)
 *   pal_demo peek                     (seal_peek.c) */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "pal_demo.h"
#include "pals.h"
#include "tvcall.h"

#define PG 4096
static uint8_t *orig_code, *orig_data;

int fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    printf("PALDEMO %s FAIL ", cmd);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return 1;
}

uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static int entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* PALDEMO_BARRIER=DIR:N: this process's mark in DIR<suffix> (made if
 * need be). N, 0 without the variable, -1 if the mark cannot be made. */
int barrier_mark(const char *cmd, const char *suffix, char *dir, size_t room)
{
    const char *b = getenv("PALDEMO_BARRIER"), *colon = b ? strrchr(b, ':') : NULL;
    char me[300];
    if (!colon)
        return 0;
    snprintf(dir, room, "%.*s%s", (int)(colon - b), b, suffix);
    snprintf(me, sizeof(me), "%s/%d", dir, (int)getpid());
    mkdir(dir, 0755);
    FILE *f = fopen(me, "w");
    if (!f) {
        fail(cmd, "barrier %s: %m", dir);
        return -1;
    }
    fclose(f);
    return atoi(colon + 1);
}

int barrier_count(const char *dir)
{
    return entries(dir);
}

int barrier(const char *cmd)
{
    char dir[200];
    int n = barrier_mark(cmd, "", dir, sizeof(dir));
    /* Spinning (each process has its CPU): a sleep's wake-up comes late
     * by a timer tick or more, longer than a short loop takes. */
    for (uint64_t t = now_ns(); n > 0 && entries(dir) < n; sched_yield())
        if (now_ns() - t > 120000000000ull) {
            fail(cmd, "barrier %s: the others never came", dir);
            return -1;
        }
    return n < 0 ? -1 : 0;
}

static size_t len(uint8_t *s, uint8_t *e) { return (size_t)(e - s); }

int setup(const char *cmd)
{
    if (!tv_present()) {
        fail(cmd, "no TrustVisor CPUID leaf %#x", TV_CPUID_LEAF);
        return -1;
    }
    /* REG wants pages the caller may write, present: the code too. */
    if (mprotect(pal_code_start, len(pal_code_start, pal_code_end),
                 PROT_READ | PROT_WRITE | PROT_EXEC) != 0 ||
        mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
        fail(cmd, "mprotect/mlockall: %m");
        return -1;
    }
    /* Touch every page for writing: a private page is then the process's
     * own copy, not a shared file or zero page. */
    uint8_t *secs[4][2] = { { pal_code_start, pal_code_end }, { pal_data_start, pal_data_end },
                            { pal_param_start, pal_param_end }, { pal_stack_start, pal_stack_end } };
    for (int i = 0; i < 4; i++)
        for (volatile uint8_t *p = secs[i][0]; p < secs[i][1]; p += PG)
            *p = *p;
    orig_code = malloc(len(pal_code_start, pal_code_end));
    orig_data = malloc(len(pal_data_start, pal_data_end));
    memcpy(orig_code, pal_code_start, len(pal_code_start, pal_code_end));
    memcpy(orig_data, pal_data_start, len(pal_data_start, pal_data_end));
    return 0;
}

static void add(struct tv_pal_sections *ss, uint32_t type, uint8_t *s, uint8_t *e)
{
    ss->sections[ss->num_sections++] = (struct tv_pal_section){
        type, (uint32_t)(len(s, e) / PG), (uintptr_t)s };
}

uint32_t reg(void *entry, const struct tv_pal_params *pm)
{
    struct tv_pal_sections ss = { 0 };
    add(&ss, TV_PAL_SECTION_CODE, pal_code_start, pal_code_end);
    add(&ss, TV_PAL_SECTION_DATA, pal_data_start, pal_data_end);
    add(&ss, TV_PAL_SECTION_PARAM, pal_param_start, pal_param_end);
    add(&ss, TV_PAL_SECTION_STACK, pal_stack_start, pal_stack_end);
    return tv_vmcall(TV_HC_REG, (uintptr_t)&ss, 0, (uintptr_t)pm, (uintptr_t)entry);
}

uint32_t unreg(void *entry)
{
    return tv_vmcall(TV_HC_UNREG, (uintptr_t)entry, 0, 0, 0);
}

static int all_zero(const uint8_t *p, size_t n)
{
    while (n--)
        if (*p++)
            return 0;
    return 1;
}

int scrubbed_then_restore(void)
{
    int z = all_zero(pal_code_start, len(pal_code_start, pal_code_end)) &&
            all_zero(pal_data_start, len(pal_data_start, pal_data_end));
    memcpy(pal_code_start, orig_code, len(pal_code_start, pal_code_end));
    memcpy(pal_data_start, orig_data, len(pal_data_start, pal_data_end));
    return z;
}

/* One round: REG, two calls (the second sees the first's count in DATA),
 * UNREG, scrubbed. */
static int main_round(word a, int *cpu)
{
    static const struct tv_pal_params pm = { 2, 0, { { TV_PAL_PM_INTEGER, 0, sizeof(word) },
                                                     { TV_PAL_PM_POINTER, 0, 8 * MAIN_N } } };
    uint32_t rc = reg((void *)pal_main, &pm);
    if (rc != TV_OK)
        return fail("main", "REG error %#x", rc);
    uint64_t v[MAIN_N], want[MAIN_N];
    for (int c = 1; c <= 2; c++) {
        word sum = 0, got;
        for (unsigned i = 0; i < MAIN_N; i++) {
            v[i] = a + i * 1000 + c;
            want[i] = v[i] * a + i + c;
            sum += want[i];
        }
        if ((got = pal_main(a, v)) != sum || memcmp(v, want, sizeof(v))) {
            unreg((void *)pal_main);
            scrubbed_then_restore();
            return fail("main", "call %d: result %#lx, want %#lx (or v[] wrong)", c,
                        (unsigned long)got, (unsigned long)sum);
        }
    }
    *cpu = sched_getcpu();
    if ((rc = unreg((void *)pal_main)) != TV_OK)
        return fail("main", "UNREG error %#x", rc);
    if (!scrubbed_then_restore())
        return fail("main", "PAL pages not scrubbed at UNREG");
    return 0;
}

static int cmd_main(int argc, char **argv)
{
    int rounds = argc > 2 ? atoi(argv[2]) : 1, cpu = -1, cpus = 0;
    if (setup("main") || barrier("main"))
        return 1;
    uint64_t t0 = now_ns();
    const char *until = getenv("PALDEMO_UNTIL");
    int r;
    for (r = 0; r < rounds || (until && access(until, F_OK) != 0); r++) {
        if (main_round(0x1234567 + r, &cpu))
            return 1;
        cpus |= 1 << cpu;
        if (now_ns() - t0 > 300000000000ull)
            return fail("main", "%s never came", until);
    }
    rounds = r;
    printf("PALDEMO main ok rounds=%d calls=%d cpus=%#x t0=%" PRIu64 " t1=%" PRIu64 "\n",
           rounds, 2 * rounds, cpus, t0, now_ns());
    return 0;
}

static int cmd_test(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 10, cpus = 0;
    if (!tv_present())
        return fail("test", "no TrustVisor CPUID leaf");
    if (barrier("test"))
        return 1;
    uint64_t t0 = now_ns();
    char done[200];
    int parties = 0, extra = 0;
    /* After its n calls, with a barrier, it goes on calling until every
     * loop has done its n: so the loops surely ran at the same time, however
     * late one of them got its CPU (extra counts the calls past n). */
    for (int i = 0; i < n || (parties > 0 && barrier_count(done) < parties); i++) {
        uint32_t rc = tv_vmcall(TV_HC_TEST, 0, 0, 0, 0);
        if (rc != TV_OK)
            return fail("test", "TEST %d: error %#x", i, rc);
        cpus |= 1 << sched_getcpu();
        if (i == n - 1 && (parties = barrier_mark("test", ".done", done, sizeof(done))) < 0)
            return 1;
        extra += i >= n;
        if (now_ns() - t0 > 300000000000ull)
            return fail("test", "the other loops never finished");
    }
    printf("PALDEMO test ok n=%d extra=%d cpus=%#x t0=%" PRIu64 " t1=%" PRIu64 "\n", n, extra,
           cpus, t0, now_ns());
    return 0;
}

int cmd_test_args(int argc, char **argv);

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *c = argc > 1 ? argv[1] : "";
    if (!strcmp(c, "main"))
        return cmd_main(argc, argv);
    if (!strcmp(c, "test"))
        return cmd_test(argc, argv);
    if (!strcmp(c, "test_args"))
        return cmd_test_args(argc, argv);
    if (!strcmp(c, "seal"))
        return cmd_seal(argc, argv);
    if (!strcmp(c, "peek"))
        return cmd_peek(argc, argv);
    fprintf(stderr, "usage: pal_demo main [ROUNDS] | test [N] | test_args FUNCS ITERS SEED | "
                    "seal | peek\n");
    return 2;
}
