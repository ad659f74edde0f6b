/* Unit tests for the RSP core (hv/gdbstub/rsp*.c) against the mock target
 * of rsp_mock_target.h: every supported packet with its exact reply,
 * acks/naks/retransmit, no-ack mode, escapes, run-length encoded replies
 * (decoded here by rules as strict as gdb's), malformed and hostile input,
 * and whole conversations fed split at every byte boundary. */
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

static int failures;
#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #c);                                                     \
            failures++;                                                      \
        }                                                                    \
    } while (0)
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

static void wire_free(struct wire *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->body[i]);
    memset(w, 0, sizeof *w);
}

/* Parses everything the core sent: acks and $body#cs packets, checking
 * the checksum and the run-length rules (count char printable, not '#'
 * or '$', at least 3 repeats since fewer would not gain). */
static void wire_parse(const uint8_t *p, size_t n, struct wire *w)
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
static size_t frame(char *dst, const char *body, size_t len)
{
    unsigned sum = 0;
    memmove(dst + 1, body, len);
    dst[0] = '$';
    for (size_t i = 0; i < len; i++)
        sum += (uint8_t)body[i];
    sprintf(dst + 1 + len, "#%02x", sum & 0xff);
    return len + 4;
}

static void feed(const void *p, size_t n)
{
    rsp_input(&M.rsp, p, n);
}

static char last[RSP_PACKET_MAX * 64];

/* Sends one packet, returns the one reply (checked: acked in ack mode,
 * exactly one well-formed packet). "<none>" if there was no reply. */
static const char *xchg_n(const char *body, size_t len)
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

static const char *xchg(const char *body)
{
    return xchg_n(body, strlen(body));
}

static void hexs(char *dst, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(dst + 2 * i, "%02x", ((const uint8_t *)p)[i]);
}

static const char *hex64(uint64_t v)
{
    static char s[4][17];
    static int k;
    k = (k + 1) % 4;
    hexs(s[k], &v, 8);
    return s[k];
}

/* The T packet the core should send for a stop of tid. */
static const char *want_stop(int sig, int tid, const char *why)
{
    static char s[256];
    snprintf(s, sizeof s, "T%02xthread:%x;06:%s;07:%s;10:%s;%s", sig, tid,
             hex64(mock_get(&M, tid, RSP_REG_rbp)), hex64(mock_get(&M, tid, RSP_REG_rsp)),
             hex64(mock_get(&M, tid, RSP_REG_rip)), why);
    return s;
}

/* The g reply for tid, from the mock's registers. */
static const char *want_g(int tid)
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

/* ---- every supported packet, exact replies ------------------------------ */

static void test_queries(void)
{
    mock_init(&M, 4, true);
    CHECK_STR(xchg("qSupported:multiprocess+;swbreak+;xmlRegisters=i386"),
              "PacketSize=1000;qXfer:features:read+;QStartNoAckMode+;vContSupported+;"
              "swbreak+;hwbreak+");
    CHECK_STR(xchg("qSupported"), "PacketSize=1000;qXfer:features:read+;QStartNoAckMode+;"
                                  "vContSupported+;swbreak+;hwbreak+");
    CHECK_STR(xchg("vMustReplyEmpty"), "");
    CHECK_STR(xchg("qTStatus"), "");
    CHECK_STR(xchg("qCRC:0,1"), "");
    CHECK(M.rsp.stats.unknown == 3);
    CHECK_STR(xchg("qAttached"), "1");
    CHECK_STR(xchg("qAttached:1"), "1");
    CHECK_STR(xchg("qOffsets"), "Text=0;Data=0;Bss=0");
    CHECK_STR(xchg("vCont?"), "vCont;c;C;s;S;t");
    CHECK_STR(xchg("?"), want_stop(5, 1, ""));
    CHECK_STR(xchg("?x"), "");                  /* not `?`: unknown */
}

