/* Execution control (? c s C S vCont Z z), the stop reply, and the
 * session packets (qSupported QStartNoAckMode qXfer:features qRcmd
 * qAttached qOffsets D k). */
#include <string.h>
#include "gdbstub/rsp_run.h"

/* ---- the stop reply --------------------------------------------------- */

/* rbp, rsp and rip ride along in the T packet: gdb needs them to show
 * the frame, and each would otherwise cost a round trip. */
static void expedite(struct rsp *r, struct rsp_reply *b, int tid, enum rsp_reg reg)
{
    uint8_t val[16];

    if (!r->ops->read_reg || r->ops->read_reg(r->ctx, tid, reg, val))
        return;                 /* gdb asks later if it needs it */
    rsp_reply_putc(b, rsp_hexdig[(reg >> 4) & 15]);
    rsp_reply_putc(b, rsp_hexdig[reg & 15]);
    rsp_reply_putc(b, ':');
    rsp_reply_hex(b, val, rsp_regs[reg].bits / 8);
    rsp_reply_putc(b, ';');
}

void rsp_send_stop(struct rsp *r)
{
    static const char *const why[] = {
        [RSP_STOP_SWBREAK] = "swbreak:", [RSP_STOP_HWBREAK] = "hwbreak:",
        [RSP_STOP_WATCH] = "watch:", [RSP_STOP_RWATCH] = "rwatch:",
        [RSP_STOP_AWATCH] = "awatch:",
    };
    const struct rsp_stop *s = &r->last_stop;
    unsigned reason = (unsigned)s->reason;
    struct rsp_reply b;

    rsp_reply_begin(r, &b);
    rsp_reply_putc(&b, 'T');
    rsp_reply_hex(&b, &s->signal, 1);
    rsp_reply_puts(&b, "thread:");
    rsp_reply_hexnum(&b, (uint64_t)s->thread);
    rsp_reply_putc(&b, ';');
    expedite(r, &b, s->thread, RSP_REG_rbp);
    expedite(r, &b, s->thread, RSP_REG_rsp);
    expedite(r, &b, s->thread, RSP_REG_rip);
    if (reason < sizeof why / sizeof why[0] && why[reason]) {
        rsp_reply_puts(&b, why[reason]);
        if (reason >= RSP_STOP_WATCH)
            rsp_reply_hexnum(&b, s->addr);
        rsp_reply_putc(&b, ';');
    }
    rsp_reply_send(r, &b);
}

void rsp_cmd_why(struct rsp *r, struct rsp_cur *c)
{
    if (r->have_stop && !r->running)
        return rsp_send_stop(r);
    /* No stop known: the target runs. Ask it to stop; the stop it reports
     * is the answer (sent by rsp_stopped, maybe from inside the hook). */
    r->running = true;
    if (r->ops->interrupt) {
        r->ops->interrupt(r->ctx);
        return;
    }
    {
        /* A target that cannot be interrupted is always stopped. */
        struct rsp_stop s = { .thread = 1, .signal = 5, .reason = RSP_STOP_SIGNAL };
        rsp_stopped(r, &s);
    }
}

/* ---- resuming ------------------------------------------------------------ */

static void do_resume(struct rsp *r, const struct rsp_resume *res)
{
    int err;

    if (!r->ops->resume)
        return rsp_send_str(r, "");
    /* Running before the hook: a target that stops at once calls
     * rsp_stopped() from inside it, and that must send the T packet. */
    r->running = true;
    err = r->ops->resume(r->ctx, res);
    if (err && r->running) {
        r->running = false;
        rsp_send_result(r, err);
    }
}

/* c [addr], s [addr], C sig[;addr], S sig[;addr]. The signal is parsed
 * and dropped: a machine has no signals to deliver. c resumes every
 * thread, s steps only the selected one (Hc, else the one that stopped). */
