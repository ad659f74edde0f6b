/* A fake RSP target for the host tests of the RSP core (hv/gdbstub/rsp*.c):
 * tests/unit/test_rsp.c, tests/fuzz/fuzz_rsp.c and the stdin/stdout
 * program tests/unit/rsp_mock.c that stock gdb talks to.
 *
 * The machine: 1..RSP_MAX_THREADS CPUs (threads), each with a register
 * file; MOCK_MEM bytes of memory at MOCK_BASE (NOPs in the first page:
 * code, so `stepi` and `x/i` have something to show), nothing elsewhere;
 * up to 8 software breakpoints and 4 debug registers. With sync_stop set
 * a resume stops at once, from inside the hook, the way a real target's
 * stop arrives later: a step moves rip by one NOP, a continue runs into
 * a watchpoint (thread 1), else the lowest breakpoint (on thread 2 when
 * there is one: "which CPU hit it" must reach gdb), or else stops
 * with SIGINT as if interrupted. The x87 registers are unavailable, as in
 * the hypervisor (it saves no FPU state). */
#ifndef RSP_MOCK_TARGET_H
#define RSP_MOCK_TARGET_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdbstub/rsp.h"

#define MOCK_BASE 0x100000ull
#define MOCK_MEM 0x10000
#define MOCK_BPS 8
#define MOCK_DRS 4

struct mock {
    struct rsp rsp;
    int nthreads;
    uint64_t dead;                      /* bit tid: thread_alive says no */
    uint8_t regs[RSP_MAX_THREADS + 1][RSP_NREGS][16];
    uint8_t mem[MOCK_MEM];
    struct { int used, type; uint64_t addr; uint32_t kind; } bp[MOCK_BPS + MOCK_DRS];
    bool sync_stop;
    int resumes, interrupts, detaches, kills, monitors;
    struct rsp_resume last_resume;
    /* Everything the core sent. */
    uint8_t *out;
    size_t out_len, out_cap;
    struct rsp_target_ops ops;
};

static bool mock_fpu(enum rsp_reg reg)
{
    return reg >= RSP_REG_st0 && reg <= RSP_REG_fop;
}

static uint64_t mock_get(struct mock *m, int tid, enum rsp_reg reg)
{
    uint64_t v;
    memcpy(&v, m->regs[tid][reg], 8);
    return v;
}

static void mock_set(struct mock *m, int tid, enum rsp_reg reg, uint64_t v)
{
    memcpy(m->regs[tid][reg], &v, 8);
}

static bool mock_alive(void *ctx, int tid)
{
    struct mock *m = ctx;
    return tid >= 1 && tid <= m->nthreads && !(tid < 64 && (m->dead >> tid & 1));
}

static void mock_extra(void *ctx, int tid, char *buf, size_t cap)
{
    struct mock *m = ctx;
    snprintf(buf, cap, "CPU%d apic=%d %s exit=VMCALL rip=0x%llx", tid - 1, 2 * (tid - 1),
             tid == 1 ? "hv" : "guest", (unsigned long long)mock_get(m, tid, RSP_REG_rip));
}

static int mock_read_reg(void *ctx, int tid, enum rsp_reg reg, uint8_t *val)
{
    struct mock *m = ctx;
    if (tid < 1 || tid > m->nthreads || reg >= RSP_NREGS)
        abort();                        /* the core must never ask this */
    if (mock_fpu(reg))
        return RSP_UNSUPPORTED;
    memcpy(val, m->regs[tid][reg], rsp_regs[reg].bits / 8);
    return 0;
}

static int mock_write_reg(void *ctx, int tid, enum rsp_reg reg, const uint8_t *val)
{
    struct mock *m = ctx;
    if (tid < 1 || tid > m->nthreads || reg >= RSP_NREGS)
        abort();
    if (mock_fpu(reg))
        return RSP_UNSUPPORTED;
    if (reg == RSP_REG_cr2)
        return 1;                       /* an error path: "E01" */
    memcpy(m->regs[tid][reg], val, rsp_regs[reg].bits / 8);
    return 0;
}

static size_t mock_read_mem(void *ctx, int tid, uint64_t addr, uint8_t *buf, size_t len)
{
    struct mock *m = ctx;
    size_t n;
    if (len > RSP_PACKET_MAX)
        abort();                        /* the core clamps */
    if (addr < MOCK_BASE || addr >= MOCK_BASE + MOCK_MEM)
        return 0;
    n = MOCK_BASE + MOCK_MEM - addr;
    n = n < len ? n : len;
    memcpy(buf, m->mem + (addr - MOCK_BASE), n);
    return n;
}