static void test_threads(void)
{
    char want[256];

    mock_init(&M, 4, true);
    CHECK_STR(xchg("qfThreadInfo"), "m1,2,3,4");
    CHECK_STR(xchg("qsThreadInfo"), "l");
    M.dead = 1 << 3;
    CHECK_STR(xchg("qfThreadInfo"), "m1,2,4");
    CHECK_STR(xchg("T3"), "E01");
    CHECK_STR(xchg("T4"), "OK");
    CHECK_STR(xchg("T0"), "E01");
    CHECK_STR(xchg("T41"), "E01");
    CHECK_STR(xchg("Tzz"), "E01");
    CHECK_STR(xchg("T"), "E01");
    CHECK_STR(xchg("Hg3"), "E22");
    M.dead = 0;
    hexs(want, "CPU1 apic=2 guest exit=VMCALL rip=0x100020", 42);
    CHECK_STR(xchg("qThreadExtraInfo,2"), want);
    CHECK_STR(xchg("qThreadExtraInfo,5"), "E22");
    CHECK_STR(xchg("qThreadExtraInfo,-1"), "E22");
    CHECK_STR(xchg("qThreadExtraInfo,"), "E01");
    CHECK_STR(xchg("qThreadExtraInfo,2x"), "E01");
    CHECK_STR(xchg("qC"), "QC1");
    CHECK_STR(xchg("Hg3"), "OK");
    CHECK_STR(xchg("qC"), "QC3");
    CHECK_STR(xchg("g"), want_g(3));
    CHECK_STR(xchg("Hg0"), "OK");
    CHECK_STR(xchg("g"), want_g(1));            /* 0: the stopped thread */
    CHECK_STR(xchg("Hg-1"), "OK");
    CHECK_STR(xchg("Hc-1"), "OK");
    CHECK_STR(xchg("Hg9"), "E22");
    CHECK_STR(xchg("Hg-2"), "E01");
    CHECK_STR(xchg("Hx1"), "E01");
    CHECK_STR(xchg("H"), "E01");
    CHECK_STR(xchg("Hg"), "E01");
    CHECK_STR(xchg("Hgp1.1"), "E01");           /* multiprocess ids: not announced */
    /* 64 threads: the list still fits one packet. */
    mock_init(&M, RSP_MAX_THREADS, true);
    xchg("qfThreadInfo");
    CHECK(!strncmp(last, "m1,2,3,", 7) && strstr(last, ",3f,40") && !strstr(last, ",41"));
}

static void test_registers(void)
{
    char buf[RSP_PACKET_MAX + 8], g[RSP_PACKET_MAX];

    mock_init(&M, 2, true);
    CHECK_STR(xchg("g"), want_g(1));
    CHECK(strlen(last) == 2 * (16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 2 * 8 + 12 * 8));
    CHECK_STR(xchg("p10"), "1000100000000000");
    CHECK_STR(xchg("p2c"), "0010200000000000");         /* cr3 */
    CHECK_STR(xchg("p11"), "02020000");                 /* eflags: 32 bits */
    CHECK_STR(xchg("p18"), "E01");                      /* st0: unavailable */
    CHECK_STR(xchg("p35"), hex64(mock_get(&M, 1, RSP_REG_dr7)));
    CHECK_STR(xchg("p36"), "E22");                      /* one past the table */
    CHECK_STR(xchg("pffffffffffffffff"), "E22");
    CHECK_STR(xchg("p1ffffffffffffffff"), "E01");       /* 17 digits */
    CHECK_STR(xchg("p"), "E01");
    CHECK_STR(xchg("pzz"), "E01");
    CHECK_STR(xchg("p10,"), "E01");
    CHECK_STR(xchg("P10=1122334455667788"), "OK");
    CHECK_STR(xchg("p10"), "1122334455667788");
    CHECK_STR(xchg("P11=03020000"), "OK");
    CHECK(mock_get(&M, 1, RSP_REG_eflags) == 0x203);
    CHECK_STR(xchg("P2b=0000000000000000"), "E01");     /* cr2: the mock refuses */
    CHECK_STR(xchg("P18=00000000000000000000"), "");    /* st0: unsupported */
    CHECK_STR(xchg("P10=11"), "E01");
    CHECK_STR(xchg("P10=112233445566778899"), "E01");
    CHECK_STR(xchg("P10"), "E01");
    CHECK_STR(xchg("P10=11223344556677zz"), "E01");
    CHECK_STR(xchg("P99=1122334455667788"), "E22");
    /* G: the g image back, one register changed. */
    strcpy(g, want_g(2));
    CHECK_STR(xchg("Hg2"), "OK");
    memcpy(g, "efbeadde00000000", 16);                  /* rax */
    snprintf(buf, sizeof buf, "G%s", g);
    /* The mock refuses cr2: the rest is written, the first error reported. */
    CHECK_STR(xchg(buf), "E01");
    CHECK(mock_get(&M, 2, RSP_REG_rax) == 0xdeadbeef);
    CHECK(mock_get(&M, 1, RSP_REG_rax) != 0xdeadbeef);
    CHECK_STR(xchg("g"), g);
    buf[strlen(buf) - 1] = 0;                           /* one digit short */
    CHECK_STR(xchg(buf), "E01");
    strcat(buf, "00");                                  /* one too many */
    CHECK_STR(xchg(buf), "E01");
    buf[strlen(buf) - 2] = 0;
    buf[5] = 'q';                                       /* bad hex: nothing written */
    CHECK_STR(xchg(buf), "E01");
    CHECK(mock_get(&M, 2, RSP_REG_rax) == 0xdeadbeef);
    CHECK_STR(xchg("G"), "E01");
}

