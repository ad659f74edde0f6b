/* The RSP core's byte level: the input state machine ($body#cs, acks,
 * escapes, 0x03), reply framing with run-length encoding, retransmit on
 * '-', O packets, and the hex helpers the command table uses. */
#include <string.h>
#include "gdbstub/rsp_internal.h"

const char rsp_hexdig[16] = "0123456789abcdef";

/* Where replies are built: above the framed packet's reach (see
 * struct rsp_reply), exactly RSP_PACKET_MAX bytes. */
#define REPLY_AREA(r) ((r)->out_buf + RSP_PACKET_MAX + 8)
_Static_assert(sizeof(((struct rsp *)0)->out_buf) >= 2 * RSP_PACKET_MAX + 8,
               "out_buf holds the framed packet and the reply area");

int rsp_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool rsp_cur_at_end(const struct rsp_cur *c)
{
    return c->p >= c->end;
}

bool rsp_cur_eat(struct rsp_cur *c, char ch)
{
    if (c->p >= c->end || *c->p != (uint8_t)ch)
        return false;
    c->p++;
    return true;
}

/* At least one digit, at most 16: a longer number is an error rather than
 * silently wrapped (an address that wrapped would hit the wrong memory). */
bool rsp_cur_hex(struct rsp_cur *c, uint64_t *v)
{
    uint64_t x = 0;
    int n = 0, d;

    while (c->p < c->end && (d = rsp_hexval(*c->p)) >= 0) {
        if (++n > 16)
            return false;
        x = (x << 4) | (uint64_t)d;
        c->p++;
    }
    *v = x;
    return n > 0;
}

