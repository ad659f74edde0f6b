/* The RSP command table and the state packets: registers (g G p P),
 * memory (m M X), threads (qfThreadInfo qsThreadInfo qThreadExtraInfo qC
 * H T) and the queries (qSupported qXfer qAttached qOffsets qRcmd
 * QStartNoAckMode). Execution control (? c s C S vCont Z z D k) and the
 * stop reply are in rsp_run.c.
 *
 * Replies: malformed (does not parse) E01, parses but invalid E22,
 * unreadable/unwritable memory E14, a state packet while the target runs
 * E16, unknown the empty reply. */
#include <string.h>
#include "gdbstub/rsp_internal.h"
#include "gdbstub/rsp_run.h"

int rsp_nthreads(const struct rsp *r)
{
    int n = r->ops->nthreads;

    return n < 1 ? 1 : n > RSP_MAX_THREADS ? RSP_MAX_THREADS : n;
}

bool rsp_thread_alive(const struct rsp *r, int tid)
{
    if (tid < 1 || tid > rsp_nthreads(r))
        return false;
    return !r->ops->thread_alive || r->ops->thread_alive(r->ctx, tid);
}

/* The thread a state packet acts on: the Hg/Hc choice, else the one that
 * stopped last. */
int rsp_pick_thread(const struct rsp *r, int sel)
{
    if (sel > 0 && sel <= rsp_nthreads(r))
        return sel;
    return r->have_stop ? r->last_stop.thread : 1;
}

/* "-1", or a hex id (0 = any). Multiprocess "p.." ids are not announced. */
bool rsp_cur_tid(struct rsp_cur *c, int *tid)
{
    uint64_t v;

    if (rsp_cur_eat(c, '-')) {
        if (!rsp_cur_hex(c, &v) || v != 1)
            return false;
        *tid = -1;
        return true;
    }
    if (!rsp_cur_hex(c, &v) || v > 0x7fffffff)
        return false;
    *tid = (int)v;
    return true;
}

void rsp_malformed(struct rsp *r)
{
    r->stats.malformed++;
    rsp_send_err(r, 1);
}

/* The int-hook convention of rsp.h: 0 OK, RSP_UNSUPPORTED empty, else E. */
void rsp_send_result(struct rsp *r, int err)
{
    if (!err)
        rsp_send_str(r, "OK");
    else if (err == RSP_UNSUPPORTED)
        rsp_send_str(r, "");
    else
        rsp_send_err(r, err);
}

static size_t reg_bytes(int reg)
{
    return rsp_regs[reg].bits / 8;
}

/* ---- registers -------------------------------------------------------- */

static void cmd_g(struct rsp *r, struct rsp_cur *c)
{
    int tid = rsp_pick_thread(r, r->g_thread), i;
    struct rsp_reply b;
    uint8_t val[16];
    size_t k;

    rsp_reply_begin(r, &b);
    for (i = 0; i < RSP_NREGS; i++) {
        if (r->ops->read_reg && !r->ops->read_reg(r->ctx, tid, (enum rsp_reg)i, val)) {
            rsp_reply_hex(&b, val, reg_bytes(i));
            continue;
        }
        for (k = 0; k < 2 * reg_bytes(i); k++)     /* unavailable */
            rsp_reply_putc(&b, 'x');
    }
    rsp_reply_send(r, &b);
}

/* A register's worth of hex, or all 'x' (unavailable: skipped on write). */
static int reg_field(struct rsp_cur *c, int reg, uint8_t *val)
{
    size_t k, n = 2 * reg_bytes(reg);

    for (k = 0; k < n && c->p + k < c->end && c->p[k] == 'x'; k++)
        ;
    if (k == n) {
        c->p += n;
        return 1;
    }
    return rsp_cur_hexbytes(c, val, reg_bytes(reg)) ? 0 : -1;
}

static void cmd_G(struct rsp *r, struct rsp_cur *c)
{
    int tid = rsp_pick_thread(r, r->g_thread), i, err = 0;
    struct rsp_cur scan = *c;
    uint8_t val[16];
    size_t total = 0;

    for (i = 0; i < RSP_NREGS; i++)
        total += 2 * reg_bytes(i);
    if ((size_t)(c->end - c->p) != total)
        return rsp_malformed(r);
    for (i = 0; i < RSP_NREGS; i++)     /* all valid before any is written */
        if (reg_field(&scan, i, val) < 0)
            return rsp_malformed(r);
    for (i = 0; i < RSP_NREGS && r->ops->write_reg; i++) {
        int e;
        if (reg_field(c, i, val))
            continue;
        e = r->ops->write_reg(r->ctx, tid, (enum rsp_reg)i, val);
        if (e && e != RSP_UNSUPPORTED && !err)
            err = e;
    }
    rsp_send_result(r, r->ops->write_reg ? err : RSP_UNSUPPORTED);
}

static bool reg_number(struct rsp *r, struct rsp_cur *c, int *reg)
{
    uint64_t v;

    if (!rsp_cur_hex(c, &v)) {
        rsp_malformed(r);
        return false;
    }
    if (v >= RSP_NREGS) {
        rsp_send_err(r, 22);
        return false;
    }
    *reg = (int)v;
    return true;
}