static void test_memory(void)
{
    char buf[RSP_PACKET_MAX * 2 + 64], want[64];
    uint8_t bin[] = { 0x23, 0x24, 0x7d, 0x2a, 0x00, 0x03, 0x2b, 0x2d };
    size_t n;

    mock_init(&M, 2, true);
    CHECK_STR(xchg("m100000,8"), "9090909090909090");
    CHECK_STR(xchg("m100000,0"), "");
    CHECK_STR(xchg("mdead000000000000,8"), "E14");
    CHECK_STR(xchg("mffffffffffffffff,10"), "E14");
    hexs(want, M.mem + MOCK_MEM - 2, 2);
    CHECK_STR(xchg("m10fffe,10"), want);                /* short read: 2 bytes */
    xchg("m100000,ffffffff");                           /* clamped to a packet */
    CHECK(strlen(last) == RSP_PACKET_MAX);
    xchg("m100000,ffffffffffffffff");
    CHECK(strlen(last) == RSP_PACKET_MAX);
    CHECK_STR(xchg("m1000000000000000000,1"), "E01");   /* 17 digits */
    CHECK_STR(xchg("m"), "E01");
    CHECK_STR(xchg("m100000"), "E01");
    CHECK_STR(xchg("m100000,"), "E01");
    CHECK_STR(xchg("m,8"), "E01");
    CHECK_STR(xchg("m100000,8x"), "E01");
    CHECK_STR(xchg("m100000;8"), "E01");
    CHECK_STR(xchg("M101000,4:01020304"), "OK");
    CHECK_STR(xchg("m101000,4"), "01020304");
    CHECK_STR(xchg("M101000,4:0102"), "E01");
    CHECK_STR(xchg("M101000,4:0102030405"), "E01");
    CHECK_STR(xchg("M101000,2:zz00"), "E01");
    CHECK_STR(xchg("M101000,2"), "E01");
    CHECK_STR(xchg("Mdead000000000000,1:00"), "E14");
    CHECK_STR(xchg("Mffffffffffffffff,2:0000"), "E14"); /* wraps */
    CHECK_STR(xchg("Mffffffffffffffff,1:00"), "E14");   /* unmapped in the mock */
    CHECK_STR(xchg("M101000,0:"), "OK");
    CHECK_STR(xchg("M101000,ffffffffffffffff:00"), "E01");
    /* X: binary, escaped on the wire (# $ } * and anything gdb likes). */
    CHECK_STR(xchg("X101000,0:"), "OK");                /* gdb's probe */
    memcpy(buf, "X101010,8:", 10);
    n = 10;
    for (size_t i = 0; i < sizeof bin; i++) {
        if (bin[i] == 0x23 || bin[i] == 0x24 || bin[i] == 0x7d || bin[i] == 0x2a) {
            buf[n++] = 0x7d;
            buf[n++] = (char)(bin[i] ^ 0x20);
        } else {
            buf[n++] = (char)bin[i];
        }
    }
    CHECK_STR(xchg_n(buf, n), "OK");
    CHECK(!memcmp(M.mem + 0x1010, bin, sizeof bin));
    CHECK_STR(xchg("m101010,8"), "23247d2a00032b2d");
    CHECK_STR(xchg_n("X101010,2:\x7d\x03\x7d", 13), "E01");     /* 1 byte + dangling '}' */
    CHECK_STR(xchg("X101010,3:ab"), "E01");
    CHECK_STR(xchg("X101010,1:ab"), "E01");
    CHECK_STR(xchg("Xdead000000000000,1:a"), "E14");
    CHECK_STR(xchg("X101010"), "E01");
    /* An X of a full packet's worth. */
    memcpy(buf, "X101100,800:", 12);
    memset(buf + 12, 'Q', 0x800);
    CHECK_STR(xchg_n(buf, 12 + 0x800), "OK");
    CHECK(M.mem[0x1100] == 'Q' && M.mem[0x18ff] == 'Q' && M.mem[0x1900] != 'Q');
}

/* Every run length a reply can hold, decoded back (the decoder checks
 * gdb's rules). A run of L '0's: bytes 10 00.. [01]. */
static void test_rle(void)
{
    char cmd[RSP_PACKET_MAX], want[RSP_PACKET_MAX];

    mock_init(&M, 1, true);
    for (int len = 1; len <= 600; len++) {
        uint8_t b[400];
        size_t nb = 0;
        b[nb++] = 0x10;
        for (int k = 0; k < (len - 1) / 2; k++)
            b[nb++] = 0;
        b[nb++] = len % 2 ? 0x01 : 0x00;
        if (len % 2 == 0)
            b[nb++] = 0x01;
        int o = sprintf(cmd, "M102000,%zx:", nb);
        hexs(cmd + o, b, nb);
        CHECK_STR(xchg(cmd), "OK");
        sprintf(cmd, "m102000,%zx", nb);
        hexs(want, b, nb);
        CHECK_STR(xchg(cmd), want);
    }
    /* and compressed on the wire: 2048 zero bytes take far fewer chars */
    memset(M.mem + 0x3000, 0, 0x800);
    M.out_len = 0;
    {
        char f[64];
        feed(f, frame(f, "m103000,800", 11));
    }
    CHECK(M.out_len < 200);
}