bool rsp_cur_hexbytes(struct rsp_cur *c, uint8_t *out, size_t n)
{
    size_t i;

    if ((size_t)(c->end - c->p) / 2 < n)
        return false;
    for (i = 0; i < n; i++) {
        int hi = rsp_hexval(c->p[0]), lo = rsp_hexval(c->p[1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        c->p += 2;
    }
    return true;
}

/* ---- replies ---------------------------------------------------------- */

static void out(struct rsp *r, const void *p, size_t n)
{
    r->stats.bytes_out += n;
    r->put(r->ctx, p, n);
}

void rsp_reply_begin(struct rsp *r, struct rsp_reply *b)
{
    b->p = REPLY_AREA(r);
    b->len = 0;
    b->cap = RSP_PACKET_MAX;
    b->overflow = false;
}

void rsp_reply_putc(struct rsp_reply *b, char ch)
{
    if (b->len >= b->cap) {
        b->overflow = true;
        return;
    }
    b->p[b->len++] = (uint8_t)ch;
}

void rsp_reply_puts(struct rsp_reply *b, const char *s)
{
    size_t i, n = strnlen(s, RSP_PACKET_MAX);

    for (i = 0; i < n; i++)
        rsp_reply_putc(b, s[i]);
}

void rsp_reply_hex(struct rsp_reply *b, const uint8_t *bytes, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        rsp_reply_putc(b, rsp_hexdig[bytes[i] >> 4]);
        rsp_reply_putc(b, rsp_hexdig[bytes[i] & 15]);
    }
}

void rsp_reply_hexnum(struct rsp_reply *b, uint64_t v)
{
    int shift = 60;

    while (shift > 0 && !((v >> shift) & 15))
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        rsp_reply_putc(b, rsp_hexdig[(v >> shift) & 15]);
}

/* Run-length encoding as gdb decodes it: "c*N" stands for c followed by
 * N-29 more copies. Only runs of 3+ repeats gain; the count character
 * must be printable (at most '~', so 97 repeats) and neither '#' (6) nor
 * '$' (7), which would end or start a packet: those runs use 5 and leave
 * the rest as plain characters. dst may not overlap src. */
static size_t rle_encode(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i = 0, o = 0;

    while (i < n) {
        uint8_t ch = src[i];
        size_t rep = 0;

        while (i + 1 + rep < n && src[i + 1 + rep] == ch && rep < 126 - 29)
            rep++;
        dst[o++] = ch;
        if (rep < 3) {
            i++;
            continue;
        }
        if (rep == 6 || rep == 7)
            rep = 5;
        dst[o++] = '*';
        dst[o++] = (uint8_t)(rep + 29);
        i += 1 + rep;
    }
    return o;
}

/* $body#cs into out_buf (kept for a '-' from gdb), then out. */
static void frame_send(struct rsp *r, const uint8_t *body, size_t n)
{
    uint8_t *o = r->out_buf, sum = 0;
    size_t i, len;

    o[0] = '$';
    len = 1 + rle_encode(o + 1, body, n);
    for (i = 1; i < len; i++)
        sum = (uint8_t)(sum + o[i]);
    o[len++] = '#';
    o[len++] = (uint8_t)rsp_hexdig[sum >> 4];
    o[len++] = (uint8_t)rsp_hexdig[sum & 15];
    r->out_len = len;
    out(r, o, len);
}

void rsp_reply_send(struct rsp *r, struct rsp_reply *b)
{
    if (b->overflow) {
        /* A reply that did not fit is a bug in a length check, not
         * something to send cut short: gdb gets an error instead. */
        rsp_send_err(r, 1);
        return;
    }
    frame_send(r, b->p, b->len);
}

void rsp_send_str(struct rsp *r, const char *s)
{
    struct rsp_reply b;

    rsp_reply_begin(r, &b);
    rsp_reply_puts(&b, s);
    rsp_reply_send(r, &b);
}

void rsp_send_err(struct rsp *r, int err)
{
    char e[4] = "E01";

    if (err < 0 || err > 99)
        err = 1;
    e[1] = (char)('0' + err / 10);
    e[2] = (char)('0' + err % 10);
    frame_send(r, (const uint8_t *)e, 3);
}

/* ---- O packets ---------------------------------------------------------- */

#define O_CHUNK RSP_O_CHUNK

void rsp_monitor_output(struct rsp *r, const char *text, size_t len)
{
    while (len) {
        size_t n = len < O_CHUNK ? len : O_CHUNK;
        struct rsp_reply b;

        rsp_reply_begin(r, &b);
        rsp_reply_putc(&b, 'O');
        rsp_reply_hex(&b, (const uint8_t *)text, n);
        rsp_reply_send(r, &b);
        text += n;
        len -= n;
    }
}

/* Console text arrives whenever the platform prints, possibly while a
 * reply is being built in out_buf, so it is framed piecewise through a
 * small stack buffer and never touches out_buf (and so is not
 * retransmitted: console text is best effort). gdb accepts O packets only
 * while it waits for the stop after a resume (not while it waits for the
 * answer to its first `?`, which it takes as is: then no stop is known
 * yet); at any other time the text is not sent. */
void rsp_console_output(struct rsp *r, const char *text, size_t len)
{
    uint8_t tmp[64];

    if (!r->running || !r->have_stop)
        return;
    while (len) {
        size_t n = len < O_CHUNK ? len : O_CHUNK, i, k;
        uint8_t sum = 'O';

        out(r, "$O", 2);
        for (i = 0; i < n; i += sizeof tmp / 2) {
            size_t m = n - i < sizeof tmp / 2 ? n - i : sizeof tmp / 2;
            for (k = 0; k < m; k++) {
                uint8_t c = (uint8_t)text[i + k];
                tmp[2 * k] = (uint8_t)rsp_hexdig[c >> 4];
                tmp[2 * k + 1] = (uint8_t)rsp_hexdig[c & 15];
                sum = (uint8_t)(sum + tmp[2 * k] + tmp[2 * k + 1]);
            }
            out(r, tmp, 2 * m);
        }
        tmp[0] = '#';
        tmp[1] = (uint8_t)rsp_hexdig[sum >> 4];
        tmp[2] = (uint8_t)rsp_hexdig[sum & 15];
        out(r, tmp, 3);
        text += n;
        len -= n;
    }
}

/* ---- input -------------------------------------------------------------- */

void rsp_stopped(struct rsp *r, const struct rsp_stop *s)
{
    r->last_stop = *s;
    if (r->last_stop.thread < 1 || r->last_stop.thread > rsp_nthreads(r))
        r->last_stop.thread = 1;
    r->have_stop = true;
    if (r->running) {
        r->running = false;
        rsp_send_stop(r);
    }
}

void rsp_init(struct rsp *r, const struct rsp_target_ops *ops, void *ctx, rsp_put_fn put)
{
    size_t len;

    memset(r, 0, sizeof *r);
    r->ops = ops;
    r->ctx = ctx;
    r->put = put;
    (void)rsp_target_xml(&len);     /* built now, not on gdb's first read */
}

static void start_packet(struct rsp *r)
{
    r->in_state = RSP_IN_BODY;
    r->in_len = 0;
    r->in_csum = 0;
    r->in_escape = false;
    r->in_overlong = false;
}

static void packet_done(struct rsp *r, bool csum_ok)
{
    r->in_state = RSP_IN_IDLE;
    if (!csum_ok) {
        /* In no-ack mode gdb would not resend: the packet is dropped
         * rather than acted on (a corrupted M could write anywhere). */
        r->stats.bad_checksum++;
        if (!r->no_ack) {
            r->stats.naks_sent++;
            out(r, "-", 1);
        }
        return;
    }
    if (!r->no_ack)
        out(r, "+", 1);
    r->out_len = 0;             /* a new packet: gdb has our last reply */
    r->attached = true;
    if (r->in_overlong) {
        /* Acked (it arrived intact; a '-' would only bring it back) but
         * not acted on. */
        r->stats.overlong++;
        rsp_send_err(r, 22);
        return;
    }
    r->stats.packets++;
    r->in_buf[r->in_len] = 0;
    rsp_dispatch(r, r->in_buf, r->in_len);
}

static void idle_byte(struct rsp *r, uint8_t ch)
{
    switch (ch) {
    case '$':
        start_packet(r);
        break;
    case '-':
        if (!r->no_ack && r->out_len) {
            r->stats.retransmits++;
            out(r, r->out_buf, r->out_len);
        }
        break;
    case 0x03:
        /* Break-in: while gdb waits for a stop, or when no stop is known
         * yet (the target runs on its own; the stop it reports is then
         * remembered for `?`). */
        if ((r->running || !r->have_stop) && r->ops->interrupt)
            r->ops->interrupt(r->ctx);
        break;
    default:
        break;                  /* '+', and noise between packets */
    }
}

static void body_byte(struct rsp *r, uint8_t ch)
{
    if (ch == '$') {
        /* A packet cut short by a new one: resynchronise on the new. */
        r->stats.malformed++;
        start_packet(r);
        return;
    }
    if (ch == '#') {
        r->in_escape = false;   /* a dangling '}' is dropped */
        r->in_state = RSP_IN_CSUM1;
        return;
    }
    r->in_csum = (uint8_t)(r->in_csum + ch);
    if (r->in_escape) {
        ch ^= 0x20;
        r->in_escape = false;
    } else if (ch == 0x7d) {
        r->in_escape = true;
        return;
    }
    if (r->in_len >= RSP_PACKET_MAX) {
        r->in_overlong = true;  /* read on to the '#', store nothing */
        return;
    }
    r->in_buf[r->in_len++] = ch;
}

static void in_byte(struct rsp *r, uint8_t ch)
{
    int v;

    if (ch == '$' && r->in_state != RSP_IN_IDLE && r->in_state != RSP_IN_BODY) {
        r->stats.malformed++;   /* the checksum never came: resynchronise */
        start_packet(r);
        return;
    }
    switch (r->in_state) {
    case RSP_IN_BODY:
        body_byte(r, ch);
        break;
    case RSP_IN_CSUM1:
        v = rsp_hexval(ch);
        r->in_csum_got = v < 0 ? 0xff : (uint8_t)v;     /* 0xff: not hex */
        r->in_state = RSP_IN_CSUM2;
        break;
    case RSP_IN_CSUM2:
        v = rsp_hexval(ch);
        packet_done(r, v >= 0 && r->in_csum_got != 0xff &&
                           (uint8_t)(r->in_csum_got << 4 | v) == r->in_csum);
        break;
    default:
        r->in_state = RSP_IN_IDLE;
        idle_byte(r, ch);
        break;
    }
}

void rsp_input(struct rsp *r, const uint8_t *bytes, size_t len)
{
    size_t i;

    r->stats.bytes_in += len;
    for (i = 0; i < len; i++)
        in_byte(r, bytes[i]);
}