static void cmd_p(struct rsp *r, struct rsp_cur *c)
{
    int reg, err;
    uint8_t val[16];
    struct rsp_reply b;

    if (!reg_number(r, c, &reg))
        return;
    if (!rsp_cur_at_end(c))
        return rsp_malformed(r);
    err = r->ops->read_reg ? r->ops->read_reg(r->ctx, rsp_pick_thread(r, r->g_thread),
                                              (enum rsp_reg)reg, val) : RSP_UNSUPPORTED;
    if (err)
        return rsp_send_err(r, err == RSP_UNSUPPORTED ? 1 : err);
    rsp_reply_begin(r, &b);
    rsp_reply_hex(&b, val, reg_bytes(reg));
    rsp_reply_send(r, &b);
}

static void cmd_P(struct rsp *r, struct rsp_cur *c)
{
    int reg;
    uint8_t val[16];

    if (!reg_number(r, c, &reg))
        return;
    if (!rsp_cur_eat(c, '=') || !rsp_cur_hexbytes(c, val, reg_bytes(reg)) ||
        !rsp_cur_at_end(c))
        return rsp_malformed(r);
    if (!r->ops->write_reg)
        return rsp_send_str(r, "");
    rsp_send_result(r, r->ops->write_reg(r->ctx, rsp_pick_thread(r, r->g_thread),
                                         (enum rsp_reg)reg, val));
}

/* ---- memory ------------------------------------------------------------ */

/* "addr,len" then `term` (0: end of packet). */
static bool addr_len(struct rsp_cur *c, uint64_t *addr, uint64_t *len, char term)
{
    if (!rsp_cur_hex(c, addr) || !rsp_cur_eat(c, ',') || !rsp_cur_hex(c, len))
        return false;
    return term ? rsp_cur_eat(c, term) : rsp_cur_at_end(c);
}

static void cmd_m(struct rsp *r, struct rsp_cur *c)
{
    uint64_t addr, len;
    size_t n = 0;
    struct rsp_reply b;

    if (!addr_len(c, &addr, &len, 0))
        return rsp_malformed(r);
    /* A reply holds RSP_PACKET_MAX / 2 bytes; gdb asks for the rest next
     * (a short read is allowed). Never past the top of the address space. */
    if (len > RSP_PACKET_MAX / 2)
        len = RSP_PACKET_MAX / 2;
    if (addr && len > 0 - addr)
        len = 0 - addr;
    /* The request is parsed: in_buf is free to hold the bytes. */
    if (len && r->ops->read_mem)
        n = r->ops->read_mem(r->ctx, rsp_pick_thread(r, r->g_thread), addr, r->in_buf,
                             (size_t)len);
    if (len && !n)
        return rsp_send_err(r, 14);
    rsp_reply_begin(r, &b);
    rsp_reply_hex(&b, r->in_buf, n < len ? n : (size_t)len);
    rsp_reply_send(r, &b);
}

static void write_mem(struct rsp *r, uint64_t addr, const uint8_t *data, size_t len)
{
    if (!len)
        return rsp_send_str(r, "OK");   /* gdb's X probe: "X addr,0:" */
    if (addr && len - 1 > ~addr)
        return rsp_send_err(r, 14);     /* would wrap past the top */
    if (!r->ops->write_mem)
        return rsp_send_str(r, "");
    rsp_send_result(r, r->ops->write_mem(r->ctx, rsp_pick_thread(r, r->g_thread), addr,
                                         data, len));
}

static void cmd_M(struct rsp *r, struct rsp_cur *c)
{
    uint64_t addr, len;

    if (!addr_len(c, &addr, &len, ':') || len > RSP_PACKET_MAX ||
        (size_t)(c->end - c->p) != 2 * len)
        return rsp_malformed(r);
    /* Decoded in place: byte i lands at in_buf[i], behind the hex read. */
    if (!rsp_cur_hexbytes(c, r->in_buf, (size_t)len))
        return rsp_malformed(r);
    write_mem(r, addr, r->in_buf, (size_t)len);
}

static void cmd_X(struct rsp *r, struct rsp_cur *c)
{
    uint64_t addr, len;

    /* The framing already undid the escapes: what is left is the data. */
    if (!addr_len(c, &addr, &len, ':') || (uint64_t)(c->end - c->p) != len)
        return rsp_malformed(r);
    write_mem(r, addr, c->p, (size_t)len);
}

/* ---- threads ------------------------------------------------------------ */

static void cmd_qfthreadinfo(struct rsp *r, struct rsp_cur *c)
{
    struct rsp_reply b;
    int tid, n = 0;

    rsp_reply_begin(r, &b);
    rsp_reply_putc(&b, 'm');
    for (tid = 1; tid <= rsp_nthreads(r); tid++) {
        if (!rsp_thread_alive(r, tid))
            continue;
        if (n++)
            rsp_reply_putc(&b, ',');
        rsp_reply_hexnum(&b, (uint64_t)tid);
    }
    if (!n)
        return rsp_send_str(r, "l");
    rsp_reply_send(r, &b);
}