static void test_breakpoints(void)
{
    mock_init(&M, 4, true);
    CHECK_STR(xchg("Z0,100040,1"), "OK");
    CHECK(M.bp[0].used && M.bp[0].addr == 0x100040 && M.bp[0].kind == 1);
    CHECK_STR(xchg("z0,100040,1"), "OK");
    CHECK_STR(xchg("z0,100040,1"), "E22");
    for (int i = 0; i < MOCK_DRS; i++)
        CHECK_STR(xchg("Z1,100050,1"), "OK");
    CHECK_STR(xchg("Z2,101000,4"), "E28");              /* no debug register free */
    for (int i = 0; i < MOCK_DRS; i++)
        CHECK_STR(xchg("z1,100050,1"), "OK");
    CHECK_STR(xchg("Z2,101000,4"), "OK");
    CHECK_STR(xchg("z2,101000,4"), "OK");
    CHECK_STR(xchg("Z3,101000,8"), "OK");
    CHECK_STR(xchg("z3,101000,8"), "OK");
    CHECK_STR(xchg("Z4,101000,1"), "OK");
    CHECK_STR(xchg("z4,101000,1"), "OK");
    CHECK_STR(xchg("Z5,101000,1"), "");                 /* not a type we know */
    CHECK_STR(xchg("Z0,100040"), "E01");
    CHECK_STR(xchg("Z0,100040,"), "E01");
    CHECK_STR(xchg("Z0,100040,1;X2,ab"), "E01");        /* conditions: not announced */
    CHECK_STR(xchg("Z0,100040,100000000"), "E01");
    CHECK_STR(xchg("Z"), "E01");
    CHECK_STR(xchg("Zx,1,1"), "E01");
    M.ops.breakpoint = NULL;
    CHECK_STR(xchg("Z0,100040,1"), "");
}

static void test_resume(void)
{
    mock_init(&M, 4, true);
    CHECK_STR(xchg("c"), want_stop(2, 1, ""));          /* nothing set: "interrupted" */
    CHECK(M.resumes == 1 && !M.last_resume.has_addr);
    for (int t = 1; t <= 4; t++)
        CHECK(M.last_resume.action[t] == RSP_ACT_CONTINUE);
    xchg("Z0,100080,1");
    xchg("Z0,100060,1");
    CHECK_STR(xchg("c"), want_stop(5, 2, "swbreak:;"));
    CHECK(mock_get(&M, 2, RSP_REG_rip) == 0x100060);
    CHECK_STR(xchg("qC"), "QC2");                       /* follows the stop */
    CHECK_STR(xchg("?"), want_stop(5, 2, "swbreak:;"));
    xchg("z0,100080,1");
    xchg("z0,100060,1");
    xchg("Z1,100070,1");
    CHECK_STR(xchg("C0b;100000"), want_stop(5, 2, "hwbreak:;"));
    CHECK(M.last_resume.has_addr && M.last_resume.addr == 0x100000);
    xchg("z1,100070,1");
    xchg("Z2,101000,4");
    CHECK_STR(xchg("c100020"), want_stop(5, 1, "watch:101000;"));
    CHECK(M.last_resume.has_addr && M.last_resume.addr == 0x100020);
    xchg("z2,101000,4");
    xchg("Z3,101008,4");
    CHECK_STR(xchg("c"), want_stop(5, 1, "rwatch:101008;"));
    xchg("z3,101008,4");
    xchg("Z4,101010,4");
    CHECK_STR(xchg("c"), want_stop(5, 1, "awatch:101010;"));
    xchg("z4,101010,4");
    /* s steps the selected thread only: Hc, else the one that stopped. */
    uint64_t rip2 = mock_get(&M, 2, RSP_REG_rip);
    CHECK_STR(xchg("Hc2"), "OK");
    CHECK_STR(xchg("s"), want_stop(5, 2, ""));
    CHECK(mock_get(&M, 2, RSP_REG_rip) == rip2 + 1);
    CHECK(M.last_resume.action[1] == RSP_ACT_NONE && M.last_resume.action[2] == RSP_ACT_STEP);
    CHECK_STR(xchg("S05"), want_stop(5, 2, ""));
    CHECK_STR(xchg("S05;100020"), want_stop(5, 2, ""));
    CHECK(mock_get(&M, 2, RSP_REG_rip) == 0x100021);
    CHECK_STR(xchg("cbad"), "E14");                     /* the target refused */
    CHECK_STR(xchg("cxyz"), "E01");
    CHECK_STR(xchg("c100,"), "E01");
    CHECK_STR(xchg("C"), "E01");
    CHECK_STR(xchg("C100"), "E01");
    CHECK_STR(xchg("C05;"), want_stop(2, 1, ""));       /* tolerated */
    CHECK_STR(xchg("C05x"), "E01");
    CHECK_STR(xchg("S05;zz"), "E01");
    /* vCont */
    CHECK_STR(xchg("vCont;s:3;c"), want_stop(5, 3, ""));
    CHECK(M.last_resume.action[3] == RSP_ACT_STEP && M.last_resume.action[1] == RSP_ACT_CONTINUE &&
          M.last_resume.action[4] == RSP_ACT_CONTINUE);
    CHECK_STR(xchg("vCont;t:1;S05:4;C02"), want_stop(5, 4, ""));
    CHECK(M.last_resume.action[1] == RSP_ACT_STOP && M.last_resume.action[4] == RSP_ACT_STEP &&
          M.last_resume.action[2] == RSP_ACT_CONTINUE);
    CHECK_STR(xchg("vCont;c:-1"), want_stop(2, 1, ""));
    CHECK_STR(xchg("vCont;s:0"), want_stop(5, 2, ""));  /* 0: the Hc thread */
    CHECK_STR(xchg("vCont;c:5"), "E22");
    CHECK_STR(xchg("vCont;x"), "E01");
    CHECK_STR(xchg("vCont;r100,200:1"), "E01");         /* range step: not announced */
    CHECK_STR(xchg("vCont;"), "E01");
    CHECK_STR(xchg("vCont;c;"), "E01");
    CHECK_STR(xchg("vCont;c:"), "E01");
    CHECK_STR(xchg("vCont;C"), "E01");
    CHECK_STR(xchg("vCont;c:1x"), "E01");
    CHECK_STR(xchg("vCont"), "");
    M.ops.resume = NULL;
    CHECK_STR(xchg("c"), "");
}