static void simple_resume(struct rsp *r, struct rsp_cur *c, bool sig, enum rsp_action a)
{
    struct rsp_resume res;
    uint64_t v;
    int t;

    memset(&res, 0, sizeof res);
    if (sig && (!rsp_cur_hex(c, &v) || v > 0xff ||
                (!rsp_cur_at_end(c) && !rsp_cur_eat(c, ';'))))
        return rsp_malformed(r);
    if (!rsp_cur_at_end(c)) {
        if (!rsp_cur_hex(c, &res.addr) || !rsp_cur_at_end(c))
            return rsp_malformed(r);
        res.has_addr = true;
    }
    if (a == RSP_ACT_STEP)
        res.action[rsp_pick_thread(r, r->c_thread)] = RSP_ACT_STEP;
    else
        for (t = 1; t <= rsp_nthreads(r); t++)
            res.action[t] = a;
    do_resume(r, &res);
}

void rsp_cmd_c(struct rsp *r, struct rsp_cur *c) { simple_resume(r, c, false, RSP_ACT_CONTINUE); }
void rsp_cmd_s(struct rsp *r, struct rsp_cur *c) { simple_resume(r, c, false, RSP_ACT_STEP); }
void rsp_cmd_C(struct rsp *r, struct rsp_cur *c) { simple_resume(r, c, true, RSP_ACT_CONTINUE); }
void rsp_cmd_S(struct rsp *r, struct rsp_cur *c) { simple_resume(r, c, true, RSP_ACT_STEP); }

void rsp_cmd_vcont_query(struct rsp *r, struct rsp_cur *c)
{
    rsp_send_str(r, "vCont;c;C;s;S;t");
}

/* One vCont action: c, s, t, Csig, Ssig ('r' range stepping is not
 * announced). 0 = parsed, 1 = malformed, 22 = no such thread. */
static int vcont_action(struct rsp *r, struct rsp_cur *c, struct rsp_resume *res)
{
    char op = rsp_cur_at_end(c) ? 0 : (char)*c->p++;
    enum rsp_action a;
    uint64_t v;
    int tid = -1, t;

    if (op == 'c' || op == 'C')
        a = RSP_ACT_CONTINUE;
    else if (op == 's' || op == 'S')
        a = RSP_ACT_STEP;
    else if (op == 't')
        a = RSP_ACT_STOP;
    else
        return 1;
    if ((op == 'C' || op == 'S') && (!rsp_cur_hex(c, &v) || v > 0xff))
        return 1;
    if (rsp_cur_eat(c, ':') && !rsp_cur_tid(c, &tid))
        return 1;
    if (tid == 0)
        tid = rsp_pick_thread(r, r->c_thread);
    if (tid > 0 && !rsp_thread_alive(r, tid))
        return 22;
    /* The leftmost action that names a thread wins. */
    for (t = 1; t <= rsp_nthreads(r); t++)
        if ((tid < 0 || t == tid) && res->action[t] == RSP_ACT_NONE)
            res->action[t] = a;
    return 0;
}

void rsp_cmd_vcont(struct rsp *r, struct rsp_cur *c)
{
    struct rsp_resume res;
    int err;

    memset(&res, 0, sizeof res);
    do {
        err = vcont_action(r, c, &res);
        if (err == 1)
            return rsp_malformed(r);
        if (err)
            return rsp_send_err(r, err);
    } while (rsp_cur_eat(c, ';'));
    if (!rsp_cur_at_end(c))
        return rsp_malformed(r);
    do_resume(r, &res);
}

/* Z/z type,addr,kind. Types past 4 and a target without the hook get the
 * empty reply, so gdb falls back (e.g. to writing INT3 itself). */
static void breakpoint(struct rsp *r, struct rsp_cur *c, bool insert)
{
    uint64_t type, addr, kind;

    if (!rsp_cur_hex(c, &type) || !rsp_cur_eat(c, ',') || !rsp_cur_hex(c, &addr) ||
        !rsp_cur_eat(c, ',') || !rsp_cur_hex(c, &kind) || !rsp_cur_at_end(c) ||
        kind > 0xffffffffu)
        return rsp_malformed(r);
    if (type > RSP_BP_ACCESS || !r->ops->breakpoint)
        return rsp_send_str(r, "");
    rsp_send_result(r, r->ops->breakpoint(r->ctx, insert, (enum rsp_bp_type)type, addr,
                                          (uint32_t)kind));
}

void rsp_cmd_Z(struct rsp *r, struct rsp_cur *c) { breakpoint(r, c, true); }
void rsp_cmd_z(struct rsp *r, struct rsp_cur *c) { breakpoint(r, c, false); }