static void cmd_qsthreadinfo(struct rsp *r, struct rsp_cur *c)
{
    rsp_send_str(r, "l");       /* qfThreadInfo sent them all */
}

static void cmd_qthreadextrainfo(struct rsp *r, struct rsp_cur *c)
{
    char *text = (char *)r->in_buf;     /* the request is parsed by then */
    const size_t cap = RSP_PACKET_MAX / 2;
    struct rsp_reply b;
    int tid;

    if (!rsp_cur_tid(c, &tid) || !rsp_cur_at_end(c))
        return rsp_malformed(r);
    if (!rsp_thread_alive(r, tid))
        return rsp_send_err(r, 22);
    text[0] = 0;
    if (r->ops->thread_extra)
        r->ops->thread_extra(r->ctx, tid, text, cap);
    text[cap - 1] = 0;
    rsp_reply_begin(r, &b);
    rsp_reply_hex(&b, (const uint8_t *)text, strnlen(text, cap));
    rsp_reply_send(r, &b);
}

static void cmd_qC(struct rsp *r, struct rsp_cur *c)
{
    struct rsp_reply b;

    rsp_reply_begin(r, &b);
    rsp_reply_puts(&b, "QC");
    rsp_reply_hexnum(&b, (uint64_t)rsp_pick_thread(r, r->g_thread));
    rsp_reply_send(r, &b);
}

static void cmd_H(struct rsp *r, struct rsp_cur *c)
{
    int tid;
    char op = c->p < c->end ? (char)*c->p++ : 0;

    if ((op != 'g' && op != 'c') || !rsp_cur_tid(c, &tid) || !rsp_cur_at_end(c))
        return rsp_malformed(r);
    if (tid > 0 && !rsp_thread_alive(r, tid))
        return rsp_send_err(r, 22);
    if (op == 'g')
        r->g_thread = tid;
    else
        r->c_thread = tid;
    rsp_send_str(r, "OK");
}

static void cmd_T(struct rsp *r, struct rsp_cur *c)
{
    int tid;

    if (!rsp_cur_tid(c, &tid) || !rsp_cur_at_end(c))
        return rsp_malformed(r);
    rsp_send_str(r, rsp_thread_alive(r, tid) ? "OK" : "E01");
}

/* ---- the table ----------------------------------------------------------- */

#define EXACT   1u      /* the whole body, not a prefix */
#define STOPPED 2u      /* needs a stopped target */
static const struct rsp_cmd {
    const char *name;
    unsigned flags;
    void (*fn)(struct rsp *r, struct rsp_cur *c);
} cmds[] = {
    { "?", EXACT, rsp_cmd_why },
    { "g", EXACT | STOPPED, cmd_g },
    { "G", STOPPED, cmd_G },
    { "p", STOPPED, cmd_p },
    { "P", STOPPED, cmd_P },
    { "m", STOPPED, cmd_m },
    { "M", STOPPED, cmd_M },
    { "X", STOPPED, cmd_X },
    { "c", STOPPED, rsp_cmd_c },
    { "s", STOPPED, rsp_cmd_s },
    { "C", STOPPED, rsp_cmd_C },
    { "S", STOPPED, rsp_cmd_S },
    { "vCont?", EXACT, rsp_cmd_vcont_query },
    { "vCont;", STOPPED, rsp_cmd_vcont },
    { "Z", STOPPED, rsp_cmd_Z },
    { "z", STOPPED, rsp_cmd_z },
    { "qfThreadInfo", EXACT, cmd_qfthreadinfo },
    { "qsThreadInfo", EXACT, cmd_qsthreadinfo },
    { "qThreadExtraInfo,", 0, cmd_qthreadextrainfo },
    { "qC", EXACT, cmd_qC },
    { "H", 0, cmd_H },
    { "T", 0, cmd_T },
    { "qAttached", 0, rsp_cmd_qattached },
    { "qOffsets", EXACT, rsp_cmd_qoffsets },
    { "D", 0, rsp_cmd_D },
    { "k", EXACT, rsp_cmd_k },
    { "qRcmd,", 0, rsp_cmd_qrcmd },
    { "qXfer:features:read:", 0, rsp_cmd_qxfer_features },
    { "qSupported", 0, rsp_cmd_qsupported },
    { "QStartNoAckMode", EXACT, rsp_cmd_noack },
};

void rsp_dispatch(struct rsp *r, uint8_t *body, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const struct rsp_cmd *k = &cmds[i];
        size_t n = strlen(k->name);
        struct rsp_cur c = { body + n, body + len };

        if (len < n || memcmp(body, k->name, n) || ((k->flags & EXACT) && len != n))
            continue;
        /* Until the target reports a stop its state is not gdb's to read. */
        if ((k->flags & STOPPED) && (r->running || !r->have_stop))
            return rsp_send_err(r, 16);
        k->fn(r, &c);
        return;
    }
    r->stats.unknown++;
    rsp_send_str(r, "");
}