/* The target stops later, as the hypervisor does. */
static void test_async(void)
{
    struct rsp_stop s = { .thread = 3, .signal = 5, .reason = RSP_STOP_HWBREAK };
    struct wire w;
    static const uint8_t brk = 0x03;

    mock_init(&M, 4, false);
    CHECK_STR(xchg("vCont;c"), "<none>");
    CHECK(M.rsp.running);
    CHECK_STR(xchg("g"), "E16");                        /* not while it runs */
    CHECK_STR(xchg("m100000,1"), "E16");
    CHECK_STR(xchg("c"), "E16");
    CHECK_STR(xchg("qC"), "QC1");                       /* harmless queries go on */
    feed(&brk, 1);
    CHECK(M.interrupts == 1);
    M.out_len = 0;
    rsp_console_output(&M.rsp, "boot log\n", 9);
    rsp_stopped(&M.rsp, &s);
    wire_parse(M.out, M.out_len, &w);
    CHECK(w.bad == 0 && w.n == 2);
    if (w.n == 2) {
        char want[64];
        CHECK_STR(w.body[0], (hexs(want + 1, "boot log\n", 9), want[0] = 'O', want));
        CHECK_STR(w.body[1], want_stop(5, 3, "hwbreak:;"));
    }
    wire_free(&w);
    CHECK(!M.rsp.running);
    M.out_len = 0;
    rsp_console_output(&M.rsp, "quiet", 5);             /* stopped: gdb expects none */
    feed(&brk, 1);                                      /* stopped: no interrupt */
    CHECK(M.out_len == 0 && M.interrupts == 1);
    CHECK_STR(xchg("g"), want_g(3));
    /* A fresh core knows no stop: `?` asks the target to stop first. */
    rsp_init(&M.rsp, &M.ops, &M, mock_put);
    CHECK_STR(xchg("g"), "E16");
    CHECK_STR(xchg("?"), "<none>");
    CHECK(M.interrupts == 2 && M.rsp.running);
    M.out_len = 0;
    rsp_console_output(&M.rsp, "early", 5);             /* gdb takes it for the stop */
    CHECK(M.out_len == 0);
    s.reason = RSP_STOP_SIGNAL;
    s.signal = 2;
    s.thread = 99;                                      /* out of range: thread 1 */
    rsp_stopped(&M.rsp, &s);
    wire_parse(M.out, M.out_len, &w);
    CHECK(w.n == 1 && !strcmp(w.body[0], want_stop(2, 1, "")));
    wire_free(&w);
    /* A target without an interrupt hook is always stopped. */
    rsp_init(&M.rsp, &M.ops, &M, mock_put);
    M.ops.interrupt = NULL;
    CHECK_STR(xchg("?"), want_stop(5, 1, ""));
}

