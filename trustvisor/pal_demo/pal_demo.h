/* pal_demo's driver side: the process that registers its PALs (pals.c)
 * with TrustVisor, calls them, checks what they computed and prints one
 * line per run: "PALDEMO <cmd> ok ..." or "PALDEMO <cmd> FAIL <why>". */
#ifndef PAL_DEMO_H
#define PAL_DEMO_H
#include <stddef.h>
#include <stdint.h>
#include <tvabi.h>

/* Once per process: TrustVisor present, the PAL pages writable, present
 * and pinned (mlockall), their original contents kept (UNREG scrubs
 * them; restore() puts them back for the next REG). 0 or -1 (printed). */
int setup(const char *cmd);
/* REG of entry with the PAL sections (code, data, param, stack). */
uint32_t reg(void *entry, const struct tv_pal_params *pm);
uint32_t unreg(void *entry);
/* After UNREG: were the code and data pages scrubbed? Then restore them. */
int scrubbed_then_restore(void);
uint64_t now_ns(void);
/* With PALDEMO_BARRIER=DIR:N: wait until N processes got here (files in
 * DIR), so that loops on two CPUs run at the same time. 0 or -1. */
int barrier(const char *cmd);
int barrier_mark(const char *cmd, const char *suffix, char *dir, size_t room);
int barrier_count(const char *dir);
int fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cmd_seal(int argc, char **argv);
int cmd_peek(int argc, char **argv);
#endif
