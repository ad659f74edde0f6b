/* Unit tests for hv/trace/wire.c and catalog.h, plus helper modes used by
 * tests/host/test_wire_interop.py and test_catalog.py:
 *   test_wire                        self-test, exit 0 on success
 *   test_wire --crc32 FILE           print crc32 of FILE as 0x%08x
 *   test_wire --emit-trace N SEED    write HELLO + N records drained into
 *                                    CONSOLE/TRACE frames to stdout; the
 *                                    expected records as lines to stderr
 *   test_wire --list-catalog         print the catalogue as C sees it
 *   test_wire --decode-trace         decode frames+batches from stdin and
 *                                    print the records as lines
 * Record lines: "R cpu seq tsc lost id arg..." (decimal) or
 *               "T cpu seq tsc lost hextext";  "H crc ncpus tsc_khz".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/catalog.h"
#include "trace/crc32.h"
#include "trace/frame.h"
#include "trace/wire.h"

#include "unit_check.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static const uint16_t all_ids[] = {
#define TRACE_CLASS(bit, name, desc)
#define TRACE_EVENT(id, name, cls, ...) (id),
#include "trace/events.def"
#undef TRACE_CLASS
#undef TRACE_EVENT
};
#define N_IDS (sizeof all_ids / sizeof all_ids[0])

/* ---- a generated record, and the generator -------------------------------- */
struct rec {
    uint8_t cpu;
    uint16_t id;
    uint8_t nargs;
    uint64_t seq, tsc, lost;
    uint64_t args[WIRE_MAX_ARGS];
    char text[WIRE_MAX_TEXT];
    uint32_t text_len;
};

static uint64_t last_addr = 0xffffffff81000000ull;
static uint64_t gen_arg(void)
{
    switch (rnd() % 9) {
    case 0: return rnd() % 64;
    case 1: return rnd() % 5000;
    case 2: return last_addr += (rnd() % 4096) - 2048;
    case 3: return last_addr;
    case 4: return rnd();
    case 5: return (uint64_t)-(int64_t)(rnd() % 1000);
    case 6: return 0x100000 + rnd() % 0x100000;
    default: return 0xffffffff81000000ull + (rnd() % 40) * 0x3571;  /* hot */
    }
}

static void gen_rec(struct rec *r, uint8_t cpu, uint64_t *seq, uint64_t *tsc)
{
    unsigned i;
    r->cpu = cpu;
    r->lost = 0;
    if (rnd() % 50 == 0) {          /* the ring lost records */
        r->lost = 1 + rnd() % 300;
        *seq += r->lost;
    }
    r->seq = (*seq)++;
    switch (rnd() % 20) {
    case 0: *tsc += rnd(); break;                    /* huge jump */
    case 1: *tsc -= rnd() % 100; break;              /* backwards */
    default: *tsc += rnd() % 20000; break;
    }
    r->tsc = *tsc;
    if (rnd() % 6 == 0) {
        r->id = TEV_CONSOLE_TEXT;
        r->nargs = 0;
        r->text_len = (uint32_t)(rnd() % 3 == 0 ? rnd() % (WIRE_MAX_TEXT + 1)
                                                : rnd() % 40);
        for (i = 0; i < r->text_len; i++)
            r->text[i] = (char)(rnd() % 4 ? ' ' + rnd() % 95 : rnd());
    } else {
        do
            r->id = all_ids[rnd() % N_IDS];
        while (r->id == TEV_CONSOLE_TEXT);
        r->nargs = (uint8_t)catalog_nargs(r->id);
        r->text_len = 0;
        for (i = 0; i < r->nargs; i++)
            r->args[i] = gen_arg();
    }
}