static void test_monitor(void)
{
    char cmd[256], want[64];
    struct wire w;
    size_t n;

    mock_init(&M, 2, true);
    strcpy(cmd, "qRcmd,");
    hexs(cmd + 6, "echo hi", 7);
    M.out_len = 0;
    {
        char f[300];
        feed(f, frame(f, cmd, strlen(cmd)));
    }
    wire_parse(M.out, M.out_len, &w);
    CHECK(w.bad == 0 && w.n == 3 && !strcmp(w.acks, "+"));
    if (w.n == 3) {
        CHECK_STR(w.body[0], "O6869");
        CHECK_STR(w.body[1], "O0a");
        CHECK_STR(w.body[2], "OK");
    }
    wire_free(&w);
    hexs(cmd + 6, "fail", 4);
    CHECK_STR(xchg(cmd), "E22");
    hexs(cmd + 6, "nosuch", 6);
    CHECK_STR(xchg(cmd), "");
    CHECK_STR(xchg("qRcmd,6"), "E01");
    CHECK_STR(xchg("qRcmd,zz"), "E01");
    CHECK_STR(xchg("qRcmd,"), "");                      /* empty command: the mock's */
    hexs(cmd + 6, "big", 3);
    M.out_len = 0;
    {
        char f[300];
        feed(f, frame(f, cmd, strlen(cmd)));
    }
    wire_parse(M.out, M.out_len, &w);
    CHECK(w.bad == 0 && w.n == 4);                      /* 5000 bytes: 3 O packets */
    n = 0;
    for (int i = 0; i + 1 < w.n; i++) {
        CHECK(w.body[i][0] == 'O' && w.len[i] <= RSP_PACKET_MAX);
        n += (w.len[i] - 1) / 2;
    }
    CHECK(n == 5000);
    wire_free(&w);
    M.ops.monitor = NULL;
    hexs(cmd + 6, "cpus", 4);
    CHECK_STR(xchg(cmd), "");
    (void)want;
}

static void test_target_xml(void)
{
    size_t n, got = 0;
    const char *xml = rsp_target_xml(&n);
    static char back[16384];
    char cmd[128];

    CHECK(n > 1000 && strlen(xml) == n);
    CHECK(strstr(xml, "<architecture>i386:x86-64</architecture>"));
    CHECK(strstr(xml, "<feature name=\"org.gnu.gdb.i386.core\">\n<flags id=\"i386_eflags\""));
    CHECK(strstr(xml, "<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>"));
    CHECK(strstr(xml, "<reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>"));
    CHECK(strstr(xml, "<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>"));
    CHECK(strstr(xml, "<reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>"));
    CHECK(strstr(xml, "<feature name=\"org.gnu.gdb.i386.segments\">\n"
                      "<reg name=\"fs_base\" bitsize=\"64\" type=\"int\"/>"));
    CHECK(strstr(xml, "<reg name=\"dr7\" bitsize=\"64\" type=\"int64\" group=\"system\"/>"));
    CHECK(!strstr(xml, "i386.sse"));
    CHECK(RSP_REG_rbp == 6 && RSP_REG_rsp == 7 && RSP_REG_rip == 16 && RSP_REG_fop == 39 &&
          RSP_REG_fs_base == 40 && RSP_NREGS == 54);
    mock_init(&M, 1, true);
    /* Read in odd-sized chunks, as gdb may: m... m... l... */
    for (int guard = 0; guard < 1000; guard++) {
        sprintf(cmd, "qXfer:features:read:target.xml:%zx,%x", got, 333);
        xchg(cmd);
        CHECK(last[0] == 'm' || last[0] == 'l');
        size_t len = strlen(last + 1);
        CHECK(len <= 333);
        memcpy(back + got, last + 1, len);      /* the XML holds nothing to escape */
        got += len;
        if (last[0] != 'm' || len == 0)
            break;
    }
    CHECK(got == n && !memcmp(back, xml, n));
    sprintf(cmd, "qXfer:features:read:target.xml:%zx,10", n);
    CHECK_STR(xchg(cmd), "l");
    sprintf(cmd, "qXfer:features:read:target.xml:%zx,10", n + 1);
    CHECK_STR(xchg(cmd), "E22");
    CHECK_STR(xchg("qXfer:features:read:target.xml:0,0"), "E22");
    CHECK_STR(xchg("qXfer:features:read:other.xml:0,10"), "E22");
    CHECK_STR(xchg("qXfer:features:read:target.xml:0"), "E01");
    CHECK_STR(xchg("qXfer:features:read:target.xml:,10"), "E01");
    xchg("qXfer:features:read:target.xml:0,ffffffffffffffff");
    CHECK(last[0] == 'l' && strlen(last + 1) == n);
}

