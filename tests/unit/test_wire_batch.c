/* Edge cases of the version-2 batch coding (hv/trace/wire.h): tsc steps of
 * any size and direction, the id table when a batch holds more kinds than
 * it has slots, the value history's reach, skip/lost escapes, byte sizes of
 * the common records, a batch that ends (EFULL) and the next that starts
 * afresh, and payloads the reader must refuse. test_wire.c has the random
 * round trips; this file pins the rules one by one. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trace/catalog.h"
#include "trace/frame.h"
#include "trace/wire.h"

#include "unit_check.h"

static uint8_t buf[FRAME_MAX_PAYLOAD];

/* Decode the whole payload; returns records read, or -1 if it was refused. */
static int read_all(const void *p, size_t len, struct wire_record *out, int max)
{
    struct wire_reader r;
    int n = 0, st;

    wire_reader_init(&r, p, len);
    while (n < max && (st = wire_reader_next(&r, &out[n])) == 1)
        n++;
    return n < max && st != 0 ? -1 : n;
}

static void test_tsc_steps(void)
{
    static const uint64_t tscs[] = {
        0, 15, 16, 4095, 4096, 1ull << 40, (1ull << 40) - 1,   /* back by 1 */
        ~0ull, 0, 1ull << 63, 0, (1ull << 63) + 1, 5, ~0ull - 7, 3,
    };
    const int n = (int)(sizeof tscs / sizeof tscs[0]);
    struct wire_batch b;
    struct wire_record w[32];
    uint64_t args[2] = { 1, 2 };
    int i;

    wire_batch_init(&b, buf, sizeof buf);
    for (i = 0; i < n; i++)
        CHECK(wire_batch_add_event(&b, 7 + i, 0, TEV_VMEXIT, tscs[i], args, 2) ==
              WIRE_OK);
    CHECK(read_all(buf, b.len, w, 32) == n);
    for (i = 0; i < n; i++)
        CHECK(w[i].tsc == tscs[i] && w[i].seq == 7u + i && w[i].lost == 0);
}

/* Byte counts of the common shapes: what the format is for. */
static void test_sizes(void)
{
    struct wire_batch b;
    uint64_t a[2] = { 30, 0xffffffff81234567ull }, c[2] = { 10, 0xffffffff81abcdefull };
    size_t before;

    wire_batch_init(&b, buf, sizeof buf);
    wire_batch_add_event(&b, 1, 0, TEV_VMEXIT, 1000, a, 2);
    wire_batch_add_event(&b, 2, 0, TEV_VMEXIT, 1000, c, 2);
    before = b.len;     /* id in the table, dt < 4096, rip two pushes back */
    CHECK(wire_batch_add_event(&b, 3, 0, TEV_VMEXIT, 5095, a, 2) == WIRE_OK);
    CHECK(b.len - before == 1 + 1 + 1 + 1 + 1);    /* head dt modes reason k */
    before = b.len;     /* dt >= 4096: a varint of dt >> 4 */
    CHECK(wire_batch_add_event(&b, 4, 0, TEV_VMEXIT, 5095 + 4096, a, 2) == WIRE_OK);
    CHECK(b.len - before == 1 + 2 + 1 + 1);        /* head dt modes reason; rip == reg */
}

