/* What the RSP core's unit tests share (test_rsp.c, test_rsp_link.c): the
 * checks, the mock target, and the wire as gdb sees it (packets framed,
 * replies parsed by rules as strict as gdb's, run-length encoding
 * included). Each test program includes it once. */
#ifndef TESTS_UNIT_RSP_WIRE_H
#define TESTS_UNIT_RSP_WIRE_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp_mock_target.h"

/* <string.h> is hv/include/string.h here (first on the include path), with
 * only what the hypervisor needs; the C library has the rest. */
char *strcpy(char *dst, const char *src);
char *strcat(char *dst, const char *src);
char *strstr(const char *hay, const char *needle);

#include "unit_check.h"
#define CHECK_STR(got, want)                                                    \
    do {                                                                        \
        const char *g_ = (got), *w_ = (want);                                   \
        if (strcmp(g_, w_)) {                                                   \
            fprintf(stderr, "%s:%d: got \"%.300s\"\n%*swant \"%.300s\"\n",      \
                    __FILE__, __LINE__, g_, (int)strlen(__FILE__) + 6, "", w_); \
            failures++;                                                         \
        }                                                                       \
    } while (0)

static struct mock M;

/* ---- the wire, seen from gdb's side ------------------------------------- */

#define MAXREP 64
struct wire {
    char acks[256];             /* '+' and '-' in order */
    int nacks, n;
    char *body[MAXREP];         /* decoded (RLE expanded) packet bodies */
    size_t len[MAXREP];
    int bad;                    /* anything gdb would not accept */
};

static inline void wire_free(struct wire *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->body[i]);
    memset(w, 0, sizeof *w);
}

/* Parses everything the core sent: acks and $body#cs packets, checking
 * the checksum and the run-length rules (count char printable, not '#'
 * or '$', at least 3 repeats since fewer would not gain). */
static inline void wire_parse(const uint8_t *p, size_t n, struct wire *w)
{
    size_t i = 0;

    memset(w, 0, sizeof *w);
    while (i < n) {
        if (p[i] == '+' || p[i] == '-') {
            if (w->nacks < (int)sizeof w->acks - 1)
                w->acks[w->nacks++] = (char)p[i];
            i++;
            continue;
        }
        if (p[i] != '$' || w->n >= MAXREP) {
            w->bad++;
            return;
        }
        size_t j = i + 1, o = 0;
        unsigned sum = 0;
        char *b = malloc(RSP_PACKET_MAX * 64);
        while (j < n && p[j] != '#') {
            if (p[j] == '$')
                w->bad++;
            sum += p[j];
            if (p[j] == '*') {
                if (j + 1 >= n || o == 0) {
                    w->bad++;
                    free(b);
                    return;
                }
                int c = p[j + 1];
                if (c == '#' || c == '$' || c > 126 || c < 29 + 3)
                    w->bad++;
                sum += (unsigned)c;
                for (int k = 0; k < c - 29; k++, o++)
                    b[o] = b[o - 1];
                j += 2;
                continue;
            }
            b[o++] = (char)p[j++];
        }
        if (j + 2 >= n) {
            w->bad++;
            free(b);
            return;
        }
        char cs[3] = { (char)p[j + 1], (char)p[j + 2], 0 };
        if (strtoul(cs, NULL, 16) != (sum & 0xff))
            w->bad++;
        b[o] = 0;
        w->body[w->n] = b;
        w->len[w->n++] = o;
        i = j + 3;
    }
}

/* "$body#cs" (body taken as is: escape it first if it needs it). */
static inline size_t frame(char *dst, const char *body, size_t len)
{
    unsigned sum = 0;
    memmove(dst + 1, body, len);
    dst[0] = '$';
    for (size_t i = 0; i < len; i++)
        sum += (uint8_t)body[i];
    sprintf(dst + 1 + len, "#%02x", sum & 0xff);
    return len + 4;
}

static inline void feed(const void *p, size_t n)
{
    rsp_input(&M.rsp, p, n);
}

static char last[RSP_PACKET_MAX * 64];

/* Sends one packet, returns the one reply (checked: acked in ack mode,
 * exactly one well-formed packet). "<none>" if there was no reply. */
static inline const char *xchg_n(const char *body, size_t len)
{
    static char buf[RSP_PACKET_MAX * 2 + 16];
    struct wire w;

    M.out_len = 0;
    feed(buf, frame(buf, body, len));
    wire_parse(M.out, M.out_len, &w);
    CHECK(w.bad == 0);
    CHECK(!strcmp(w.acks, "") || !strcmp(w.acks, "+"));
    strcpy(last, w.n ? w.body[w.n - 1] : "<none>");
    if (w.n > 1)
        fprintf(stderr, "(%d replies to %.40s)\n", w.n, body);
    wire_free(&w);
    return last;
}

static inline const char *xchg(const char *body)
{
    return xchg_n(body, strlen(body));
}

static inline void hexs(char *dst, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(dst + 2 * i, "%02x", ((const uint8_t *)p)[i]);
}

static inline const char *hex64(uint64_t v)
{
    static char s[4][17];
    static int k;
    k = (k + 1) % 4;
    hexs(s[k], &v, 8);
    return s[k];
}

/* The T packet the core should send for a stop of tid. */
static inline const char *want_stop(int sig, int tid, const char *why)
{
    static char s[256];
    snprintf(s, sizeof s, "T%02xthread:%x;06:%s;07:%s;10:%s;%s", sig, tid,
             hex64(mock_get(&M, tid, RSP_REG_rbp)), hex64(mock_get(&M, tid, RSP_REG_rsp)),
             hex64(mock_get(&M, tid, RSP_REG_rip)), why);
    return s;
}

/* The g reply for tid, from the mock's registers. */
static inline const char *want_g(int tid)
{
    static char s[RSP_PACKET_MAX];
    size_t o = 0;
    for (int i = 0; i < RSP_NREGS; i++) {
        size_t n = rsp_regs[i].bits / 8;
        if (mock_fpu((enum rsp_reg)i))
            memset(s + o, 'x', 2 * n);
        else
            hexs(s + o, M.regs[tid][i], n);
        o += 2 * n;
    }
    s[o] = 0;
    return s;
}


#endif