static void test_session_end(void)
{
    mock_init(&M, 2, true);
    CHECK_STR(xchg("QStartNoAckMode"), "OK");
    CHECK(M.rsp.no_ack);
    CHECK_STR(xchg("Hg2"), "OK");
    CHECK_STR(xchg("D"), "OK");
    CHECK(M.detaches == 1 && !M.rsp.no_ack && !M.rsp.have_stop && M.rsp.g_thread == 0);
    CHECK_STR(xchg("g"), "E16");                        /* it runs now */
    CHECK_STR(xchg("?"), want_stop(2, 1, ""));          /* break in again */
    CHECK_STR(xchg("D;1"), "OK");
    CHECK_STR(xchg("?"), want_stop(2, 1, ""));
    CHECK_STR(xchg("D;"), "E01");
    CHECK_STR(xchg("Dx"), "E01");
    CHECK_STR(xchg("k"), "<none>");
    CHECK(M.kills == 1 && !M.rsp.have_stop);
    CHECK_STR(xchg("kk"), "");
}

/* ---- acks, naks, retransmit, no-ack --------------------------------------- */

static void feed_str(const char *s)
{
    feed(s, strlen(s));
}

static void test_acks(void)
{
    struct wire w;
    uint8_t first[64];
    size_t n;

    mock_init(&M, 1, true);
    M.out_len = 0;
    feed_str("+$qC#b4");
    wire_parse(M.out, M.out_len, &w);
    CHECK(!strcmp(w.acks, "+") && w.n == 1 && !strcmp(w.body[0], "QC1"));
    wire_free(&w);
    n = M.out_len - 1;
    memcpy(first, M.out + 1, n);
    M.out_len = 0;
    feed_str("-");                                      /* gdb says: again */
    CHECK(M.out_len == n && !memcmp(M.out, first, n) && M.rsp.stats.retransmits == 1);
    M.out_len = 0;
    feed_str("-");
    CHECK(M.out_len == n);
    M.out_len = 0;
    feed_str("$qC#b5");                                 /* bad checksum */
    CHECK(M.out_len == 1 && M.out[0] == '-' && M.rsp.stats.bad_checksum == 1 &&
          M.rsp.stats.naks_sent == 1);
    M.out_len = 0;
    feed_str("$qC#zz$qC#B4");                           /* not hex; upper case is fine */
    wire_parse(M.out, M.out_len, &w);
    CHECK(!strcmp(w.acks, "-+") && w.n == 1);
    wire_free(&w);
    /* After a new packet the old reply is gone: '-' sends the new one. */
    M.out_len = 0;
    feed_str("$qAttached#8f-");
    wire_parse(M.out, M.out_len, &w);
    CHECK(w.n == 2 && !strcmp(w.body[1], "1"));
    wire_free(&w);
    /* No-ack mode: no '+', a bad checksum is dropped silently, '-' ignored. */
    CHECK_STR(xchg("QStartNoAckMode"), "OK");
    M.out_len = 0;
    feed_str("+$qC#b4");
    wire_parse(M.out, M.out_len, &w);
    CHECK(!strcmp(w.acks, "") && w.n == 1);
    wire_free(&w);
    M.out_len = 0;
    feed_str("$qC#00-");
    CHECK(M.out_len == 0 && M.rsp.stats.bad_checksum == 3);
}

/* ---- hostile input --------------------------------------------------------- */