static int mock_write_mem(void *ctx, int tid, uint64_t addr, const uint8_t *buf, size_t len)
{
    struct mock *m = ctx;
    if (addr < MOCK_BASE || addr >= MOCK_BASE + MOCK_MEM || len > MOCK_BASE + MOCK_MEM - addr)
        return 14;
    memcpy(m->mem + (addr - MOCK_BASE), buf, len);
    return 0;
}

static int mock_breakpoint(void *ctx, bool insert, enum rsp_bp_type type, uint64_t addr,
                           uint32_t kind)
{
    struct mock *m = ctx;
    int i, lo = type == RSP_BP_SW ? 0 : MOCK_BPS, hi = type == RSP_BP_SW ? MOCK_BPS : MOCK_BPS + MOCK_DRS;
    for (i = lo; i < hi; i++) {
        if (insert && !m->bp[i].used) {
            m->bp[i].used = 1;
            m->bp[i].type = type;
            m->bp[i].addr = addr;
            m->bp[i].kind = kind;
            return 0;
        }
        if (!insert && m->bp[i].used && m->bp[i].type == (int)type && m->bp[i].addr == addr) {
            m->bp[i].used = 0;
            return 0;
        }
    }
    return insert ? 28 : 22;            /* ENOSPC: no debug register free */
}

/* What a resume runs into (see the top of this file). */
static void mock_run(struct mock *m, const struct rsp_resume *r, struct rsp_stop *s)
{
    int t, i, best = -1;
    memset(s, 0, sizeof *s);
    s->thread = 1;
    s->signal = 5;
    for (t = 1; t <= m->nthreads; t++) {
        if (r->has_addr && r->action[t] != RSP_ACT_NONE)
            mock_set(m, t, RSP_REG_rip, r->addr);
        if (r->action[t] == RSP_ACT_STEP) {
            mock_set(m, t, RSP_REG_rip, mock_get(m, t, RSP_REG_rip) + 1);
            s->thread = t;
            return;
        }
    }
    for (i = 0; i < MOCK_BPS + MOCK_DRS; i++)
        if (m->bp[i].used && (best < 0 || m->bp[i].addr < m->bp[best].addr))
            best = i;
    for (i = 0; i < MOCK_BPS + MOCK_DRS; i++)       /* a watchpoint first */
        if (m->bp[i].used && m->bp[i].type >= RSP_BP_WRITE) {
            best = i;
            break;
        }
    if (best < 0) {
        s->signal = 2;
        return;
    }
    s->addr = m->bp[best].addr;
    s->reason = m->bp[best].type == RSP_BP_SW ? RSP_STOP_SWBREAK
              : m->bp[best].type == RSP_BP_HW ? RSP_STOP_HWBREAK
              : m->bp[best].type == RSP_BP_WRITE ? RSP_STOP_WATCH
              : m->bp[best].type == RSP_BP_READ ? RSP_STOP_RWATCH : RSP_STOP_AWATCH;
    if (s->reason == RSP_STOP_WATCH && s->addr - MOCK_BASE < MOCK_MEM)
        m->mem[s->addr - MOCK_BASE]++;  /* gdb checks that the value changed */
    if (s->reason == RSP_STOP_SWBREAK || s->reason == RSP_STOP_HWBREAK) {
        s->thread = m->nthreads >= 2 ? 2 : 1;
        mock_set(m, s->thread, RSP_REG_rip, s->addr);
    }
}

static int mock_resume(void *ctx, const struct rsp_resume *r)
{
    struct mock *m = ctx;
    struct rsp_stop s;
    m->resumes++;
    m->last_resume = *r;
    if (r->has_addr && r->addr == 0xbad)
        return 14;                      /* an error path */
    if (m->sync_stop) {
        mock_run(m, r, &s);
        rsp_stopped(&m->rsp, &s);
    }
    return 0;
}

static void mock_interrupt(void *ctx)
{
    struct mock *m = ctx;
    struct rsp_stop s = { .thread = 1, .signal = 2, .reason = RSP_STOP_SIGNAL };
    m->interrupts++;
    if (m->sync_stop)
        rsp_stopped(&m->rsp, &s);
}

