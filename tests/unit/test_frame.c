/* Unit tests for hv/trace/{crc32,cobs,frame}.c, plus two helper modes used
 * by tests/host/test_wire_interop.py:
 *   test_frame                  self-test, exit 0 on success
 *   test_frame --emit N SEED    write N pseudo-random frames to stdout
 *   test_frame --decode         decode stdin byte by byte; print one line per
 *                               event: "F type cpu seq hexpayload" or
 *                               "E kind offset length"; then
 *                               "S frames errors discarded"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/cobs.h"
#include "trace/crc32.h"
#include "trace/frame.h"

#include "unit_check.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* A few payload shapes: random, zeros, 0xff, sparse zeros. */
static void fill(uint8_t *p, size_t n, int shape)
{
    size_t i;
    for (i = 0; i < n; i++) {
        switch (shape % 4) {
        case 0: p[i] = (uint8_t)rnd(); break;
        case 1: p[i] = 0; break;
        case 2: p[i] = 0xff; break;
        default: p[i] = (rnd() % 8) ? (uint8_t)(1 + rnd() % 255) : 0; break;
        }
    }
}

/* ---- crc32 ------------------------------------------------------------------ */
static void test_crc32(void)
{
    CHECK(crc32_compute("", 0) == 0);
    CHECK(crc32_compute("123456789", 9) == 0xCBF43926u);
    CHECK(crc32_compute("The quick brown fox jumps over the lazy dog", 43) ==
          0x414FA339u);
    {
        uint8_t b[300];
        size_t cut;
        fill(b, sizeof b, 0);
        for (cut = 0; cut <= sizeof b; cut += 37)
            CHECK(crc32_update(crc32_update(0, b, cut), b + cut,
                               sizeof b - cut) == crc32_compute(b, sizeof b));
    }
}

/* ---- cobs ------------------------------------------------------------------- */
static void test_cobs(void)
{
    static uint8_t src[1200], enc[1300], dec[1300];
    static const size_t lens[] = { 0, 1, 2, 253, 254, 255, 256, 507, 508,
                                   509, 762, 1199 };
    size_t li;
    int shape;

    for (shape = 0; shape < 4; shape++) {
        for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li], e, d = 0, i;
            fill(src, n, shape);
            e = cobs_encode(enc, sizeof enc, src, n);
            CHECK(e >= 1 && e <= COBS_MAX_ENCODED(n));
            for (i = 0; i < e; i++)
                CHECK(enc[i] != 0);
            CHECK(cobs_decode(dec, sizeof dec, enc, e, &d));
            CHECK(d == n && memcmp(dec, src, n) == 0);
            /* too small an output buffer is refused, never overrun */
            CHECK(cobs_encode(enc, e - 1, src, n) == 0 || e == 1);
            if (n)
                CHECK(!cobs_decode(dec, n - 1, enc, e, &d));
            /* truncated input is refused unless it ends on a block edge */
            if (e > 2 && enc[0] > 2 && enc[0] < 0xff && enc[0] + 0u >= e)
                CHECK(!cobs_decode(dec, sizeof dec, enc, e - 1, &d));
        }
    }
    {
        /* exact shapes: "" -> 01; 00 -> 01 01; 254 x 0x11 -> ff .. 01 */
        uint8_t z = 0;
        size_t e = cobs_encode(enc, sizeof enc, src, 0);
        CHECK(e == 1 && enc[0] == 1);
        e = cobs_encode(enc, sizeof enc, &z, 1);
        CHECK(e == 2 && enc[0] == 1 && enc[1] == 1);
        memset(src, 0x11, 254);
        e = cobs_encode(enc, sizeof enc, src, 254);
        CHECK(e == 256 && enc[0] == 0xff && enc[255] == 1);
    }
}

/* ---- frames ------------------------------------------------------------------ */
struct capture {
    uint8_t buf[FRAME_MAX_ENCODED + 16];
    size_t n;
};
static void cap_emit(void *ctx, uint8_t b)
{
    struct capture *c = ctx;
    if (c->n < sizeof c->buf)
        c->buf[c->n] = b;
    c->n++;
}

/* Decode a whole buffer byte by byte; return frames found (copied). */
struct got {
    uint8_t type, cpu;
    uint16_t seq, len;
    uint8_t payload[FRAME_MAX_PAYLOAD];
};

static size_t rx_all(struct frame_rx *rx, const uint8_t *s, size_t n,
                     struct got *out, size_t max)
{
    size_t i, k = 0;
    struct frame f;
    for (i = 0; i < n; i++) {
        int r = frame_rx_push(rx, s[i], &f);
        CHECK(r >= FRAME_RX_MORE && r <= FRAME_RX_ERROR);
        if (r == FRAME_RX_FRAME && k < max) {
            out[k].type = f.type;
            out[k].cpu = f.cpu;
            out[k].seq = f.seq;
            out[k].len = f.len;
            memcpy(out[k].payload, f.payload, f.len);
            k++;
        }
    }
    return k;
}