static void test_hostile(void)
{
    static char big[RSP_PACKET_MAX * 3];
    struct wire w;
    size_t n;

    mock_init(&M, 2, true);
    /* Garbage between packets, a packet cut by a new '$', a '$' in the
     * checksum, a dangling escape. */
    M.out_len = 0;
    feed_str("hello\r\n\x01\xff#00$qC#b4garbage#$$g$qC#b4$qC#$qC#b4$}#7d");
    wire_parse(M.out, M.out_len, &w);
    CHECK(w.bad == 0 && w.n == 4);
    if (w.n == 4) {
        CHECK_STR(w.body[0], "QC1");
        CHECK_STR(w.body[1], "QC1");
        CHECK_STR(w.body[2], "QC1");
        CHECK_STR(w.body[3], "");                       /* "}" dropped: empty packet */
    }
    wire_free(&w);
    /* Overlong: acked, refused, counted; the next packet is fine. */
    memset(big, 'a', sizeof big);
    n = frame(big, big + 8, RSP_PACKET_MAX + 1);
    M.out_len = 0;
    feed(big, n);
    feed_str("$qC#b4");
    wire_parse(M.out, M.out_len, &w);
    CHECK(w.n == 2 && !strcmp(w.body[0], "E22") && !strcmp(w.body[1], "QC1") &&
          !strcmp(w.acks, "++") && M.rsp.stats.overlong == 1);
    wire_free(&w);
    /* Exactly RSP_PACKET_MAX is not overlong (an unknown packet). */
    memset(big, 'a', sizeof big);
    CHECK_STR(xchg_n(big + 8, RSP_PACKET_MAX), "");
    /* The limit is on the unescaped body: 2048 escaped bytes fit. */
    memcpy(big, "X101000,800:", 12);
    for (int i = 0; i < 0x800; i++) {
        big[12 + 2 * i] = 0x7d;
        big[13 + 2 * i] = 0x5d;                         /* '}' itself */
    }
    CHECK_STR(xchg_n(big, 12 + 0x1000), "OK");
    CHECK(M.mem[0x1000] == '}' && M.mem[0x17ff] == '}' && M.rsp.stats.overlong == 1);
    /* Hex numbers that would overflow; huge lengths. */
    CHECK_STR(xchg("m10000000000000000,1"), "E01");
    CHECK_STR(xchg("M100000,10000000000000000:00"), "E01");
    CHECK_STR(xchg("X100000,ffffffffffffffff:"), "E01");
    CHECK_STR(xchg("qXfer:features:read:target.xml:ffffffffffffffff,1"), "E22");
    CHECK(M.rsp.stats.malformed > 0 && M.rsp.stats.packets > 5);
}

/* ---- conversations, split at every byte boundary --------------------------- */

static size_t conversation(char *buf, bool big)
{
    static const char *const pkts[] = {
        "qSupported:swbreak+", "vMustReplyEmpty", "Hg0",
        "qXfer:features:read:target.xml:0,200", "?", "qfThreadInfo", "qsThreadInfo",
        "qThreadExtraInfo,2", "qAttached", "g", "p10", "P10=0000100000000000",
        "m100000,40", "M101000,4:05000000", "m101000,4", "m103000,100", "Z0,100040,1",
        "vCont;c", "Hg2", "g", "z0,100040,1", "vCont;s:2", "T2", "qRcmd,63707573",
        "mdead000000000000,8", "pzz", "vCont;x", "qC", "QStartNoAckMode", "Hc2", "s", "D",
    };
    size_t n = 0;

    n += (size_t)sprintf(buf + n, "+");
    for (size_t i = 0; i < sizeof pkts / sizeof pkts[0]; i++) {
        n += frame(buf + n, pkts[i], strlen(pkts[i]));
        if (i == 4)
            n += (size_t)sprintf(buf + n, "-+junk$qC#00");  /* nak, noise, bad csum */
        if (i == 12)
            n += frame(buf + n, "X101020,3:}]}\x03}\x04", 16);
    }
    if (big) {
        memset(buf + n, 'b', RSP_PACKET_MAX + 50);      /* an overlong one */
        n += frame(buf + n, buf + n, RSP_PACKET_MAX + 50);
        n += frame(buf + n, "qC", 2);
    }
    return n;
}

static void test_splits(bool big, size_t stride)
{
    static char in[RSP_PACKET_MAX * 4];
    size_t n = conversation(in, big), ref_len;
    uint8_t *ref;
    struct wire w;

    mock_init(&M, 4, true);
    feed(in, n);
    ref_len = M.out_len;
    ref = malloc(ref_len);
    memcpy(ref, M.out, ref_len);
    wire_parse(ref, ref_len, &w);
    CHECK(w.bad == 0 && w.n > 30 && M.detaches == 1);
    wire_free(&w);
    for (size_t k = 0; k <= n; k += stride) {
        mock_init(&M, 4, true);
        feed(in, k);
        feed(in + k, n - k);
        if (M.out_len != ref_len || memcmp(M.out, ref, ref_len)) {
            fprintf(stderr, "split at %zu of %zu differs\n", k, n);
            failures++;
            break;
        }
    }
    mock_init(&M, 4, true);                             /* byte by byte */
    for (size_t k = 0; k < n; k++)
        feed(in + k, 1);
    CHECK(M.out_len == ref_len && !memcmp(M.out, ref, ref_len));
    free(ref);
}

static void run_all_cases(void)
{
    test_queries();
    test_threads();
    test_registers();
    test_memory();
    test_rle();
    test_breakpoints();
    test_resume();
    test_async();
    test_monitor();
    test_target_xml();
    test_session_end();
    test_acks();
    test_hostile();
    test_splits(false, 1);
    test_splits(true, 7);
}

int main(void)
{
    run_all_cases();
    free(M.out);
    if (failures) {
        printf("test_rsp: %d failures\n", failures);
        return 1;
    }
    printf("test_rsp: all passed\n");
    return 0;
}