/* More kinds than slots: the 8th kind escapes every time, all decode. */
static void test_id_table_overflow(void)
{
    static const uint16_t ids[] = {
        TEV_VMEXIT, TEV_VMRESUME, TEV_NMI_ENTER, TEV_NMI_EXIT, TEV_HYPERCALL,
        TEV_QUIESCE_JOINED, TEV_GDB_ATTACH, TEV_TRACE_MARK, TEV_RING_LOSS,
    };
    const int k = (int)(sizeof ids / sizeof ids[0]);
    struct wire_batch b;
    struct wire_record w[64];
    uint64_t args[4] = { 0x1234, 0xffffffffffffffffull, 0, 1ull << 63 };
    size_t before, esc = 0, slot = 0;
    int i, round;

    wire_batch_init(&b, buf, sizeof buf);
    for (round = 0; round < 3; round++)
        for (i = 0; i < k; i++) {
            before = b.len;
            CHECK(wire_batch_add_event(&b, round * k + i, 0, ids[i], 100 * (round * k + i),
                                       args, 4) == WIRE_OK);
            if (round == 2 && ids[i] == TEV_GDB_ATTACH)
                slot = b.len - before;      /* 7th kind: in the table */
            if (round == 2 && ids[i] == TEV_TRACE_MARK)
                esc = b.len - before;       /* 8th kind: escaped */
        }
    CHECK(slot == 2 && esc > 2 + 1);
    CHECK(read_all(buf, b.len, w, 64) == 3 * k);
    for (i = 0; i < 3 * k; i++) {
        int n = catalog_nargs(ids[i % k]);
        CHECK(w[i].id == ids[i % k] && w[i].nargs == n && w[i].seq == (uint64_t)i);
        for (int j = 0; j < n; j++)
            CHECK(w[i].args[j] == args[j]);
    }
    /* the highest id the catalogue knows, and one it does not */
    CHECK(wire_batch_add_event(&b, 99, 0, TEV_TRACE_MARK, 1, args, 1) == WIRE_OK);
    CHECK(wire_batch_add_event(&b, 99, 0, 0xffff, 1, args, 1) == WIRE_EINVAL);
}

/* The history reaches WIRE_HIST - 1 pushes back; older values are sent
 * again (here by delta), never referenced wrongly. Returns the size of the
 * last record of a batch cycling through `cycle` distinct values. */
static size_t history_cycle(unsigned cycle)
{
    struct wire_batch b;
    struct wire_record w[2 * WIRE_HIST];
    uint64_t v[1];
    size_t before = 0;
    unsigned i;

    wire_batch_init(&b, buf, sizeof buf);
    for (i = 0; i < 2 * WIRE_HIST; i++) {
        v[0] = 0xffffffff80000000ull + (uint64_t)(i % cycle) * 0x100000ull;
        before = b.len;
        CHECK(wire_batch_add_event(&b, i, 0, TEV_TRACE_MARK, i, v, 1) == WIRE_OK);
    }
    CHECK(read_all(buf, b.len, w, 2 * WIRE_HIST) == 2 * WIRE_HIST);
    for (i = 0; i < 2 * WIRE_HIST; i++)
        CHECK(w[i].args[0] == 0xffffffff80000000ull + (uint64_t)(i % cycle) * 0x100000ull);
    return b.len - before;
}

static void test_history_reach(void)
{
    size_t z = history_cycle(WIRE_HIST);
    CHECK(z == 4);       /* head dt modes k */
    CHECK(history_cycle(WIRE_HIST + 1) > 4);    /* out of reach */
}

/* Skip and lost force an escape even for a known id; seq accounting. */
static void test_skip_lost(void)
{
    struct wire_batch b;
    struct wire_record w[8];
    uint64_t a[2] = { 1, 2 };

    wire_batch_init(&b, buf, sizeof buf);
    CHECK(wire_batch_add_event(&b, ~0ull - 3, 0, TEV_VMEXIT, 1, a, 2) == WIRE_OK);
    CHECK(wire_batch_add_event(&b, ~0ull, 2, TEV_VMEXIT, 2, a, 2) == WIRE_OK);
    CHECK(wire_batch_add_event(&b, 1, 0, TEV_VMEXIT, 3, a, 2) == WIRE_OK); /* wraps */
    CHECK(wire_batch_add_text(&b, 1000, ~0ull, 4, "hi", 2) == WIRE_OK);
    CHECK(read_all(buf, b.len, w, 8) == 4);
    CHECK(w[0].seq == ~0ull - 3 && w[0].lost == 0);
    CHECK(w[1].seq == ~0ull && w[1].lost == 2);
    CHECK(w[2].seq == 1 && w[2].lost == 0 && w[2].tsc == 3);
    CHECK(w[3].seq == 1000 && w[3].lost == ~0ull && w[3].text_len == 2 &&
          memcmp(w[3].text, "hi", 2) == 0);
}