static void test_roundtrip(void)
{
    static uint8_t payload[FRAME_MAX_PAYLOAD + 1], enc[FRAME_MAX_ENCODED + 8];
    static struct got got[4];
    static struct capture cap;
    static const size_t lens[] = { 0, 1, 4, 250, 254, 255, 300, 508,
                                   FRAME_MAX_PAYLOAD };
    struct frame_rx rx;
    int type, shape;
    size_t li;

    frame_rx_init(&rx);
    for (type = 0; type < 8; type++) {
        for (shape = 0; shape < 4; shape++) {
            for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                size_t n = lens[li], e, i;
                uint8_t cpu = (uint8_t)(type * 37 + shape);
                uint16_t seq = (uint16_t)(0xfffe + li);
                fill(payload, n, shape);
                e = frame_encode(enc, sizeof enc, (uint8_t)type, cpu, seq,
                                 payload, n);
                CHECK(e > 0 && e <= FRAME_MAX_ENCODED);
                CHECK(enc[e - 1] == 0);
                for (i = 0; i + 1 < e; i++)
                    CHECK(enc[i] != 0);
                cap.n = 0;
                CHECK(frame_encode_stream(cap_emit, &cap, (uint8_t)type, cpu,
                                          seq, payload, n) == e);
                CHECK(cap.n == e && memcmp(cap.buf, enc, e) == 0);
                /* the buffer encoder equals the generic COBS encoder */
                {
                    uint8_t body[FRAME_MAX_BODY], ce[FRAME_MAX_ENCODED];
                    uint32_t c;
                    size_t cl;
                    body[0] = (uint8_t)type; body[1] = cpu;
                    body[2] = (uint8_t)seq; body[3] = (uint8_t)(seq >> 8);
                    memcpy(body + 4, payload, n);
                    c = crc32_compute(body, 4 + n);
                    memcpy(body + 4 + n, &c, 4);
                    cl = cobs_encode(ce, sizeof ce, body, n + 8);
                    CHECK(cl + 1 == e && memcmp(ce, enc, cl) == 0);
                }
                CHECK(rx_all(&rx, enc, e, got, 4) == 1);
                CHECK(got[0].type == type && got[0].cpu == cpu &&
                      got[0].seq == seq && got[0].len == n &&
                      memcmp(got[0].payload, payload, n) == 0);
                /* too small a buffer: refused */
                CHECK(frame_encode(enc, e - 1 - (n + 8) / 254, (uint8_t)type,
                                   cpu, seq, payload, n) == 0);
            }
        }
    }
    CHECK(frame_encode(enc, sizeof enc, 1, 0, 0, payload,
                       FRAME_MAX_PAYLOAD + 1) == 0);
    CHECK(frame_encode_stream(cap_emit, &cap, 1, 0, 0, payload,
                              FRAME_MAX_PAYLOAD + 1) == 0);
    CHECK(rx.errors[FRAME_ERR_CRC] == 0 && rx.bytes_discarded == 0);
}