static void print_rec(FILE *f, const struct rec *r)
{
    unsigned i;
    if (r->id == TEV_CONSOLE_TEXT) {
        fprintf(f, "T %u %llu %llu %llu ", r->cpu, (unsigned long long)r->seq,
                (unsigned long long)r->tsc, (unsigned long long)r->lost);
        for (i = 0; i < r->text_len; i++)
            fprintf(f, "%02x", (uint8_t)r->text[i]);
        fprintf(f, "\n");
        return;
    }
    fprintf(f, "R %u %llu %llu %llu %u", r->cpu, (unsigned long long)r->seq,
            (unsigned long long)r->tsc, (unsigned long long)r->lost, r->id);
    for (i = 0; i < r->nargs; i++)
        fprintf(f, " %llu", (unsigned long long)r->args[i]);
    fprintf(f, "\n");
}

static void wrec_to_rec(const struct wire_record *w, uint8_t cpu, struct rec *r)
{
    r->cpu = cpu;
    r->id = w->id;
    r->nargs = w->nargs;
    r->seq = w->seq;
    r->tsc = w->tsc;
    r->lost = w->lost;
    memcpy(r->args, w->args, sizeof r->args);
    r->text_len = w->text_len;
    if (w->text_len)
        memcpy(r->text, w->text, w->text_len);
}

static int rec_eq(const struct rec *a, const struct rec *b)
{
    return a->cpu == b->cpu && a->id == b->id && a->seq == b->seq &&
           a->tsc == b->tsc && a->lost == b->lost && a->nargs == b->nargs &&
           memcmp(a->args, b->args, a->nargs * 8u) == 0 &&
           a->text_len == b->text_len &&
           memcmp(a->text, b->text, a->text_len) == 0;
}

/* ---- a drain: per-CPU console+trace batches, framed ---------------------- */
#define MAXCPU 4
struct drain {
    uint8_t pl[MAXCPU][2][FRAME_MAX_PAYLOAD];
    struct wire_batch b[MAXCPU][2];
    uint16_t fseq[MAXCPU][2];
    void (*out)(const uint8_t *, size_t, void *);
    void *ctx;
    size_t frames, payload_bytes;
};

static void drain_init(struct drain *d, void (*out)(const uint8_t *, size_t,
                                                    void *), void *ctx)
{
    int c, k;
    memset(d, 0, sizeof *d);
    d->out = out;
    d->ctx = ctx;
    for (c = 0; c < MAXCPU; c++)
        for (k = 0; k < 2; k++)
            wire_batch_init(&d->b[c][k], d->pl[c][k], FRAME_MAX_PAYLOAD);
}

static void drain_flush(struct drain *d, int c, int k)
{
    static uint8_t enc[FRAME_MAX_ENCODED];
    struct wire_batch *b = &d->b[c][k];
    size_t e;
    if (!b->count)
        return;
    e = frame_encode(enc, sizeof enc, k ? FRAME_TRACE : FRAME_CONSOLE,
                     (uint8_t)c, d->fseq[c][k]++, b->buf, b->len);
    CHECK(e > 0);
    d->frames++;
    d->payload_bytes += b->len;
    d->out(enc, e, d->ctx);
    wire_batch_reset(b);
}

/* Feed one record through the raw (ring) format, as the real drain does. */
static void drain_add(struct drain *d, const struct rec *r)
{
    uint8_t raw[WIRE_RAW_MAX];
    size_t rl;
    int ch, k, st;

    if (r->id == TEV_CONSOLE_TEXT)
        rl = wire_raw_encode_text(raw, sizeof raw, r->tsc, r->text,
                                  r->text_len);
    else
        rl = wire_raw_encode(raw, sizeof raw, r->id, r->tsc, r->args,
                             r->nargs);
    CHECK(rl > 0);
    ch = wire_raw_channel(raw, rl);
    CHECK(ch == (r->id == TEV_CONSOLE_TEXT ? FRAME_CONSOLE : FRAME_TRACE));
    k = ch == FRAME_TRACE;
    st = wire_batch_add_raw(&d->b[r->cpu][k], r->seq, r->lost, raw, rl);
    if (st == WIRE_EFULL) {
        drain_flush(d, r->cpu, k);
        st = wire_batch_add_raw(&d->b[r->cpu][k], r->seq, r->lost, raw, rl);
    }
    CHECK(st == WIRE_OK);
}