/* EFULL leaves the batch as it was; the next batch owes nothing to it. */
static void test_batch_boundary(void)
{
    static uint8_t second[FRAME_MAX_PAYLOAD];
    struct wire_batch b;
    struct wire_record w[200];
    uint64_t a[2] = { 48, 0xffffffff81000040ull };
    size_t len;
    int i, st, n;

    wire_batch_init(&b, buf, 64);
    for (i = 0; (st = wire_batch_add_event(&b, i, 0, TEV_VMEXIT, 50 * i, a, 2)) == WIRE_OK; i++)
        ;
    CHECK(st == WIRE_EFULL && i > 3);
    len = b.len;
    n = read_all(buf, len, w, 200);
    CHECK(n == i && w[n - 1].seq == (uint64_t)i - 1);
    memcpy(second, buf, len);
    wire_batch_reset(&b);       /* the record that did not fit starts anew */
    CHECK(wire_batch_add_event(&b, i, 0, TEV_VMEXIT, 50 * i, a, 2) == WIRE_OK);
    CHECK(read_all(buf, b.len, w, 200) == 1 && w[0].seq == (uint64_t)i &&
          w[0].tsc == 50u * i && w[0].args[1] == a[1]);
    CHECK(read_all(second, len, w, 200) == n);
}

static void test_refused(void)
{
    struct wire_record w[4];
    /* seq 1, tsc 0, then: */
    static const uint8_t bad_slot[] = { 1, 0, 0x00, 0 };       /* idc 0, empty table */
    /* VMRESUME escaped (x = 0x22 << 3), LONG dt: 2^60 - 1 is the most */
    static const uint8_t bad_dt[] = { 1, 0, 0xf0, 0x90, 0x02,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10 };
    static const uint8_t max_dt[] = { 1, 0, 0xf0, 0x90, 0x02,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f };
    /* TRACE_MARK escaped (x = 0x141 << 3), mode 3 with nothing pushed */
    static const uint8_t bad_hist[] = { 1, 0, 0xe0, 0x88, 0x14, 0x01, 0x03, 0x00 };
    static const uint8_t bad_id[] = { 1, 0, 0xe0, 0xf8, 0xff, 0x1f, 0x0 };  /* id 0xffff */
    static const uint8_t cut[] = { 1, 0, 0xe0, 0x00, 0x01, 0x05 };     /* text past end */
    static const uint8_t good[] = { 1, 0, 0xe0, 0x00, 0x01, 0x00 };    /* empty text */

    CHECK(read_all(bad_slot, sizeof bad_slot, w, 4) == -1);
    CHECK(read_all(bad_dt, sizeof bad_dt, w, 4) == -1);
    CHECK(read_all(max_dt, sizeof max_dt, w, 4) == 1 && w[0].id == TEV_VMRESUME &&
          w[0].tsc == ~0ull - 15);
    CHECK(read_all(bad_hist, sizeof bad_hist, w, 4) == -1);
    CHECK(read_all(bad_id, sizeof bad_id, w, 4) == -1);
    CHECK(read_all(cut, sizeof cut, w, 4) == -1);
    CHECK(read_all(good, sizeof good, w, 4) == 1 && w[0].id == TEV_CONSOLE_TEXT &&
          w[0].seq == 1 && w[0].tsc == 16 && w[0].text_len == 0);
}

int main(void)
{
    test_tsc_steps();
    test_sizes();
    test_id_table_overflow();
    test_history_reach();
    test_skip_lost();
    test_batch_boundary();
    test_refused();
    if (failures)
        fprintf(stderr, "test_wire_batch: %d failures\n", failures);
    else
        printf("test_wire_batch: ok\n");
    return failures != 0;
}