/* Special inputs: idle fill, garbage prefix, overlong, short, cut frames. */
static void test_errors(void)
{
    static uint8_t s[4000];
    static struct got got[8];
    struct frame_rx rx;
    size_t n = 0, e;
    uint8_t pl[3] = { 'a', 0, 'b' };

    frame_rx_init(&rx);
    /* "GRUB noise" then a delimiter then a good frame, idle zeros between */
    memcpy(s, "GRUB loading", 12);
    n = 12;
    s[n++] = 0;
    s[n++] = 0;
    s[n++] = 0;
    e = frame_encode(s + n, sizeof s - n, FRAME_CONSOLE, 2, 7, pl, 3);
    n += e;
    CHECK(rx_all(&rx, s, n, got, 8) == 1);
    CHECK(rx.errors[FRAME_ERR_CRC] + rx.errors[FRAME_ERR_COBS] +
          rx.errors[FRAME_ERR_SHORT] == 1);
    CHECK(rx.err_offset == 0 && rx.err_len == 12 && rx.bytes_discarded == 12);

    /* overlong: 2000 non-zero bytes, then a good frame */
    frame_rx_init(&rx);
    memset(s, 0x41, 2000);
    s[2000] = 0;
    e = frame_encode(s + 2001, sizeof s - 2001, FRAME_GDB, 0, 1, pl, 3);
    CHECK(rx_all(&rx, s, 2001 + e, got, 8) == 1);
    CHECK(rx.errors[FRAME_ERR_LONG] == 1 && rx.err_offset == 0 &&
          rx.err_len == 2000);
    CHECK(got[0].type == FRAME_GDB && got[0].len == 3);

    /* short: a valid COBS body of 3 bytes */
    frame_rx_init(&rx);
    s[0] = 4; s[1] = 1; s[2] = 2; s[3] = 3; s[4] = 0;
    CHECK(rx_all(&rx, s, 5, got, 8) == 0);
    CHECK(rx.errors[FRAME_ERR_SHORT] == 1);

    /* a frame cut in half, followed by a complete one */
    frame_rx_init(&rx);
    {
        static uint8_t big[FRAME_MAX_PAYLOAD];
        size_t e1, e2;
        fill(big, sizeof big, 0);
        e1 = frame_encode(s, sizeof s, FRAME_TRACE, 1, 1, big, 400);
        e2 = frame_encode(s + e1 / 2, sizeof s - e1 / 2, FRAME_TRACE, 1, 2,
                          big, 100);
        CHECK(rx_all(&rx, s, e1 / 2 + e2, got, 8) == 0 || got[0].seq == 2);
        CHECK(rx.frames <= 1);
        CHECK(rx.errors[FRAME_ERR_CRC] + rx.errors[FRAME_ERR_COBS] +
              rx.errors[FRAME_ERR_LONG] >= 1);
    }

    /* frame_decode on a buffer agrees with the byte-at-a-time decoder */
    {
        uint8_t body[FRAME_MAX_BODY];
        struct frame f;
        e = frame_encode(s, sizeof s, FRAME_CONTROL, 0, 9, pl, 3);
        CHECK(frame_decode(s, e - 1, body, sizeof body, &f) == FRAME_ERR_NONE);
        CHECK(f.seq == 9 && f.len == 3 && memcmp(f.payload, pl, 3) == 0);
        s[3] ^= 0x40;
        CHECK(frame_decode(s, e - 1, body, sizeof body, &f) != FRAME_ERR_NONE);
        CHECK(frame_decode(s, 2, body, sizeof body, &f) != FRAME_ERR_NONE);
    }
    CHECK(strcmp(frame_err_name(FRAME_ERR_CRC), "crc") == 0);
    CHECK(strcmp(frame_type_name(FRAME_TRACE), "trace") == 0);
}

/* A long stream, randomly damaged: every frame that no damage touched is
 * delivered, nothing is delivered that was not sent, errors are counted. */
#define NFR 3000
struct sent {
    size_t start, end;      /* [start, end): stuffed bytes incl. 0x00 */
    uint8_t type, cpu;
    uint16_t seq, len;
    uint32_t payload_crc;
    int damaged;
};

static void test_corruption(int round)
{
    static struct sent sent[NFR];
    static uint8_t stream[NFR * 160], damaged[NFR * 160];
    static uint8_t payload[FRAME_MAX_PAYLOAD];
    static uint16_t seqs[8][4];
    static uint8_t keep[NFR * 160];
    struct frame_rx rx, rx2;
    size_t n = 0, m = 0, i, k, next = 0, delivered = 0;
    size_t nerr = 0, nerr2 = 0, ndamaged = 0;

    memset(seqs, 0, sizeof seqs);
    for (i = 0; i < NFR; i++) {
        size_t len = rnd() % 8 == 0 ? rnd() % 140 : rnd() % 40;
        uint8_t type = (uint8_t)(rnd() % 5), cpu = (uint8_t)(rnd() % 4);
        fill(payload, len, (int)(rnd() % 4));
        sent[i].start = n;
        sent[i].type = type;
        sent[i].cpu = cpu;
        sent[i].seq = seqs[type][cpu]++;
        sent[i].len = (uint16_t)len;
        sent[i].payload_crc = crc32_compute(payload, len);
        n += frame_encode(stream + n, sizeof stream - n, type, cpu,
                          sent[i].seq, payload, len);
        sent[i].end = n;
        sent[i].damaged = 0;
    }
    /* damage: byte flips and cut-outs, ~1 per 40 frames */
    memset(keep, 1, n);
    for (k = 0; k < NFR / 40; k++) {
        size_t pos = rnd() % n;
        if (round % 2 == 0 && rnd() % 2) {
            stream[pos] ^= (uint8_t)(1 + rnd() % 255);
            keep[pos] = 2;      /* flipped */
        } else {
            size_t cut = 1 + rnd() % 60, j;
            for (j = pos; j < n && j < pos + cut; j++)
                keep[j] = 0;
        }
    }
    for (i = 0; i < n; i++)
        if (keep[i])
            damaged[m++] = stream[i];
    /* a frame is clean if neither its bytes nor the previous delimiter was
     * touched */
    for (i = 0; i < NFR; i++) {
        size_t from = sent[i].start ? sent[i].start - 1 : 0;
        for (k = from; k < sent[i].end; k++)
            if (keep[k] != 1)
                sent[i].damaged = 1;
        ndamaged += (size_t)sent[i].damaged;
    }

    frame_rx_init(&rx);
    frame_rx_init(&rx2);
    for (i = 0; i < m; i++) {
        struct frame f;
        int r = frame_rx_push(&rx, damaged[i], &f);
        if (r == FRAME_RX_ERROR)
            nerr++;
        if (r != FRAME_RX_FRAME)
            continue;
        delivered++;
        /* it must be a frame that was sent, in order */
        while (next < NFR && !(sent[next].type == f.type &&
                               sent[next].cpu == f.cpu &&
                               sent[next].seq == f.seq)) {
            CHECK(sent[next].damaged);   /* clean frames are never skipped */
            next++;
        }
        CHECK(next < NFR);
        if (next < NFR) {
            CHECK(sent[next].len == f.len &&
                  sent[next].payload_crc == crc32_compute(f.payload, f.len));
            next++;
        }
    }
    while (next < NFR) {
        CHECK(sent[next].damaged);
        next++;
    }
    CHECK(delivered >= NFR - ndamaged);
    CHECK(nerr > 0 && nerr <= ndamaged + 1);
    CHECK(rx.frames == delivered);
    CHECK(rx.errors[0] == 0);
    CHECK(rx.errors[1] + rx.errors[2] + rx.errors[3] + rx.errors[4] == nerr);
    CHECK(rx.bytes_discarded > 0);

    /* bulk (split on 0x00 + frame_decode) equals byte-at-a-time */
    {
        size_t st = 0, frames2 = 0;
        uint8_t body[FRAME_MAX_BODY];
        for (i = 0; i < m; i++) {
            struct frame f;
            if (damaged[i] != 0)
                continue;
            if (i > st) {
                int err = frame_decode(damaged + st, i - st, body,
                                       sizeof body, &f);
                if (err == FRAME_ERR_NONE)
                    frames2++;
                else
                    nerr2++;
            }
            st = i + 1;
        }
        CHECK(frames2 == delivered && nerr2 == nerr);
    }
    /* chunked push into a second decoder gives identical counters */
    for (i = 0; i < m; i++)
        frame_rx_push(&rx2, damaged[i], NULL);
    CHECK(rx2.frames == rx.frames && rx2.bytes_discarded == rx.bytes_discarded);
}

