/* Unit tests for the RSP core's link (hv/gdbstub/rsp_packet.c and the
 * run loop) against the mock target: acks, naks and retransmits, no-ack
 * mode, malformed and hostile input, and whole conversations fed split at
 * every byte boundary, whose replies must match the unsplit run's. */
#include "rsp_wire.h"

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

int main(void)
{
    test_acks();
    test_hostile();
    test_splits(false, 1);
    test_splits(true, 7);
    free(M.out);
    if (failures) {
        printf("test_rsp_link: %d failures\n", failures);
        return 1;
    }
    printf("test_rsp_link: all passed\n");
    return 0;
}