static void drain_finish(struct drain *d)
{
    int c, k;
    for (c = 0; c < MAXCPU; c++)
        for (k = 0; k < 2; k++)
            drain_flush(d, c, k);
}

/* ---- tests ------------------------------------------------------------------ */
static void test_varint(void)
{
    static const uint64_t vals[] = { 0, 1, 127, 128, 16383, 16384,
                                     (1ull << 35) - 1, 1ull << 63, ~0ull };
    uint8_t b[16];
    size_t i, n;
    uint64_t v;
    for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        n = wire_put_varint(b, sizeof b, vals[i]);
        CHECK(n == wire_varint_len(vals[i]) && n >= 1 && n <= 10);
        CHECK(wire_get_varint(b, n, &v) == n && v == vals[i]);
        CHECK(wire_get_varint(b, n - 1, &v) == 0);
        CHECK(wire_put_varint(b, n - 1, vals[i]) == 0);
    }
    memset(b, 0xff, 11);
    CHECK(wire_get_varint(b, 11, &v) == 0);     /* > 64 bits */
    b[9] = 0x02;
    CHECK(wire_get_varint(b, 10, &v) == 0);
}

static void test_raw(void)
{
    uint8_t buf[WIRE_RAW_MAX + 8];
    uint64_t args[3] = { 32, 0xffffffff8106b3e4ull, 7 };
    struct wire_raw r;
    char text[400];
    size_t n;

    n = wire_raw_encode(buf, sizeof buf, TEV_VMEXIT, 12345, args, 2);
    CHECK(n == WIRE_RAW_HDR + 16);
    CHECK(wire_raw_decode(buf, n, &r) && r.id == TEV_VMEXIT && !r.text &&
          r.nargs == 2 && r.tsc == 12345 && r.args[1] == args[1]);
    CHECK(!wire_raw_decode(buf, n - 1, &r));
    CHECK(wire_raw_encode(buf, n - 1, TEV_VMEXIT, 1, args, 2) == 0);
    CHECK(wire_raw_encode(buf, sizeof buf, TEV_VMEXIT, 1, args, 7) == 0);
    CHECK(wire_raw_channel(buf, n) == FRAME_TRACE);
    memset(text, 'x', sizeof text);
    n = wire_raw_encode_text(buf, sizeof buf, 99, text, sizeof text);
    CHECK(n == WIRE_RAW_HDR + WIRE_MAX_TEXT);
    CHECK(wire_raw_decode(buf, n, &r) && r.text &&
          r.text_len == WIRE_MAX_TEXT && r.tsc == 99);
    CHECK(wire_raw_channel(buf, n) == FRAME_CONSOLE);
    CHECK(wire_raw_channel(buf, 3) == -1);
}

static void test_catalog(void)
{
    CHECK(TEV_VMEXIT == 0x20 && TEV_NARGS_VMEXIT == 2);
    CHECK(catalog_nargs(TEV_VMRESUME) == 0);
    CHECK(catalog_nargs(TEV_HYPERCALL) == 4);
    CHECK(catalog_nargs(0xffff) == -1 && catalog_nargs(0x01f) == -1);
    CHECK(TEV_CLASS(TEV_NMI_ENTER) == TRACE_CLASS_nmi);
    CHECK(TEV_MASK(TEV_VMEXIT) == TRACE_MASK_vmx);
    CHECK(strcmp(catalog_event_name(TEV_QUIESCE_JOINED), "QUIESCE_JOINED") == 0);
    CHECK(catalog_event_name(0x3ff) == NULL);
    CHECK(strcmp(catalog_exit_name(32), "WRMSR") == 0);
    CHECK(strcmp(catalog_exit_name(0x80000021u), "ENTRY_FAIL_GUEST_STATE") == 0);
    CHECK(catalog_exit_name(35) == NULL);
    CHECK(strcmp(catalog_vec_name(14), "#PF") == 0);
    CHECK(strcmp(catalog_vmerr_name(7), "ENTRY_INVALID_CONTROL") == 0);
    CHECK(strcmp(catalog_origin_name(1), "guest") == 0);
    CHECK(VMX_EXIT_VMCALL == 18 && EXC_DF == 8);
}

