/* Unit tests for the RSP core (hv/gdbstub/rsp*.c) against the mock target
 * of rsp_mock_target.h: every supported packet with its exact reply,
 * escapes and run-length encoded replies. The link itself (acks, naks,
 * retransmit, no-ack mode, hostile input, conversations split at every byte
 * boundary) is test_rsp_link.c. */
#include "rsp_wire.h"

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

int main(void)
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
    free(M.out);
    if (failures) {
        printf("test_rsp: %d failures\n", failures);
        return 1;
    }
    printf("test_rsp: all passed\n");
    return 0;
}