/* ---- helper modes --------------------------------------------------------- */
static int emit_mode(int n, uint64_t seed)
{
    static uint8_t payload[FRAME_MAX_PAYLOAD], enc[FRAME_MAX_ENCODED];
    uint16_t seqs[8][4] = { { 0 } };
    int i;

    rng_state = seed ? seed : 1;
    for (i = 0; i < n; i++) {
        size_t len = rnd() % 5 == 0 ? rnd() % (FRAME_MAX_PAYLOAD + 1)
                                    : rnd() % 64;
        uint8_t type = (uint8_t)(rnd() % 6), cpu = (uint8_t)(rnd() % 4);
        size_t e;
        fill(payload, len, (int)(rnd() % 4));
        e = frame_encode(enc, sizeof enc, type, cpu, seqs[type][cpu]++,
                         payload, len);
        if (!e || fwrite(enc, 1, e, stdout) != e)
            return 1;
    }
    return fflush(stdout) != 0;
}

static int decode_mode(void)
{
    struct frame_rx rx;
    int c;
    size_t i;

    frame_rx_init(&rx);
    while ((c = getchar()) != EOF) {
        struct frame f;
        int r = frame_rx_push(&rx, (uint8_t)c, &f);
        if (r == FRAME_RX_FRAME) {
            printf("F %u %u %u ", f.type, f.cpu, f.seq);
            for (i = 0; i < f.len; i++)
                printf("%02x", f.payload[i]);
            printf("\n");
        } else if (r == FRAME_RX_ERROR) {
            printf("E %s %llu %llu\n", frame_err_name(rx.err),
                   (unsigned long long)rx.err_offset,
                   (unsigned long long)rx.err_len);
        }
    }
    printf("S %llu %llu %llu\n", (unsigned long long)rx.frames,
           (unsigned long long)(rx.errors[1] + rx.errors[2] + rx.errors[3] +
                                rx.errors[4]),
           (unsigned long long)rx.bytes_discarded);
    return 0;
}

int main(int argc, char **argv)
{
    int round;

    if (argc == 4 && strcmp(argv[1], "--emit") == 0)
        return emit_mode(atoi(argv[2]), strtoull(argv[3], NULL, 0));
    if (argc == 2 && strcmp(argv[1], "--decode") == 0)
        return decode_mode();

    test_crc32();
    test_cobs();
    test_roundtrip();
    test_errors();
    for (round = 0; round < 6; round++)
        test_corruption(round);
    if (failures) {
        fprintf(stderr, "test_frame: %d failures\n", failures);
        return 1;
    }
    printf("test_frame: ok\n");
    return 0;
}
