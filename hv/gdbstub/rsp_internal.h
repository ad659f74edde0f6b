/* Shared between the RSP core's files (rsp_packet.c: framing and replies;
 * rsp_cmds.c: the command table; rsp_xml.c: the register table and
 * target.xml). Not part of the interface: targets include rsp.h only. */
#ifndef HV_GDBSTUB_RSP_INTERNAL_H
#define HV_GDBSTUB_RSP_INTERNAL_H
#include "gdbstub/rsp.h"

/* Input states (struct rsp.in_state). */
enum { RSP_IN_IDLE = 0, RSP_IN_BODY, RSP_IN_CSUM1, RSP_IN_CSUM2 };

/* A reply body under construction. It lives in the upper half of
 * r->out_buf (which the framed packet, at most RSP_PACKET_MAX + 4 bytes,
 * never reaches), so no reply needs stack space. Appends past cap set
 * overflow and are dropped: a reply is either whole or replaced by an
 * error, never cut silently. */
struct rsp_reply {
    uint8_t *p;
    size_t len, cap;
    bool overflow;
};

/* A cursor over a received body (which may hold binary bytes). */
struct rsp_cur {
    const uint8_t *p, *end;
};

/* Hex helpers. */
int rsp_hexval(int c);                      /* -1 if not a hex digit */
extern const char rsp_hexdig[16];
bool rsp_cur_hex(struct rsp_cur *c, uint64_t *v);   /* 1..16 digits */
bool rsp_cur_eat(struct rsp_cur *c, char ch);
bool rsp_cur_at_end(const struct rsp_cur *c);
/* Decodes exactly n bytes of hex; false on a bad digit or short input. */
bool rsp_cur_hexbytes(struct rsp_cur *c, uint8_t *out, size_t n);

void rsp_reply_begin(struct rsp *r, struct rsp_reply *b);
void rsp_reply_putc(struct rsp_reply *b, char ch);
void rsp_reply_puts(struct rsp_reply *b, const char *s);
void rsp_reply_hex(struct rsp_reply *b, const uint8_t *bytes, size_t n);
void rsp_reply_hexnum(struct rsp_reply *b, uint64_t v);     /* no leading zeros */
/* Frames (RLE, checksum), keeps it for retransmit, and sends. */
void rsp_reply_send(struct rsp *r, struct rsp_reply *b);
void rsp_send_str(struct rsp *r, const char *s);
void rsp_send_err(struct rsp *r, int err);  /* E<nn>, nn two decimal digits */

/* The stop reply for r->last_stop (T packet with expedited registers). */
void rsp_send_stop(struct rsp *r);

/* rsp_cmds.c: one complete, checksum-verified, unescaped packet body
 * (NUL-terminated at len; binary bodies may hold NULs before it). */
void rsp_dispatch(struct rsp *r, uint8_t *body, size_t len);
int rsp_nthreads(const struct rsp *r);

#endif