static struct rec *collected;
static size_t ncollected, maxcollected;

static void collect(const uint8_t *enc, size_t n, void *ctx)
{
    static uint8_t body[FRAME_MAX_BODY];
    struct frame f;
    struct wire_reader r;
    struct wire_record w;
    int st;
    (void)ctx;
    CHECK(n > 1 && enc[n - 1] == 0);
    CHECK(frame_decode(enc, n - 1, body, sizeof body, &f) == FRAME_ERR_NONE);
    CHECK(wire_reader_init(&r, f.payload, f.len) == WIRE_OK);
    while ((st = wire_reader_next(&r, &w)) == 1) {
        CHECK(ncollected < maxcollected);
        if (ncollected < maxcollected)
            wrec_to_rec(&w, f.cpu, &collected[ncollected++]);
        CHECK((f.type == FRAME_CONSOLE) == (w.id == TEV_CONSOLE_TEXT));
    }
    CHECK(st == 0);
    /* every strict prefix of the payload is handled without overrun (ASan) */
    {
        size_t cut;
        for (cut = 0; cut < f.len; cut += 1 + f.len / 16) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, f.payload, cut);
            wire_reader_init(&r, copy, cut);
            while ((st = wire_reader_next(&r, &w)) == 1)
                ;
            CHECK(st == 0 || st == WIRE_EBAD);
            free(copy);
        }
    }
}

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->cpu != y->cpu)
        return x->cpu < y->cpu ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

static void test_batches(void)
{
    enum { N = 20000 };
    static struct rec want[N], got[N + 1];
    static struct drain d;
    uint64_t seq[MAXCPU], tsc[MAXCPU];
    size_t i;
    int c;

    for (c = 0; c < MAXCPU; c++) {
        seq[c] = c == 3 ? ~0ull - 500 : rnd() % 100000;   /* cpu 3 wraps */
        tsc[c] = rnd();
    }
    collected = got;
    ncollected = 0;
    maxcollected = N;
    drain_init(&d, collect, NULL);
    for (i = 0; i < N; i++) {
        c = (int)(rnd() % MAXCPU);
        gen_rec(&want[i], (uint8_t)c, &seq[c], &tsc[c]);
        drain_add(&d, &want[i]);
    }
    drain_finish(&d);
    CHECK(ncollected == N);
    qsort(want, N, sizeof want[0], cmp_rec);
    qsort(got, ncollected, sizeof got[0], cmp_rec);
    for (i = 0; i < N && i < ncollected; i++) {
        if (!rec_eq(&want[i], &got[i])) {
            CHECK(rec_eq(&want[i], &got[i]));
            print_rec(stderr, &want[i]);
            print_rec(stderr, &got[i]);
            break;
        }
    }
}