/* ---- the session ---------------------------------------------------------- */

/* gdb is gone: the next one starts in ack mode and asks `?` afresh (the
 * target runs on; a break-in or `?` stops it again). */
static void end_session(struct rsp *r)
{
    r->running = false;
    r->have_stop = false;
    r->no_ack = false;
    r->attached = false;
    r->g_thread = r->c_thread = 0;
    r->out_len = 0;
}

void rsp_cmd_D(struct rsp *r, struct rsp_cur *c)
{
    uint64_t pid;

    if (!rsp_cur_at_end(c) &&
        !(rsp_cur_eat(c, ';') && rsp_cur_hex(c, &pid) && rsp_cur_at_end(c)))
        return rsp_malformed(r);
    if (r->ops->detach)
        r->ops->detach(r->ctx);
    rsp_send_str(r, "OK");
    end_session(r);
}

/* gdb does not wait for a reply to k. */
void rsp_cmd_k(struct rsp *r, struct rsp_cur *c)
{
    if (r->ops->kill)
        r->ops->kill(r->ctx);
    end_session(r);
}

void rsp_cmd_qattached(struct rsp *r, struct rsp_cur *c)
{
    rsp_send_str(r, "1");       /* attached: detach, not kill, on quit */
}

void rsp_cmd_qoffsets(struct rsp *r, struct rsp_cur *c)
{
    rsp_send_str(r, "Text=0;Data=0;Bss=0");     /* hv.elf runs where linked */
}

void rsp_cmd_qrcmd(struct rsp *r, struct rsp_cur *c)
{
    size_t n = (size_t)(c->end - c->p) / 2;

    if ((size_t)(c->end - c->p) % 2)
        return rsp_malformed(r);
    /* Decoded in place over the request: byte i behind hex digit 2i. */
    if (!rsp_cur_hexbytes(c, r->in_buf, n))
        return rsp_malformed(r);
    r->in_buf[n] = 0;
    if (!r->ops->monitor)
        return rsp_send_str(r, "");
    rsp_send_result(r, r->ops->monitor(r->ctx, r, (const char *)r->in_buf));
}

/* qXfer:features:read:target.xml:OFF,LEN: 'm' + a chunk, or 'l' + the
 * last one; binary, so '#', '$', '}' and '*' are escaped. */
void rsp_cmd_qxfer_features(struct rsp *r, struct rsp_cur *c)
{
    static const char annex[] = "target.xml:";
    const size_t an = sizeof annex - 1;
    uint64_t off, len, i;
    size_t n;
    const char *xml;
    struct rsp_reply b;

    if ((size_t)(c->end - c->p) < an || memcmp(c->p, annex, an))
        return rsp_send_err(r, 22);
    c->p += an;
    if (!rsp_cur_hex(c, &off) || !rsp_cur_eat(c, ',') || !rsp_cur_hex(c, &len) ||
        !rsp_cur_at_end(c))
        return rsp_malformed(r);
    xml = rsp_target_xml(&n);
    if (off > n || !len)
        return rsp_send_err(r, 22);
    rsp_reply_begin(r, &b);
    rsp_reply_putc(&b, 'm');
    for (i = off; i < n && i - off < len && b.len + 2 <= b.cap; i++) {
        char ch = xml[i];
        if (ch == '#' || ch == '$' || ch == '}' || ch == '*') {
            rsp_reply_putc(&b, '}');
            ch ^= 0x20;
        }
        rsp_reply_putc(&b, ch);
    }
    if (i == n)
        b.p[0] = 'l';
    rsp_reply_send(r, &b);
}

void rsp_cmd_qsupported(struct rsp *r, struct rsp_cur *c)
{
    struct rsp_reply b;

    rsp_reply_begin(r, &b);
    rsp_reply_puts(&b, "PacketSize=");
    rsp_reply_hexnum(&b, RSP_PACKET_MAX);
    rsp_reply_puts(&b, ";qXfer:features:read+;QStartNoAckMode+;vContSupported+"
                       ";swbreak+;hwbreak+");
    rsp_reply_send(r, &b);
}

void rsp_cmd_noack(struct rsp *r, struct rsp_cur *c)
{
    rsp_send_str(r, "OK");      /* still in ack mode: gdb acks this OK */
    r->no_ack = true;
}