static int mock_monitor(void *ctx, struct rsp *r, const char *cmd)
{
    struct mock *m = ctx;
    char line[128];
    int t;
    m->monitors++;
    if (!strncmp(cmd, "echo ", 5)) {
        rsp_monitor_output(r, cmd + 5, strlen(cmd + 5));
        rsp_monitor_output(r, "\n", 1);
        return 0;
    }
    if (!strcmp(cmd, "cpus")) {
        for (t = 1; t <= m->nthreads; t++) {
            int n = snprintf(line, sizeof line, "cpu %d: rip=0x%llx\n", t - 1,
                             (unsigned long long)mock_get(m, t, RSP_REG_rip));
            rsp_monitor_output(r, line, (size_t)n);
        }
        return 0;
    }
    if (!strcmp(cmd, "big")) {          /* more than one O packet holds */
        static char big[5000];
        memset(big, 'z', sizeof big);
        rsp_monitor_output(r, big, sizeof big);
        return 0;
    }
    if (!strcmp(cmd, "fail"))
        return 22;
    return RSP_UNSUPPORTED;
}

static void mock_detach(void *ctx) { ((struct mock *)ctx)->detaches++; }
static void mock_kill(void *ctx) { ((struct mock *)ctx)->kills++; }

static void mock_put(void *ctx, const uint8_t *bytes, size_t len)
{
    struct mock *m = ctx;
    if (m->out_len + len > m->out_cap) {
        m->out_cap = (m->out_len + len) * 2 + 256;
        m->out = realloc(m->out, m->out_cap);
        if (!m->out)
            abort();
    }
    memcpy(m->out + m->out_len, bytes, len);
    m->out_len += len;
}

static void mock_regs_init(struct mock *m)
{
    int t, i;
    for (t = 1; t <= m->nthreads; t++) {
        for (i = 0; i < RSP_NREGS; i++)
            if (!mock_fpu((enum rsp_reg)i))
                mock_set(m, t, (enum rsp_reg)i, 0x1000ull * (uint64_t)t + (uint64_t)i);
        mock_set(m, t, RSP_REG_rip, MOCK_BASE + 0x10 * (uint64_t)t);
        mock_set(m, t, RSP_REG_rsp, MOCK_BASE + 0x8000 - 0x100 * (uint64_t)t);
        mock_set(m, t, RSP_REG_rbp, MOCK_BASE + 0x8000 - 0x100 * (uint64_t)t);
        mock_set(m, t, RSP_REG_eflags, 0x202);
        mock_set(m, t, RSP_REG_cs, 0x10);
        mock_set(m, t, RSP_REG_ss, 0x18);
        mock_set(m, t, RSP_REG_cr0, 0x80050033);
        mock_set(m, t, RSP_REG_cr3, 0x200000 + 0x1000 * (uint64_t)t);
        mock_set(m, t, RSP_REG_efer, 0xd01);
        mock_set(m, t, RSP_REG_dr6, 0xffff0ff0);
        mock_set(m, t, RSP_REG_dr7, 0x400);
    }
}

/* A fresh machine, stopped (thread 1, SIGTRAP) as after a break-in. */
static void mock_init(struct mock *m, int nthreads, bool sync_stop)
{
    struct rsp_stop s = { .thread = 1, .signal = 5, .reason = RSP_STOP_SIGNAL };
    uint8_t *out = m->out;
    size_t cap = m->out_cap;

    memset(m, 0, sizeof *m);
    m->out = out;                       /* the capture buffer is reused */
    m->out_cap = cap;
    m->nthreads = nthreads;
    m->sync_stop = sync_stop;
    memset(m->mem, 0x90, 0x1000);
    for (size_t i = 0x1000; i < MOCK_MEM; i++)
        m->mem[i] = (uint8_t)(i * 7 >> 8);
    mock_regs_init(m);
    m->ops = (struct rsp_target_ops){
        .nthreads = nthreads, .thread_alive = mock_alive, .thread_extra = mock_extra,
        .read_reg = mock_read_reg, .write_reg = mock_write_reg,
        .read_mem = mock_read_mem, .write_mem = mock_write_mem,
        .breakpoint = mock_breakpoint, .resume = mock_resume,
        .interrupt = mock_interrupt, .monitor = mock_monitor,
        .detach = mock_detach, .kill = mock_kill,
    };
    rsp_init(&m->rsp, &m->ops, m, mock_put);
    rsp_stopped(&m->rsp, &s);
}

#endif