static void test_batch_edges(void)
{
    uint8_t buf[FRAME_MAX_PAYLOAD];
    struct wire_batch b;
    struct wire_reader r;
    struct wire_record w;
    uint64_t args[6] = { 32, 0xffffffff8106b3e4ull, 1, 2, 3, 4 };
    int i, st;

    wire_batch_init(&b, buf, sizeof buf);
    CHECK(wire_batch_add_event(&b, 1, 0, 0x3ff, 0, args, 0) == WIRE_EINVAL);
    CHECK(wire_batch_add_event(&b, 1, 0, TEV_CONSOLE_TEXT, 0, args, 0) ==
          WIRE_EINVAL);
    /* a huge tsc jump stays in the batch (v2: any 64-bit step fits) */
    CHECK(wire_batch_add_event(&b, 1, 0, TEV_VMEXIT, 10, args, 2) == WIRE_OK);
    CHECK(wire_batch_add_event(&b, 2, 0, TEV_VMEXIT, 10 + (1ull << 62), args,
                               2) == WIRE_OK);
    CHECK(b.count == 2);
    wire_batch_reset(&b);
    CHECK(wire_batch_add_event(&b, 2, 0, TEV_VMEXIT, 10 + (1ull << 62), args,
                               2) == WIRE_OK);
    /* fewer args than the catalogue says: the rest are zero */
    CHECK(wire_batch_add_event(&b, 3, 0, TEV_HYPERCALL, 11 + (1ull << 62),
                               args, 1) == WIRE_OK);
    /* fill up: EFULL leaves the batch intact and decodable */
    for (i = 0; (st = wire_batch_add_event(&b, 4 + i, 0, TEV_EXC_FATAL,
                                           12 + (1ull << 62), args, 4)) ==
                WIRE_OK; i++)
        ;
    CHECK(st == WIRE_EFULL && b.len <= sizeof buf && i > 10);
    wire_reader_init(&r, buf, b.len);
    CHECK(wire_reader_next(&r, &w) == 1 && w.seq == 2 && w.args[1] == args[1]);
    CHECK(wire_reader_next(&r, &w) == 1 && w.id == TEV_HYPERCALL &&
          w.args[0] == 32 && w.args[1] == 0 && w.args[3] == 0);
    while ((st = wire_reader_next(&r, &w)) == 1)
        ;
    CHECK(st == 0 && w.seq == 3u + i && w.tsc == 12 + (1ull << 62));
    /* a record repeated: small */
    wire_batch_init(&b, buf, sizeof buf);
    wire_batch_add_event(&b, 100, 0, TEV_VMEXIT, 1000, args, 2);
    {
        size_t before = b.len;
        wire_batch_add_event(&b, 101, 0, TEV_VMEXIT, 1100, args, 2);
        CHECK(b.len - before <= 5);
        before = b.len;
        wire_batch_add_event(&b, 102, 0, TEV_VMRESUME, 1150, NULL, 0);
        CHECK(b.len - before <= 4);     /* a new id: escaped once */
        before = b.len;
        wire_batch_add_event(&b, 103, 0, TEV_VMRESUME, 1200, NULL, 0);
        CHECK(b.len - before == 2);     /* then head + one dt byte */
    }
    /* a hello */
    {
        uint8_t h[WIRE_HELLO_LEN];
        CHECK(wire_hello_encode(h, sizeof h, 0xdeadbeef, 4, 2000000) ==
              WIRE_HELLO_LEN);
        CHECK(h[0] == WIRE_CTL_HELLO && h[4] == 0xef && h[7] == 0xde);
        CHECK(wire_hello_encode(h, 5, 1, 1, 1) == 0);
    }
}

/* ---- helper modes ------------------------------------------------------------ */
static void write_out(const uint8_t *enc, size_t n, void *ctx)
{
    fwrite(enc, 1, n, (FILE *)ctx);
}

static int emit_trace(int n, uint64_t seed)
{
    static struct drain d;
    struct rec r;
    uint64_t seq[MAXCPU], tsc[MAXCPU];
    uint8_t h[WIRE_HELLO_LEN], enc[FRAME_MAX_ENCODED];
    size_t e;
    int i, c;

    rng_state = seed ? seed : 1;
    wire_hello_encode(h, sizeof h, 0x12345678, MAXCPU, 1000000);
    fputc(0, stdout);
    e = frame_encode(enc, sizeof enc, FRAME_CONTROL, 0, 0, h, sizeof h);
    fwrite(enc, 1, e, stdout);
    fprintf(stderr, "H 0x12345678 %d 1000000\n", MAXCPU);
    for (c = 0; c < MAXCPU; c++) {
        seq[c] = rnd() % 1000;
        tsc[c] = rnd() % (1ull << 40);
    }
    drain_init(&d, write_out, stdout);
    for (i = 0; i < n; i++) {
        c = (int)(rnd() % MAXCPU);
        gen_rec(&r, (uint8_t)c, &seq[c], &tsc[c]);
        print_rec(stderr, &r);
        drain_add(&d, &r);
    }
    drain_finish(&d);
    fflush(stdout);
    return failures != 0;
}

