/* libFuzzer target: the stream decoder (hv/trace/decode.c) with the
 * smallest item array and arena that guarantee progress, on input split
 * into reads at fuzzer-chosen points. Checks: no crash or out-of-bounds
 * access (ASan), every call makes progress, items and arena bytes stay
 * within the caller's buffers, a whole-buffer decode gives the same items. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/decode.h"

#define MIN_ITEMS (3 + FRAME_MAX_PAYLOAD / 2)
#define MIN_ARENA (2 * FRAME_MAX_PAYLOAD + TDEC_KEEP_DATA)

static struct trace_dec d1, d2;
static struct tdec_item items[MIN_ITEMS], all[1 << 16];
static uint8_t arena[MIN_ARENA];

static void check(const struct tdec_item *it, size_t n, size_t used)
{
    if (used > MIN_ARENA)
        abort();
    for (size_t i = 0; i < n; i++)
        if (it[i].kind < TDEC_FRAME || it[i].kind > TDEC_BAD_BATCH ||
            it[i].data_off + (size_t)it[i].data_len > used || it[i].nargs > WIRE_MAX_ARGS)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, total = 0, n, used, got, k = 0;
    size_t cut = size ? data[0] % (size + 1) : 0;

    trace_dec_init(&d1);
    trace_dec_init(&d2);
    while (off < size) {        /* reads: [0, cut) then the rest */
        size_t end = off < cut ? cut : size;
        n = trace_dec_feed(&d1, data + off, end - off, &got, items, MIN_ITEMS,
                           arena, MIN_ARENA, &used);
        check(items, n, used);
        if (!got && end > off)
            abort();            /* no progress */
        for (size_t i = 0; i < n && total < sizeof all / sizeof all[0]; i++)
            all[total++] = items[i];
        off += got;
    }
    n = trace_dec_finish(&d1, items, MIN_ITEMS, arena, MIN_ARENA, &used);
    check(items, n, used);
    /* Whole buffer at once, with room: the same item kinds in order. */
    for (off = 0; off < size; off += got) {
        static struct tdec_item big[4 * MIN_ITEMS];
        static uint8_t big_arena[8 * MIN_ARENA];
        n = trace_dec_feed(&d2, data + off, size - off, &got, big,
                           sizeof big / sizeof big[0], big_arena, sizeof big_arena, &used);
        for (size_t i = 0; i < n && k < total; i++, k++)
            if (big[i].kind != all[k].kind || big[i].seq != all[k].seq ||
                big[i].gap != all[k].gap)
                abort();
    }
    if (d1.frames != d2.frames || d1.records != d2.records ||
        d1.frames_lost != d2.frames_lost || d1.restarts != d2.restarts)
        abort();
    return 0;
}