static int decode_trace(void)
{
    struct frame_rx rx;
    int c;

    frame_rx_init(&rx);
    while ((c = getchar()) != EOF) {
        struct frame f;
        struct wire_reader r;
        struct wire_record w;
        struct rec out;
        int st;
        if (frame_rx_push(&rx, (uint8_t)c, &f) != FRAME_RX_FRAME)
            continue;
        if (f.type == FRAME_CONTROL && f.len >= WIRE_HELLO_LEN &&
            f.payload[0] == WIRE_CTL_HELLO) {
            printf("H 0x%08x %u %u\n",
                   f.payload[4] | f.payload[5] << 8 | f.payload[6] << 16 |
                       (unsigned)f.payload[7] << 24,
                   f.payload[2],
                   f.payload[8] | f.payload[9] << 8 | f.payload[10] << 16 |
                       (unsigned)f.payload[11] << 24);
            continue;
        }
        if (f.type != FRAME_CONSOLE && f.type != FRAME_TRACE)
            continue;
        wire_reader_init(&r, f.payload, f.len);
        while ((st = wire_reader_next(&r, &w)) == 1) {
            wrec_to_rec(&w, f.cpu, &out);
            print_rec(stdout, &out);
        }
        if (st < 0)
            printf("B %u %u\n", f.type, f.cpu);
    }
    return 0;
}

/* The catalogue as C sees it, for comparison with catalog.py. */
static int list_catalog(void)
{
    size_t i;
    unsigned v;
    for (i = 0; i < N_IDS; i++)
        printf("E %u %s %d %u\n", all_ids[i], catalog_event_name(all_ids[i]),
               catalog_nargs(all_ids[i]), TEV_CLASS(all_ids[i]));
#define TRACE_CLASS(bit, name, desc) printf("C %u %s\n", (bit), #name);
#define TRACE_EVENT(id, name, cls, ...)
#include "trace/events.def"
#undef TRACE_CLASS
#undef TRACE_EVENT
    for (v = 0; v < 256; v++) {
        if (catalog_exit_name(v))
            printf("N exit %u %s\n", v, catalog_exit_name(v));
        if (catalog_vec_name(v))
            printf("N vec %u %s\n", v, catalog_vec_name(v));
        if (catalog_vmerr_name(v))
            printf("N vmerr %u %s\n", v, catalog_vmerr_name(v));
        if (catalog_origin_name(v))
            printf("N origin %u %s\n", v, catalog_origin_name(v));
        if (catalog_utpm_name(v))
            printf("N utpm %u %s\n", v, catalog_utpm_name(v));
    }
    return 0;
}

static int crc_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    uint32_t c = 0;
    size_t n;
    if (!f)
        return 2;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        c = crc32_update(c, buf, n);
    fclose(f);
    printf("0x%08x\n", c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--crc32") == 0)
        return crc_file(argv[2]);
    if (argc == 4 && strcmp(argv[1], "--emit-trace") == 0)
        return emit_trace(atoi(argv[2]), strtoull(argv[3], NULL, 0));
    if (argc == 2 && strcmp(argv[1], "--list-catalog") == 0)
        return list_catalog();
    if (argc == 2 && strcmp(argv[1], "--decode-trace") == 0)
        return decode_trace();

    test_varint();
    test_raw();
    test_catalog();
    test_batch_edges();
    test_batches();
    if (failures) {
        fprintf(stderr, "test_wire: %d failures\n", failures);
        return 1;
    }
    printf("test_wire: ok\n");
    return 0;
}
